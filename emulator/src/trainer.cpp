/// \file trainer.cpp
/// The epoch trainer (see trainer.hpp) and the gradient step it shares with
/// train() (network.cpp): the losses of a batch, the hybrid weight lambda,
/// the cosine learning rate, the per-epoch shuffle, validation, the best
/// weights, and the checkpoint.
///
/// The checkpoint is a LibTorch archive: "kind"/"version", the model's
/// metadata, the options and a fingerprint of the data as "key: value" text
/// (checked on resume), the weights and the best weights as tensors w0, w1,
/// ... in model_state() order, Adam's own archive, and two float64 tensors:
/// state = [Adam steps, lambda, lambda set, best epoch] and history
/// [epochs, 10] (EpochRecord's fields in order). Every number is stored
/// exactly (tensors and 17-digit text), so a resumed run continues bitwise.

#include "nunatak/emulator/trainer.hpp"

#include "nunatak/core/error.hpp"

#include <torch/csrc/autograd/autograd.h>
#include <torch/serialize.h>
#include <torch/utils.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <map>
#include <numeric>
#include <random>
#include <sstream>
#include <unistd.h>
#include <utility>

namespace nunatak::emulator {

namespace {

const char* const checkpoint_kind = "nunatak-bp-emulator-checkpoint";
const int checkpoint_version = 1;
const int history_columns = 10;

std::string number(double v) {
  std::ostringstream s;
  s << std::setprecision(17) << v;
  return s.str();
}

/// `key value` pairs of "key: value" lines, in order.
std::vector<std::pair<std::string, std::string>> parse_lines(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    const size_t colon = line.find(": ");
    out.emplace_back(line.substr(0, colon),
                     colon == std::string::npos ? "" : line.substr(colon + 2));
  }
  return out;
}

/// Appends "key A in the checkpoint, B here" for each key of `here` whose
/// value differs in (or is missing from) `saved`, except the keys `skip`.
void compare_lines(const std::string& saved, const std::string& here,
                   const std::vector<std::string>& skip, std::vector<std::string>& issues) {
  std::map<std::string, std::string> saved_values;
  for (const auto& [key, value] : parse_lines(saved)) saved_values[key] = value;
  for (const auto& [key, value] : parse_lines(here)) {
    if (std::find(skip.begin(), skip.end(), key) != skip.end()) continue;
    const auto it = saved_values.find(key);
    const std::string old = it == saved_values.end() ? "(none)" : it->second;
    if (old != value) issues.push_back(key + " " + old + " in the checkpoint, " + value + " here");
  }
}

std::string options_text(const EpochOptions& o) {
  std::ostringstream s;
  s << "emulator.training.loss: " << o.loss << "\n"
    << "emulator.training.epochs: " << o.epochs << "\n"
    << "emulator.training.batch_size: " << o.batch_size << "\n"
    << "emulator.training.learning_rate: " << number(o.learning_rate) << "\n"
    << "emulator.training.final_learning_rate: " << number(o.final_learning_rate) << "\n"
    << "emulator.training.seed: " << o.seed << "\n"
    << "emulator.training.physics_warmup_epochs: " << o.physics_warmup_epochs << "\n"
    << "emulator.training.balance_ratio: " << number(o.balance_ratio) << "\n"
    << "emulator.training.balance_every: " << o.balance_every << "\n";
  return s.str();
}

/// Sample counts and a checksum of every value of the samples: a checkpoint
/// resumed on other data is an error rather than a silently different run.
std::string data_text(const std::vector<TrainingSample>& training,
                      const std::vector<TrainingSample>& validation) {
  const auto checksum = [](const std::vector<TrainingSample>& samples) {
    const torch::NoGradGuard no_grad;
    double sum = 0;
    for (const auto& s : samples) {
      const TorchBPPatch& p = s.patch;
      sum += p.nx + 1e3 * p.ny + 1e6 * p.nz + p.dx + p.dy;
      for (const torch::Tensor& t : {p.thickness, p.bed, p.beta2, p.hardness, p.free_nodes})
        sum += t.to(torch::kFloat64).sum().item<double>();
      if (s.solution.defined()) sum += s.solution.to(torch::kFloat64).sum().item<double>();
    }
    return sum;
  };
  std::ostringstream s;
  s << "training samples: " << training.size() << "\n"
    << "training data checksum: " << number(checksum(training)) << "\n"
    << "validation samples: " << validation.size() << "\n"
    << "validation data checksum: " << number(checksum(validation)) << "\n";
  return s.str();
}

/// The model's parameters and buffers, in a fixed order.
std::vector<torch::Tensor> model_state(Emulator& model) {
  std::vector<torch::Tensor> out = model.net()->parameters(/*recurse=*/true);
  for (const auto& b : model.net()->buffers(/*recurse=*/true)) out.push_back(b);
  return out;
}

/// Copies `values` into the model's parameters and buffers (same order and shapes).
void set_model_state(Emulator& model, const std::vector<torch::Tensor>& values) {
  const torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> state = model_state(model);
  for (size_t k = 0; k < state.size(); ++k) state[k].copy_(values[k]);
}

/// The learning rate of `epoch` (1-based) of `options.epochs`: cosine decay.
double learning_rate_at(const EpochOptions& o, int epoch) {
  if (epoch <= 1) return o.learning_rate;
  if (epoch >= o.epochs) return o.final_learning_rate;
  const double t = double(epoch - 1) / double(o.epochs - 1);
  return o.final_learning_rate +
         0.5 * (o.learning_rate - o.final_learning_rate) * (1.0 + std::cos(M_PI * t));
}

/// The order of `n` samples in `epoch`: a Fisher-Yates shuffle by an
/// mt19937_64 seeded from (seed, epoch) through splitmix64, the same on
/// every platform and independent of the epochs before.
std::vector<size_t> epoch_order(size_t n, std::uint64_t seed, int epoch) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ull * std::uint64_t(epoch);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  std::mt19937_64 rng(z);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t(0));
  for (size_t a = order.size(); a > 1; --a) std::swap(order[a - 1], order[rng() % a]);
  return order;
}

