// The C API (nunatak.h) and the BMI 2.0 C binding (nunatak_bmi.h) over
// coupling::CoupledModel. Every entry point catches every exception: it
// becomes NUNATAK_FAILURE / BMI_FAILURE and the model's last error.

#include "nunatak.h"
#include "nunatak_bmi.h"

#include "nunatak/core/error.hpp"
#include "nunatak/core/runtime.hpp"
#include "nunatak/coupling/coupled_model.hpp"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <set>
#include <string>

struct nunatak_model {
  MPI_Comm comm = MPI_COMM_WORLD;
  std::unique_ptr<nunatak::coupling::CoupledModel> model;
  std::string error;
};

namespace {

using nunatak::coupling::CoupledModel;

/// PETSc and Kokkos for the whole process, made by the first model that
/// needs them (if the host has not) and finalised when the host finalises
/// MPI (an attribute of MPI_COMM_SELF is deleted first thing in
/// MPI_Finalize), or at exit.
nunatak::core::Runtime* process_runtime = nullptr;

/// The models that exist, so that the runtime's end releases theirs first
/// (a host that calls MPI_Finalize before finalize or destroy).
std::set<nunatak_model*>& live_models() {
  static std::set<nunatak_model*> models;
  return models;
}

void end_runtime() {
  for (nunatak_model* m : live_models()) m->model.reset();
  delete process_runtime;
  process_runtime = nullptr;
}

int on_mpi_finalize(MPI_Comm, int, void*, void*) {
  end_runtime();
  return MPI_SUCCESS;
}

void ensure_runtime(MPI_Comm comm) {
  if (process_runtime) return;
  process_runtime = new nunatak::core::Runtime(comm);
  int key = MPI_KEYVAL_INVALID;
  MPI_Comm_create_keyval(MPI_COMM_NULL_COPY_FN, on_mpi_finalize, &key, nullptr);
  MPI_Comm_set_attr(MPI_COMM_SELF, key, nullptr);
  static bool registered = false;
  if (!registered)
    std::atexit([] {
      int finalised = 0;
      MPI_Finalized(&finalised);
      if (!finalised) end_runtime();
    });
  registered = true;
}

/// Runs `work` for `m`: its exceptions become NUNATAK_FAILURE and m->error.
template <class Work>
int guarded(const nunatak_model* m, Work&& work) {
  if (!m) return NUNATAK_FAILURE;
  auto* mutable_m = const_cast<nunatak_model*>(m);
  try {
    mutable_m->error.clear();
    work();
    return NUNATAK_SUCCESS;
  } catch (const std::exception& e) {
    mutable_m->error = e.what();
  } catch (...) {
    mutable_m->error = "unknown error";
  }
  return NUNATAK_FAILURE;
}

/// The model, or throws if it is not initialised.
CoupledModel& initialised(const nunatak_model* m) {
  if (!m->model) throw nunatak::Error("the model is not initialised (call initialize first)");
  return *m->model;
}

/// The item's name, or throws for a null one.
std::string name_of(const char* name) {
  if (!name) throw nunatak::Error("no variable name (NULL)");
  return name;
}

/// The index-th input or output item.
const nunatak::coupling::ExchangeItem& nth_item(bool input, int index) {
  int k = 0;
  for (const auto& it : nunatak::coupling::exchange_items())
    if ((input ? it.input : it.output) && k++ == index) return it;
  throw nunatak::Error("no " + std::string(input ? "input" : "output") + " variable " +
                       std::to_string(index));
}

int item_count(bool input) {
  int n = 0;
  for (const auto& it : nunatak::coupling::exchange_items()) n += input ? it.input : it.output;
  return n;
}

} // namespace

