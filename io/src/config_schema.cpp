// The configuration schema: every key nunatak reads, declared once with its
// type, default, units and doc. `nunatak config --list` prints this table and
// docs/configuration.md is generated from it.

#include "nunatak/io/config.hpp"

#include <algorithm>

namespace nunatak::io {

namespace {

KeySpec str(std::string name, std::string def, std::string doc,
            std::vector<std::string> choices = {}) {
  return {std::move(name),   KeyType::string, std::move(def), "", std::move(doc), {}, {},
          std::move(choices)};
}

KeySpec real(std::string name, std::string def, std::string units, std::string doc,
             std::optional<double> min = {}, std::optional<double> max = {}) {
  return {std::move(name),
          KeyType::real,
          std::move(def),
          std::move(units),
          std::move(doc),
          min,
          max,
          {}};
}

KeySpec integer(std::string name, std::string def, std::string doc, std::optional<double> min = {},
                std::optional<double> max = {}) {
  return {std::move(name), KeyType::integer, std::move(def), "", std::move(doc), min, max, {}};
}

KeySpec list(std::string name, std::string def, std::string doc) {
  return {std::move(name), KeyType::string_list, std::move(def), "", std::move(doc), {}, {}, {}};
}

/// A variable-name override for one input quantity.
KeySpec name_override(const std::string& quantity, const std::string& what) {
  return str("input.names." + quantity, "\"\"",
             "NetCDF variable holding " + what +
                 "; empty: recognise it by PISM/ISMIP6/BedMachine/IGM/Yelmo name or CF "
                 "standard_name");
}

std::vector<KeySpec> build_schema() {
  std::vector<KeySpec> s = {
      str("experiment.name", "\"\"", "free-text name of the experiment, written to outputs"),

      str("input.geometry.file", "\"\"",
          "NetCDF file with the geometry: two of thickness, bed and surface (the third is "
          "derived), or a surface and an ice mask"),
      str("input.forcing.file", "\"\"",
          "NetCDF file with the surface mass balance; empty: none (or use the geometry file)"),
      str("input.observations.file", "\"\"",
          "NetCDF file with observed surface velocity and/or radar thickness; empty: none"),
      integer("input.time_index", "-1",
              "record to read from inputs with a time dimension; -1 means the last one", -1),
      str("input.smb_length_rate_is", "water_equivalent",
          "how to read a surface mass balance given as a length per time (e.g. 'mm a**-1')",
          {"water_equivalent", "ice_equivalent"}),
      str("input.missing_thickness", "none",
          "how to get ice thickness when the geometry has a surface and an ice mask but no "
          "thickness or bed: none (thickness unknown, as for an inversion) or plastic (constant "
          "basal shear stress from the smoothed surface slope, keys thickness_estimate.*; bed = "
          "usurf - thk; docs/aletsch.md)",
          {"none", "plastic"}),
      name_override("thk", "ice thickness"),
      name_override("topg", "bedrock elevation"),
      name_override("usurf", "ice surface elevation"),
      name_override("mask", "the ice mask"),
      name_override("climatic_mass_balance", "the surface mass balance"),
      name_override("uvelsurfobs", "observed surface velocity, x component"),
      name_override("vvelsurfobs", "observed surface velocity, y component"),
      name_override("velsurfobs_mag", "observed surface speed"),
      name_override("thkobs", "observed (radar) ice thickness"),
      name_override("dhdt", "the observed rate of thickness change dh/dt (the inversion's "
                            "mass-conservation term; read from the observations file)"),
      name_override("tauc", "the till yield stress (sliding.law: pseudo_plastic)"),
      name_override("softness", "ice softness A (2-D, or 3-D on sigma levels); if present it "
                                "replaces flow_law.softness/hardness"),

      real("constants.ice.density", "910", "kg m-3", "density of ice", 1.0),
      real("constants.sea_water.density", "1028", "kg m-3", "density of sea water", 1.0),
      real("constants.fresh_water.density", "1000", "kg m-3",
           "density of fresh water (water-equivalent mass balance)", 1.0),
      real("constants.standard_gravity", "9.81", "m s-2", "acceleration due to gravity", 0.0),
      real("geometry.sea_level", "0", "m", "sea level elevation, for the floatation criterion"),
      real("geometry.minimum_thickness", "0", "m",
           "thinner ice than this is ice-free (the floatation rule): in the mask, the ice area, "
           "the comparison with observed speeds, and the SIA (no flow)",
           0.0),

      str("thickness_estimate.method", "plastic",
          "thickness estimate: plastic (from the surface slope and the outline) or velocity "
          "(the plastic shape rescaled by the observed surface speed through the shallow-ice "
          "law, H ~ u^(1/(n+1)) (plastic H)^(n/(n+1)); needs the observed velocity)",
          {"plastic", "velocity"}),
      real("thickness_estimate.minimum_speed", "0.03", "m year-1",
           "velocity-scaled thickness: smallest averaged surface speed used", 1e-6),
      str("thickness_estimate.calibration", "radar",
          "plastic thickness: radar (least-squares basal shear stress against the observed "
          "thickness thkobs) or none (use thickness_estimate.basal_shear_stress)",
          {"radar", "none"}),
      real("thickness_estimate.basal_shear_stress", "1e5", "Pa",
           "plastic thickness: basal shear stress tau_b when not calibrated", 1e3, 1e7),
      real("thickness_estimate.shape_factor", "0.8", "",
           "plastic thickness: valley shape factor f in tau_b = f rho g H |grad s| (1: ice sheet)",
           0.05, 1.0),
      real("thickness_estimate.minimum_slope", "0.02", "",
           "plastic thickness: smallest surface slope used (caps the thickness where the surface "
           "is flat)",
           1e-4, 1.0),
      real("thickness_estimate.smoothing_length", "400", "m",
           "plastic thickness: standard deviation of the Gaussian average of the surface slope "
           "over ice (a few ice thicknesses); 0: none",
           0.0),
      real("thickness_estimate.taper_length", "1000", "m",
           "plastic thickness: the thickness tapers to zero at the outline over this distance "
           "(parabolic valley side); 0: no taper",
           0.0),
      real("thickness_estimate.holdout_block_size", "2000", "m",
           "plastic thickness: side of the checkerboard blocks of the hold-out check of the radar "
           "calibration (calibrate on half, test on the other half); 0: no check",
           0.0),

      real("time.start", "0", "year", "model time at the start of a run", -1e9, 1e9),
      real("time.end", "100", "year", "model time at the end of a run", -1e9, 1e9),
      real("time.max_step", "100", "year", "largest time step", 1e-9),
      real("time.diffusivity_safety", "0.5", "",
           "fraction of the explicit diffusion limit dx^2/(4 D) used as time step", 1e-6, 1.0),

      str("stress_balance.model", "sia",
          "ice-flow model: sia (shallow ice), bp (Blatter-Pattyn, PETSc options -bp_*) or emulator "
          "(the network of emulator.model)",
          {"sia", "bp", "emulator"}),
      str("emulator.model", "",
          "emulator: the model file (a LibTorch archive with its metadata, docs/emulator.md)"),
      str("emulator.output", "network",
          "emulator: the velocity returned: network (the model's network) or reference (the "
          "model's membrane reference alone, without the network that corrects or reads it; no "
          "retraining)",
          {"network", "reference"}),
      str("emulator.device", "cpu",
          "emulator: where the network runs (auto: cuda when there is one)",
          {"cpu", "cuda", "auto"}),
      str("emulator.precision", "single",
          "emulator: floating-point precision of the network (single: 10-20 times faster on a CPU "
          "than double)",
          {"single", "double"}),
      integer("emulator.retrain_every", "0",
              "emulator: every this many stress-balance updates, retrain the network on the "
              "current geometry (physics loss, plus the last solver check's solution as data); "
              "0: never",
              0, 1000000000),
      integer("emulator.retrain_steps", "10", "emulator: Adam steps per retraining", 1, 1000000),
      real("emulator.retrain_learning_rate", "1e-4", "",
           "emulator: Adam's learning rate when retraining", 1e-12, 1.0),
      integer("emulator.refine_steps", "0",
              "emulator: after the network (or reference), this many refinement steps "
              "towards the Blatter-Pattyn balance: the BP energy's gradient projected on the "
              "columns' profiles, the membrane reference's system solved for the correction, and "
              "a line search on the energy (docs/emulator.md, \"Refinement\"); in invert "
              "(inversion.forward: emulator) differentiated as the balance's adjoint; 0: none",
              0, 1000),
      str("emulator.refine_method", "defect",
          "emulator: how each refinement step is taken: defect (the coarse correction, then the "
          "column smoother, each with a line search; cheapest per step) or newton (conjugate "
          "gradients on the BP energy's Hessian preconditioned by both, then one line search; "
          "two to three times the cost per step, and converges where defect crawls)",
          {"defect", "newton"}),
      real("emulator.refine_adjoint_tolerance", "1e-2", "",
           "invert, inversion.forward: emulator with emulator.refine_steps: the refinement's "
           "adjoint (the Blatter-Pattyn balance's, by conjugate gradients on the energy's "
           "Hessian) stops at this preconditioned residual, relative to the gradient's",
           1e-12, 1.0),
      integer("emulator.solver_check_every", "0",
              "emulator: every this many stress-balance updates, solve Blatter-Pattyn from the "
              "emulator's velocity and write their relative difference to the time series "
              "(emulator_solver_difference); 0: never",
              0, 1000000000),
      // `nunatak emulator dataset`: the training set (docs/emulator.md).
      str("emulator.dataset.file", "output/emulator/dataset.nc",
          "emulator dataset: the NetCDF file of samples (solved while a folder FILE.parts holds "
          "one file per finished sample, so that an interrupted run resumes)"),
      integer("emulator.dataset.samples", "64",
              "emulator dataset: number of synthetic glaciers (core/synthetic_glacier.hpp)", 0,
              1000000),
      integer("emulator.dataset.seed", "1",
              "emulator dataset: seed of the random geometries (sample k is drawn from seed and "
              "k alone, whatever the number of ranks)",
              0, 1e15),
      real("emulator.dataset.validation_fraction", "0.1", "",
           "emulator dataset: fraction of the samples held back for validation (spread evenly)",
           0.0, 1.0),
      integer("emulator.dataset.cells_min", "32",
              "emulator dataset: fewest columns of a synthetic glacier along x or y", 8, 512),
      integer("emulator.dataset.cells_max", "48",
              "emulator dataset: most columns of a synthetic glacier along x or y", 8, 512),
      real("emulator.dataset.dx_min", "50", "m",
           "emulator dataset: smallest grid spacing (log-uniform up to dx_max)", 1.0),
      real("emulator.dataset.dx_max", "20000", "m", "emulator dataset: largest grid spacing", 1.0),
      real("emulator.dataset.softness_profile_probability", "0", "",
           "emulator dataset: probability of a vertical softness profile (the network sees the "
           "column-mean hardness only, so the default is none)",
           0.0, 1.0),
      real("emulator.dataset.calving_probability", "0", "",
           "emulator dataset: probability that a marine synthetic glacier ends in calving "
           "cliffs (the ocean takes 5-40 % of it below a coast level)",
           0.0, 1.0),
      str("emulator.dataset.patch_config", "\"\"",
          "emulator dataset: a nunatak configuration whose input geometry (after its thickness "
          "estimate) patches are cut from, e.g. experiments/aletsch/aletsch_bp_diagnostic.yaml; "
          "empty: synthetic glaciers only. Greenland is refused: it is the held-out real geometry"),
      integer("emulator.dataset.patch_samples", "0",
              "emulator dataset: number of patches cut from the patch_config geometry", 0, 1000000),
      real("emulator.dataset.patch_x_min", "0", "",
           "emulator dataset: patches lie east of this fraction of the geometry's x extent", 0.0,
           1.0),
      real("emulator.dataset.patch_x_max", "1", "",
           "emulator dataset: patches lie west of this fraction of the x extent (the rest is "
           "held out for evaluation)",
           0.0, 1.0),
      integer("emulator.dataset.patch_stride_max", "2",
              "emulator dataset: patches take every s-th column, s drawn from 1..this", 1, 16),

      // `nunatak emulator train`.
      str("emulator.training.dataset", "output/emulator/dataset.nc",
          "emulator training: the data set (`nunatak emulator dataset`); its validation samples "
          "are held back"),
      str("emulator.training.model", "output/emulator/model.pt",
          "emulator training: the model file written (the best epoch's weights); beside it "
          "MODEL_history.nc and .png (loss curves) and MODEL_checkpoint.pt (resume)"),
      str("emulator.training.loss", "hybrid",
          "emulator training: physics (the shared energy), data (relative squared misfit to the "
          "solver's velocity) or hybrid (both, weights balanced by their gradient norms)",
          {"physics", "data", "hybrid"}),
      str("emulator.training.architecture", "cnn", "emulator training: cnn (plain, as IGM) or unet",
          {"cnn", "unet"}),
      integer("emulator.training.width", "32",
              "emulator training: channels of the hidden layers (the first level's: unet)", 1,
              1024),
      integer("emulator.training.depth", "4",
              "emulator training: hidden convolutions (cnn) or levels (unet)", 1, 64),
      str("emulator.training.output_scaling", "flow_aligned",
          "emulator training: the network's output times a constant velocity scale (constant), "
          "times each column's shallow-ice speed (shallow_ice), that speed with the outputs "
          "along and across the downhill direction (flow_aligned), or flow_aligned times "
          "exp(g), g an extra output channel (log_speed), or the membrane reference's "
          "speed times exp(g) in its direction, corrections added to its vertical profile "
          "(membrane; docs/emulator.md)",
          {"constant", "shallow_ice", "flow_aligned", "log_speed", "membrane"}),
      str("emulator.training.membrane_viscosity", "linear",
          "emulator training: the membrane reference's viscosity (its inputs and the membrane "
          "scaling): linear (Newtonian, from the smoothed driving stress; one solve), glen "
          "(Glen's law at every level, the depth-integrated viscosity approximation; Picard "
          "iterations) or glen_gauss (glen, with the shear and membrane viscosity of no-slip "
          "elements at their Gauss points, as the solver integrates them)",
          {"linear", "glen", "glen_gauss"}),
      list("emulator.training.inputs", "[]",
           "emulator training: the network's input channels, by name (docs/emulator.md, "
           "\"The network\"); empty: every channel this version computes. A model file "
           "records its own, so configurations that list them train the same network after "
           "channels are added"),
      integer("emulator.training.epochs", "20",
              "emulator training: passes over the training samples", 1, 1000000),
      integer("emulator.training.batch_size", "4",
              "emulator training: samples per Adam step (their gradients averaged)", 1, 100000),
      real("emulator.training.learning_rate", "1e-3", "",
           "emulator training: Adam's learning rate at the first epoch", 1e-12, 10.0),
      real("emulator.training.final_learning_rate", "1e-4", "",
           "emulator training: the learning rate at the last epoch (cosine decay)", 0.0, 10.0),
      integer("emulator.training.seed", "1",
              "emulator training: seed of the initial weights and of the order of the samples", 0,
              1e15),
      integer("emulator.training.physics_warmup_epochs", "0",
              "emulator training: hybrid: physics-only epochs first", 0, 1000000),
      real("emulator.training.balance_ratio", "1", "",
           "emulator training: hybrid: the physics term's weight makes its gradient norm this "
           "times the data term's",
           1e-6, 1e6),
      str("emulator.training.precision", "single",
          "emulator training: floating-point precision of the weights and the energy (single: "
          "about 7 times faster on a CPU than double)",
          {"single", "double"}),

      list("input.region", "[]",
           "a sub-domain: [x_min, x_max, y_min, y_max] in metres of the input's coordinates; "
           "only the cells whose centres lie inside are read (empty: the whole grid)"),
      integer("input.coarsen_factor", "1",
              "read the inputs on a grid K times coarser (blocks of K x K cells, after "
              "input.region): thickness by volume (conserved exactly), the other fields by the "
              "mean of their cells with data, the ice mask by majority; the surface follows from "
              "thickness and bed by the floatation rule (docs/io.md)",
              1, 1000),
      // `nunatak observe`: synthetic observations for twin experiments.
      integer("observe.seed", "1", "observe: seed of the noise", 0, 1e15),
      real("observe.velocity_noise", "0", "m year-1",
           "observe: standard deviation of the Gaussian noise on each velocity component", 0.0),
      integer("observe.radar_lines", "3",
              "observe: radar lines (along x, at rows evenly spaced over the outline)", 0, 1000000),
      real("observe.radar_noise", "0", "m",
           "observe: standard deviation of the Gaussian noise on the radar thickness", 0.0),
      // `nunatak invert`: the gradient-based inversion (docs/inversion.md).
      str("inversion.forward", "emulator",
          "inversion: the forward model: emulator (autograd through emulator.model), solver "
          "(Blatter-Pattyn with its adjoint: exact gradients) or hybrid (emulator steps, checked "
          "and retrained against BP solves)",
          {"emulator", "solver", "hybrid"}),
      list("inversion.controls", "[thickness]",
           "inversion: what is inverted for: thickness (always), friction (beta^2), surface "
           "(within inversion.surface.sigma of the observed)"),
      str("inversion.optimizer", "auto",
          "inversion: adam, lbfgs, or auto (lbfgs for the solver's exact gradients, adam for the "
          "emulator's)",
          {"auto", "adam", "lbfgs"}),
      integer("inversion.iterations", "100", "inversion: optimiser steps at most", 0, 1000000),
      real("inversion.learning_rate", "0", "",
           "inversion: Adam's step in scaled controls (thickness / inversion.thickness.scale, "
           "log10 beta^2), L-BFGS's first step; 0: 0.1 for adam, 1 for lbfgs",
           0.0),
      real("inversion.tolerance", "1e-4", "",
           "inversion: stop when the cost changed by less than this fraction over 5 steps", 0.0),
      str("inversion.precision", "double",
          "inversion: floating-point precision of the cost "
          "and the emulator (the solver's gradients are computed in double)",
          {"single", "double"}),
      str("inversion.first_guess", "plastic",
          "inversion: the first thickness: plastic (the estimate of thickness_estimate.*, from "
          "the surface and the outline, calibrated on the radar cells the cost uses), velocity "
          "(the same, scaled by the observed surface speed: thickness_estimate.method = "
          "velocity) or input (the geometry's thk, or inversion.first_guess_file)",
          {"plastic", "velocity", "input"}),
      str("inversion.first_guess_file", "\"\"",
          "inversion: with first_guess = input, read thk from this file instead of the geometry"),
      integer("inversion.crop_margin", "3",
              "inversion: work on the outline's bounding box with this many cells around it "
              "(the output is on the input grid); negative: the whole grid",
              -1, 1000000),
      real("inversion.thickness.scale", "100", "m", "inversion: thickness control unit", 1e-3),
      real("inversion.thickness.min", "10", "m",
           "inversion: least thickness on the outline (at least bp.minimum_thickness)", 0.0),
      real("inversion.thickness.max", "5000", "m", "inversion: largest thickness", 0.0),
      real("inversion.friction.initial", "1e4", "Pa year m-1",
           "inversion: first beta^2 where friction is a control and sliding.law is none", 1e-6),
      real("inversion.friction.min", "1", "", "inversion: least log10 beta^2"),
      real("inversion.friction.max", "7", "", "inversion: largest log10 beta^2"),
      real("inversion.velocity.sigma", "10", "m year-1",
           "inversion: surface-velocity observation error sigma_u", 1e-9),
      real("inversion.velocity.huber", "0", "",
           "inversion: Huber threshold of the velocity misfit in units of sigma_u (0: quadratic)",
           0.0),
      real("inversion.velocity.relative_sigma", "0", "",
           "inversion: a velocity error proportional to the observed speed, sigma^2 = sigma_u^2 "
           "+ (relative_sigma |u_obs|)^2 (model error grows with the speed)",
           0.0, 10.0),
      real("inversion.velocity.margin_distance", "0", "m",
           "inversion: observed velocities closer than this to the outline are left out of the "
           "misfit (mixed pixels, and the no-slip margin of the model); 0: none",
           0.0),
      real("inversion.radar.sigma", "20", "m", "inversion: radar thickness error sigma_H", 1e-9),
      real("inversion.radar.density_radius", "300", "m",
           "inversion: a radar cell weighs 1 / (radar cells within this radius), so dense lines "
           "do not dominate (0: equal weights)",
           0.0),
      real("inversion.radar.holdout_block_size", "0", "m",
           "inversion: hold out the radar cells of every other square block of this side (a "
           "checkerboard) to test the result; 0: none",
           0.0),
      integer("inversion.radar.holdout_parity", "1",
              "inversion: which blocks are held out: 0 or 1 (the checkerboard's two colours)", 0,
              1),
      real("inversion.radar.validation_block_size", "0", "m",
           "inversion: choosing settings without the test: drop the held-out radar cells "
           "altogether and split the rest again, in a checkerboard of blocks of this side; the "
           "cells of colour inversion.radar.validation_parity are then the ones reported as held "
           "out; 0: no validation split",
           0.0),
      integer("inversion.radar.validation_parity", "1",
              "inversion: which blocks of the validation checkerboard are held out: 0 or 1", 0, 1),
      real("inversion.surface.sigma", "5", "m",
           "inversion: how far the surface control may move from the observed (its prior's "
           "sigma)",
           1e-9),
      real("inversion.mass.weight", "0", "",
           "inversion: weight of the mass-conservation term div(H ubar) = smb - dh/dt (0: off; "
           "dh/dt from the observations where given, else 0)",
           0.0),
      real("inversion.mass.sigma", "1", "m year-1", "inversion: its error scale", 1e-9),
      real("inversion.regularisation.thickness.smoothing", "1", "",
           "inversion: weight of the thickness smoothness (l / sigma_H)^2 |grad H|^2, along and "
           "across the flow",
           0.0),
      real("inversion.regularisation.thickness.length", "500", "m",
           "inversion: the smoothness's length l", 0.0),
      real("inversion.regularisation.thickness.across_flow_factor", "0.2", "",
           "inversion: weight of across-flow gradients relative to along-flow ones", 0.0),
      {"inversion.regularisation.thickness.smooth_correction",
       KeyType::boolean,
       "false",
       "",
       "inversion: the smoothness acts on the correction to the first guess (H - H_first) "
       "instead of H, so the first guess's structure is kept",
       {},
       {},
       {}},
      real("inversion.regularisation.thickness.prior", "0", "",
           "inversion: weight of the prior towards the first guess", 0.0),
      real("inversion.regularisation.thickness.prior_sigma", "100", "m",
           "inversion: the prior's sigma", 1e-9),
      real("inversion.regularisation.friction.smoothing", "1", "",
           "inversion: weight of the friction smoothness l^2 |grad log10 beta^2|^2", 0.0),
      real("inversion.regularisation.friction.length", "1000", "m",
           "inversion: the friction smoothness's length l", 0.0),
      real("inversion.regularisation.friction.prior", "0.1", "",
           "inversion: weight of the prior towards the first log10 beta^2", 0.0),
      real("inversion.regularisation.friction.prior_sigma", "1", "",
           "inversion: the friction prior's sigma, decades", 1e-9),
      integer("inversion.hybrid.every", "10", "inversion hybrid: iterations between BP checks", 1,
              1000000),
      integer("inversion.hybrid.steps", "20",
              "inversion hybrid: Adam steps retraining the emulator on each check", 0, 1000000),
      real("inversion.hybrid.learning_rate", "1e-3", "", "inversion hybrid: their learning rate",
           1e-12),
      real("inversion.hybrid.anchor", "1", "",
           "inversion hybrid: weight of the anchor to the pretrained weights", 0.0),

      integer("bp.levels", "9", "Blatter-Pattyn: nodes per column (terrain-following)", 2, 1001),
      real("bp.minimum_thickness", "10", "m",
           "Blatter-Pattyn: thinner columns are ice-free (velocity fixed at 0)", 0.0),
      real("bp.regularisation", "1e-5", "year-1",
           "Blatter-Pattyn: strain-rate regularisation in the viscosity", 1e-12),
      {"bp.ocean_pressure",
       KeyType::boolean,
       "true",
       "",
       "Blatter-Pattyn: ocean-pressure (calving-front) condition at marine ice fronts (else "
       "traction-free, as at land margins)",
       {},
       {},
       {}},
      str("parallel.decomposition", "ice",
          "how the grid is split over MPI ranks: ice (boxes with about equal numbers of ice "
          "columns, an ice-free column counting a tenth, from the input thickness) or even "
          "(PETSc's equal numbers of cells)",
          {"ice", "even"}),
      str("petsc.options", "\"\"",
          "extra PETSc options for the solvers, e.g. '-bp_pc_type gamg -bp_ksp_type fgmres'; an "
          "option also given in the PETSC_OPTIONS environment variable keeps that value"),
      real("time.cfl", "0.5", "", "Courant number for advective fluxes (bp)", 1e-6, 1.0),
      real("flow_law.glen_exponent", "3", "", "Glen exponent n", 1.0, 10.0),
      real("flow_law.softness", "1e-16", "Pa-n year-1",
           "ice softness A in Glen's law (1e-16 Pa-3 a-1: EISMINT, ISMIP-HOM)", 1e-30),
      real("flow_law.hardness", "0", "Pa year1/n",
           "ice hardness B; if positive it replaces flow_law.softness by A = B^-n (e.g. 2.1e5 "
           "Pa a1/3 is A = 1e-16 Pa-3 a-1)",
           0.0),
      real("flow_law.enhancement_factor", "1", "", "enhancement factor E multiplying A", 0.0),
      str("sliding.law", "none",
          "basal sliding: none, weertman (u_b = -C |tau_b|^(m-1) tau_b with a uniform "
          "sliding.coefficient) or pseudo_plastic (PISM's tau_b = -tau_c |u_b|^(q-1) u_b / u0^q, "
          "q = 1/sliding.exponent, u0 = sliding.threshold_speed, tau_c from the input variable "
          "tauc or else sliding.yield_stress; a friction field beta^2 = tau_c / u0^q)",
          {"none", "weertman", "pseudo_plastic"}),
      real("sliding.coefficient", "0", "m year-1 Pa-m",
           "weertman: coefficient C in u_b = -C |tau_b|^(m-1) tau_b", 0.0),
      real("sliding.exponent", "1", "",
           "sliding exponent m (weertman); pseudo_plastic uses q = 1/m (PISM's default q = 0.25 "
           "is m = 4)",
           1.0, 10.0),
      real("sliding.threshold_speed", "100", "m year-1",
           "pseudo_plastic: threshold speed u0 (PISM's u_threshold)", 1e-6),
      real("sliding.yield_stress", "0", "Pa",
           "pseudo_plastic: uniform till yield stress tau_c where the input has no tauc; 0: the "
           "input must have tauc",
           0.0),
      {"calving.remove_floating_ice",
       KeyType::boolean,
       "true",
       "",
       "remove floating ice at once, from the initial state and after every step (the only calving "
       "rule so far; false keeps ice shelves)",
       {},
       {},
       {}},

      real("surface_mass_balance.constant", "0", "m year-1",
           "surface mass balance, ice equivalent (m/a; times constants.ice.density for kg m-2 "
           "a-1), used everywhere when the inputs have no surface mass balance field (a run "
           "without either warns that it uses 0); setting it when they have one is an error; "
           "the scenario keys surface_mass_balance.factor and .offset act on either"),
      real("surface_mass_balance.factor", "1", "",
           "scenario: the run's surface mass balance is factor * smb + offset (nunatak run; the "
           "inversion uses the present-day field)"),
      real("surface_mass_balance.offset", "0", "m year-1",
           "scenario: added to the surface mass balance everywhere, ice equivalent (after the "
           "factor)"),
      real("surface_mass_balance.offset_rate", "0", "m year-2",
           "scenario: the offset grows by this much per year from time.start (a linear ramp)"),

      // `nunatak superres`: super-resolution of coarse runs (docs/superres.md).
      list("superres.factors", "[2, 4]",
           "superres pairs: the coarsening factors of the coarse runs made beside the fine one"),
      integer("superres.factor", "2",
              "superres train: the coarse run to learn from (output.file's stem + _xK.nc)", 2, 64),
      str("superres.model", "output/superres/model.pt", "superres train: the model file to write"),
      integer("superres.width", "16", "superres: channels of the network's convolutions", 1, 1024),
      integer("superres.depth", "3", "superres: residual blocks of the network", 0, 64),
      integer("superres.epochs", "200", "superres train: passes over the training snapshots", 1,
              1e7),
      integer("superres.batch_size", "4", "superres train: snapshots per step", 1, 1e6),
      real("superres.learning_rate", "2e-3", "", "superres train: Adam's first learning rate",
           1e-12),
      real("superres.final_learning_rate", "1e-4", "",
           "superres train: the learning rate at the last epoch (cosine schedule)", 1e-12),
      integer("superres.seed", "1", "superres train: seed of the weights and the order", 0, 1e15),
      integer("superres.validation_every", "5",
              "superres train: every k-th snapshot of the pair is kept for validation (the best "
              "epoch on them is kept); 0: none",
              0, 1e6),
      {"superres.conserve_mass",
       KeyType::boolean,
       "false",
       "",
       "superres: scale the thickness in each coarse cell's block so that its volume is the "
       "coarse run's exactly (in training and in use)",
       {},
       {},
       {}},
      {"superres.augment",
       KeyType::boolean,
       "false",
       "",
       "superres train: mirror each batch in x and/or y at random",
       {},
       {},
       {}},
      {"superres.use_change",
       KeyType::boolean,
       "false",
       "",
       "superres: the coarse run's thickness change since its first record is an input (its "
       "trajectory, for the growing bias)",
       {},
       {},
       {}},
      {"superres.use_smb",
       KeyType::boolean,
       "false",
       "",
       "superres: the scenario's surface mass balance and its integral since the start are "
       "inputs (for training on several scenarios, superres.scenarios)",
       {},
       {},
       {}},
      {"superres.use_initial",
       KeyType::boolean,
       "false",
       "",
       "superres: the initial state's detail (the fine input thickness minus the bicubic "
       "interpolation of the coarse run's first record) is an input",
       {},
       {},
       {}},
      list("superres.scenarios", "[]",
           "superres pairs and train: more scenarios to train on beside the configured one, "
           "each one or more key=value overrides joined by ';' (the k-th writes output.file's "
           "stem + _sK.nc)"),
      {"superres.use_time",
       KeyType::boolean,
       "true",
       "",
       "superres: the time since the start of the run is an input (for the coarse run's "
       "growing bias)",
       {},
       {},
       {}},

      integer("ensemble.members", "0",
              "nunatak ensemble: members of the Latin-hypercube sample of ensemble.parameters "
              "(0 with ensemble.table)",
              0, 1e6),
      list("ensemble.parameters", "[]",
           "nunatak ensemble: sampled keys with ranges, 'KEY = MIN .. MAX' (uniform) or "
           "'KEY = MIN .. MAX log' (log-uniform), for real or integer keys"),
      integer("ensemble.seed", "1", "nunatak ensemble: seed of the Latin-hypercube sample", 0,
              1e15),
      str("ensemble.table", "\"\"",
          "nunatak ensemble: the members as a table instead of a sample: a CSV file (a header "
          "of keys, a row per member) or a NetCDF file (variables KEY(member))"),
      integer("ensemble.ranks_per_member", "1",
              "nunatak ensemble: MPI ranks that run one member together (the world is split "
              "into groups of this size)",
              1, 1e6),
      str("ensemble.directory", "ensemble",
          "nunatak ensemble: folder of the members' outputs (member_K.nc, member_K_ts.nc, "
          "member_K.status, member_K.log) and of the summary (summary.nc, summary.png)"),
      real("ensemble.member_time_limit", "0", "s",
           "nunatak ensemble: wall-clock time after which a member is stopped (with a "
           "checkpoint) and counted as failed, so that a parameter set that makes the run crawl "
           "does not hold up the ensemble; 0: no limit",
           0.0),
      real("ensemble.summary_interval", "0", "year",
           "nunatak ensemble: time between the rows of the summary's time series; 0: "
           "output.interval, or a hundredth of the run if that is 0",
           0.0),

      real("output.interval", "0", "year",
           "time between spatial output records; 0: only the start and the end", 0.0),
      list("output.variables",
           "[thk, usurf, topg, mask, velsurf_mag, uvelsurf, vvelsurf, ubar, vbar, "
           "climatic_mass_balance]",
           "fields written by 'run' (also uvelbase, vvelbase, uvel, vvel, and the observations "
           "velsurfobs_mag, uvelsurfobs, vvelsurfobs, thkobs when read)"),
      integer("output.levels", "11", "sigma levels of the 3-D output fields uvel, vvel", 2, 1001),
      str("checkpoint.file", "\"\"",
          "checkpoint written at checkpoint.interval and on SIGTERM/SIGINT/SIGUSR1; empty: "
          "OUTPUT_checkpoint.nc beside output.file"),
      real("checkpoint.interval", "0", "year", "time between checkpoints; 0: only on signals", 0.0),

      str("output.file", "output/nunatak.nc", "NetCDF output file (folders are created)"),
      integer("output.compression_level", "1", "NetCDF-4 deflate level (0: no compression)", 0, 9),
      list("output.quicklook", "[thk]",
           "variables drawn as PNG quick-look maps beside the output file (empty: none)"),
  };
  std::sort(s.begin(), s.end(), [](const KeySpec& a, const KeySpec& b) { return a.name < b.name; });
  return s;
}

} // namespace

const std::vector<KeySpec>& config_schema() {
  static const std::vector<KeySpec> schema = build_schema();
  return schema;
}

} // namespace nunatak::io
