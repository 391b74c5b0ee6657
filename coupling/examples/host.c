/* A C host that runs several nunatak models side by side in one process
 * (docs/coupling.md): one per configuration, stepped year by year in
 * turn, through the BMI 2.0 C binding. At the end each model's whole
 * thickness field (gathered on rank 0) is written as raw doubles,
 * row-major [y][x], to PREFIX_K.bin (K from 0).
 *
 *   mpirun -n 2 nunatak_c_host PREFIX CONFIG.yaml [CONFIG.yaml ...]
 *
 * tests/test_coupling.cpp checks each file against `nunatak run` of its
 * configuration: the models do not interfere. */
#include "nunatak_bmi.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

enum { max_models = 8 };

/* Stops the program with the model's error after a failed call. */
static void check(int status, Bmi* model, const char* what) {
  if (status == BMI_SUCCESS) return;
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  fprintf(stderr, "host: rank %d: %s failed: %s\n", rank, what,
          model->data ? nunatak_last_error((nunatak_model*)model->data) : "");
  MPI_Abort(MPI_COMM_WORLD, 1);
}

/* Gathers the ranks' parts of `field` and writes the whole grid (rank 0). */
static void write_global(Bmi* model, const double* field, const char* path) {
  int box[6], rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  check(nunatak_bmi_get_grid_partition(model, &box[0], &box[1], &box[2], &box[3], &box[4], &box[5]),
        model, "get_grid_partition");
  int* boxes = malloc(sizeof(int) * 6 * (size_t)ranks);
  int* counts = malloc(sizeof(int) * (size_t)ranks);
  int* displs = malloc(sizeof(int) * (size_t)ranks);
  MPI_Gather(box, 6, MPI_INT, boxes, 6, MPI_INT, 0, MPI_COMM_WORLD);
  int total = 0;
  for (int r = 0; r < ranks; ++r) {
    counts[r] = boxes[6 * r + 2] * boxes[6 * r + 3];
    displs[r] = total;
    total += counts[r];
  }
  double* parts = malloc(sizeof(double) * (size_t)(total > 0 ? total : 1));
  MPI_Gatherv(field, box[2] * box[3], MPI_DOUBLE, parts, counts, displs, MPI_DOUBLE, 0,
              MPI_COMM_WORLD);
  if (rank == 0) {
    const int gnx = box[4], gny = box[5];
    double* whole = malloc(sizeof(double) * (size_t)gnx * (size_t)gny);
    for (int r = 0; r < ranks; ++r) {
      const int* b = &boxes[6 * r];
      for (int j = 0; j < b[3]; ++j)
        for (int i = 0; i < b[2]; ++i)
          whole[(size_t)(b[1] + j) * (size_t)gnx + (size_t)(b[0] + i)] =
              parts[displs[r] + j * b[2] + i];
    }
    FILE* out = fopen(path, "wb");
    if (!out || fwrite(whole, sizeof(double), (size_t)gnx * (size_t)gny, out) !=
                    (size_t)gnx * (size_t)gny) {
      fprintf(stderr, "host: cannot write %s\n", path);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    fclose(out);
    printf("host: wrote %s\n", path);
    free(whole);
  }
  free(parts);
  free(displs);
  free(counts);
  free(boxes);
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  if (argc < 3 || argc - 2 > max_models) {
    fprintf(stderr, "usage: nunatak_c_host PREFIX CONFIG.yaml [CONFIG.yaml ...] (at most %d)\n",
            max_models);
    MPI_Finalize();
    return 2;
  }
  const int n = argc - 2;
  Bmi models[max_models];
  double end = 0;
  for (int k = 0; k < n; ++k) {
    if (!register_bmi_nunatak(&models[k])) return 1;
    check(nunatak_bmi_set_communicator(&models[k], MPI_COMM_WORLD), &models[k], "set_communicator");
    check(models[k].initialize(&models[k], argv[k + 2]), &models[k], "initialize");
    double e = 0;
    check(models[k].get_end_time(&models[k], &e), &models[k], "get_end_time");
    if (e > end) end = e;
  }
  double now = 0;
  check(models[0].get_start_time(&models[0], &now), &models[0], "get_start_time");
  /* Year by year, each model in turn, each to its own end. */
  while (now < end) {
    now = now + 1 < end ? now + 1 : end;
    for (int k = 0; k < n; ++k) {
      double t = 0, e = 0;
      check(models[k].get_current_time(&models[k], &t), &models[k], "get_current_time");
      check(models[k].get_end_time(&models[k], &e), &models[k], "get_end_time");
      if (t < e)
        check(models[k].update_until(&models[k], now < e ? now : e), &models[k], "update_until");
    }
  }
  for (int k = 0; k < n; ++k) {
    int cells = 0;
    check(models[k].get_grid_size(&models[k], 0, &cells), &models[k], "get_grid_size");
    double* thk = malloc(sizeof(double) * (size_t)(cells > 0 ? cells : 1));
    check(models[k].get_value(&models[k], "land_ice__thickness", thk), &models[k], "get_value");
    char path[4096];
    snprintf(path, sizeof path, "%s_%d.bin", argv[1], k);
    write_global(&models[k], thk, path);
    free(thk);
    check(models[k].finalize(&models[k]), &models[k], "finalize");
  }
  MPI_Finalize();
  return 0;
}
