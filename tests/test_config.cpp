// Configuration: schema defaults, YAML parsing, errors that name file, line and key.
#include "error_of.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/io/config.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>

using nunatak::Error;
using nunatak::io::Config;
using nunatak::test::TempDir;
using nunatak::test::write_text;

using nunatak::test::error_of;

TEST(Config, DefaultsComeFromTheSchema) {
  Config c;
  EXPECT_DOUBLE_EQ(c.get_real("constants.ice.density"), 910.0);
  EXPECT_EQ(c.get_int("output.compression_level"), 1);
  EXPECT_EQ(c.get_string("input.smb_length_rate_is"), "water_equivalent");
  EXPECT_EQ(c.get_list("output.quicklook"), std::vector<std::string>{"thk"});
  EXPECT_EQ(c.origin("constants.ice.density"), "default");
  for (const auto& k : nunatak::io::config_schema()) {
    EXPECT_FALSE(k.doc.empty()) << k.name;
    EXPECT_NO_THROW(c.text(k.name)) << k.name;
  }
}

TEST(Config, NestedAndDottedKeysAndOrigins) {
  TempDir dir;
  write_text(dir.file("c.yaml"), "constants:\n  ice:\n    density: 917\n"
                                 "output.file: out/x.nc\noutput:\n  quicklook: [thk, usurf]\n");
  Config c = Config::from_file(dir.file("c.yaml"));
  EXPECT_DOUBLE_EQ(c.get_real("constants.ice.density"), 917.0);
  EXPECT_EQ(c.get_string("output.file"), "out/x.nc");
  EXPECT_EQ(c.get_list("output.quicklook"), (std::vector<std::string>{"thk", "usurf"}));
  EXPECT_EQ(c.origin("constants.ice.density"), dir.file("c.yaml") + ":3");
  EXPECT_EQ(c.origin("output.file"), dir.file("c.yaml") + ":4");
}

TEST(Config, UnknownKeyNamesFileLineAndClosestKey) {
  TempDir dir;
  write_text(dir.file("c.yaml"),
             "input:\n  geometry:\n    file: a.nc\n  geomtry:\n    file: b.nc\n");
  const std::string msg = error_of([&] { Config::from_file(dir.file("c.yaml")); });
  EXPECT_NE(msg.find(dir.file("c.yaml") + ":4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown configuration key 'input.geomtry'"), std::string::npos) << msg;
  write_text(dir.file("d.yaml"), "output:\n  compresion_level: 3\n");
  const std::string msg2 = error_of([&] { Config::from_file(dir.file("d.yaml")); });
  EXPECT_NE(msg2.find("did you mean 'output.compression_level'?"), std::string::npos) << msg2;
  EXPECT_NE(msg2.find(":2"), std::string::npos) << msg2;
}

TEST(Config, TypeAndRangeErrorsNameTheKey) {
  TempDir dir;
  write_text(dir.file("t.yaml"), "constants.ice.density: heavy\n");
  std::string msg = error_of([&] { Config::from_file(dir.file("t.yaml")); });
  EXPECT_NE(msg.find("key 'constants.ice.density' expects a number, got 'heavy'"),
            std::string::npos)
      << msg;
  write_text(dir.file("r.yaml"), "output.compression_level: 12\n");
  msg = error_of([&] { Config::from_file(dir.file("r.yaml")); });
  EXPECT_NE(msg.find("'output.compression_level' = 12"), std::string::npos) << msg;
  EXPECT_NE(msg.find("above its maximum 9"), std::string::npos) << msg;
  write_text(dir.file("i.yaml"), "output.compression_level: 1.5\n");
  msg = error_of([&] { Config::from_file(dir.file("i.yaml")); });
  EXPECT_NE(msg.find("expects an integer"), std::string::npos) << msg;
  write_text(dir.file("s.yaml"), "input: a.nc\n");
  msg = error_of([&] { Config::from_file(dir.file("s.yaml")); });
  EXPECT_NE(msg.find("'input' is a section"), std::string::npos) << msg;
  write_text(dir.file("ch.yaml"), "input.smb_length_rate_is: snow\n");
  msg = error_of([&] { Config::from_file(dir.file("ch.yaml")); });
  EXPECT_NE(msg.find("'snow' is not one of: water_equivalent, ice_equivalent"), std::string::npos)
      << msg;
}

