// The coupling examples end to end, at 1 and 2 MPI ranks: the Fortran host
// driver (BMI, its own MPI, the SMB set every year) and the C host (two
// models side by side in one process) each end where `nunatak run` of the
// same experiment ends; a bad configuration is one error from the host.
#include "cli_support.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>
#include <netcdf.h>

#include <cmath>
#include <fstream>

using namespace nunatak;
using namespace nunatak::test;

namespace {

constexpr int cells = 21;

/// 300 years of the ice cap; the run writes every year, so its time steps
/// end at every year as the hosts' (which step year by year) do.
std::string config_text(const std::string& output, const std::string& extra = "") {
  return "input.geometry.file: input_cap.nc\n"
         "time: {start: 0, end: 300}\n"
         "output: {file: " +
         output + ", interval: 1, variables: [thk], quicklook: []}\n" + extra;
}

std::vector<double> read_variable(const std::string& path, const std::string& name) {
  io::NcFile f = io::NcFile::open(path);
  return f.read_all(f.variable(name));
}

std::vector<double> last_thickness(const std::string& path) {
  const std::vector<double> all = read_variable(path, "thk");
  return std::vector<double>(all.end() - cells * cells, all.end());
}

/// The raw doubles a host wrote.
std::vector<double> read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<double> v(size_t(cells) * cells, NAN);
  in.read(reinterpret_cast<char*>(v.data()), std::streamsize(v.size() * sizeof(double)));
  EXPECT_TRUE(in) << "short or missing file " << path;
  return v;
}

double max_difference(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0;
  for (size_t k = 0; k < a.size(); ++k) d = std::max(d, std::abs(a[k] - b[k]));
  return d;
}

} // namespace

TEST(Coupling, FortranHostSettingTheSmbEveryYearEndsWhereTheRunEnds) {
  TempDir dir;
  write_ice_cap(dir.file("input_cap.nc"), cells);
  write_text(dir.file("cap.yaml"), config_text("host/run.nc"));
  const Result run = run_nunatak(dir, "run cap.yaml --set surface_mass_balance.offset=-0.4 --set "
                                      "output.file=ref/run.nc");
  ASSERT_EQ(run.status, 0) << run.err;
  const Result plain = run_nunatak(dir, "run cap.yaml --set output.file=plain/run.nc");
  ASSERT_EQ(plain.status, 0) << plain.err;
  const auto reference = last_thickness(dir.file("ref/run.nc"));
  // The offset matters: without it the cap ends elsewhere.
  ASSERT_GT(max_difference(last_thickness(dir.file("plain/run.nc")), reference), 5.0);

  for (int ranks : {1, 2}) {
    const std::string out = "fortran_" + std::to_string(ranks) + ".bin";
    const Result host =
        run_shell(dir, mpiexec_command(ranks, NUNATAK_FORTRAN_HOST) + "cap.yaml -0.4 " + out);
    ASSERT_EQ(host.status, 0) << host.out << host.err;
    EXPECT_NE(host.out.find("host: " + std::to_string(ranks) +
                            " rank(s), grid 21 x 21, SMB in "
                            "kg m-2 year-1"),
              std::string::npos)
        << host.out;
    // The same physics; the host's SMB differs from the run's scenario
    // offset by round-off (it is set in kg m-2 a-1).
    EXPECT_LT(max_difference(read_raw(dir.file(out)), reference), 1e-6) << ranks << " rank(s)";
    // nunatak's own output of the coupled run: every yearly record, as the run's.
    EXPECT_EQ(read_variable(dir.file("host/run.nc"), "time"),
              read_variable(dir.file("ref/run.nc"), "time"));
    EXPECT_LT(max_difference(read_variable(dir.file("host/run.nc"), "thk"),
                             read_variable(dir.file("ref/run.nc"), "thk")),
              1e-6);
    EXPECT_EQ(io::NcFile::open(dir.file("host/run.nc"))
                  .text_attribute(NC_GLOBAL, "nunatak_run_status")
                  .value_or(""),
              "complete");
    const auto volume = read_variable(dir.file("host/run_ts.nc"), "ice_volume");
    const auto reference_volume = read_variable(dir.file("ref/run_ts.nc"), "ice_volume");
    ASSERT_EQ(volume.size(), reference_volume.size());
    EXPECT_NEAR(volume.back(), reference_volume.back(), 1e-9 * reference_volume.back());
  }
}

TEST(Coupling, TwoModelsInOneCHostEachEndWhereTheirRunEnds) {
  TempDir dir;
  write_ice_cap(dir.file("input_cap.nc"), cells);
  write_text(dir.file("a.yaml"), config_text("host_a/run.nc"));
  write_text(dir.file("b.yaml"), config_text("host_b/run.nc", "flow_law.enhancement_factor: 4\n"));
  write_text(dir.file("same.yaml"), config_text("host_a/run.nc"));
  ASSERT_EQ(run_nunatak(dir, "run a.yaml --set output.file=ref_a/run.nc").status, 0);
  ASSERT_EQ(run_nunatak(dir, "run b.yaml --set output.file=ref_b/run.nc").status, 0);
  const auto a = last_thickness(dir.file("ref_a/run.nc"));
  const auto b = last_thickness(dir.file("ref_b/run.nc"));
  ASSERT_GT(max_difference(a, b), 5.0); // the two experiments differ
  for (int ranks : {1, 2}) {
    const std::string prefix = "c" + std::to_string(ranks);
    const Result host =
        run_shell(dir, mpiexec_command(ranks, NUNATAK_C_HOST) + prefix + " a.yaml b.yaml");
    ASSERT_EQ(host.status, 0) << host.out << host.err;
    // One rank: the run's arithmetic exactly; two: to round-off.
    const double tolerance = ranks == 1 ? 0.0 : 1e-6;
    EXPECT_LE(max_difference(read_raw(dir.file(prefix + "_0.bin")), a), tolerance);
    EXPECT_LE(max_difference(read_raw(dir.file(prefix + "_1.bin")), b), tolerance);
    EXPECT_LE(max_difference(read_variable(dir.file("host_a/run.nc"), "thk"),
                             read_variable(dir.file("ref_a/run.nc"), "thk")),
              tolerance);
    EXPECT_LE(max_difference(read_variable(dir.file("host_b/run.nc"), "thk"),
                             read_variable(dir.file("ref_b/run.nc"), "thk")),
              tolerance);
  }
  // Two models that would write one output file: the second is refused.
  const Result same = run_shell(dir, mpiexec_command(1, NUNATAK_C_HOST) + "same a.yaml same.yaml");
  EXPECT_NE(same.status, 0);
  EXPECT_NE(same.err.find("is the output of another nunatak model in this process"),
            std::string::npos)
      << same.err;
  // A configuration the host cannot initialise: the host says why.
  const Result bad = run_shell(dir, mpiexec_command(1, NUNATAK_C_HOST) + "bad a.yaml missing.yaml");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("host: rank 0: initialize failed: "), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("missing.yaml"), std::string::npos) << bad.err;
}
