// `nunatak config`: the configuration schema and the effective configuration.

#include "commands.hpp"

#include "nunatak/io/config.hpp"

#include <fmt/format.h>
#include <mpi.h>

namespace nunatak::app {

namespace {

void print_schema(bool markdown) {
  if (markdown)
    fmt::print("| key | type | default | units | description |\n|---|---|---|---|---|\n");
  for (const auto& k : io::config_schema()) {
    const char* type = k.type == io::KeyType::boolean   ? "bool"
                       : k.type == io::KeyType::integer ? "integer"
                       : k.type == io::KeyType::real    ? "real"
                       : k.type == io::KeyType::string  ? "string"
                                                        : "list";
    std::string doc = k.doc;
    if (!k.choices.empty()) {
      doc += " (one of:";
      for (const auto& c : k.choices) doc += " " + c;
      doc += ")";
    }
    if (k.min || k.max)
      doc += fmt::format(" [range {} .. {}]", k.min ? fmt::format("{:g}", *k.min) : "",
                         k.max ? fmt::format("{:g}", *k.max) : "");
    if (markdown)
      fmt::print("| `{}` | {} | `{}` | {} | {} |\n", k.name, type, k.default_value, k.units, doc);
    else
      fmt::print("{}\n    {}, default {}{}\n    {}\n", k.name, type, k.default_value,
                 k.units.empty() ? "" : " " + k.units, doc);
  }
}

} // namespace

void add_config_command(CLI::App& app, Context&) {
  auto* cmd = app.add_subcommand(
      "config", "List every configuration key (--list), or check a YAML file and print the "
                "effective configuration");
  struct Options {
    bool list = false, markdown = false, origins = false;
    std::string file;
    std::vector<std::string> overrides;
  };
  auto o = std::make_shared<Options>();
  cmd->add_flag("--list", o->list, "every key with its type, default, units and doc");
  cmd->add_flag("--markdown", o->markdown, "with --list: as a Markdown table");
  cmd->add_flag("--origins", o->origins, "show where each value came from");
  cmd->add_option("FILE", o->file, "YAML configuration to check");
  cmd->add_option("--set", o->overrides, "override a key: --set key=value")
      ->allow_extra_args(false);
  cmd->callback([o] {
    // Every rank checks the file (an error is every rank's, printed once);
    // rank 0 prints.
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (o->list || o->markdown) {
      if (rank != 0) return;
      print_schema(o->markdown);
      return;
    }
    io::Config config = o->file.empty() ? io::Config() : io::Config::from_file(o->file);
    for (const auto& s : o->overrides) config.set_override(s);
    if (rank != 0) return;
    if (o->origins) {
      for (const auto& k : io::config_schema())
        fmt::print("{} = {}    # {}\n", k.name, config.text(k.name), config.origin(k.name));
    } else {
      fmt::print("{}", config.to_yaml());
    }
  });
}

} // namespace nunatak::app
