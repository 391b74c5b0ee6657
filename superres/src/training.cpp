// The network's layers, the mass-conserving scaling in torch, and training
// (superres.hpp, network.hpp).

#include "network.hpp"

#include "nunatak/core/error.hpp"

#include <torch/nn/functional.h>
#include <torch/optim/adam.h>

#include <chrono>
#include <cmath>
#include <numeric>
#include <random>

namespace nunatak::superres {

namespace F = torch::nn::functional;

ResidualBlockImpl::ResidualBlockImpl(int width) {
  a = register_module("a", torch::nn::Conv2d(torch::nn::Conv2dOptions(width, width, 3).padding(1)));
  b = register_module("b", torch::nn::Conv2d(torch::nn::Conv2dOptions(width, width, 3).padding(1)));
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x) {
  return x + b->forward(torch::gelu(a->forward(x)));
}

SuperResNetImpl::SuperResNetImpl(int inputs, int width, int depth) {
  first = register_module("first",
                          torch::nn::Conv2d(torch::nn::Conv2dOptions(inputs, width, 3).padding(1)));
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int k = 0; k < depth; ++k) blocks->push_back(ResidualBlock(width));
  last = register_module("last", torch::nn::Conv2d(torch::nn::Conv2dOptions(width, 2, 1)));
  // Zero corrections at the start: the untrained model is bicubic interpolation.
  const torch::NoGradGuard no_grad;
  last->weight.zero_();
  last->bias.zero_();
}

torch::Tensor SuperResNetImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = torch::gelu(first->forward(x));
  for (const auto& block : *blocks) y = block->as<ResidualBlock>()->forward(y);
  return last->forward(y);
}

torch::Tensor conserve_volume(const torch::Tensor& h, const torch::Tensor& coarse, int factor) {
  const int64_t ny = h.size(2), nx = h.size(3), nyc = coarse.size(2), nxc = coarse.size(3);
  const int64_t py = nyc * factor - ny, px = nxc * factor - nx;
  // Cells outside the grid count as ice-free (core::Coarsening::volume).
  const torch::Tensor padded = F::pad(h, F::PadFuncOptions({0, px, 0, py}));
  const torch::Tensor inside = F::pad(torch::ones_like(h), F::PadFuncOptions({0, px, 0, py}));
  const torch::Tensor mean = F::avg_pool2d(padded, F::AvgPool2dFuncOptions(factor));
  const torch::Tensor share = F::avg_pool2d(inside, F::AvgPool2dFuncOptions(factor));
  const auto up = [&](const torch::Tensor& t) {
    return t.repeat_interleave(factor, 2).repeat_interleave(factor, 3).narrow(2, 0, ny).narrow(3, 0,
                                                                                               nx);
  };
  const torch::Tensor icy = mean > 0;
  const torch::Tensor ratio = coarse / torch::where(icy, mean, torch::ones_like(mean));
  return torch::where(up(icy), h * up(ratio), up(coarse / share));
}

