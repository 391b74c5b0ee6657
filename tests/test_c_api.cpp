// The C API (nunatak.h) and the BMI 2.0 C binding (nunatak_bmi.h) as a host
// uses them: this program initialises MPI only, as a host would, and the
// library brings up PETSc and Kokkos itself and shuts them down in
// MPI_Finalize. Checks: the BMI metadata (names, units, types, the grid of
// the rank's part), values read and written (the input thickness, a host
// SMB that persists), every misuse a failure with a message that names what
// is wrong and changes nothing, time limits, and each instance's own PETSc
// options.
#include "nunatak_bmi.h"
#include "test_files.hpp"

#include <gtest/gtest.h>
#include <petscsys.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

using namespace nunatak::test;

namespace {

constexpr int n = 11;

/// The ice cap of test_files and a configuration for it.
std::string write_case(const TempDir& dir, const std::string& extra = "") {
  write_ice_cap(dir.file("cap.nc"), n);
  write_text(dir.file("cap.yaml"), "input.geometry.file: " + dir.file("cap.nc") +
                                       "\ntime: {start: 0, end: 20}\n"
                                       "output: {file: " +
                                       dir.file("out.nc") + ", variables: [thk]}\n" + extra);
  return dir.file("cap.yaml");
}

/// The rank's part: x_start, y_start, nx, ny, global nx, global ny.
std::vector<int> partition(nunatak_model* m) {
  std::vector<int> p(6);
  EXPECT_EQ(nunatak_get_grid_partition(m, &p[0], &p[1], &p[2], &p[3], &p[4], &p[5]), 0);
  return p;
}

} // namespace

