#pragma once
/// \file trainer.hpp
/// Epoch-based training of the emulator (the library side of
/// `nunatak emulator train`; options emulator.training.*).
///
/// An epoch visits every training sample once, in an order drawn from
/// (seed, epoch) alone, in batches of batch_size samples; each batch is one
/// Adam step on the mean of its samples' loss gradients (samples differ in
/// size, so they are run one by one and their gradients accumulated). The
/// learning rate decays from learning_rate at the first epoch to
/// final_learning_rate at the last along a cosine,
///
///   lr(e) = lr_final + (lr_0 - lr_final) (1 + cos(pi (e - 1) / (E - 1))) / 2,
///
/// and stays put within an epoch. The losses are network.hpp's: physics
/// (the shared energy), data (relative squared misfit to the solver), or
/// hybrid, data + lambda physics with lambda balanced by the weights'
/// gradient norms every balance_every Adam steps (LossBalance). After each
/// epoch the validation samples are evaluated without gradients, and the
/// weights of the best epoch are kept.
///
/// Reproducibility. On the CPU, the same model (seed and normalisation),
/// data and options give bitwise the same weights and history, and a run
/// that is checkpointed and resumed gives bitwise the weights and history of
/// one that is not: the checkpoint holds the weights, Adam's moments, lambda
/// and the step count, and the shuffles need nothing but (seed, epoch).

#include "nunatak/emulator/network.hpp"

#include <torch/optim/adam.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace nunatak::emulator {

/// Options of the epoch trainer (emulator.training.* in a configuration).
struct EpochOptions {
  std::string loss = "hybrid";       ///< physics | data | hybrid (as train())
  int epochs = 20;                   ///< passes over the training samples
  int batch_size = 4;                ///< samples per Adam step (the mean of their gradients)
  double learning_rate = 1e-3;       ///< Adam's, at the first epoch
  double final_learning_rate = 1e-4; ///< at the last epoch (cosine decay per epoch)
  std::uint64_t seed = 1;            ///< the shuffled order of the samples in each epoch
  int physics_warmup_epochs = 0;     ///< hybrid: physics-only epochs first
  double balance_ratio = 1.0;        ///< hybrid: lambda |grad physics| = ratio |grad data|
  int balance_every = 10;            ///< hybrid: Adam steps between updates of lambda
};

/// What one epoch did. Means are over the epoch's samples (NaN where nothing
/// was computed, e.g. the data term without solutions).
struct EpochRecord {
  int epoch = 0;                 ///< 1-based
  double learning_rate = 0;      ///< Adam's during the epoch
  double weight = 1;             ///< lambda at the end of the epoch (hybrid; 1 otherwise)
  double train_loss = 0;         ///< the loss trained on, per sample
  double train_physics = 0;      ///< physics_loss per sample
  double train_data = 0;         ///< data_loss per sample with a solution
  double validation_error = 0;   ///< median velocity_relative_error over validation solutions
  double validation_physics = 0; ///< mean physics_loss over validation samples
  double seconds = 0;            ///< wall time, training and validation
  int samples = 0;               ///< training samples seen
};

/// The relative L2 error of `velocity` against `solution` (both
/// [ny, nx, nz, 2], m/a) over the free nodes of `patch`,
/// sqrt(sum (u - u*)^2 / sum u*^2): the square root of data_loss.
double velocity_relative_error(const TorchBPPatch& patch, const torch::Tensor& velocity,
                               const torch::Tensor& solution);

/// The median of `values` (the mean of the two middle ones for an even
/// count); NaN for none.
double median(std::vector<double> values);

/// The hybrid loss's physics weight lambda and its adaptation.
struct LossBalance {
  double weight = 1.0; ///< lambda
  bool set = false;    ///< whether lambda has been balanced at least once

  /// Moves lambda towards ratio |grad data| / |grad physics| (the first time:
  /// onto it), smoothed by an EMA of 0.9, by at most x1.2 per update, within
  /// [1e-3, 100]; no change when either norm is 0.
  void update(double data_norm, double physics_norm, double ratio);
};