TrainingReport Model::train(const std::vector<Snapshot>& training,
                            const std::vector<Snapshot>& validation, const TrainingOptions& o,
                            const std::function<void(int, double, double)>& progress) {
  if (training.empty()) throw Error("superres train: no training snapshots");
  if (o.epochs < 1 || o.batch_size < 1 || !(o.learning_rate > 0) || !(o.final_learning_rate > 0))
    throw Error("superres train: epochs >= 1, batch_size >= 1 and learning rates > 0");
  const auto start = std::chrono::steady_clock::now();
  const Metadata& m = m_metadata;
  const int K = m.factor;
  const core::Grid coarse = coarse_grid();
  struct Batchable {
    torch::Tensor raw, normalised, target, coarse;
  };
  const auto prepare = [&](const std::vector<Snapshot>& set) {
    std::vector<Batchable> out;
    for (const auto& s : set) {
      Inputs in = make_inputs(m, s);
      std::vector<float> c(s.coarse_thickness.begin(), s.coarse_thickness.end());
      for (float& x : c) x = float(x / thickness_scale);
      out.push_back(
          {in.raw, normalise(m, in.raw), fine_targets(m, s),
           torch::from_blob(c.data(), {1, 1, coarse.ny(), coarse.nx()}, torch::kFloat32).clone()});
    }
    return out;
  };
  const std::vector<Batchable> train_set = prepare(training), valid_set = prepare(validation);
  const auto loss_of = [&](const std::vector<const Batchable*>& batch,
                           const std::vector<int64_t>& mirror = {}) {
    std::vector<torch::Tensor> raw, norm, target, c;
    for (const auto* b : batch) {
      raw.push_back(b->raw);
      norm.push_back(b->normalised);
      target.push_back(b->target);
      c.push_back(b->coarse);
    }
    const auto flipped = [&](const torch::Tensor& x) {
      return mirror.empty() ? x : torch::flip(x, mirror);
    };
    const torch::Tensor t = flipped(torch::cat(target, 0));
    torch::Tensor out =
        scaled_outputs(m_impl->net, flipped(torch::cat(raw, 0)), flipped(torch::cat(norm, 0)));
    torch::Tensor h = out.narrow(1, 0, 1);
    if (m.conserve_mass) h = conserve_volume(h, flipped(torch::cat(c, 0)), K);
    return F::mse_loss(h, t.narrow(1, 0, 1)) + F::mse_loss(out.narrow(1, 1, 1), t.narrow(1, 1, 1));
  };
  const auto evaluate = [&](const std::vector<Batchable>& set) {
    const torch::NoGradGuard no_grad;
    m_impl->net->eval();
    double sum = 0;
    for (const auto& b : set) sum += loss_of({&b}).item<double>();
    return set.empty() ? NAN : sum / double(set.size());
  };

  torch::optim::Adam adam(m_impl->net->parameters(), torch::optim::AdamOptions(o.learning_rate));
  TrainingReport report;
  double best = INFINITY;
  std::vector<torch::Tensor> best_weights;
  std::vector<size_t> order(train_set.size());
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    // Cosine learning rate from learning_rate to final_learning_rate.
    const double f = o.epochs > 1 ? double(epoch) / double(o.epochs - 1) : 1.0;
    const double lr = o.final_learning_rate +
                      0.5 * (o.learning_rate - o.final_learning_rate) * (1 + std::cos(M_PI * f));
    for (auto& group : adam.param_groups())
      static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr);
    std::iota(order.begin(), order.end(), size_t(0));
    std::mt19937_64 rng(o.seed * 1000003ULL + std::uint64_t(epoch));
    std::shuffle(order.begin(), order.end(), rng);
    m_impl->net->train();
    double sum = 0;
    int batches = 0;
    for (size_t first = 0; first < order.size(); first += size_t(o.batch_size)) {
      std::vector<const Batchable*> batch;
      for (size_t k = first; k < std::min(order.size(), first + size_t(o.batch_size)); ++k)
        batch.push_back(&train_set[order[k]]);
      std::vector<int64_t> mirror;
      if (o.augment) {
        const int pick = std::uniform_int_distribution<int>(0, 3)(rng);
        const bool align_y = !m.conserve_mass || m.fine.ny() % K == 0,
                   align_x = !m.conserve_mass || m.fine.nx() % K == 0;
        if ((pick & 1) && align_y) mirror.push_back(2);
        if ((pick & 2) && align_x) mirror.push_back(3);
      }
      adam.zero_grad();
      const torch::Tensor loss = loss_of(batch, mirror);
      loss.backward();
      adam.step();
      sum += loss.item<double>();
      ++batches;
    }
    report.training_loss.push_back(sum / batches);
    const double v = valid_set.empty() ? report.training_loss.back() : evaluate(valid_set);
    report.validation_loss.push_back(v);
    if (v < best) {
      best = v;
      report.best_epoch = epoch;
      best_weights.clear();
      for (const auto& p : m_impl->net->parameters()) best_weights.push_back(p.detach().clone());
    }
    if (progress) progress(epoch, report.training_loss.back(), v);
  }
  if (best_weights.empty())
    throw Error("superres train: the loss is not a number from the first epoch on (diverged; "
                "try a smaller superres.learning_rate)");
  {
    const torch::NoGradGuard no_grad;
    const auto params = m_impl->net->parameters();
    for (size_t k = 0; k < params.size(); ++k) params[k].copy_(best_weights[k]);
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

} // namespace nunatak::superres
