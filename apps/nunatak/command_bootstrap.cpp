// `nunatak bootstrap CONFIG`: read a model's inputs (geometry, forcing,
// observations) from other people's files, derive what is missing, and write
// one CF-1.8 file of the complete model state with quick-look maps.

#include "commands.hpp"
#include "progress.hpp"

#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/io/config.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/io/quicklook.hpp"
#include "nunatak/io/units.hpp"
#include "nunatak/model/model_inputs.hpp"
#include "nunatak/model/simulation.hpp"

#include <spdlog/spdlog.h>

namespace nunatak::app {

void add_bootstrap_command(CLI::App& app, Context& context) {
  auto* cmd = app.add_subcommand(
      "bootstrap", "Read geometry, surface mass balance and observations as configured, derive "
                   "missing fields, and write one CF NetCDF file plus quick-look PNGs");
  struct Options {
    std::string config_file, output;
    std::vector<std::string> overrides;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("CONFIG", o->config_file, "YAML configuration")->required();
  cmd->add_option("--set", o->overrides, "override a key: --set key=value")
      ->allow_extra_args(false);
  cmd->add_option("-o,--output", o->output, "output file (overrides output.file)");
  cmd->callback([o, &context] {
    io::Config config = io::Config::from_file(o->config_file);
    for (const auto& s : o->overrides) config.set_override(s);
    if (!o->output.empty()) config.set("output.file", "'" + o->output + "'", "--output");
    core::Runtime& runtime = context.runtime();
    const bool root = runtime.rank() == 0;
    // No file read is written, no two outputs coincide: checked before any work.
    model::prepare_files(model::configured_files(config, model::Purpose::bootstrap),
                         runtime.comm());

    const auto quicklook = config.get_list("output.quicklook");
    ProgressBar progress("bootstrap", 2.0 + double(quicklook.size()),
                         root && spdlog::get_level() <= spdlog::level::info);
    progress.update(0, "reading inputs");
    const model::ModelInputs inputs = model::read_model_inputs(config, runtime.comm());
    for (const auto& note : inputs.notes) spdlog::debug("{}", note);
    const auto fields = io::all_fields(inputs);
    for (const auto& name : quicklook) {
      std::string available;
      bool found = false;
      for (const auto* f : fields) {
        found = found || f->info().name == name;
        available += (available.empty() ? "" : ", ") + f->info().name;
      }
      if (!found)
        throw Error("output.quicklook: '" + name + "' is not among the fields written (" +
                    available + ")");
    }
    progress.update(1, "writing output");

    const std::string path = config.get_string("output.file");
    io::Provenance provenance{context.command_line(), &config,
                              config.get_string("experiment.name")};
    io::OutputFile out(inputs.grid, path, provenance,
                       int(config.get_int("output.compression_level")));
    std::vector<const core::Field3D*> fields3d;
    if (inputs.softness) fields3d.push_back(&*inputs.softness);
    out.write_record(config.get_real("time.start") * core::seconds_per_year, fields, fields3d);
    out.commit();
    progress.update(2, "quick-look maps");

    std::vector<std::string> pictures;
    io::on_rank_zero(runtime.comm(), [&] {
      for (size_t k = 0; k < quicklook.size(); ++k) {
        const std::string png = io::quicklook_path(path, quicklook[k]);
        io::write_quicklook(path, quicklook[k], png);
        pictures.push_back(png);
        progress.update(3.0 + double(k));
      }
    });
    progress.finish();
    if (root) {
      spdlog::info("grid: {}", inputs.grid->grid().describe());
      spdlog::info("wrote {}", path);
      for (const auto& p : pictures) spdlog::info("wrote {}", p);
    }
  });
}

} // namespace nunatak::app