extern "C" {

int nunatak_create(nunatak_model** model) {
  if (!model) return NUNATAK_FAILURE;
  *model = new (std::nothrow) nunatak_model();
  if (!*model) return NUNATAK_FAILURE;
  live_models().insert(*model);
  return NUNATAK_SUCCESS;
}

void nunatak_destroy(nunatak_model* model) {
  live_models().erase(model);
  delete model;
}

const char* nunatak_last_error(const nunatak_model* model) {
  return model ? model->error.c_str() : "no model (NULL)";
}

int nunatak_set_communicator(nunatak_model* model, MPI_Comm comm) {
  return guarded(model, [&] {
    if (model->model) throw nunatak::Error("set the communicator before initialize");
    model->comm = comm;
  });
}

int nunatak_set_communicator_f(nunatak_model* model, MPI_Fint comm) {
  return nunatak_set_communicator(model, MPI_Comm_f2c(comm));
}

int nunatak_initialize(nunatak_model* model, const char* config_file) {
  return guarded(model, [&] {
    if (model->model) throw nunatak::Error("the model is initialised already");
    if (!config_file) throw nunatak::Error("initialize: no configuration file (NULL)");
    ensure_runtime(model->comm);
    model->model = std::make_unique<CoupledModel>(config_file, model->comm);
  });
}

int nunatak_get_petsc_prefix(const nunatak_model* model, const char** prefix) {
  return guarded(model, [&] { *prefix = initialised(model).options_prefix().c_str(); });
}

int nunatak_update(nunatak_model* model) {
  return guarded(model, [&] { initialised(model).update(); });
}

int nunatak_update_until(nunatak_model* model, double time) {
  return guarded(model, [&] { initialised(model).update_until(time); });
}

int nunatak_finalize(nunatak_model* model) {
  return guarded(model, [&] {
    if (!model->model) return;
    // The model goes even if publishing its output fails (the error says why).
    std::unique_ptr<CoupledModel> ending = std::move(model->model);
    ending->finish();
  });
}

int nunatak_get_current_time(const nunatak_model* model, double* time) {
  return guarded(model, [&] { *time = initialised(model).current_time(); });
}
int nunatak_get_start_time(const nunatak_model* model, double* time) {
  return guarded(model, [&] { *time = initialised(model).start_time(); });
}
int nunatak_get_end_time(const nunatak_model* model, double* time) {
  return guarded(model, [&] { *time = initialised(model).end_time(); });
}
int nunatak_get_time_step(const nunatak_model* model, double* step) {
  return guarded(model, [&] { *step = initialised(model).time_step(); });
}

int nunatak_get_input_item_count(const nunatak_model* model, int* count) {
  return guarded(model, [&] { *count = item_count(true); });
}
int nunatak_get_output_item_count(const nunatak_model* model, int* count) {
  return guarded(model, [&] { *count = item_count(false); });
}
int nunatak_get_input_var_name(const nunatak_model* model, int index, const char** name) {
  return guarded(model, [&] { *name = nth_item(true, index).name; });
}
int nunatak_get_output_var_name(const nunatak_model* model, int index, const char** name) {
  return guarded(model, [&] { *name = nth_item(false, index).name; });
}
int nunatak_get_var_units(const nunatak_model* model, const char* name, const char** units) {
  return guarded(model, [&] { *units = CoupledModel::item(name_of(name)).units; });
}
int nunatak_get_var_nunatak_name(const nunatak_model* model, const char* name, const char** cf) {
  return guarded(model, [&] { *cf = CoupledModel::item(name_of(name)).nunatak_name; });
}

int nunatak_get_grid_partition(const nunatak_model* model, int* x_start, int* y_start, int* nx,
                               int* ny, int* global_nx, int* global_ny) {
  return guarded(model, [&] {
    const auto& g = initialised(model).grid();
    *x_start = g.x_start;
    *y_start = g.y_start;
    *nx = g.nx;
    *ny = g.ny;
    *global_nx = g.global_nx;
    *global_ny = g.global_ny;
  });
}
int nunatak_get_grid_spacing(const nunatak_model* model, double* dx, double* dy) {
  return guarded(model, [&] {
    *dx = initialised(model).grid().dx;
    *dy = initialised(model).grid().dy;
  });
}
int nunatak_get_grid_origin(const nunatak_model* model, double* x0, double* y0) {
  return guarded(model, [&] {
    *x0 = initialised(model).grid().x0;
    *y0 = initialised(model).grid().y0;
  });
}

int nunatak_get_value(nunatak_model* model, const char* name, double* dest) {
  return guarded(model, [&] { initialised(model).get_value(name_of(name), dest); });
}
int nunatak_get_value_at_indices(nunatak_model* model, const char* name, double* dest,
                                 const int* indices, int count) {
  return guarded(
      model, [&] { initialised(model).get_value_at_indices(name_of(name), dest, indices, count); });
}
int nunatak_set_value(nunatak_model* model, const char* name, const double* src) {
  return guarded(model, [&] { initialised(model).set_value(name_of(name), src); });
}
int nunatak_set_value_at_indices(nunatak_model* model, const char* name, const int* indices,
                                 int count, const double* src) {
  return guarded(
      model, [&] { initialised(model).set_value_at_indices(name_of(name), indices, count, src); });
}

} // extern "C"

