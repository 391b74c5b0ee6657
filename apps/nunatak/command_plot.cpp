// `nunatak plot FILE VAR`: a quick-look PNG map of one variable, or a line chart of a
// time series.

#include "commands.hpp"

#include "validators.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/io/file_safety.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/io/quicklook.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>

namespace nunatak::app {

void add_plot_command(CLI::App& app, Context&) {
  auto* cmd = app.add_subcommand(
      "plot", "Draw a map of a 2-D variable with a colour bar (log scale for speeds, diverging "
              "for signed fields, masked cells grey), or a line chart of a variable along time "
              "(e.g. ice_volume in the _ts.nc file of a run), to a PNG");
  struct Options {
    std::string file, var, output, scale;
    io::QuicklookOptions look;
    double vmin = 0, vmax = 0;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("FILE", o->file, "NetCDF file")->required();
  cmd->add_option("VAR", o->var, "variable to draw")->required();
  cmd->add_option("-o,--output", o->output, "PNG to write (default: FILESTEM_VAR.png here)");
  cmd->add_option("--scale", o->scale, "colour scale: linear, log or diverging (default: auto)")
      ->check(CLI::IsMember({"linear", "log", "diverging"}));
  auto* vmin = cmd->add_option("--vmin", o->vmin, "lower colour limit, in the units shown")
                   ->check(finite_range(-1e300, 1e300));
  auto* vmax = cmd->add_option("--vmax", o->vmax, "upper colour limit, in the units shown")
                   ->check(finite_range(-1e300, 1e300));
  cmd->add_option("--time", o->look.time_index, "record to draw, from 0 (default, -1: the last)")
      ->check(CLI::Range(-1, 2000000000));
  cmd->add_option("--width", o->look.width_px, "image width in pixels")
      ->check(CLI::Range(300, 10000));
  cmd->callback([o, vmin, vmax] {
    if (vmin->count() && vmax->count() && !(o->vmin < o->vmax))
      throw CollectiveError("--vmin (" + vmin->as<std::string>() + ") must be below --vmax (" +
                                vmax->as<std::string>() + ")",
                            0);
    if (o->scale == "linear") o->look.scale = io::ColourScale::linear;
    if (o->scale == "log") o->look.scale = io::ColourScale::log;
    if (o->scale == "diverging") o->look.scale = io::ColourScale::diverging;
    if (vmin->count()) o->look.vmin = o->vmin;
    if (vmax->count()) o->look.vmax = o->vmax;
    if (o->output.empty())
      o->output = std::filesystem::path(o->file).stem().string() + "_" + o->var + ".png";
    // Rank 0 draws (under mpirun every rank would draw the same file); an
    // error is every rank's, printed once.
    io::on_rank_zero(MPI_COMM_WORLD, [&] {
      io::FilePlan files;
      files.read(o->file, "FILE");
      files.write(o->output, "-o");
      io::check_file_plan(files);
      for (const auto& message : io::clean_stale_temporaries(files)) spdlog::warn("{}", message);
      io::write_quicklook(o->file, o->var, o->output, o->look);
      spdlog::info("wrote {}", o->output);
    });
  });
}

} // namespace nunatak::app
