#pragma once
/// \file coupled_model.hpp
/// nunatak driven by a host program (docs/coupling.md): the transient model
/// of a configuration (model::Simulation), stepped by the host, with the
/// fields it exchanges named by CSDMS Standard Names. The C API (nunatak.h),
/// the BMI 2.0 C binding (nunatak_bmi.h) and the Fortran module are thin
/// layers over this class.
///
/// Time is in years (time.start .. time.end of the configuration); fields
/// are the rank's own cells (no ghosts), row-major [y][x], in the units of
/// exchange_items(). Every member function that changes or reads the model
/// state is collective on the communicator (all its ranks call it).
///
/// Exchange items (in: set_value, out: get_value):
///   land_ice__thickness                           m               in/out
///   bedrock_surface__elevation                    m               in/out
///   land_ice_surface__elevation                   m               out
///   land_ice_surface__mass_balance_rate           kg m-2 year-1   in/out
///   land_ice_surface__x_component_of_velocity     m year-1        out
///   land_ice_surface__y_component_of_velocity     m year-1        out
/// The surface mass balance a host sets replaces the configured one (and
/// its scenario keys) from the next step on, and stays until set again.
/// The velocities are those of the current state: the stress balance is
/// solved for them when they are read after the state changed.
///
/// Outputs: as `nunatak run`, output.file gets the records of output.variables
/// at time.start, every output.interval years and time.end (steps never pass
/// an output time), and OUTPUT_ts.nc a row per step; both are published by
/// finish() (status "complete" at time.end, else where the host stopped). No
/// checkpoints. Two models in one process must have different output files.

#include "nunatak/model/simulation.hpp"

#include <mpi.h>

#include <memory>
#include <string>
#include <vector>

namespace nunatak::coupling {

/// One exchanged variable.
struct ExchangeItem {
  const char* name;  ///< CSDMS Standard Name
  const char* units; ///< UDUNITS
  bool input, output;
  const char* nunatak_name; ///< the CF/PISM name in nunatak's files
};

/// Every exchange item, inputs and outputs.
const std::vector<ExchangeItem>& exchange_items();

/// The rank's part of the grid (cell centres; indices from 0).
struct GridPart {
  int global_nx = 0, global_ny = 0;
  int x_start = 0, y_start = 0, nx = 0, ny = 0; ///< owned cells [x_start, x_start + nx) ...
  double dx = 0, dy = 0;                        ///< m
  double x0 = 0, y0 = 0;                        ///< centre of the first owned cell, m
};

/// The model a host steps. Collective on `comm`.
class CoupledModel {
public:
  /// Reads the configuration file and the inputs and builds the model at
  /// time.start. Throws nunatak::Error (CollectiveError where every rank
  /// throws) for a bad configuration or input.
  CoupledModel(const std::string& config_file, MPI_Comm comm);
  ~CoupledModel();
  CoupledModel(const CoupledModel&) = delete;
  CoupledModel& operator=(const CoupledModel&) = delete;

  /// One adaptive time step (not past time.end nor the next output time).
  /// Throws at time.end.
  void update();
  /// Steps until `time` (years; up to time.end); the last step ends there.
  void update_until(double time);

  /// Publishes the output and the time series (collective). The model
  /// cannot be stepped afterwards; the destructor alone publishes nothing.
  void finish();

  double current_time() const; ///< years
  double start_time() const;   ///< years
  double end_time() const;     ///< years
  /// The last step's length (years); before the first step, time.max_step.
  double time_step() const;

  const GridPart& grid() const { return m_grid; }
  /// This instance's PETSc options prefix ("nk1_", "nk2_", ...): its
  /// solvers read -nk1_bp_* and its petsc.options are inserted so.
  const std::string& options_prefix() const { return m_prefix; }
  /// The item named `name`; throws nunatak::Error naming it if there is none.
  static const ExchangeItem& item(const std::string& name);

  /// The rank's own values of `name` (grid().nx * grid().ny) into `dest`.
  void get_value(const std::string& name, double* dest);
  /// The values at `count` indices into the rank's part (row-major [y][x]).
  void get_value_at_indices(const std::string& name, double* dest, const int* indices, int count);
  /// Sets the rank's own values of an input item. Throws, and changes
  /// nothing, for a non-finite value or a negative thickness (naming the cell).
  void set_value(const std::string& name, const double* src);
  /// Sets the values at `count` indices into the rank's part.
  void set_value_at_indices(const std::string& name, const int* indices, int count,
                            const double* src);

private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
  GridPart m_grid;
  std::string m_prefix;
};

} // namespace nunatak::coupling