/// Adds the gradients `g` (undefined: unused weight, 0) into `sum`.
void add_gradients(std::vector<torch::Tensor>& sum, const std::vector<torch::Tensor>& g) {
  for (size_t k = 0; k < g.size(); ++k)
    if (g[k].defined()) sum[k] = sum[k].defined() ? sum[k] + g[k] : g[k];
}

double norm(const std::vector<torch::Tensor>& g) {
  double sum = 0;
  for (const auto& t : g)
    if (t.defined()) sum += t.pow(2).sum().item<double>();
  return std::sqrt(sum);
}

std::vector<torch::Tensor> gradients(const torch::Tensor& loss,
                                     const std::vector<torch::Tensor>& parameters, bool retain) {
  return torch::autograd::grad({loss}, parameters, {}, retain, /*create_graph=*/false,
                               /*allow_unused=*/true);
}

void check_options(const EpochOptions& o) {
  const std::string key = "emulator.training.";
  if (o.loss != "physics" && o.loss != "data" && o.loss != "hybrid")
    throw Error(key + "loss '" + o.loss + "': use physics, data or hybrid");
  if (o.epochs < 1) throw Error(key + "epochs must be at least 1, not " + std::to_string(o.epochs));
  if (o.batch_size < 1)
    throw Error(key + "batch_size must be at least 1, not " + std::to_string(o.batch_size));
  if (!(o.learning_rate > 0) || !std::isfinite(o.learning_rate))
    throw Error(key + "learning_rate must be positive, not " + number(o.learning_rate));
  if (!(o.final_learning_rate > 0) || !std::isfinite(o.final_learning_rate))
    throw Error(key + "final_learning_rate must be positive, not " + number(o.final_learning_rate));
  if (o.physics_warmup_epochs < 0)
    throw Error(key + "physics_warmup_epochs must be >= 0, not " +
                std::to_string(o.physics_warmup_epochs));
  if (!(o.balance_ratio > 0) || !std::isfinite(o.balance_ratio))
    throw Error(key + "balance_ratio must be positive, not " + number(o.balance_ratio));
  if (o.balance_every < 1)
    throw Error(key + "balance_every must be at least 1, not " + std::to_string(o.balance_every));
}

