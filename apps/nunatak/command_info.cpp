// `nunatak info FILE`: what is in a NetCDF file, in glaciologists' terms.

#include "commands.hpp"

#include "nunatak/io/file_report.hpp"
#include "nunatak/io/output_file.hpp"

#include <fmt/format.h>

namespace nunatak::app {

void add_info_command(CLI::App& app, Context&) {
  auto* cmd = app.add_subcommand(
      "info", "Describe a NetCDF file: grid, CRS, variables with units and ranges (velocities in "
              "m/yr), ice area and volume, surface speed, radar thickness cells");
  auto path = std::make_shared<std::string>();
  cmd->add_option("FILE", *path, "NetCDF file")->required();
  // Rank 0 reads and prints (under mpirun every rank would print the same);
  // an error is every rank's, printed once.
  cmd->callback([path] {
    io::on_rank_zero(MPI_COMM_WORLD,
                     [&] { fmt::print("{}", io::format_report(io::report_file(*path))); });
  });
}

} // namespace nunatak::app
