/* nunatak.h — the C API of nunatak (C11), for host programs that step an
 * ice-sheet model and exchange fields with it (docs/coupling.md).
 *
 * - Handles are opaque; there is no global model state, so two models in one
 *   process do not interfere. Each gets its own PETSc options prefix (nk1_,
 *   nk2_, ...): the petsc.options of its configuration apply to it alone.
 * - Every function returns NUNATAK_SUCCESS (0) or NUNATAK_FAILURE (1); after
 *   a failure, nunatak_last_error(model) says why (it names the file, key,
 *   variable or cell).
 * - MPI: the host initialises MPI and passes its communicator
 *   (nunatak_set_communicator, or nunatak_set_communicator_f with a Fortran
 *   MPI_Fint) before nunatak_initialize; the default is MPI_COMM_WORLD.
 *   PETSc and Kokkos are initialised by the first model if the host has not,
 *   and finalised when the host finalises MPI (models not finalised by then
 *   are finalised first; their handles stay valid for nunatak_destroy).
 * - Calls that step, read or write the model are collective on that
 *   communicator: every rank calls them, in the same order.
 * - Fields are the calling rank's own cells (no ghosts), row-major [y][x],
 *   as doubles; nunatak_get_grid_partition says where they lie in the whole
 *   grid. Time is in years; units are UDUNITS strings (nunatak_get_var_units).
 */
#ifndef NUNATAK_H
#define NUNATAK_H

#include <mpi.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NUNATAK_SUCCESS 0
#define NUNATAK_FAILURE 1

/** An ice-sheet model instance. */
typedef struct nunatak_model nunatak_model;

/** A new model (nothing read yet) into *model; NUNATAK_FAILURE if out of memory. */
int nunatak_create(nunatak_model** model);
/** Frees the model (finalising it first if needed). NULL is allowed. */
void nunatak_destroy(nunatak_model* model);
/** Why the last call on `model` failed ("" if it did not). */
const char* nunatak_last_error(const nunatak_model* model);

/** The communicator the model runs on (before nunatak_initialize). */
int nunatak_set_communicator(nunatak_model* model, MPI_Comm comm);
/** The same with a Fortran communicator handle. */
int nunatak_set_communicator_f(nunatak_model* model, MPI_Fint comm);

/** This instance's PETSc options prefix, e.g. "nk1_" (after initialize):
 *  its solvers read -nk1_bp_* (from PETSC_OPTIONS, say), and the
 *  petsc.options of its configuration are inserted with it. */
int nunatak_get_petsc_prefix(const nunatak_model* model, const char** prefix);

/** Reads the YAML configuration and its inputs; the model is at time.start. */
int nunatak_initialize(nunatak_model* model, const char* config_file);
/** One adaptive time step. */
int nunatak_update(nunatak_model* model);
/** Steps until `time` (years), which the last step ends at exactly. */
int nunatak_update_until(nunatak_model* model, double time);
/** Publishes the model's output (output.file and its _ts.nc, as `nunatak run`
 *  writes them, at time.start, every output.interval and time.end) and
 *  releases its solvers and fields (the handle stays valid). */
int nunatak_finalize(nunatak_model* model);

/** Times in years: the model's, time.start, time.end, the last step's length. */
int nunatak_get_current_time(const nunatak_model* model, double* time);
int nunatak_get_start_time(const nunatak_model* model, double* time);
int nunatak_get_end_time(const nunatak_model* model, double* time);
int nunatak_get_time_step(const nunatak_model* model, double* step);

/** The number of input (settable) and output (readable) variables. */
int nunatak_get_input_item_count(const nunatak_model* model, int* count);
int nunatak_get_output_item_count(const nunatak_model* model, int* count);
/** The CSDMS Standard Name of input or output variable `index` (static storage). */
int nunatak_get_input_var_name(const nunatak_model* model, int index, const char** name);
int nunatak_get_output_var_name(const nunatak_model* model, int index, const char** name);
/** The units (UDUNITS) of a variable (static storage). */
int nunatak_get_var_units(const nunatak_model* model, const char* name, const char** units);
/** nunatak's own (CF/PISM) name of a variable, as in its NetCDF files (static storage). */
int nunatak_get_var_nunatak_name(const nunatak_model* model, const char* name, const char** cf);

/** The rank's part: its cells are x_start .. x_start + nx - 1 and y_start ..
 *  y_start + ny - 1 of the global_nx x global_ny grid. */
int nunatak_get_grid_partition(const nunatak_model* model, int* x_start, int* y_start, int* nx,
                               int* ny, int* global_nx, int* global_ny);
/** Cell spacing (m) and the centre of the rank's first cell (m). */
int nunatak_get_grid_spacing(const nunatak_model* model, double* dx, double* dy);
int nunatak_get_grid_origin(const nunatak_model* model, double* x0, double* y0);

/** The rank's nx * ny values of an output variable into dest. */
int nunatak_get_value(nunatak_model* model, const char* name, double* dest);
/** The values at `count` indices into the rank's part (row-major, from 0). */
int nunatak_get_value_at_indices(nunatak_model* model, const char* name, double* dest,
                                 const int* indices, int count);
/** Sets the rank's nx * ny values of an input variable (collective). */
int nunatak_set_value(nunatak_model* model, const char* name, const double* src);
/** Sets the values at `count` indices into the rank's part (collective). */
int nunatak_set_value_at_indices(nunatak_model* model, const char* name, const int* indices,
                                 int count, const double* src);

#ifdef __cplusplus
}
#endif

#endif /* NUNATAK_H */