// ---------------------------------------------------------------- BMI 2.0 --

namespace {

nunatak_model* data(Bmi* self) {
  return self ? static_cast<nunatak_model*>(self->data) : nullptr;
}

/// Copies `text` into a BMI string buffer (at most `size` bytes with the NUL).
int copy_text(char* dest, const char* text, size_t size = BMI_MAX_VAR_NAME) {
  if (!dest || !text) return BMI_FAILURE;
  std::strncpy(dest, text, size - 1);
  dest[size - 1] = '\0';
  return BMI_SUCCESS;
}

int bmi_initialize(Bmi* self, const char* config_file) {
  return nunatak_initialize(data(self), config_file);
}
int bmi_update(Bmi* self) {
  return nunatak_update(data(self));
}
int bmi_update_until(Bmi* self, double then) {
  return nunatak_update_until(data(self), then);
}
int bmi_finalize(Bmi* self) {
  nunatak_model* m = data(self);
  if (!m) return BMI_FAILURE;
  const int status = nunatak_finalize(m);
  nunatak_destroy(m);
  self->data = nullptr;
  return status;
}

int bmi_get_component_name(Bmi*, char* name) {
  return copy_text(name, "nunatak", BMI_MAX_COMPONENT_NAME);
}
int bmi_get_input_item_count(Bmi* self, int* count) {
  return nunatak_get_input_item_count(data(self), count);
}
int bmi_get_output_item_count(Bmi* self, int* count) {
  return nunatak_get_output_item_count(data(self), count);
}
int bmi_var_names(Bmi* self, char** names, bool input) {
  int count = 0;
  if (!names || (input ? nunatak_get_input_item_count(data(self), &count)
                       : nunatak_get_output_item_count(data(self), &count)) != 0)
    return BMI_FAILURE;
  for (int k = 0; k < count; ++k) {
    const char* name = nullptr;
    if ((input ? nunatak_get_input_var_name(data(self), k, &name)
               : nunatak_get_output_var_name(data(self), k, &name)) != 0 ||
        copy_text(names[k], name) != 0)
      return BMI_FAILURE;
  }
  return BMI_SUCCESS;
}
int bmi_get_input_var_names(Bmi* self, char** names) {
  return bmi_var_names(self, names, true);
}
int bmi_get_output_var_names(Bmi* self, char** names) {
  return bmi_var_names(self, names, false);
}

/// BMI_SUCCESS if `name` is one of nunatak's variables.
int known(Bmi* self, const char* name) {
  const char* units = nullptr;
  return nunatak_get_var_units(data(self), name, &units);
}
int bmi_get_var_grid(Bmi* self, const char* name, int* grid) {
  if (!grid || known(self, name) != 0) return BMI_FAILURE;
  *grid = 0;
  return BMI_SUCCESS;
}
int bmi_get_var_type(Bmi* self, const char* name, char* type) {
  if (known(self, name) != 0) return BMI_FAILURE;
  return copy_text(type, "double", BMI_MAX_TYPE_NAME);
}
int bmi_get_var_units(Bmi* self, const char* name, char* units) {
  const char* text = nullptr;
  if (nunatak_get_var_units(data(self), name, &text) != 0) return BMI_FAILURE;
  return copy_text(units, text, BMI_MAX_UNITS_NAME);
}
int bmi_get_var_itemsize(Bmi* self, const char* name, int* size) {
  if (!size || known(self, name) != 0) return BMI_FAILURE;
  *size = int(sizeof(double));
  return BMI_SUCCESS;
}
int bmi_get_grid_size(Bmi* self, int grid, int* size);
int bmi_get_var_nbytes(Bmi* self, const char* name, int* nbytes) {
  int size = 0;
  if (!nbytes || known(self, name) != 0 || bmi_get_grid_size(self, 0, &size) != 0)
    return BMI_FAILURE;
  *nbytes = size * int(sizeof(double));
  return BMI_SUCCESS;
}
int bmi_get_var_location(Bmi* self, const char* name, char* location) {
  if (known(self, name) != 0) return BMI_FAILURE;
  return copy_text(location, "node", BMI_MAX_LOCATION_NAME);
}

int bmi_get_current_time(Bmi* self, double* time) {
  return nunatak_get_current_time(data(self), time);
}
int bmi_get_start_time(Bmi* self, double* time) {
  return nunatak_get_start_time(data(self), time);
}
int bmi_get_end_time(Bmi* self, double* time) {
  return nunatak_get_end_time(data(self), time);
}
int bmi_get_time_units(Bmi*, char* units) {
  return copy_text(units, "years", BMI_MAX_UNITS_NAME);
}
int bmi_get_time_step(Bmi* self, double* step) {
  return nunatak_get_time_step(data(self), step);
}

int bmi_get_value(Bmi* self, const char* name, void* dest) {
  return nunatak_get_value(data(self), name, static_cast<double*>(dest));
}
int bmi_get_value_ptr(Bmi* self, const char*, void**) {
  nunatak_model* m = data(self);
  if (m)
    m->error = "get_value_ptr: not available (the fields have ghost cells, so a rank's part is "
               "not one block of memory): use get_value";
  return BMI_FAILURE;
}
int bmi_get_value_at_indices(Bmi* self, const char* name, void* dest, int* inds, int count) {
  return nunatak_get_value_at_indices(data(self), name, static_cast<double*>(dest), inds, count);
}
int bmi_set_value(Bmi* self, const char* name, void* src) {
  return nunatak_set_value(data(self), name, static_cast<const double*>(src));
}
int bmi_set_value_at_indices(Bmi* self, const char* name, int* inds, int count, void* src) {
  return nunatak_set_value_at_indices(data(self), name, inds, count,
                                      static_cast<const double*>(src));
}

/// The rank's part, or BMI_FAILURE for another grid than 0.
int part(Bmi* self, int grid, int* nx, int* ny) {
  int xs = 0, ys = 0, gx = 0, gy = 0;
  if (grid != 0) return BMI_FAILURE;
  return nunatak_get_grid_partition(data(self), &xs, &ys, nx, ny, &gx, &gy);
}
int bmi_get_grid_rank(Bmi*, int grid, int* rank) {
  if (grid != 0 || !rank) return BMI_FAILURE;
  *rank = 2;
  return BMI_SUCCESS;
}
int bmi_get_grid_size(Bmi* self, int grid, int* size) {
  int nx = 0, ny = 0;
  if (!size || part(self, grid, &nx, &ny) != 0) return BMI_FAILURE;
  *size = nx * ny;
  return BMI_SUCCESS;
}
int bmi_get_grid_type(Bmi*, int grid, char* type) {
  if (grid != 0) return BMI_FAILURE;
  return copy_text(type, "uniform_rectilinear", BMI_MAX_TYPE_NAME);
}
int bmi_get_grid_shape(Bmi* self, int grid, int* shape) {
  int nx = 0, ny = 0;
  if (!shape || part(self, grid, &nx, &ny) != 0) return BMI_FAILURE;
  shape[0] = ny;
  shape[1] = nx;
  return BMI_SUCCESS;
}
int bmi_get_grid_spacing(Bmi* self, int grid, double* spacing) {
  if (grid != 0 || !spacing) return BMI_FAILURE;
  return nunatak_get_grid_spacing(data(self), &spacing[1], &spacing[0]);
}
int bmi_get_grid_origin(Bmi* self, int grid, double* origin) {
  if (grid != 0 || !origin) return BMI_FAILURE;
  return nunatak_get_grid_origin(data(self), &origin[1], &origin[0]);
}
int bmi_get_grid_coordinates(Bmi* self, int grid, double* out, bool x) {
  int nx = 0, ny = 0;
  double dx = 0, dy = 0, x0 = 0, y0 = 0;
  if (!out || part(self, grid, &nx, &ny) != 0 ||
      nunatak_get_grid_spacing(data(self), &dx, &dy) != 0 ||
      nunatak_get_grid_origin(data(self), &x0, &y0) != 0)
    return BMI_FAILURE;
  for (int k = 0; k < (x ? nx : ny); ++k) out[k] = x ? x0 + k * dx : y0 + k * dy;
  return BMI_SUCCESS;
}
int bmi_get_grid_x(Bmi* self, int grid, double* x) {
  return bmi_get_grid_coordinates(self, grid, x, true);
}
int bmi_get_grid_y(Bmi* self, int grid, double* y) {
  return bmi_get_grid_coordinates(self, grid, y, false);
}
/// The functions of other grid types: not for a uniform rectilinear grid.
int bmi_not_this_grid(Bmi*, int, double*) {
  return BMI_FAILURE;
}
int bmi_not_this_grid_int(Bmi*, int, int*) {
  return BMI_FAILURE;
}

} // namespace

