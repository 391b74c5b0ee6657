// The tie between the solver's discrete Blatter-Pattyn energy (solver::
// BPProblem, driven by PETSc) and its LibTorch twin (emulator::bp_energy):
// on ISMIP-HOM A and C, a Greenland patch with marine fronts and an Aletsch
// patch with thin margins, at a generic velocity (shallow-ice guess plus a
// random perturbation), in double precision:
//   - the torch energies of the ranks' patches add up to the solver's energy;
//   - the autograd gradients, added at shared nodes (DMLocalToGlobal), equal
//     the solver's residual on the free nodes;
//   - Hessian-vector products by double autograd equal the solver's Jacobian
//     times the vector;
// each to 1e-10 relative. The same in single precision, with the error
// measured and bounded (docs/energy.md states the figures). Each rank also
// writes its patch as a NetCDF fixture (io::write_bp_fixture), reads it back
// and checks the torch energy and gradient of the file against the solver's
// patch-local ones: the path by which the torch side is tested without PETSc.
#include "nunatak/core/constants.hpp"
#include "nunatak/core/floatation.hpp"
#include "nunatak/core/parallel_grid.hpp"
#include "nunatak/emulator/bp_energy.hpp"
#include "nunatak/io/bp_fixture.hpp"
#include "nunatak/io/config.hpp"
#include "nunatak/model/ismip_hom.hpp"
#include "nunatak/model/model_inputs.hpp"
#include "nunatak/solver/blatter_pattyn.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>

using namespace nunatak;