void check_samples(const Emulator& model, const std::vector<TrainingSample>& samples,
                   const std::string& kind, const torch::TensorOptions& options) {
  const int levels = int(model.metadata().sigma.size());
  for (size_t k = 0; k < samples.size(); ++k) {
    const TrainingSample& s = samples[k];
    const std::string name = "emulator.training: " + kind + " sample " + std::to_string(k);
    if (s.patch.nz != levels)
      throw Error(name + " has " + std::to_string(s.patch.nz) + " levels, the model " +
                  std::to_string(levels));
    if (s.patch.options().dtype() != options.dtype() ||
        s.patch.options().device() != options.device())
      throw Error(name + " differs in dtype or device from the first training sample");
    if (s.solution.defined() &&
        s.solution.sizes() != torch::IntArrayRef({s.patch.ny, s.patch.nx, s.patch.nz, 2}))
      throw Error(name + ": the solution is not [ny, nx, nz, 2] = [" + std::to_string(s.patch.ny) +
                  ", " + std::to_string(s.patch.nx) + ", " + std::to_string(s.patch.nz) + ", 2]");
  }
}

} // namespace

double median(std::vector<double> values) {
  if (values.empty()) return std::nan("");
  std::sort(values.begin(), values.end());
  const size_t h = values.size() / 2;
  return values.size() % 2 ? values[h] : 0.5 * (values[h - 1] + values[h]);
}

double velocity_relative_error(const TorchBPPatch& patch, const torch::Tensor& velocity,
                               const torch::Tensor& solution) {
  const torch::NoGradGuard no_grad;
  return std::sqrt(relative_squared_misfit(patch, velocity.detach(), solution).item<double>());
}

void LossBalance::update(double data_norm, double physics_norm, double ratio) {
  if (!(physics_norm > 0 && data_norm > 0)) return;
  const double target = std::clamp(ratio * data_norm / physics_norm, 1e-3, 100.0);
  const double smoothed = set ? 0.9 * weight + 0.1 * target : target;
  weight = set ? std::clamp(smoothed, weight / 1.2, weight * 1.2) : smoothed;
  weight = std::clamp(weight, 1e-3, 100.0);
  set = true;
}

