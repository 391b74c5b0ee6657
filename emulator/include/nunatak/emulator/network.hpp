#pragma once
/// \file network.hpp
/// The Blatter-Pattyn emulator: a fully convolutional network (a plain CNN
/// as in IGM, or a U-Net) that maps per-column inputs of a 2-D grid to the
/// horizontal velocity (u, v) at the solver's nz nodes of every column, on the
/// solver's own discretisation, so that its physics loss is the shared energy
/// (bp_energy.hpp). It runs on any grid size and on patches.
///
/// Inputs (channels, per column of a TorchBPPatch; emulator_input_names()):
///   thickness H (m); surface slopes ds/dx, ds/dy (centred differences of
///   s = z_b + H, one-sided at the edges); bed_fixed (1 where the bed node is
///   held at 0: no slip); log10(1 + beta^2) (beta^2 in Pa (m/a)^-q);
///   log10 of the column-mean hardness B (Pa a^(1/n)); log10 dx (m); icy
///   (1 where the column's nodes are unknowns); log10(H / dx); log10 of the
///   local shallow-ice deformation and sliding speeds (m/a, floored at 1e-6);
///   log10 of the speed of the membrane reference and its deformation
///   share (membrane_reference.hpp), the non-local inputs; the reference's
///   force imbalance under the BP energy along and across its direction
///   (membrane_imbalance): where the reference already balances BP's
///   forces, and how far it is off where it does not.
/// A model lists its own channels (EmulatorMetadata::inputs), so a model
/// trained on fewer of them still runs.
/// Each channel is normalised, (x - mean) / std, with statistics stored in
/// the model (fit_normalisation).
/// Output: velocity_scale (m/a) times the network's 2 nz channels, as
/// [ny, nx, nz, 2], multiplied by the patch's free-node mask: exactly 0 where
/// the solver fixes the velocity (ice-free columns, no-slip beds).
/// Convolutions pad by replicating the edge (not by zeros), so the velocity
/// at the domain border is not pulled towards 0.
///
/// The model file (save/load) is a LibTorch archive: the weights plus the
/// metadata (EmulatorMetadata, as text), so one file says what the model is,
/// what it expects and where it came from.

#include "nunatak/emulator/bp_energy.hpp"
#include "nunatak/emulator/membrane_reference.hpp"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/conv.h>

#include <cstdint>
#include <string>
#include <vector>

namespace nunatak::emulator {

/// What a model is and what it expects: architecture, inputs and their
/// normalisation, levels, physical constants, provenance.
struct EmulatorMetadata {
  std::string architecture = "cnn"; ///< "cnn" (plain, IGM-like) or "unet"
  int width = 32;                   ///< channels of the hidden layers (of the first level: unet)
  int depth = 4; ///< cnn: hidden convolution layers; unet: levels (each halves the grid)
  std::vector<double> sigma;       ///< the solver's levels, 0 (bed) .. 1 (surface)
  std::vector<std::string> inputs; ///< the input channels, emulator_input_names()
  std::vector<double> input_mean;  ///< per input channel
  std::vector<double> input_std;   ///< per input channel, > 0
  double velocity_scale = 100.0;   ///< m/a (constant) or 1 (shallow_ice): the output's unit
  /// "constant": velocity = velocity_scale x network output; "shallow_ice":
  /// velocity = velocity_scale x U_ref x network output, U_ref the local
  /// shallow-ice speed (Emulator::reference_speed), so the network learns an
  /// O(1) correction over grids from 50 m to 20 km; "flow_aligned": as
  /// shallow_ice, with the two output channels of each level the components
  /// along and across the downhill direction (Emulator::downhill_direction)
  /// instead of along x and y, so that the shallow-ice answer is a constant
  /// output per level; "log_speed": as flow_aligned, times exp(g) with g an
  /// extra output channel, so the network sets each column's decade of speed
  /// in log space; "membrane": the speed of the membrane reference
  /// (membrane_reference.hpp) times exp(g), the outputs along and across its
  /// direction, the along-channel added to its vertical profile, so that
  /// zero outputs give the reference itself (emulator_output_scalings()).
  std::string output_scaling = "constant";
  /// The membrane reference's viscosity, "linear", "glen" or "glen_gauss"
  /// (membrane_viscosities()): the one its membrane inputs and scaling use.
  std::string membrane_viscosity = "linear";
  double glen_exponent = 3.0;        ///< n
  double ice_density = 910.0;        ///< kg m^-3
  double gravity = 9.81;             ///< m s^-2
  double sea_water_density = 1028.0; ///< kg m^-3
  double friction_exponent = 1.0;    ///< q of tau_b = beta^2 |u|^(q-1) u
  double minimum_thickness = 10.0;   ///< H_min of the margin rule, m
  std::string training;              ///< the training configuration (YAML text)
  std::string dataset;               ///< the data set it was trained on
  std::string code_version;          ///< nunatak version and git revision