/// How the samples of one optimiser step are trained.
struct StepMode {
  std::string loss = "hybrid"; ///< physics | data | hybrid
  bool physics_only = false;   ///< hybrid: the physics term alone (a warm-up)
  bool balance = false;        ///< hybrid: update lambda on this step's gradients
  double balance_ratio = 1.0;  ///< hybrid: LossBalance::update's ratio
};

/// The losses of one optimiser step, summed over its samples.
struct StepLosses {
  double total = 0;     ///< the loss trained on
  double physics = 0;   ///< physics_loss
  double data = 0;      ///< data_loss, over the samples with a solution
  int samples = 0;      ///< samples in the step
  int data_samples = 0; ///< of which with a solution
};

/// Adds to the gradients of `model`'s weights the mean over `batch` of the
/// gradients of each sample's loss: data (loss data), physics (loss physics,
/// a hybrid warm-up, or a hybrid sample without a solution) or
/// data + lambda physics (hybrid). With mode.balance, lambda (`balance`) is
/// first updated from the norms of the batch's summed gradients of the two
/// terms (hybrid samples only), then used. Samples are run one at a time, so
/// only one sample's graph is held. The caller zeroes the gradients before
/// and steps the optimiser after. Every sample of a data loss needs a solution.
StepLosses accumulate_gradients(Emulator& model, const std::vector<const TrainingSample*>& batch,
                                const StepMode& mode, LossBalance& balance);

/// Trains a model epoch by epoch (see the file comment), keeps the best
/// epoch's weights, and checkpoints and resumes. Holds a reference to the
/// model, which must outlive it.
class Trainer {
public:
  /// Checks `options` and the samples (nunatak::Error naming the
  /// emulator.training.* key or the sample) and sets up Adam on the model's
  /// weights, moved to the samples' dtype and device.
  Trainer(Emulator& model, std::vector<TrainingSample> training,
          std::vector<TrainingSample> validation, EpochOptions options);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// Trains one epoch, evaluates the validation samples (without
  /// gradients), keeps the weights if the epoch is the best so far, and
  /// returns its record. Throws nunatak::Error once finished().
  EpochRecord run_epoch();

  /// Epochs trained so far (with those of a resumed checkpoint).
  int epochs_done() const { return int(m_history.size()); }
  /// Whether all options.epochs epochs are done.
  bool finished() const { return epochs_done() >= m_options.epochs; }
  /// One record per epoch done.
  const std::vector<EpochRecord>& history() const { return m_history; }
  /// The best epoch (1-based; 0 before the first): lowest validation_error;
  /// lowest validation_physics for a physics loss or without validation
  /// solutions; lowest train_loss without validation samples.
  int best_epoch() const { return m_best_epoch; }
  /// The options, as checked.
  const EpochOptions& options() const { return m_options; }

  /// Writes the best epoch's weights as a model file (Emulator::save: the
  /// model's metadata); the model's weights are swapped for the write and
  /// back, so they end as they were. Throws nunatak::Error before the first
  /// epoch.
  void save_best(const std::string& path) const;
  /// Writes everything needed to resume (weights, Adam's state, lambda, step
  /// and epoch counts, history, best weights and epoch, and the options,
  /// model metadata and a fingerprint of the data to check against) to
  /// PATH.tmp.PID, then renames it to `path`.
  void save_checkpoint(const std::string& path) const;
  /// Restores the state that save_checkpoint wrote. Throws nunatak::Error
  /// naming the file if it is missing or not a checkpoint, and naming each
  /// key whose value differs between the checkpoint and this trainer
  /// (options, model metadata other than its provenance, the data).
  void resume(const std::string& path);

private:
  double score(const EpochRecord& record) const;
  std::vector<torch::Tensor> weights() const;

  Emulator& m_model;
  std::vector<TrainingSample> m_training, m_validation;
  EpochOptions m_options;
  bool m_validation_solutions = false; ///< some validation sample has a solution
  std::unique_ptr<torch::optim::Adam> m_adam;
  LossBalance m_balance;
  std::int64_t m_steps = 0; ///< Adam steps done
  std::vector<EpochRecord> m_history;
  std::vector<torch::Tensor> m_best; ///< the best epoch's weights (model_state order)
  int m_best_epoch = 0;
};

} // namespace nunatak::emulator