TEST(Config, MalformedYamlAndMissingFile) {
  TempDir dir;
  write_text(dir.file("bad.yaml"), "output:\n  file: [unclosed\n");
  std::string msg = error_of([&] { Config::from_file(dir.file("bad.yaml")); });
  EXPECT_NE(msg.find(dir.file("bad.yaml") + ":"), std::string::npos) << msg;
  EXPECT_NE(msg.find("malformed YAML"), std::string::npos) << msg;
  msg = error_of([&] { Config::from_file(dir.file("none.yaml")); });
  EXPECT_NE(msg.find("cannot open configuration file"), std::string::npos) << msg;
  write_text(dir.file("list.yaml"), "- a\n- b\n");
  msg = error_of([&] { Config::from_file(dir.file("list.yaml")); });
  EXPECT_NE(msg.find("must be a map"), std::string::npos) << msg;
}

// Files that would silently run the defaults or drop keys: empty, only
// comments, a second YAML document; a key without a value; tabs.
TEST(Config, EmptyFilesSecondDocumentsAndNullValuesAreErrors) {
  TempDir dir;
  const std::pair<const char*, const char*> cases[] = {
      {"", "is empty (0 bytes): it sets no key"},
      {"  \n\n", "is empty (4 bytes of blanks)"},
      {"# nothing yet\n---\n", "is empty (no keys, only comments or '---')"},
      {"time.end: 5\n---\ntime.end: 7\n", "holds 2 YAML documents (separated by '---')"},
      {"time:\n  end:\n", "key 'time.end' expects a number, got no value"},
      {"calving.remove_floating_ice: ~\n", "expects a boolean (true/false), got no value"},
      {"time:\n\tend: 5\n", "malformed YAML: illegal map value (the line is indented with a tab"},
  };
  for (const auto& [text, message] : cases) {
    write_text(dir.file("c.yaml"), text);
    const std::string msg = error_of([&] { Config::from_file(dir.file("c.yaml")); });
    EXPECT_NE(msg.find(message), std::string::npos) << "'" << text << "': " << msg;
  }
  // A document marker before the keys, and one after them, are fine.
  write_text(dir.file("c.yaml"), "---\ntime.end: 5\n...\n");
  EXPECT_DOUBLE_EQ(Config::from_file(dir.file("c.yaml")).get_real("time.end"), 5.0);
}

TEST(Config, KeySetTwiceIsAnError) {
  TempDir dir;
  write_text(dir.file("twice.yaml"), "time: {start: 0, end: 3000}\ntime.end: 10\n");
  const std::string msg = error_of([&] { Config::from_file(dir.file("twice.yaml")); });
  EXPECT_NE(msg.find("key 'time.end' is set twice"), std::string::npos) << msg;
}

TEST(Config, CommandLineOverrides) {
  Config c;
  c.set_override("constants.ice.density=900");
  EXPECT_DOUBLE_EQ(c.get_real("constants.ice.density"), 900.0);
  EXPECT_EQ(c.origin("constants.ice.density"), "--set constants.ice.density");
  c.set_override("output.quicklook=[usurf, mask]");
  EXPECT_EQ(c.get_list("output.quicklook"), (std::vector<std::string>{"usurf", "mask"}));
  EXPECT_NE(error_of([&] {
              c.set_override("constants.ice.densty=1");
            }).find("did you mean 'constants.ice.density'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { c.set_override("no-equals-sign"); }).find("expected key=value"),
            std::string::npos);
  EXPECT_NE(error_of([&] { c.set_override("constants.ice.density=-5"); }).find("below its minimum"),
            std::string::npos);
}

TEST(Config, EffectiveYamlReadsBackIdentically) {
  TempDir dir;
  Config c;
  c.set_override("output.file=a b/c.nc");
  c.set_override("geometry.sea_level=-120.5");
  c.set_override("output.quicklook=[]");
  write_text(dir.file("eff.yaml"), c.to_yaml());
  Config back = Config::from_file(dir.file("eff.yaml"));
  for (const auto& k : nunatak::io::config_schema())
    EXPECT_EQ(back.text(k.name), c.text(k.name)) << k.name;
  EXPECT_TRUE(back.get_list("output.quicklook").empty());
}

TEST(Config, ClosestKeyHints) {
  EXPECT_EQ(nunatak::io::closest_key("output.fle"), "output.file");
  EXPECT_EQ(nunatak::io::closest_key("sea_level"), "geometry.sea_level");
  EXPECT_EQ(nunatak::io::closest_key("completely.unrelated.thing.here"), "");
}