TEST(CApi, BmiMetadataAndTheRanksPartOfTheGrid) {
  TempDir dir;
  const std::string config = write_case(dir);
  Bmi bmi;
  ASSERT_EQ(register_bmi_nunatak(&bmi), &bmi);
  ASSERT_EQ(bmi.initialize(&bmi, config.c_str()), BMI_SUCCESS)
      << nunatak_last_error(static_cast<nunatak_model*>(bmi.data));
  char text[BMI_MAX_VAR_NAME];
  ASSERT_EQ(bmi.get_component_name(&bmi, text), BMI_SUCCESS);
  EXPECT_STREQ(text, "nunatak");
  int inputs = 0, outputs = 0;
  ASSERT_EQ(bmi.get_input_item_count(&bmi, &inputs), BMI_SUCCESS);
  ASSERT_EQ(bmi.get_output_item_count(&bmi, &outputs), BMI_SUCCESS);
  EXPECT_EQ(inputs, 3);
  EXPECT_EQ(outputs, 6);
  std::vector<std::vector<char>> buffers(size_t(outputs), std::vector<char>(BMI_MAX_VAR_NAME));
  std::vector<char*> names;
  for (auto& b : buffers) names.push_back(b.data());
  ASSERT_EQ(bmi.get_output_var_names(&bmi, names.data()), BMI_SUCCESS);
  EXPECT_STREQ(names[0], "land_ice__thickness");
  EXPECT_STREQ(names[5], "land_ice_surface__y_component_of_velocity");
  ASSERT_EQ(bmi.get_var_units(&bmi, "land_ice_surface__mass_balance_rate", text), BMI_SUCCESS);
  EXPECT_STREQ(text, "kg m-2 year-1");
  ASSERT_EQ(bmi.get_var_type(&bmi, "land_ice__thickness", text), BMI_SUCCESS);
  EXPECT_STREQ(text, "double");
  ASSERT_EQ(bmi.get_var_location(&bmi, "land_ice__thickness", text), BMI_SUCCESS);
  EXPECT_STREQ(text, "node");
  ASSERT_EQ(bmi.get_time_units(&bmi, text), BMI_SUCCESS);
  EXPECT_STREQ(text, "years");
  ASSERT_EQ(bmi.get_grid_type(&bmi, 0, text), BMI_SUCCESS);
  EXPECT_STREQ(text, "uniform_rectilinear");
  EXPECT_EQ(bmi.get_var_units(&bmi, "land_ice__temperature", text), BMI_FAILURE);

  // The grid is the rank's part, slowest dimension first.
  const auto p = partition(static_cast<nunatak_model*>(bmi.data));
  EXPECT_EQ(p[4], n);
  EXPECT_EQ(p[5], n);
  int shape[2] = {0, 0}, size = 0, itemsize = 0, nbytes = 0, rank = 0;
  ASSERT_EQ(bmi.get_grid_shape(&bmi, 0, shape), BMI_SUCCESS);
  EXPECT_EQ(shape[0], p[3]);
  EXPECT_EQ(shape[1], p[2]);
  ASSERT_EQ(bmi.get_grid_size(&bmi, 0, &size), BMI_SUCCESS);
  EXPECT_EQ(size, p[2] * p[3]);
  ASSERT_EQ(bmi.get_grid_rank(&bmi, 0, &rank), BMI_SUCCESS);
  EXPECT_EQ(rank, 2);
  ASSERT_EQ(bmi.get_var_itemsize(&bmi, "land_ice__thickness", &itemsize), BMI_SUCCESS);
  ASSERT_EQ(bmi.get_var_nbytes(&bmi, "land_ice__thickness", &nbytes), BMI_SUCCESS);
  EXPECT_EQ(nbytes, size * itemsize);
  EXPECT_EQ(itemsize, 8);
  double spacing[2], origin[2];
  ASSERT_EQ(bmi.get_grid_spacing(&bmi, 0, spacing), BMI_SUCCESS);
  ASSERT_EQ(bmi.get_grid_origin(&bmi, 0, origin), BMI_SUCCESS);
  EXPECT_EQ(spacing[0], 25000.0);
  EXPECT_EQ(spacing[1], 25000.0);
  EXPECT_EQ(origin[1], -500000.0 + 25000.0 * p[0]);
  EXPECT_EQ(origin[0], -500000.0 + 25000.0 * p[1]);
  std::vector<double> x(static_cast<size_t>(p[2]));
  ASSERT_EQ(bmi.get_grid_x(&bmi, 0, x.data()), BMI_SUCCESS);
  EXPECT_EQ(x.back(), origin[1] + 25000.0 * (p[2] - 1));
  void* pointer = nullptr;
  EXPECT_EQ(bmi.get_value_ptr(&bmi, "land_ice__thickness", &pointer), BMI_FAILURE);
  EXPECT_EQ(bmi.get_grid_node_count(&bmi, 0, &size), BMI_FAILURE);

  // The thickness is the input's: the cap's formula at each of the rank's cells.
  std::vector<double> thk(static_cast<size_t>(p[2] * p[3]));
  ASSERT_EQ(bmi.get_value(&bmi, "land_ice__thickness", thk.data()), BMI_SUCCESS);
  for (int j = 0; j < p[3]; ++j)
    for (int i = 0; i < p[2]; ++i) {
      const double xc = -500000.0 + 25000.0 * (p[0] + i), yc = -500000.0 + 25000.0 * (p[1] + j);
      const double r = std::hypot(xc, yc) / 400000.0;
      const double expected = r < 1.0 ? 2500.0 * std::sqrt(1.0 - r * r) : 0.0;
      EXPECT_NEAR(thk[size_t(j * p[2] + i)], expected, 1e-9) << i << " " << j;
    }
  ASSERT_EQ(bmi.finalize(&bmi), BMI_SUCCESS);
  EXPECT_EQ(bmi.data, nullptr);
}

