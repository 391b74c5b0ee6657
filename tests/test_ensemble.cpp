// Ensemble members (model/ensemble.hpp): parameter ranges, the
// Latin-hypercube property, log-uniform sampling, member tables and the
// member's configuration, with the errors a user meets.
#include "error_of.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/model/ensemble.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

using namespace nunatak;
using namespace nunatak::model;

using nunatak::test::error_of;

TEST(Ensemble, LatinHypercubeHoldsOnePointPerStratum) {
  const int m = 13, d = 4;
  const auto u = latin_hypercube(m, d, 42);
  ASSERT_EQ(u.size(), size_t(m));
  for (int dim = 0; dim < d; ++dim) {
    std::vector<int> strata;
    for (int k = 0; k < m; ++k) {
      const double x = u[size_t(k)][size_t(dim)];
      ASSERT_GE(x, 0.0);
      ASSERT_LT(x, 1.0);
      strata.push_back(int(std::floor(x * m)));
    }
    std::sort(strata.begin(), strata.end());
    for (int k = 0; k < m; ++k) EXPECT_EQ(strata[size_t(k)], k) << "dimension " << dim;
  }
  // The same seed gives the same sample; another seed another one; the
  // dimensions are not copies of each other.
  EXPECT_EQ(latin_hypercube(m, d, 42), u);
  EXPECT_NE(latin_hypercube(m, d, 43), u);
  int same_order = 0;
  for (int k = 0; k < m; ++k) same_order += int(u[size_t(k)][0] * m) == int(u[size_t(k)][1] * m);
  EXPECT_LT(same_order, m);
}

TEST(Ensemble, RangesMapTheSampleLinearlyOrInLog) {
  const ParameterRange soft =
      parse_parameter_range("flow_law.softness = 1e-17 .. 1e-15 log", "test");
  EXPECT_EQ(soft.key, "flow_law.softness");
  EXPECT_TRUE(soft.log);
  const ParameterRange factor =
      parse_parameter_range(" surface_mass_balance.factor=0.7..1.3 ", "test");
  EXPECT_FALSE(factor.log);
  EXPECT_DOUBLE_EQ(factor.min, 0.7);
  EXPECT_DOUBLE_EQ(factor.max, 1.3);
  const int m = 10;
  const auto members = sample_members({soft, factor}, m, 7);
  ASSERT_EQ(members.size(), size_t(m));
  std::vector<int> decades(static_cast<size_t>(m)), tenths(static_cast<size_t>(m));
  for (int k = 0; k < m; ++k) {
    const auto& mem = members[size_t(k)];
    EXPECT_EQ(mem.index, k);
    ASSERT_EQ(mem.keys.size(), 2u);
    // Log-uniform: one member in each fifth of a decade of 1e-17 .. 1e-15.
    const double a = mem.values[0], f = mem.values[1];
    ASSERT_GE(a, 1e-17);
    ASSERT_LT(a, 1e-15);
    decades[size_t(k)] = int(std::floor((std::log10(a) + 17.0) / 2.0 * m));
    tenths[size_t(k)] = int(std::floor((f - 0.7) / 0.6 * m));
  }
  std::sort(decades.begin(), decades.end());
  std::sort(tenths.begin(), tenths.end());
  for (int k = 0; k < m; ++k) {
    EXPECT_EQ(decades[size_t(k)], k);
    EXPECT_EQ(tenths[size_t(k)], k);
  }
  // The member's configuration carries its values.
  const io::Config config = member_config(io::Config(), members[3]);
  EXPECT_DOUBLE_EQ(config.get_real("flow_law.softness"), members[3].values[0]);
  EXPECT_DOUBLE_EQ(config.get_real("surface_mass_balance.factor"), members[3].values[1]);
  EXPECT_EQ(config.origin("flow_law.softness"), "ensemble member 3");
}

TEST(Ensemble, BadRangesAreClearErrors) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"flow_law.softnes = 1 .. 2",
       "unknown configuration key 'flow_law.softnes'; did you mean 'flow_law.softness'"},
      {"output.file = 1 .. 2", "is not a number key"},
      {"surface_mass_balance.factor = 2 .. 1", "the minimum is above the maximum"},
      {"surface_mass_balance.offset = -1 .. 1 log", "a log range needs a positive minimum"},
      {"surface_mass_balance.factor = 0.5 .. x", "the maximum: 'x' is not a finite number"},
      {"surface_mass_balance.factor 0.5", "write a range as"}};
  for (const auto& [spec, message] : cases)
    EXPECT_CONTAINS(error_of([&] { parse_parameter_range(spec, "e.yaml"); }), message);
}

TEST(Ensemble, MemberTables) {
  test::TempDir dir;
  test::write_text(dir.file("members.csv"), "# two members\n"
                                            "flow_law.softness, surface_mass_balance.factor\n"
                                            "1e-16, 0.8\n"
                                            "2e-16, 1.2\n");
  const auto members = read_member_table(dir.file("members.csv"));
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[1].index, 1);
  EXPECT_EQ(members[1].keys[1], "surface_mass_balance.factor");
  EXPECT_DOUBLE_EQ(members[1].values[0], 2e-16);
  EXPECT_DOUBLE_EQ(members[1].values[1], 1.2);

  test::write_text(dir.file("short.csv"), "flow_law.softness, surface_mass_balance.factor\n"
                                          "1e-16\n");
  test::write_text(dir.file("nan.csv"), "surface_mass_balance.factor\nnan\n");
  const auto table_error = [&](const char* name) {
    return error_of([&] { read_member_table(dir.file(name)); });
  };
  EXPECT_CONTAINS(table_error("short.csv"), "row 2: 1 values for 2 keys");
  EXPECT_CONTAINS(table_error("nan.csv"),
                  "column 'surface_mass_balance.factor': 'nan' is not a finite number");
  EXPECT_CONTAINS(table_error("missing.csv"), "cannot open");
  // A value the configuration refuses (a negative softness) names the member.
  EnsembleMember bad;
  bad.index = 5;
  bad.keys = {"flow_law.softness"};
  bad.values = {-1.0};
  EXPECT_CONTAINS(error_of([&] { member_config(io::Config(), bad); }), "ensemble member 5");
}