namespace {

const std::string data_dir = test::shared_data_dir();

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

/// max over ranks of max |a - b| over free owned dofs, and of max |b|.
std::pair<double, double> free_difference(const solver::BlatterPattyn& bp, Vec a, Vec b) {
  PetscInt n = 0;
  VecGetLocalSize(a, &n);
  const PetscScalar *x = nullptr, *y = nullptr;
  VecGetArrayRead(a, &x);
  VecGetArrayRead(b, &y);
  double local[2] = {0.0, 0.0};
  for (PetscInt k = 0; k < n; ++k)
    if (!bp.is_fixed(k)) {
      local[0] = std::max(local[0], std::abs(x[k] - y[k]));
      local[1] = std::max(local[1], std::abs(y[k]));
    }
  VecRestoreArrayRead(a, &x);
  VecRestoreArrayRead(b, &y);
  double global[2];
  MPI_Allreduce(local, global, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return {global[0], global[1]};
}

/// A random vector on the free dofs (zero on fixed ones).
void random_free(const solver::BlatterPattyn& bp, Vec d, unsigned seed) {
  PetscInt lo = 0, hi = 0;
  VecGetOwnershipRange(d, &lo, &hi);
  PetscScalar* a = nullptr;
  VecGetArray(d, &a);
  for (PetscInt k = lo; k < hi; ++k) {
    std::mt19937 rng(seed + unsigned(k));
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    a[k - lo] = bp.is_fixed(k - lo) ? 0.0 : uniform(rng);
  }
  VecRestoreArray(d, &a);
}

/// The patch-local (ghosted) values of a global vector, [y][x][z][c].
std::vector<double> local_values(DM dm, Vec global) {
  core::BorrowedVec local(dm, core::BorrowedVec::local);
  DMGlobalToLocal(dm, global, INSERT_VALUES, local);
  PetscInt n = 0;
  VecGetLocalSize(local, &n);
  const core::VecReadArray a(local);
  return std::vector<double>(a.data(), a.data() + n);
}

/// Patch-local values added into a global vector at shared nodes.
void assemble(DM dm, const std::vector<double>& values, Vec global) {
  core::BorrowedVec local(dm, core::BorrowedVec::local);
  {
    const core::VecWriteArray a(local);
    std::copy(values.begin(), values.end(), a.data());
  }
  VecSet(global, 0.0);
  DMLocalToGlobal(dm, local, ADD_VALUES, global);
}

/// What one comparison found (relative errors).
struct TieErrors {
  double energy = 0, gradient = 0, hessian = 0;
};

/// Compares the torch energy on this rank's patch, in `dtype`, with the
/// solver at its current solution.
TieErrors compare(const solver::BlatterPattyn& bp, torch::Dtype dtype) {
  const solver::BPPatchState state = bp.patch_state();
  const auto patch = emulator::make_torch_bp_patch(state.patch, dtype);
  const torch::Tensor u = emulator::velocity_tensor(patch, state.velocity);
  TieErrors e;
  // Energy: the patches' energies add up to the global one.
  double mine = emulator::bp_energy(patch, u).item<double>(), total = 0.0;
  MPI_Allreduce(&mine, &total, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
  const double solver_energy = bp.energy(bp.solution());
  e.energy = std::abs(total - solver_energy) / std::abs(solver_energy);

  // Gradient against the residual, on free nodes.
  core::VecHandle g, r;
  VecDuplicate(bp.solution(), g.out());
  VecDuplicate(bp.solution(), r.out());
  assemble(bp.dm(), emulator::to_vector(emulator::bp_energy_gradient(patch, u)), g);
  bp.residual(bp.solution(), r);
  const auto [dg, gmax] = free_difference(bp, g, r);
  e.gradient = dg / gmax;

  // Hessian-vector product against the Jacobian.
  core::VecHandle v, jv, hv;
  VecDuplicate(bp.solution(), v.out());
  VecDuplicate(bp.solution(), jv.out());
  VecDuplicate(bp.solution(), hv.out());
  random_free(bp, v, 7);
  bp.jacobian(bp.solution(), bp.matrix());
  MatMult(bp.matrix(), v, jv);
  const torch::Tensor direction = emulator::velocity_tensor(patch, local_values(bp.dm(), v));
  assemble(bp.dm(), emulator::to_vector(emulator::bp_hessian_vector_product(patch, u, direction)),
           hv);
  const auto [dh, hmax] = free_difference(bp, hv, jv);
  e.hessian = dh / hmax;
  return e;
}

/// The fixture round trip: this rank's patch written and read back; the
/// torch energy and gradient of the file equal the solver's patch-local ones.
void check_fixture(const solver::BlatterPattyn& bp, const std::string& name) {
  const solver::BPPatchState state = bp.patch_state();
  io::BPFixture fixture{state.patch, state.velocity, state.energy, state.gradient,
                        "tie test: " + name};
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("nunatak_tie_" + name + "_" + std::to_string(world_rank()) + "_" +
                             std::to_string(::getpid()) + ".nc"))
                               .string();
  io::write_bp_fixture(path, fixture);
  const io::BPFixture read = io::read_bp_fixture(path);
  std::filesystem::remove(path);
  const auto patch = emulator::make_torch_bp_patch(read.patch);
  const torch::Tensor u = emulator::velocity_tensor(patch, read.velocity);
  const double energy = emulator::bp_energy(patch, u).item<double>();
  const std::vector<double> gradient = emulator::to_vector(emulator::bp_energy_gradient(patch, u));
  double dg = 0, gmax = 0;
  for (size_t k = 0; k < gradient.size(); ++k) {
    dg = std::max(dg, std::abs(gradient[k] - read.gradient[k]));
    gmax = std::max(gmax, std::abs(read.gradient[k]));
  }
  if (read.energy != 0.0) {
    EXPECT_LT(std::abs(energy - read.energy) / std::abs(read.energy), 1e-10) << name;
  }
  if (gmax > 0.0) {
    EXPECT_LT(dg / gmax, 1e-10) << name;
  }
}

/// Moves the solution to a generic point: shallow-ice guess plus a random
/// perturbation of `amplitude` m/a on the free nodes.
void generic_velocity(solver::BlatterPattyn& bp, double amplitude) {
  bp.set_sia_initial_guess();
  core::VecHandle d;
  VecDuplicate(bp.solution(), d.out());
  random_free(bp, d, 17);
  VecAXPY(bp.solution(), amplitude, d);
}

/// The whole tie check of one case.
void expect_tied(solver::BlatterPattyn& bp, const std::string& name, double amplitude) {
  generic_velocity(bp, amplitude);
  const TieErrors d = compare(bp, torch::kFloat64);
  const TieErrors f = compare(bp, torch::kFloat32);
  if (world_rank() == 0)
    std::printf("%-22s double: energy %.1e gradient %.1e Hv %.1e | float: energy %.1e gradient "
                "%.1e Hv %.1e\n",
                name.c_str(), d.energy, d.gradient, d.hessian, f.energy, f.gradient, f.hessian);
  EXPECT_LT(d.energy, 1e-10) << name;
  EXPECT_LT(d.gradient, 1e-10) << name;
  EXPECT_LT(d.hessian, 1e-10) << name;
  // Single precision (measured: energy 3e-8 to 2e-7, gradient 9e-7 to 7e-6,
  // Hessian products 1e-7 to 6e-6): the energy to a few float round-offs,
  // gradients and Hessian products to the round-off of element sums that cancel.
  EXPECT_LT(f.energy, 1e-6) << name;
  EXPECT_LT(f.gradient, 5e-5) << name;
  EXPECT_LT(f.hessian, 5e-5) << name;
  check_fixture(bp, name);
}

/// A crop [i0, i0 + n) x [j0, j0 + n) of whole-grid arrays on a new grid.
struct Crop {
  std::shared_ptr<const core::ParallelGrid> grid;
  core::Field2D thk, base, beta2, frozen;
};

/// Builds a crop of the configured inputs (every rank gets the whole arrays),
/// with the ice base from the floatation rule, a smooth beta^2 that is zero
/// under floating ice, and a frozen bed (no slip) under grounded ice thicker
/// than 100 m.
Crop crop_inputs(const io::Config& config, int i0, int j0, int n) {
  const model::ModelInputs in = model::read_model_inputs(config, MPI_COMM_WORLD);
  const core::ParallelGrid& g = *in.grid;
  std::vector<double> H = g.gather_to_zero(*in.geometry.thk),
                      b = g.gather_to_zero(*in.geometry.topg);
  const int nx = g.grid().nx();
  H.resize(size_t(g.grid().size()));
  b.resize(H.size());
  MPI_Bcast(H.data(), int(H.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  MPI_Bcast(b.data(), int(b.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
  const double dx = g.grid().dx(), dy = g.grid().dy();
  auto grid = core::ParallelGrid::create(MPI_COMM_WORLD,
                                         core::Grid(n, n, dx, dy, g.grid().x(i0), g.grid().y(j0)));
  const core::FieldInfo info{"f", "", "", "m", "m", {}, ""};
  Crop c{grid, core::Field2D(grid, info), core::Field2D(grid, info), core::Field2D(grid, info),
         core::Field2D(grid, info)};
  const core::Floatation floatation; // 910 / 1028 kg m^-3, sea level 0
  const core::LocalBox box = grid->box();
  auto Hc = Kokkos::create_mirror_view(c.thk.view()),
       Bc = Kokkos::create_mirror_view(c.base.view()),
       Cc = Kokkos::create_mirror_view(c.beta2.view()),
       Fc = Kokkos::create_mirror_view(c.frozen.view());
  for (int j = box.gys; j < box.gys + box.gym; ++j)
    for (int i = box.gxs; i < box.gxs + box.gxm; ++i) {
      // Outside the crop: the nearest crop cell (ghosts of a non-periodic grid).
      const int I = i0 + std::clamp(i, 0, n - 1), J = j0 + std::clamp(j, 0, n - 1);
      const double h = H[size_t(J) * size_t(nx) + size_t(I)],
                   z = b[size_t(J) * size_t(nx) + size_t(I)];
      Hc(box.lj(j), box.li(i)) = h;
      Bc(box.lj(j), box.li(i)) = floatation.ice_base(h, z);
      Cc(box.lj(j), box.li(i)) =
          floatation.floats(h, z) ? 0.0 : 1e3 * (1.5 + std::sin(0.7 * I) * std::cos(0.4 * J));
      Fc(box.lj(j), box.li(i)) = !floatation.floats(h, z) && h > 100.0 ? 1.0 : 0.0;
    }
  Kokkos::deep_copy(c.thk.view(), Hc);
  Kokkos::deep_copy(c.base.view(), Bc);
  Kokkos::deep_copy(c.beta2.view(), Cc);
  Kokkos::deep_copy(c.frozen.view(), Fc);
  return c;
}

/// Counts front faces and ice-free columns among the free nodes of the ranks' patches.
std::pair<long long, long long> fronts_and_margins(const solver::BlatterPattyn& bp) {
  const core::BPPatch& p = bp.problem().patch();
  long long local[2] = {0, 0};
  for (int j = p.ys; j < p.ys + p.ym; ++j)
    for (int i = p.xs; i < p.xs + p.xm; ++i) {
      const size_t c = p.column(j, i);
      for (int f = 0; f < 4; ++f) local[0] += (p.front_faces[c] >> f) & 1;
      local[1] += p.thickness[c] < p.constants.minimum_thickness;
    }
  long long global[2];
  MPI_Allreduce(local, global, 2, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
  return {global[0], global[1]};
}

} // namespace

TEST(BPEnergyTie, IsmipHomA) {
  model::IsmipHomCase c;
  c.experiment = 'A';
  c.nx = c.ny = 16;
  c.nz = 5;
  model::IsmipHomSetup s = model::make_ismip_hom(c, MPI_COMM_WORLD);
  solver::BlatterPattyn bp(s.grid, s.params);
  bp.set_geometry(s.thk, s.bed);
  expect_tied(bp, "ISMIP-HOM A", 5.0);
}

TEST(BPEnergyTie, IsmipHomC) {
  model::IsmipHomCase c;
  c.experiment = 'C';
  c.nx = c.ny = 16;
  c.nz = 5;
  model::IsmipHomSetup s = model::make_ismip_hom(c, MPI_COMM_WORLD);
  solver::BlatterPattyn bp(s.grid, s.params);
  bp.set_geometry(s.thk, s.bed, &s.beta2);
  expect_tied(bp, "ISMIP-HOM C", 5.0);
}

// North-west Greenland at 16 km (BedMachine v3): 20 x 20 columns from
// (i, j) = (4, 148), with marine fronts, floating and ice-free columns; a
// frozen bed under thick ice, sliding elsewhere, free slip where floating.
TEST(BPEnergyTie, GreenlandPatchWithMarineFronts) {
  io::Config config;
  config.set_override("input.geometry.file=" + data_dir + "/greenland-16km/GRL-16KM_TOPO-M17.nc");
  const Crop c = crop_inputs(config, 4, 148, 20);
  solver::BPParams p;
  p.flow.softness = 1e-16 / core::seconds_per_year;
  p.levels = 6;
  p.no_slip = false;
  p.friction_exponent = 1.0 / 3.0;
  solver::BlatterPattyn bp(c.grid, p);
  bp.set_geometry(c.thk, c.base, &c.beta2, &c.frozen);
  const auto [fronts, ice_free] = fronts_and_margins(bp);
  EXPECT_GT(fronts, 10);
  const core::BPPatch& patch = bp.problem().patch();
  long long frozen = std::count(patch.bed_fixed.begin(), patch.bed_fixed.end(), 1);
  MPI_Allreduce(MPI_IN_PLACE, &frozen, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
  EXPECT_GT(frozen, 10); // and some sliding: the rest
  EXPECT_GT(ice_free, 20);
  expect_tied(bp, "Greenland patch", 20.0);
}

// Great Aletsch Glacier at 100 m (thickness: the plastic estimate calibrated
// to radar): 24 x 24 columns of the tongue and its thin margins; no slip.
TEST(BPEnergyTie, AletschPatchWithThinMargins) {
  io::Config config;
  config.set_override("input.geometry.file=" + data_dir + "/aletsch/aletsch_100m.nc");
  config.set_override("input.missing_thickness=plastic");
  config.set_override("thickness_estimate.calibration=radar");
  const Crop c = crop_inputs(config, 132, 84, 24);
  solver::BPParams p;
  p.flow.softness = 7.574e-17 / core::seconds_per_year;
  p.levels = 5;
  solver::BlatterPattyn bp(c.grid, p);
  bp.set_geometry(c.thk, c.base);
  const auto [fronts, ice_free] = fronts_and_margins(bp);
  EXPECT_EQ(fronts, 0);
  EXPECT_GT(ice_free, 20);
  expect_tied(bp, "Aletsch patch", 5.0);
}
