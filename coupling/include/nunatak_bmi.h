/* nunatak_bmi.h — the CSDMS Basic Model Interface 2.0, C binding, for
 * nunatak (docs/coupling.md). Written from the BMI 2.0 specification.
 *
 *   Bmi model;
 *   register_bmi_nunatak(&model);               // model.data: a nunatak_model
 *   nunatak_bmi_set_communicator(&model, comm); // optional: MPI_COMM_WORLD
 *   model.initialize(&model, "config.yaml");
 *   model.update_until(&model, 10.0);
 *   model.get_value(&model, "land_ice__thickness", thk);
 *   model.finalize(&model);                     // also frees model.data
 *
 * The grid (id 0) is the calling rank's own part of the model's uniform
 * rectilinear grid: get_grid_shape gives its [ny, nx], get_grid_origin the
 * centre of its first cell [y0, x0], get_value its cells row-major [y][x].
 * nunatak_bmi_get_grid_partition says where that part lies in the whole
 * grid. Serial hosts see the whole grid. Values are doubles; get_value_ptr
 * fails (the model's fields have ghost cells, so a rank's part is not one
 * block of memory), as do the unstructured-grid functions.
 *
 * The struct Bmi below is the binding's; a host that includes the CSDMS
 * bmi-c header "bmi.h" first defines BMI_H, and this header then uses that
 * header's identical struct instead of declaring it again. */
#ifndef NUNATAK_BMI_H
#define NUNATAK_BMI_H

#include "nunatak.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef BMI_H
#define BMI_SUCCESS (0)
#define BMI_FAILURE (1)
#define BMI_MAX_UNITS_NAME (2048)
#define BMI_MAX_TYPE_NAME (2048)
#define BMI_MAX_COMPONENT_NAME (2048)
#define BMI_MAX_VAR_NAME (2048)
#define BMI_MAX_LOCATION_NAME (2048)

typedef struct Bmi {
  void* data;

  /* Initialize, run, finalize (IRF) */
  int (*initialize)(struct Bmi* self, const char* config_file);
  int (*update)(struct Bmi* self);
  int (*update_until)(struct Bmi* self, double then);
  int (*finalize)(struct Bmi* self);

  /* Exchange items */
  int (*get_component_name)(struct Bmi* self, char* name);
  int (*get_input_item_count)(struct Bmi* self, int* count);
  int (*get_output_item_count)(struct Bmi* self, int* count);
  int (*get_input_var_names)(struct Bmi* self, char** names);
  int (*get_output_var_names)(struct Bmi* self, char** names);

  /* Variable information */
  int (*get_var_grid)(struct Bmi* self, const char* name, int* grid);
  int (*get_var_type)(struct Bmi* self, const char* name, char* type);
  int (*get_var_units)(struct Bmi* self, const char* name, char* units);
  int (*get_var_itemsize)(struct Bmi* self, const char* name, int* size);
  int (*get_var_nbytes)(struct Bmi* self, const char* name, int* nbytes);
  int (*get_var_location)(struct Bmi* self, const char* name, char* location);

  /* Time information */
  int (*get_current_time)(struct Bmi* self, double* time);
  int (*get_start_time)(struct Bmi* self, double* time);
  int (*get_end_time)(struct Bmi* self, double* time);
  int (*get_time_units)(struct Bmi* self, char* units);
  int (*get_time_step)(struct Bmi* self, double* time_step);

  /* Getters */
  int (*get_value)(struct Bmi* self, const char* name, void* dest);
  int (*get_value_ptr)(struct Bmi* self, const char* name, void** dest_ptr);
  int (*get_value_at_indices)(struct Bmi* self, const char* name, void* dest, int* inds, int count);

  /* Setters */
  int (*set_value)(struct Bmi* self, const char* name, void* src);
  int (*set_value_at_indices)(struct Bmi* self, const char* name, int* inds, int count, void* src);

  /* Grid information */
  int (*get_grid_rank)(struct Bmi* self, int grid, int* rank);
  int (*get_grid_size)(struct Bmi* self, int grid, int* size);
  int (*get_grid_type)(struct Bmi* self, int grid, char* type);

  /* Uniform rectilinear */
  int (*get_grid_shape)(struct Bmi* self, int grid, int* shape);
  int (*get_grid_spacing)(struct Bmi* self, int grid, double* spacing);
  int (*get_grid_origin)(struct Bmi* self, int grid, double* origin);

  /* Non-uniform rectilinear, curvilinear */
  int (*get_grid_x)(struct Bmi* self, int grid, double* x);
  int (*get_grid_y)(struct Bmi* self, int grid, double* y);
  int (*get_grid_z)(struct Bmi* self, int grid, double* z);

  /* Unstructured */
  int (*get_grid_node_count)(struct Bmi* self, int grid, int* count);
  int (*get_grid_edge_count)(struct Bmi* self, int grid, int* count);
  int (*get_grid_face_count)(struct Bmi* self, int grid, int* count);
  int (*get_grid_edge_nodes)(struct Bmi* self, int grid, int* edge_nodes);
  int (*get_grid_face_edges)(struct Bmi* self, int grid, int* face_edges);
  int (*get_grid_face_nodes)(struct Bmi* self, int grid, int* face_nodes);
  int (*get_grid_nodes_per_face)(struct Bmi* self, int grid, int* nodes_per_face);
} Bmi;
#endif /* BMI_H */

/** Fills `model` with nunatak's BMI functions and a new nunatak_model in
 *  model->data; returns `model` (NULL if out of memory). */
Bmi* register_bmi_nunatak(Bmi* model);
/** The communicator (before initialize; the default is MPI_COMM_WORLD). */
int nunatak_bmi_set_communicator(Bmi* model, MPI_Comm comm);
/** Where the rank's part lies in the whole grid (see nunatak.h). */
int nunatak_bmi_get_grid_partition(Bmi* model, int* x_start, int* y_start, int* nx, int* ny,
                                   int* global_nx, int* global_ny);

#ifdef __cplusplus
}
#endif

#endif /* NUNATAK_BMI_H */