StepLosses accumulate_gradients(Emulator& model, const std::vector<const TrainingSample*>& batch,
                                const StepMode& mode, LossBalance& balance) {
  const std::vector<torch::Tensor> parameters = model.net()->parameters();
  const double n = double(batch.size());
  StepLosses out;
  // A balancing step keeps the hybrid samples' two gradients apart (summed
  // over the batch) until lambda is known.
  std::vector<torch::Tensor> sum_physics(parameters.size()), sum_data(parameters.size());
  double hybrid_physics = 0, hybrid_data = 0;
  bool hybrid = false;
  for (const TrainingSample* s : batch) {
    const torch::Tensor u = model.velocity(s->patch);
    const bool has_data = s->solution.defined();
    ++out.samples;
    if (has_data) ++out.data_samples;
    if (mode.loss == "data") {
      const torch::Tensor data = data_loss(s->patch, u, s->solution);
      {
        const torch::NoGradGuard no_grad;
        out.physics += physics_loss(model, s->patch, u.detach()).item<double>();
      }
      const double d = data.item<double>();
      out.data += d;
      out.total += d;
      (data / n).backward();
    } else if (mode.loss == "physics" || mode.physics_only || !has_data) {
      const torch::Tensor physics = physics_loss(model, s->patch, u);
      if (has_data) {
        const torch::NoGradGuard no_grad;
        out.data += data_loss(s->patch, u.detach(), s->solution).item<double>();
      }
      const double p = physics.item<double>();
      out.physics += p;
      out.total += p;
      (physics / n).backward();
    } else {
      const torch::Tensor physics = physics_loss(model, s->patch, u);
      const torch::Tensor data = data_loss(s->patch, u, s->solution);
      const double p = physics.item<double>(), d = data.item<double>();
      out.physics += p;
      out.data += d;
      if (mode.balance) {
        add_gradients(sum_physics, gradients(physics, parameters, /*retain=*/true));
        add_gradients(sum_data, gradients(data, parameters, /*retain=*/false));
        hybrid_physics += p;
        hybrid_data += d;
        hybrid = true;
      } else {
        out.total += d + balance.weight * p;
        ((data + balance.weight * physics) / n).backward();
      }
    }
  }
  if (!hybrid) return out;
  balance.update(norm(sum_data), norm(sum_physics), mode.balance_ratio);
  const double lambda = balance.weight;
  out.total += hybrid_data + lambda * hybrid_physics;
  const torch::NoGradGuard no_grad;
  for (size_t k = 0; k < parameters.size(); ++k) {
    torch::Tensor g = sum_data[k];
    if (sum_physics[k].defined())
      g = g.defined() ? g + lambda * sum_physics[k] : lambda * sum_physics[k];
    if (!g.defined()) continue;
    g = g / n;
    torch::Tensor& grad = parameters[k].mutable_grad();
    if (grad.defined())
      grad.add_(g);
    else
      grad = g;
  }
  return out;
}

Trainer::Trainer(Emulator& model, std::vector<TrainingSample> training,
                 std::vector<TrainingSample> validation, EpochOptions options)
    : m_model(model), m_training(std::move(training)), m_validation(std::move(validation)),
      m_options(std::move(options)) {
  check_options(m_options);
  if (m_training.empty()) throw Error("emulator.training: no training samples");
  const torch::TensorOptions tensor_options = m_training.front().patch.options();
  check_samples(m_model, m_training, "training", tensor_options);
  check_samples(m_model, m_validation, "validation", tensor_options);
  if (m_options.loss == "data")
    for (size_t k = 0; k < m_training.size(); ++k)
      if (!m_training[k].solution.defined())
        throw Error("emulator.training.loss data: training sample " + std::to_string(k) +
                    " has no solver solution (use loss physics, or hybrid)");
  for (const auto& s : m_validation) m_validation_solutions |= s.solution.defined();
  m_model.to(tensor_options);
  m_adam = std::make_unique<torch::optim::Adam>(m_model.net()->parameters(),
                                                torch::optim::AdamOptions(m_options.learning_rate));
}

Trainer::~Trainer() = default;

double Trainer::score(const EpochRecord& r) const {
  if (m_validation.empty()) return r.train_loss;
  if (m_options.loss != "physics" && m_validation_solutions) return r.validation_error;
  return r.validation_physics;
}

std::vector<torch::Tensor> Trainer::weights() const {
  std::vector<torch::Tensor> out;
  for (const auto& t : model_state(m_model)) out.push_back(t.detach().clone());
  return out;
}

