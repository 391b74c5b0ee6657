// Unit conversion through UDUNITS-2, including glaciology's spellings of "per year".
#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/io/units.hpp"

#include <gtest/gtest.h>

using namespace nunatak::io;

namespace {
const double year = 3.15569259747e7; // UDUNITS' year (365.242198781 days), s
}

// nunatak's one year, core::seconds_per_year, is UDUNITS' year: a file's
// "m/yr" and the solvers' m/a mean the same speed.
TEST(Units, UdunitsYearIsTheCoreConstant) {
  EXPECT_DOUBLE_EQ(unit_conversion("year", "s").scale, nunatak::core::seconds_per_year);
  EXPECT_DOUBLE_EQ(unit_conversion("m/a", "m s-1").scale * nunatak::core::seconds_per_year, 1.0);
  EXPECT_NEAR(nunatak::core::seconds_per_year, year, 1e-4);
  EXPECT_NEAR(nunatak::core::seconds_per_year / 86400.0, 365.242198781, 1e-9);
}

TEST(Units, YearSpellingsAllMeanOneYear) {
  for (const char* u : {"m/a", "m/y", "m yr-1", "m year-1", "m a-1", "m/yr", "m a**-1", "m.a-1"}) {
    const UnitConversion c = unit_conversion(u, "m s-1");
    EXPECT_NEAR(c(year), 1.0, 1e-12) << u;
    EXPECT_DOUBLE_EQ(c.offset, 0.0) << u;
  }
}

TEST(Units, NormalisationLeavesOtherUnitsAlone) {
  EXPECT_EQ(normalise_units("m/a"), "m/year");
  EXPECT_EQ(normalise_units("mm a**-1"), "mm year**-1");
  EXPECT_EQ(normalise_units("kg m-2 s-1"), "kg m-2 s-1");
  EXPECT_EQ(normalise_units("km"), "km");
  EXPECT_EQ(normalise_units("day"), "day"); // words containing 'a' or 'y' are not touched
}

TEST(Units, LengthsMassFluxAndTemperature) {
  EXPECT_DOUBLE_EQ(unit_conversion("km", "m")(16.0), 16000.0);
  EXPECT_DOUBLE_EQ(unit_conversion("kilometers", "m")(1.5), 1500.0);
  EXPECT_NEAR(unit_conversion("kg m-2 year-1", "kg m-2 s-1")(year), 1.0, 1e-12);
  EXPECT_NEAR(unit_conversion("degC", "K")(0.0), 273.15, 1e-9);
  EXPECT_NEAR(unit_conversion("mm a**-1", "m s-1")(1000.0 * year), 1.0, 1e-12);
}

TEST(Units, IncompatibleOrUnknownUnitsAreErrors) {
  EXPECT_FALSE(units_convertible("m", "m s-1"));
  EXPECT_TRUE(units_convertible("m/a", "m s-1"));
  EXPECT_FALSE(units_parse("(0 - 3)"));
  try {
    unit_conversion("kg", "m s-1", "variable 'u' in f.nc");
    FAIL() << "no error";
  } catch (const nunatak::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'kg' cannot be converted to 'm s-1'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("variable 'u' in f.nc"), std::string::npos) << msg;
  }
  EXPECT_NEAR(unit_conversion("furlongs per fortnight", "m s-1")(1.0), 201.168 / 1209600.0,
              1e-9); // survey furlong
  EXPECT_THROW(unit_conversion("bananas per fortnight", "m s-1"), nunatak::Error);
}

// What real files write beside the units: blanks, elevation references,
// water or ice equivalent, capitals.
TEST(Units, QualifiersBlanksAndCapitals) {
  for (const char* u : {"m a.s.l.", "m asl", "masl", "m above sea level", "m ", " m", "m\t",
                        "m (ice)", "m of ice", "meters", "M"})
    EXPECT_DOUBLE_EQ(unit_conversion(u, "m")(2.0), 2.0) << "'" << u << "'";
  EXPECT_DOUBLE_EQ(unit_conversion("KM", "m")(2.0), 2000.0);
  EXPECT_DOUBLE_EQ(unit_conversion("km ", "m")(2.0), 2000.0);
  for (const char* u :
       {"mm w.e. yr-1", "mm we/yr", "mmWE/yr", "mm/a w.e.", "mm water equivalent a-1"}) {
    EXPECT_NEAR(unit_conversion(u, "m s-1")(year), 1e-3, 1e-15) << u;
    EXPECT_EQ(split_qualifiers(u).equivalent, Equivalent::water) << u;
  }
  for (const char* u :
       {"m ice eq. yr-1", "m of ice per year", "m_ice/yr", "m ice equivalent a-1"}) {
    EXPECT_NEAR(unit_conversion(u, "m s-1")(year), 1.0, 1e-12) << u;
    EXPECT_EQ(split_qualifiers(u).equivalent, Equivalent::ice) << u;
  }
  EXPECT_EQ(split_qualifiers("m/a").equivalent, Equivalent::none);
  EXPECT_EQ(split_qualifiers("kg m-2 s-1").units, "kg m-2 s-1");
  EXPECT_EQ(split_qualifiers("m w.e. of ice").equivalent, Equivalent::both);
}