extern "C" {

Bmi* register_bmi_nunatak(Bmi* model) {
  if (!model) return nullptr;
  nunatak_model* m = nullptr;
  if (nunatak_create(&m) != 0) return nullptr;
  model->data = m;
  model->initialize = bmi_initialize;
  model->update = bmi_update;
  model->update_until = bmi_update_until;
  model->finalize = bmi_finalize;
  model->get_component_name = bmi_get_component_name;
  model->get_input_item_count = bmi_get_input_item_count;
  model->get_output_item_count = bmi_get_output_item_count;
  model->get_input_var_names = bmi_get_input_var_names;
  model->get_output_var_names = bmi_get_output_var_names;
  model->get_var_grid = bmi_get_var_grid;
  model->get_var_type = bmi_get_var_type;
  model->get_var_units = bmi_get_var_units;
  model->get_var_itemsize = bmi_get_var_itemsize;
  model->get_var_nbytes = bmi_get_var_nbytes;
  model->get_var_location = bmi_get_var_location;
  model->get_current_time = bmi_get_current_time;
  model->get_start_time = bmi_get_start_time;
  model->get_end_time = bmi_get_end_time;
  model->get_time_units = bmi_get_time_units;
  model->get_time_step = bmi_get_time_step;
  model->get_value = bmi_get_value;
  model->get_value_ptr = bmi_get_value_ptr;
  model->get_value_at_indices = bmi_get_value_at_indices;
  model->set_value = bmi_set_value;
  model->set_value_at_indices = bmi_set_value_at_indices;
  model->get_grid_rank = bmi_get_grid_rank;
  model->get_grid_size = bmi_get_grid_size;
  model->get_grid_type = bmi_get_grid_type;
  model->get_grid_shape = bmi_get_grid_shape;
  model->get_grid_spacing = bmi_get_grid_spacing;
  model->get_grid_origin = bmi_get_grid_origin;
  model->get_grid_x = bmi_get_grid_x;
  model->get_grid_y = bmi_get_grid_y;
  model->get_grid_z = bmi_not_this_grid;
  model->get_grid_node_count = bmi_not_this_grid_int;
  model->get_grid_edge_count = bmi_not_this_grid_int;
  model->get_grid_face_count = bmi_not_this_grid_int;
  model->get_grid_edge_nodes = bmi_not_this_grid_int;
  model->get_grid_face_edges = bmi_not_this_grid_int;
  model->get_grid_face_nodes = bmi_not_this_grid_int;
  model->get_grid_nodes_per_face = bmi_not_this_grid_int;
  return model;
}

int nunatak_bmi_set_communicator(Bmi* model, MPI_Comm comm) {
  return nunatak_set_communicator(data(model), comm);
}

int nunatak_bmi_get_grid_partition(Bmi* model, int* x_start, int* y_start, int* nx, int* ny,
                                   int* global_nx, int* global_ny) {
  return nunatak_get_grid_partition(data(model), x_start, y_start, nx, ny, global_nx, global_ny);
}

} // extern "C"