EpochRecord Trainer::run_epoch() {
  if (finished())
    throw Error("emulator training: all " + std::to_string(m_options.epochs) +
                " epochs (emulator.training.epochs) are done");
  const auto start = std::chrono::steady_clock::now();
  EpochRecord record;
  record.epoch = epochs_done() + 1;
  record.learning_rate = learning_rate_at(m_options, record.epoch);
  static_cast<torch::optim::AdamOptions&>(m_adam->param_groups().front().options())
      .lr(record.learning_rate);
  const std::vector<size_t> order = epoch_order(m_training.size(), m_options.seed, record.epoch);
  StepMode mode;
  mode.loss = m_options.loss;
  mode.physics_only = m_options.loss == "hybrid" && record.epoch <= m_options.physics_warmup_epochs;
  mode.balance_ratio = m_options.balance_ratio;
  StepLosses sums;
  const size_t batch_size = size_t(m_options.batch_size);
  for (size_t first = 0; first < order.size(); first += batch_size) {
    std::vector<const TrainingSample*> batch;
    for (size_t k = first; k < std::min(first + batch_size, order.size()); ++k)
      batch.push_back(&m_training[order[k]]);
    mode.balance = !m_balance.set || m_steps % m_options.balance_every == 0;
    m_adam->zero_grad();
    const StepLosses step = accumulate_gradients(m_model, batch, mode, m_balance);
    m_adam->step();
    ++m_steps;
    sums.total += step.total;
    sums.physics += step.physics;
    sums.data += step.data;
    sums.samples += step.samples;
    sums.data_samples += step.data_samples;
  }
  const double nan = std::nan("");
  record.samples = sums.samples;
  record.weight = m_balance.weight;
  record.train_loss = sums.total / sums.samples;
  record.train_physics = sums.physics / sums.samples;
  record.train_data = sums.data_samples > 0 ? sums.data / sums.data_samples : nan;

  std::vector<double> errors;
  double physics = 0;
  {
    const torch::NoGradGuard no_grad;
    for (const auto& s : m_validation) {
      const torch::Tensor u = m_model.velocity(s.patch);
      physics += physics_loss(m_model, s.patch, u).item<double>();
      if (!s.solution.defined()) continue;
      errors.push_back(velocity_relative_error(s.patch, u, s.solution));
    }
  }
  record.validation_error = median(errors);
  record.validation_physics = m_validation.empty() ? nan : physics / double(m_validation.size());

  const double now = score(record);
  const double best = m_best_epoch > 0 ? score(m_history[size_t(m_best_epoch - 1)]) : nan;
  if (m_best_epoch == 0 || (!std::isnan(now) && (std::isnan(best) || now < best))) {
    m_best = weights();
    m_best_epoch = record.epoch;
  }
  record.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  m_history.push_back(record);
  return record;
}

void Trainer::save_best(const std::string& path) const {
  if (m_best_epoch == 0) throw Error("emulator training: no epoch done, no best model to write");
  // The model file format is Emulator::save's: swap the best weights in for
  // the write, and the current ones back.
  const std::vector<torch::Tensor> current = weights();
  set_model_state(m_model, m_best);
  try {
    m_model.save(path);
  } catch (...) {
    set_model_state(m_model, current);
    throw;
  }
  set_model_state(m_model, current);
}

void Trainer::save_checkpoint(const std::string& path) const {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    torch::serialize::OutputArchive archive;
    archive.write("kind", c10::IValue(std::string(checkpoint_kind)));
    archive.write("version", c10::IValue(int64_t(checkpoint_version)));
    archive.write("metadata", c10::IValue(m_model.metadata().to_text()));
    archive.write("options", c10::IValue(options_text(m_options)));
    archive.write("data", c10::IValue(data_text(m_training, m_validation)));
    torch::serialize::OutputArchive current, best, adam;
    const std::vector<torch::Tensor> now = weights();
    for (size_t k = 0; k < now.size(); ++k)
      current.write("w" + std::to_string(k), now[k].to(torch::kCPU));
    for (size_t k = 0; k < m_best.size(); ++k)
      best.write("w" + std::to_string(k), m_best[k].to(torch::kCPU));
    archive.write("weights", current);
    archive.write("best_weights", best);
    m_adam->save(adam);
    archive.write("adam", adam);
    const double state[] = {double(m_steps), m_balance.weight, m_balance.set ? 1.0 : 0.0,
                            double(m_best_epoch)};
    archive.write("state", torch::tensor(std::vector<double>(std::begin(state), std::end(state)),
                                         torch::kFloat64));
    std::vector<double> rows;
    for (const EpochRecord& r : m_history)
      rows.insert(rows.end(), {double(r.epoch), r.learning_rate, r.weight, r.train_loss,
                               r.train_physics, r.train_data, r.validation_error,
                               r.validation_physics, r.seconds, double(r.samples)});
    archive.write(
        "history",
        torch::tensor(rows, torch::kFloat64).view({int64_t(m_history.size()), history_columns}));
    archive.save_to(tmp);
  } catch (const c10::Error& e) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw Error("cannot write emulator checkpoint '" + path + "': " + e.what_without_backtrace());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw Error("cannot write emulator checkpoint '" + path + "': " + ec.message());
  }
}

