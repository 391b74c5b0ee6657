#pragma once
/// \file superres.hpp
/// Super-resolution of coarse ice-sheet runs (docs/superres.md): a fully
/// convolutional network, trained on one pair of runs of the same scenario
/// at a fine and at a K times coarser resolution, that maps a coarse run's
/// snapshot to the fine grid as a correction to bicubic interpolation.
///
/// Inputs, per fine cell: the coarse thickness and surface speed
/// interpolated bicubically, the fine bed and its detail (bed minus the
/// bicubic interpolation of its coarse mean), an ocean mask (bed below sea
/// level), the detail of the fine surface mass balance (not the balance
/// itself: a scenario's offset cancels in its detail), and optionally the
/// time since the start of the run, the coarse run's thickness change
/// since its first record (interpolated), and the scenario's surface mass
/// balance itself with its integral since the start (use_smb: for models
/// trained on several scenarios, so that they can tell them apart), and the
/// detail of the initial state (use_initial: the fine initial thickness
/// minus the bicubic interpolation of the coarse run's first record). Outputs: the fine thickness H
/// (m) and surface speed |u_s| (m/a): H = max(0, H_bicubic + H_s o_0) and log(1 + |u_s| / u_0) =
/// max(0, log(1 + s_bicubic / u_0) + o_1), u_0 = 10 m/a, H_s = 1000 m. With conserve_mass the
/// thickness is then scaled in each coarse block so that its volume is the coarse cell's exactly
/// (the coarsening rule of core/regrid.hpp).
///
/// Depends on nunatak::core_base and LibTorch only; LibTorch stays out of
/// this header.

#include "nunatak/core/grid.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nunatak::superres {

/// One snapshot of a pair of runs. Arrays are [y][x] on their grid.
struct Snapshot {
  double time = 0;                      ///< years since the start of the run
  std::vector<double> coarse_thickness; ///< m, on the coarse grid
  std::vector<double> coarse_speed;     ///< surface speed, m/a, coarse grid (NaN: 0)
  /// The coarse run's first record's thickness, m (for use_change; empty: none).
  std::vector<double> coarse_initial_thickness;
  std::vector<double> bed; ///< fine bed elevation, m
  std::vector<double> smb; ///< fine surface mass balance, m/a ice equivalent
  /// The fine surface mass balance integrated from the start of the run to
  /// `time`, m of ice (for use_smb; empty: none).
  std::vector<double> smb_cumulative;
  /// The fine grid's thickness at the start (the inputs the coarse run was
  /// coarsened from), m (for use_initial; empty: none).
  std::vector<double> fine_initial_thickness;
  std::vector<double> fine_thickness; ///< the fine run's, m (empty: unknown)
  std::vector<double> fine_speed;     ///< the fine run's, m/a (empty: unknown)
};

/// What a model is: the grids, the architecture, the normalisation and where
/// it came from. Stored as "key: value" text in the model file.
struct Metadata {
  int factor = 2;                            ///< coarse spacing / fine spacing
  core::Grid fine{1, 1, 1.0, 1.0, 0.0, 0.0}; ///< the fine grid it was trained on
  int width = 16, depth = 3;                 ///< channels, residual blocks
  bool conserve_mass = false;
  bool use_time = false;
  bool use_change = false; ///< the coarse run's thickness change since its first record
  bool use_smb = false;    ///< the surface mass balance and its integral since the start
  /// The initial state's detail: the fine initial thickness minus the
  /// bicubic interpolation of the coarse run's first record.
  bool use_initial = false;
  double time_scale = 1000.0;                ///< years (the time input is t / time_scale)
  double sea_level = 0.0;                    ///< m (the ocean mask)
  std::vector<double> input_mean, input_std; ///< per input channel
  std::string training;                      ///< the training configuration and data, text
  std::string code_version;
  /// The names of the input channels, in order.
  std::vector<std::string> input_names() const;
  std::string to_text() const;
  /// Throws nunatak::Error naming `source` for a malformed text.
  static Metadata from_text(const std::string& text, const std::string& source);
};

/// The fine fields of one snapshot.
struct Prediction {
  std::vector<double> thickness, speed;                 ///< super-resolved
  std::vector<double> bicubic_thickness, bicubic_speed; ///< the baseline
};

/// Training options (keys superres.*).
struct TrainingOptions {
  int epochs = 200;
  double learning_rate = 2e-3, final_learning_rate = 1e-4; ///< cosine schedule
  int batch_size = 4;
  std::uint64_t seed = 1;
  /// Each batch mirrored in x and/or y at random (ice flow has no preferred
  /// direction); with conserve_mass only along axes whose cell count the
  /// factor divides (the blocks must stay aligned).
  bool augment = false;
};

/// Losses per epoch (the mean squared error of the scaled thickness plus
/// that of log(1 + speed / u_0)); the weights of the best validation epoch
/// are kept.
struct TrainingReport {
  std::vector<double> training_loss, validation_loss;
  int best_epoch = -1;
  double seconds = 0;
};

/// A model: metadata and network.
class Model {
public:
  /// A new network (weights from `seed`; its last layer is zero, so it
  /// starts as bicubic interpolation).
  Model(Metadata metadata, std::uint64_t seed);
  ~Model();
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  /// Reads a model file; throws nunatak::Error naming the file.
  static Model load(const std::string& path);
  /// Writes the model file (under a temporary name, then renamed).
  void save(const std::string& path) const;
  const Metadata& metadata() const { return m_metadata; }
  Metadata& metadata() { return m_metadata; }
  /// The coarse grid the model takes.
  core::Grid coarse_grid() const;
  /// Sets the inputs' normalisation from `snapshots` (mean and standard
  /// deviation of each input channel).
  void fit_normalisation(const std::vector<Snapshot>& snapshots);
  /// The fine fields of `snapshot`. Throws nunatak::Error if its arrays do
  /// not fit the model's grids.
  Prediction predict(const Snapshot& snapshot) const;
  /// Trains on `training`, keeping the weights of the best epoch on
  /// `validation` (the last epoch if it is empty). Bitwise reproducible on
  /// CPU for a given seed. `progress(epoch, training, validation)` after
  /// every epoch.
  TrainingReport train(const std::vector<Snapshot>& training,
                       const std::vector<Snapshot>& validation, const TrainingOptions& options,
                       const std::function<void(int, double, double)>& progress = {});
  /// Number of trainable parameters.
  long long parameter_count() const;

private:
  struct Impl;
  Metadata m_metadata;
  std::unique_ptr<Impl> m_impl;
};

/// Scales `thickness` (fine grid) in each block of factor x factor cells so
/// that its volume is that of `coarse` (the coarse grid's cell, by
/// core::Coarsening::volume): multiplied by coarse / block mean, or, where
/// the block holds no ice, spread evenly over its cells in the grid.
void conserve_block_volume(const core::Grid& fine, int factor, const std::vector<double>& coarse,
                           std::vector<double>& thickness);

/// Image metrics of `estimate` against `truth` (same grid, NaN cells left
/// out): RMSE, bias (mean of estimate - truth), PSNR = 20 log10(range /
/// RMSE) with range the truth's max - min, and the mean SSIM over 7 x 7
/// windows (C1 = (0.01 range)^2, C2 = (0.03 range)^2).
struct FieldMetrics {
  double rmse = 0, bias = 0, psnr = 0, ssim = 0;
};
FieldMetrics compare_fields(const core::Grid& grid, const std::vector<double>& estimate,
                            const std::vector<double>& truth);

} // namespace nunatak::superres