TEST(CApi, ValuesTimeAndMisuse) {
  TempDir dir;
  const std::string config = write_case(dir);
  nunatak_model* m = nullptr;
  ASSERT_EQ(nunatak_create(&m), NUNATAK_SUCCESS);
  double t = 0;
  EXPECT_EQ(nunatak_get_current_time(m, &t), NUNATAK_FAILURE);
  EXPECT_NE(std::string(nunatak_last_error(m)).find("not initialised"), std::string::npos);
  EXPECT_EQ(nunatak_initialize(m, dir.file("missing.yaml").c_str()), NUNATAK_FAILURE);
  EXPECT_NE(std::string(nunatak_last_error(m)).find("missing.yaml"), std::string::npos)
      << nunatak_last_error(m);
  ASSERT_EQ(nunatak_initialize(m, config.c_str()), NUNATAK_SUCCESS) << nunatak_last_error(m);
  EXPECT_EQ(nunatak_set_communicator(m, MPI_COMM_SELF), NUNATAK_FAILURE); // too late
  const auto p = partition(m);
  const size_t cells = size_t(p[2] * p[3]);

  std::vector<double> thk(cells), before(cells);
  ASSERT_EQ(nunatak_get_value(m, "land_ice__thickness", before.data()), NUNATAK_SUCCESS);
  // A negative thickness or NaN: refused, naming the cell, nothing changed.
  std::vector<double> bad = before;
  bad[0] = -1.0;
  EXPECT_EQ(nunatak_set_value(m, "land_ice__thickness", bad.data()), NUNATAK_FAILURE);
  EXPECT_NE(std::string(nunatak_last_error(m)).find("is negative (-1 m)"), std::string::npos)
      << nunatak_last_error(m);
  bad[0] = NAN;
  EXPECT_EQ(nunatak_set_value(m, "bedrock_surface__elevation", bad.data()), NUNATAK_FAILURE);
  EXPECT_NE(std::string(nunatak_last_error(m)).find("is not finite"), std::string::npos);
  ASSERT_EQ(nunatak_get_value(m, "land_ice__thickness", thk.data()), NUNATAK_SUCCESS);
  EXPECT_EQ(thk, before);
  EXPECT_EQ(nunatak_set_value(m, "land_ice_surface__elevation", before.data()), NUNATAK_FAILURE);
  EXPECT_NE(std::string(nunatak_last_error(m)).find("is not an input"), std::string::npos);
  EXPECT_EQ(nunatak_get_value(m, "ice_thickness", thk.data()), NUNATAK_FAILURE);
  EXPECT_NE(std::string(nunatak_last_error(m)).find("unknown variable 'ice_thickness'"),
            std::string::npos);
  int far = int(cells);
  EXPECT_EQ(nunatak_get_value_at_indices(m, "land_ice__thickness", thk.data(), &far, 1),
            NUNATAK_FAILURE);

  // Thickness at chosen cells, and a thickness the host sets.
  const int middle = int(cells / 2);
  double one = 0;
  ASSERT_EQ(nunatak_get_value_at_indices(m, "land_ice__thickness", &one, &middle, 1), 0);
  EXPECT_EQ(one, before[size_t(middle)]);
  const double thicker = before[size_t(middle)] + 100.0;
  ASSERT_EQ(nunatak_set_value_at_indices(m, "land_ice__thickness", &middle, 1, &thicker), 0);
  std::vector<double> surface(cells), bed(cells);
  ASSERT_EQ(nunatak_get_value(m, "land_ice_surface__elevation", surface.data()), 0);
  ASSERT_EQ(nunatak_get_value(m, "bedrock_surface__elevation", bed.data()), 0);
  if (bed[size_t(middle)] + thicker > 0) { // grounded: the surface follows at once
    EXPECT_NEAR(surface[size_t(middle)], bed[size_t(middle)] + thicker, 1e-9);
  }

  // A host SMB (kg m-2 a-1) holds from then on, through the steps.
  std::vector<double> smb(cells, -500.0);
  ASSERT_EQ(nunatak_set_value(m, "land_ice_surface__mass_balance_rate", smb.data()), 0);
  ASSERT_EQ(nunatak_update_until(m, 2.0), NUNATAK_SUCCESS) << nunatak_last_error(m);
  ASSERT_EQ(nunatak_get_current_time(m, &t), 0);
  EXPECT_EQ(t, 2.0);
  ASSERT_EQ(nunatak_update(m), 0);
  std::vector<double> applied(cells);
  ASSERT_EQ(nunatak_get_value(m, "land_ice_surface__mass_balance_rate", applied.data()), 0);
  for (double a : applied) EXPECT_NEAR(a, -500.0, 1e-9);
  double step = 0;
  ASSERT_EQ(nunatak_get_time_step(m, &step), 0);
  ASSERT_EQ(nunatak_get_current_time(m, &t), 0);
  EXPECT_GT(step, 0.0);
  EXPECT_NEAR(t, 2.0 + step, 1e-9);

  // Time limits.
  EXPECT_EQ(nunatak_update_until(m, 1.0), NUNATAK_FAILURE);
  EXPECT_NE(std::string(nunatak_last_error(m)).find("before the model time"), std::string::npos);
  EXPECT_EQ(nunatak_update_until(m, 21.0), NUNATAK_FAILURE);
  EXPECT_NE(std::string(nunatak_last_error(m)).find("after time.end (20 years)"),
            std::string::npos);
  ASSERT_EQ(nunatak_update_until(m, 20.0), 0);
  EXPECT_EQ(nunatak_update(m), NUNATAK_FAILURE);
  // A second model that would write the same output: refused.
  nunatak_model* twin = nullptr;
  ASSERT_EQ(nunatak_create(&twin), 0);
  EXPECT_EQ(nunatak_initialize(twin, config.c_str()), NUNATAK_FAILURE);
  EXPECT_NE(std::string(nunatak_last_error(twin)).find("is the output of another nunatak model"),
            std::string::npos)
      << nunatak_last_error(twin);
  nunatak_destroy(twin);
  // finalize publishes the output: the start and time.end.
  EXPECT_FALSE(std::filesystem::exists(dir.file("out.nc")));
  ASSERT_EQ(nunatak_finalize(m), 0) << nunatak_last_error(m);
  EXPECT_TRUE(std::filesystem::exists(dir.file("out.nc")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("out_ts.nc")));
  EXPECT_EQ(nunatak_update(m), NUNATAK_FAILURE);
  nunatak_destroy(m);
}