void Trainer::resume(const std::string& path) {
  const std::string what = "emulator checkpoint '" + path + "'";
  if (!std::filesystem::is_regular_file(path)) throw Error(what + ": no such file");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    throw Error(what + " is not a LibTorch archive: " + e.what_without_backtrace());
  }
  const auto text = [&](const char* key) {
    c10::IValue value;
    if (!archive.try_read(key, value) || !value.isString())
      throw Error("'" + path + "' is not a nunatak emulator checkpoint (no " + key + ")");
    return value.toStringRef();
  };
  if (text("kind") != checkpoint_kind)
    throw Error("'" + path + "' is not a nunatak emulator checkpoint");
  c10::IValue version;
  if (!archive.try_read("version", version) || !version.isInt() ||
      version.toInt() != checkpoint_version)
    throw Error(what + " has another format version; this nunatak reads version " +
                std::to_string(checkpoint_version));
  std::vector<std::string> issues;
  compare_lines(text("options"), options_text(m_options), {}, issues);
  compare_lines(text("metadata"), m_model.metadata().to_text(),
                {"training", "dataset", "code_version"}, issues);
  compare_lines(text("data"), data_text(m_training, m_validation), {}, issues);
  if (!issues.empty()) {
    std::string list;
    for (const auto& i : issues) list += (list.empty() ? "" : "; ") + i;
    throw Error(what + " does not fit this run: " + list);
  }
  try {
    const std::vector<torch::Tensor> state = model_state(m_model);
    const auto read_weights = [&](const char* key) {
      torch::serialize::InputArchive weights;
      archive.read(key, weights);
      std::vector<torch::Tensor> out(state.size());
      for (size_t k = 0; k < state.size(); ++k) {
        weights.read("w" + std::to_string(k), out[k]);
        if (out[k].sizes() != state[k].sizes())
          throw Error(what + ": its " + key + " do not fit the model");
        out[k] = out[k].to(state[k].options());
      }
      return out;
    };
    const std::vector<torch::Tensor> current = read_weights("weights");
    torch::Tensor numbers, history;
    archive.read("state", numbers);
    archive.read("history", history);
    const std::vector<double> s = to_vector(numbers), h = to_vector(history);
    if (s.size() != 4 || h.size() % history_columns != 0)
      throw Error(what + ": its state is damaged");
    const int best_epoch = int(s[3]);
    std::vector<torch::Tensor> best;
    if (best_epoch > 0) best = read_weights("best_weights");
    torch::serialize::InputArchive adam;
    archive.read("adam", adam);
    m_adam->load(adam);
    set_model_state(m_model, current);
    m_steps = std::int64_t(s[0]);
    m_balance.weight = s[1];
    m_balance.set = s[2] != 0;
    m_best_epoch = best_epoch;
    m_best = std::move(best);
    m_history.clear();
    for (size_t r = 0; r < h.size(); r += history_columns) {
      EpochRecord e;
      e.epoch = int(h[r]);
      e.learning_rate = h[r + 1];
      e.weight = h[r + 2];
      e.train_loss = h[r + 3];
      e.train_physics = h[r + 4];
      e.train_data = h[r + 5];
      e.validation_error = h[r + 6];
      e.validation_physics = h[r + 7];
      e.seconds = h[r + 8];
      e.samples = int(h[r + 9]);
      m_history.push_back(e);
    }
  } catch (const c10::Error& e) {
    throw Error(what + " cannot be read: " + e.what_without_backtrace());
  }
}

} // namespace nunatak::emulator