  /// The metadata as "key: value" lines (the model file's text).
  std::string to_text() const;
  /// Parses to_text()'s form; throws nunatak::Error naming `source` on a bad line.
  static EmulatorMetadata from_text(const std::string& text, const std::string& source);
};

/// The input channel names a new model takes, in order (every name this
/// code can compute).
const std::vector<std::string>& emulator_input_names();

/// The output scalings: constant, shallow_ice, flow_aligned, log_speed, membrane.
const std::vector<std::string>& emulator_output_scalings();

/// The membrane-reference options of a model (its membrane_viscosity).
MembraneOptions membrane_options(const EmulatorMetadata& metadata);

/// Whether a model needs the membrane reference (membrane_reference.hpp):
/// its output scaling or one of its inputs.
bool uses_membrane(const EmulatorMetadata& metadata);

/// For emulator.output: reference (the membrane reference without the
/// network): throws nunatak::Error naming the model file `source` when the
/// model does not use the membrane reference.
void check_has_membrane_reference(const EmulatorMetadata& metadata, const std::string& source);

/// The network's output channels: 2 nz, plus 1 (g) for log_speed and membrane.
int emulator_output_channels(const EmulatorMetadata& metadata);

/// Metadata for a new model of `architecture`, `width` and `depth` that
/// emulates patches with the constants and levels of `patch` (normalisation
/// identity until fit_normalisation).
EmulatorMetadata emulator_metadata_for(const TorchBPPatch& patch, const std::string& architecture,
                                       int width, int depth);

/// Throws nunatak::Error listing every disagreement between a model's
/// metadata and what a run expects (levels, constants, inputs), naming
/// `model_source` (the model file) and each key with both values.
void check_compatible(const EmulatorMetadata& model, const EmulatorMetadata& run,
                      const std::string& model_source);

/// The network: [B, C, ny, nx] normalised inputs -> [B, 2 nz, ny, nx] (units of
/// velocity_scale), channel 2k + c = component c (u, v) at level k.
class EmulatorNetImpl : public torch::nn::Module {
public:
  explicit EmulatorNetImpl(const EmulatorMetadata& metadata);
  /// The forward pass (any ny, nx >= 1).
  torch::Tensor forward(const torch::Tensor& inputs);

private:
  torch::Tensor forward_cnn(const torch::Tensor& inputs);
  torch::Tensor forward_unet(const torch::Tensor& inputs);
  bool m_unet = false;
  torch::nn::ModuleList m_layers, m_down, m_up;
  torch::nn::Conv2d m_head{nullptr};
};
TORCH_MODULE(EmulatorNet);

/// A model: metadata and network together.
class Emulator {
public:
  /// A new model with weights drawn from `seed` (CPU, double precision);
  /// for the membrane output scaling, the head's weights are 0, so that the
  /// new model returns the membrane reference.
  Emulator(EmulatorMetadata metadata, std::uint64_t seed);
  /// Reads a model file written by save(); throws nunatak::Error naming the
  /// file if it cannot be read or is not a nunatak emulator.
  static Emulator load(const std::string& path);
  /// Writes the model file (weights and metadata) under a temporary name and
  /// renames it into place.
  void save(const std::string& path) const;

  const EmulatorMetadata& metadata() const { return m_metadata; }
  EmulatorMetadata& metadata() { return m_metadata; }
  EmulatorNet& net() { return m_net; }