TEST(CApi, EachInstanceHasItsOwnPetscOptions) {
  TempDir dir_a, dir_b;
  const std::string a = write_case(dir_a, "petsc.options: \"-bp_snes_rtol 1e-3\"\n");
  const std::string b = write_case(dir_b, "petsc.options: \"-bp_snes_rtol 1e-7\"\n");
  nunatak_model *ma = nullptr, *mb = nullptr;
  ASSERT_EQ(nunatak_create(&ma), 0);
  ASSERT_EQ(nunatak_create(&mb), 0);
  ASSERT_EQ(nunatak_initialize(ma, a.c_str()), 0) << nunatak_last_error(ma);
  ASSERT_EQ(nunatak_initialize(mb, b.c_str()), 0) << nunatak_last_error(mb);
  const char *pa = nullptr, *pb = nullptr;
  ASSERT_EQ(nunatak_get_petsc_prefix(ma, &pa), 0);
  ASSERT_EQ(nunatak_get_petsc_prefix(mb, &pb), 0);
  EXPECT_STRNE(pa, pb);
  for (const auto& [prefix, expected] :
       {std::pair{std::string(pa), 1e-3}, {std::string(pb), 1e-7}}) {
    PetscReal value = 0;
    PetscBool set = PETSC_FALSE;
    ASSERT_EQ(PetscOptionsGetReal(nullptr, prefix.c_str(), "-bp_snes_rtol", &value, &set), 0);
    EXPECT_TRUE(set) << prefix;
    EXPECT_EQ(value, expected) << prefix;
  }
  // Nothing went into the unprefixed names another program would read.
  PetscBool global = PETSC_TRUE;
  ASSERT_EQ(PetscOptionsHasName(nullptr, nullptr, "-bp_snes_rtol", &global), 0);
  EXPECT_FALSE(global);
  nunatak_destroy(ma);
  nunatak_destroy(mb);
}

int main(int argc, char** argv) {
  // The host owns MPI; nunatak starts PETSc and Kokkos itself.
  MPI_Init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  const int result = RUN_ALL_TESTS();
  MPI_Finalize();
  return result;
}