  /// The raw (un-normalised) input channels of `patch`, [1, C, ny, nx].
  torch::Tensor raw_inputs(const TorchBPPatch& patch) const;
  /// The normalised inputs, [1, C, ny, nx], in the patch's dtype and device.
  torch::Tensor inputs(const TorchBPPatch& patch) const;
  /// The speed the output channels are multiplied by, [ny, nx] in m/a:
  /// velocity_scale everywhere ("constant"), or velocity_scale times
  /// U_ref ("shallow_ice"): the shallow-ice speed U_d + U_b, deformation
  /// U_d = 2 A tau^n H / (n + 1) and, where the bed slides, U_b = tau /
  /// max(beta^2, 100 Pa a/m), with tau = rho g H |grad s| (A = B^-n from the
  /// column-mean hardness, |grad s| by centred differences), averaged over
  /// the icy columns of the 5 x 5 neighbourhood (so that thin margins and
  /// flat divides take their neighbours' scale), at least 1e-6 m/a.
  /// Differentiable with respect to the geometry.
  torch::Tensor reference_speed(const TorchBPPatch& patch) const;
  /// The downhill direction -grad s / |grad s| of the surface, the slope
  /// averaged over the icy columns of the 5 x 5 neighbourhood ([ny, nx, 2];
  /// shorter than 1 where the averaged slope is below 1e-6).
  torch::Tensor downhill_direction(const TorchBPPatch& patch) const;
  /// The velocity, [ny, nx, nz, 2] in m/a, exactly 0 at fixed nodes;
  /// differentiable with respect to the weights and the patch's geometry.
  torch::Tensor velocity(const TorchBPPatch& patch);
  /// Moves the weights to the patch's dtype and device.
  void to(const torch::TensorOptions& options);

private:
  EmulatorMetadata m_metadata;
  EmulatorNet m_net{nullptr};
};

/// Sets the input normalisation of `model` to the mean and standard
/// deviation of each channel over the icy columns of `patches` (std floored
/// at 1e-6 of the mean's magnitude, and 1 for a constant channel).
void fit_normalisation(Emulator& model, const std::vector<TorchBPPatch>& patches);

/// The shallow-ice velocity of `patch` ([ny, nx, nz, 2], m/a, 0 at fixed
/// nodes): the local deformation velocity with the column-mean softness and
/// centred-difference surface slopes, plus, where the bed slides, the
/// sliding velocity -rho g H grad s / max(beta^2, 100 Pa a/m). The baseline
/// that `nunatak emulator eval` prints beside the network.
torch::Tensor shallow_ice_velocity(const TorchBPPatch& patch);

/// Sets the velocity_scale of `model` so that its network's outputs are of
/// order 1 on `samples`: the median over the samples with a solution of
/// RMS|u*| / RMS(reference speed at velocity_scale 1) over the free nodes
/// (and icy columns). Unchanged without solutions.
struct TrainingSample;
void fit_velocity_scale(Emulator& model, const std::vector<TrainingSample>& samples);

/// One training sample: a patch and, for the data term, the solver's
/// velocity on it ([ny, nx, nz, 2], m/a; undefined for physics-only samples).
struct TrainingSample {
  TorchBPPatch patch;
  torch::Tensor solution;
};

/// Options of the training loop (emulator.* in a configuration).
struct TrainingOptions {
  /// "physics" (the shared energy), "data" (misfit to solver solutions) or
  /// "hybrid" (data + lambda physics, lambda adapted).
  std::string loss = "hybrid";
  int steps = 100;              ///< Adam steps, one sample each
  double learning_rate = 1e-3;  ///< Adam's
  std::uint64_t seed = 1;       ///< the order of the samples
  int physics_warmup_steps = 0; ///< hybrid: physics-only steps first (a warm start)
  int balance_every = 10;       ///< hybrid: steps between updates of lambda
  double balance_ratio = 1.0;   ///< hybrid: lambda |grad physics| = ratio |grad data|
};

/// The losses of one training step.
struct TrainingStep {
  double total = 0, physics = 0, data = 0; ///< data: NaN where the sample has none
  double weight = 1;                       ///< lambda, the physics term's weight (hybrid)
};

/// The physics loss of `velocity` on `patch`: the shared energy divided by the
/// driving work of the reference speed over the ice,
/// E / (sum_icy H |grad s| U_ref dx dy) with U_ref = model.reference_speed,
/// dimensionless (minimised; negative at a useful velocity, 0 at rest).
torch::Tensor physics_loss(const Emulator& model, const TorchBPPatch& patch,
                           const torch::Tensor& velocity);

/// The relative squared misfit to the solver's velocity, sum (u - u*)^2 /
/// sum u*^2 over the free nodes (the evaluation's relative L2 error, squared).
torch::Tensor relative_squared_misfit(const TorchBPPatch& patch, const torch::Tensor& velocity,
                                      const torch::Tensor& solution);

/// Weight and floor (a fraction of the RMS surface speed) of the data loss's
/// log-speed term.
constexpr double data_log_weight = 0.1;
constexpr double data_log_floor = 0.01;

/// The data loss: the relative L2 misfit to the solver's velocity,
/// sqrt(relative_squared_misfit), scale-free so that slow and fast glaciers
/// weigh alike, plus data_log_weight times the mean over the icy columns of
/// log((|u_s| + f) / (|u_s*| + f))^2, u_s the surface velocity and f =
/// data_log_floor times the RMS of |u_s*|: a network decades off (or
/// collapsed to rest) still gets a gradient towards the right speed.
torch::Tensor data_loss(const TorchBPPatch& patch, const torch::Tensor& velocity,
                        const torch::Tensor& solution);

/// Trains `model` by Adam, one sample per step, cycling through `samples` in
/// an order drawn from `options.seed`; returns each step's losses. Hybrid:
/// loss = data + lambda physics, where every balance_every steps lambda moves
/// towards ratio |grad_w data| / |grad_w physics| (the weights' gradients on
/// the current sample), smoothed (EMA 0.9), at most x1.2 per update, within
/// [1e-3, 100]; samples without a solution contribute physics only. Bitwise
/// reproducible on the CPU for a given model and seed.
std::vector<TrainingStep> train(Emulator& model, const std::vector<TrainingSample>& samples,
                                const TrainingOptions& options);

} // namespace nunatak::emulator
