/// \file network.cpp
/// The emulator network (see network.hpp): input channels, the plain CNN and
/// the U-Net, the masked velocity, the model file, the losses, and the
/// step-based training loop (its gradient step is trainer.cpp's).

#include "nunatak/emulator/network.hpp"

#include "grid_ops.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/emulator/membrane_reference.hpp"
#include "nunatak/emulator/trainer.hpp"

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/pooling.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/nn/modules/conv.h>
#include <torch/optim/adam.h>
#include <torch/serialize.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <unistd.h>

namespace nunatak::emulator {

namespace F = torch::nn::functional;

namespace {

const char* const archive_kind = "nunatak-bp-emulator";
const int archive_version = 1;

/// A 3x3 convolution that pads by replicating the edge.
torch::nn::Conv2d conv3(int in, int out) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, 3).padding(1).padding_mode(torch::kReplicate));
}

torch::Tensor activation(const torch::Tensor& x) {
  return F::leaky_relu(x, F::LeakyReLUFuncOptions().negative_slope(0.01));
}

std::string join(const std::vector<double>& v) {
  std::ostringstream s;
  s << std::setprecision(17);
  for (size_t k = 0; k < v.size(); ++k) s << (k ? " " : "") << v[k];
  return s.str();
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (size_t k = 0; k < v.size(); ++k) s += (k ? " " : "") + v[k];
  return s;
}

std::string number(double v) {
  std::ostringstream s;
  s << std::setprecision(17) << v;
  return s.str();
}

/// One line's value with newlines escaped, and back.
std::string escape(const std::string& text) {
  std::string out;
  for (char c : text)
    out += c == '\n' ? std::string("\\n") : c == '\\' ? "\\\\" : std::string(1, c);
  return out;
}

std::string unescape(const std::string& text) {
  std::string out;
  for (size_t k = 0; k < text.size(); ++k) {
    if (text[k] == '\\' && k + 1 < text.size()) {
      out += text[k + 1] == 'n' ? '\n' : text[k + 1];
      ++k;
    } else {
      out += text[k];
    }
  }
  return out;
}

using detail::centred_difference;

} // namespace

const std::vector<std::string>& emulator_input_names() {
  static const std::vector<std::string> names = {"thickness",
                                                 "surface_slope_x",
                                                 "surface_slope_y",
                                                 "bed_fixed",
                                                 "log10_1_plus_beta2",
                                                 "log10_hardness",
                                                 "log10_dx",
                                                 "icy",
                                                 "log10_thickness_over_dx",
                                                 "log10_deformation_speed",
                                                 "log10_sliding_speed",
                                                 "log10_membrane_speed",
                                                 "membrane_deformation_share",
                                                 "membrane_imbalance_along",
                                                 "membrane_imbalance_across"};
  return names;
}

const std::vector<std::string>& emulator_output_scalings() {
  static const std::vector<std::string> names = {"constant", "shallow_ice", "flow_aligned",
                                                 "log_speed", "membrane"};
  return names;
}

int emulator_output_channels(const EmulatorMetadata& m) {
  const bool log_channel = m.output_scaling == "log_speed" || m.output_scaling == "membrane";
  return 2 * int(m.sigma.size()) + (log_channel ? 1 : 0);
}

std::string EmulatorMetadata::to_text() const {
  std::ostringstream s;
  s << "kind: " << archive_kind << "\n"
    << "version: " << archive_version << "\n"
    << "architecture: " << architecture << "\n"
    << "width: " << width << "\n"
    << "depth: " << depth << "\n"
    << "sigma: " << join(sigma) << "\n"
    << "inputs: " << join(inputs) << "\n"
    << "input_mean: " << join(input_mean) << "\n"
    << "input_std: " << join(input_std) << "\n"
    << "velocity_scale: " << number(velocity_scale) << "\n"
    << "output_scaling: " << output_scaling << "\n"
    << "membrane_viscosity: " << membrane_viscosity << "\n"
    << "glen_exponent: " << number(glen_exponent) << "\n"
    << "ice_density: " << number(ice_density) << "\n"
    << "gravity: " << number(gravity) << "\n"
    << "sea_water_density: " << number(sea_water_density) << "\n"
    << "friction_exponent: " << number(friction_exponent) << "\n"
    << "minimum_thickness: " << number(minimum_thickness) << "\n"
    << "training: " << escape(training) << "\n"
    << "dataset: " << escape(dataset) << "\n"
    << "code_version: " << escape(code_version) << "\n";
  return s.str();
}

EmulatorMetadata EmulatorMetadata::from_text(const std::string& text, const std::string& source) {
  EmulatorMetadata m;
  m.sigma.clear();
  std::istringstream lines(text);
  bool kind_seen = false;
  for (std::string line; std::getline(lines, line);) {
    const size_t colon = line.find(": ");
    const std::string key = line.substr(0, colon);
    const std::string value = colon == std::string::npos ? "" : line.substr(colon + 2);
    std::istringstream v(value);
    const auto reals = [&] {
      std::vector<double> out;
      for (double x; v >> x;) out.push_back(x);
      return out;
    };
    const auto real = [&] {
      double x = 0;
      if (!(v >> x) || !std::isfinite(x))
        throw Error("emulator model '" + source + "': '" + key + "' is not a number: '" + value +
                    "'");
      return x;
    };
    if (key == "kind") {
      if (value != archive_kind)
        throw Error("'" + source + "' is not a nunatak emulator model (kind '" + value + "')");
      kind_seen = true;
    } else if (key == "version") {
      if (int(real()) != archive_version)
        throw Error("emulator model '" + source + "' has format version " + value +
                    "; this nunatak reads version " + std::to_string(archive_version));
    } else if (key == "architecture") {
      m.architecture = value;
    } else if (key == "width") {
      m.width = int(real());
    } else if (key == "depth") {
      m.depth = int(real());
    } else if (key == "sigma") {
      m.sigma = reals();
    } else if (key == "inputs") {
      m.inputs.clear();
      for (std::string name; v >> name;) m.inputs.push_back(name);
    } else if (key == "input_mean") {
      m.input_mean = reals();
    } else if (key == "input_std") {
      m.input_std = reals();
    } else if (key == "velocity_scale") {
      m.velocity_scale = real();
    } else if (key == "output_scaling") {
      m.output_scaling = value;
    } else if (key == "membrane_viscosity") {
      m.membrane_viscosity = value;
    } else if (key == "glen_exponent") {
      m.glen_exponent = real();
    } else if (key == "ice_density") {
      m.ice_density = real();
    } else if (key == "gravity") {
      m.gravity = real();
    } else if (key == "sea_water_density") {
      m.sea_water_density = real();
    } else if (key == "friction_exponent") {
      m.friction_exponent = real();
    } else if (key == "minimum_thickness") {
      m.minimum_thickness = real();
    } else if (key == "training") {
      m.training = unescape(value);
    } else if (key == "dataset") {
      m.dataset = unescape(value);
    } else if (key == "code_version") {
      m.code_version = unescape(value);
    } else if (!line.empty()) {
      throw Error("emulator model '" + source + "': unknown metadata key '" + key + "'");
    }
  }
  if (!kind_seen) throw Error("'" + source + "' is not a nunatak emulator model (no kind)");
  const size_t c = m.inputs.size();
  if (m.architecture != "cnn" && m.architecture != "unet")
    throw Error("emulator model '" + source + "': architecture '" + m.architecture +
                "' is neither cnn nor unet");
  const auto& scalings = emulator_output_scalings();
  if (std::find(scalings.begin(), scalings.end(), m.output_scaling) == scalings.end())
    throw Error("emulator model '" + source + "': output_scaling '" + m.output_scaling +
                "' is not one of " + join(scalings));
  const auto& viscosities = membrane_viscosities();
  if (std::find(viscosities.begin(), viscosities.end(), m.membrane_viscosity) == viscosities.end())
    throw Error("emulator model '" + source + "': membrane_viscosity '" + m.membrane_viscosity +
                "' is not one of " + join(viscosities));
  const auto& known = emulator_input_names();
  for (const std::string& name : m.inputs)
    if (std::find(known.begin(), known.end(), name) == known.end())
      throw Error("emulator model '" + source + "': unknown input channel '" + name +
                  "' (this nunatak computes " + join(known) + ")");
  if (std::find(m.inputs.begin(), m.inputs.end(), "icy") == m.inputs.end())
    throw Error("emulator model '" + source + "': the inputs lack the 'icy' channel");
  if (m.width < 1 || m.depth < 1 || m.sigma.size() < 2 || c == 0 || m.input_mean.size() != c ||
      m.input_std.size() != c || !(m.velocity_scale > 0))
    throw Error("emulator model '" + source +
                "': inconsistent metadata (width, depth, levels, inputs or normalisation)");
  return m;
}

EmulatorMetadata emulator_metadata_for(const TorchBPPatch& patch, const std::string& architecture,
                                       int width, int depth) {
  if (architecture != "cnn" && architecture != "unet")
    throw Error("emulator architecture '" + architecture + "': use cnn or unet");
  if (width < 1 || depth < 1) throw Error("emulator width and depth must be at least 1");
  EmulatorMetadata m;
  m.architecture = architecture;
  m.width = width;
  m.depth = depth;
  m.sigma = to_vector(patch.sigma);
  m.inputs = emulator_input_names();
  m.input_mean.assign(m.inputs.size(), 0.0);
  m.input_std.assign(m.inputs.size(), 1.0);
  const core::BPConstants& c = patch.constants;
  m.glen_exponent = c.glen_exponent;
  m.gravity = 9.81;
  m.ice_density = c.rho_g / m.gravity;
  m.sea_water_density = c.water_ratio * m.ice_density;
  m.friction_exponent = c.friction_exponent;
  m.minimum_thickness = c.minimum_thickness;
  return m;
}

void check_compatible(const EmulatorMetadata& model, const EmulatorMetadata& run,
                      const std::string& model_source) {
  std::vector<std::string> issues;
  const auto differ = [](double a, double b) {
    return std::abs(a - b) > 1e-9 * std::max(std::abs(a), std::abs(b));
  };
  const auto compare = [&](const char* key, double a, double b) {
    if (differ(a, b))
      issues.push_back(std::string(key) + " " + number(a) + " in the model, " + number(b) +
                       " in the run");
  };
  if (model.sigma.size() != run.sigma.size()) {
    issues.push_back("levels " + std::to_string(model.sigma.size()) + " in the model, " +
                     std::to_string(run.sigma.size()) + " in the run");
  } else {
    for (size_t k = 0; k < model.sigma.size(); ++k)
      if (differ(model.sigma[k], run.sigma[k])) {
        issues.push_back("sigma levels (" + join(model.sigma) + ") in the model, (" +
                         join(run.sigma) + ") in the run");
        break;
      }
  }
  compare("glen_exponent", model.glen_exponent, run.glen_exponent);
  compare("ice_density", model.ice_density * model.gravity, run.ice_density * run.gravity);
  compare("sea_water_density", model.sea_water_density, run.sea_water_density);
  compare("friction_exponent", model.friction_exponent, run.friction_exponent);
  compare("minimum_thickness", model.minimum_thickness, run.minimum_thickness);
  if (model.inputs != run.inputs)
    issues.push_back("inputs (" + join(model.inputs) + ") in the model, (" + join(run.inputs) +
                     ") in the run");
  if (issues.empty()) return;
  std::string text;
  for (const auto& i : issues) text += (text.empty() ? "" : "; ") + i;
  throw Error("emulator model '" + model_source + "' does not fit this run: " + text);
}

EmulatorNetImpl::EmulatorNetImpl(const EmulatorMetadata& m) {
  const int inputs = int(m.inputs.size()), outputs = emulator_output_channels(m);
  m_unet = m.architecture == "unet";
  m_layers = register_module("layers", torch::nn::ModuleList());
  m_down = register_module("down", torch::nn::ModuleList());
  m_up = register_module("up", torch::nn::ModuleList());
  if (!m_unet) {
    // IGM-like: depth 3x3 convolutions of `width` channels, then a 1x1 head.
    int in = inputs;
    for (int l = 0; l < m.depth; ++l, in = m.width) m_layers->push_back(conv3(in, m.width));
    m_head = register_module("head", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, outputs, 1)));
    return;
  }
  // U-Net: level l has width 2^l (capped at 8 width) channels, two 3x3
  // convolutions on the way down (m_down: 2 per level) and two on the way up
  // (m_up: 2 per level below the deepest), average pooling and bilinear
  // upsampling to the skip's exact size (any grid size).
  const auto channels = [&](int l) { return m.width * std::min(1 << l, 8); };
  int in = inputs;
  for (int l = 0; l < m.depth; ++l) {
    m_down->push_back(conv3(in, channels(l)));
    m_down->push_back(conv3(channels(l), channels(l)));
    in = channels(l);
  }
  for (int l = m.depth - 2; l >= 0; --l) {
    m_up->push_back(conv3(channels(l + 1) + channels(l), channels(l)));
    m_up->push_back(conv3(channels(l), channels(l)));
  }
  m_head =
      register_module("head", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels(0), outputs, 1)));
}

torch::Tensor EmulatorNetImpl::forward(const torch::Tensor& inputs) {
  return m_unet ? forward_unet(inputs) : forward_cnn(inputs);
}

torch::Tensor EmulatorNetImpl::forward_cnn(const torch::Tensor& inputs) {
  torch::Tensor x = inputs;
  for (const auto& layer : *m_layers) x = activation(layer->as<torch::nn::Conv2d>()->forward(x));
  return m_head->forward(x);
}

torch::Tensor EmulatorNetImpl::forward_unet(const torch::Tensor& inputs) {
  const int levels = int(m_down->size() / 2);
  std::vector<torch::Tensor> skips;
  torch::Tensor x = inputs;
  for (int l = 0; l < levels; ++l) {
    if (l > 0) {
      skips.push_back(x);
      // Halve the grid (a 1-cell dimension stays 1): ceil so that odd sizes keep their edge.
      x = F::avg_pool2d(x, F::AvgPool2dFuncOptions(2).ceil_mode(true).count_include_pad(false));
    }
    x = activation(m_down[size_t(2 * l)]->as<torch::nn::Conv2d>()->forward(x));
    x = activation(m_down[size_t(2 * l + 1)]->as<torch::nn::Conv2d>()->forward(x));
  }
  for (int u = 0; u < levels - 1; ++u) {
    const torch::Tensor skip = skips.back();
    skips.pop_back();
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{skip.size(2), skip.size(3)})
                              .mode(torch::kBilinear)
                              .align_corners(false));
    x = torch::cat({x, skip}, 1);
    x = activation(m_up[size_t(2 * u)]->as<torch::nn::Conv2d>()->forward(x));
    x = activation(m_up[size_t(2 * u + 1)]->as<torch::nn::Conv2d>()->forward(x));
  }
  return m_head->forward(x);
}

Emulator::Emulator(EmulatorMetadata metadata, std::uint64_t seed)
    : m_metadata(std::move(metadata)) {
  torch::manual_seed(seed);
  m_net = EmulatorNet(m_metadata);
  m_net->to(torch::kFloat64);
  if (m_metadata.output_scaling == "membrane") {
    // A correction to the reference starts at none: the head's weights are
    // 0, so a new model returns the membrane reference itself, and training
    // moves away from it only where the data (or the energy) ask.
    const torch::NoGradGuard no_grad;
    for (auto& item : m_net->named_parameters())
      if (item.key().rfind("head.", 0) == 0) item.value().zero_();
  }
}

void Emulator::to(const torch::TensorOptions& options) {
  m_net->to(options.device(), options.dtype().toScalarType());
}

namespace {
/// Pa a m^-1: the friction coefficient below which the reference sliding
/// speed tau / beta^2 stops growing (the low end of the data set's range).
constexpr double minimum_beta2 = 100.0;

/// The local shallow-ice speeds of each column, [ny, nx] in m/a: deformation
/// U_d = 2 A tau^n H / (n + 1) and, where the bed slides, U_b = tau /
/// max(beta^2, 100 Pa a/m), with tau = rho g H |grad s| (centred
/// differences), A = B^-n from the column-mean hardness; 0 off the ice.
std::pair<torch::Tensor, torch::Tensor> local_shallow_ice_speeds(const TorchBPPatch& p) {
  const double n = p.constants.glen_exponent;
  const torch::Tensor s = p.bed + p.thickness;
  const torch::Tensor sx = centred_difference(s, 1, p.dx), sy = centred_difference(s, 0, p.dy);
  const torch::Tensor slope = torch::sqrt(sx * sx + sy * sy + 1e-30);
  const torch::Tensor icy = p.free_nodes.select(2, p.nz - 1);
  const torch::Tensor A = torch::pow(p.hardness.mean(2), -n); // Pa^-n a^-1
  const torch::Tensor H = p.thickness * icy;
  const torch::Tensor tau = p.constants.rho_g * H * slope; // driving stress, Pa
  const torch::Tensor sliding = p.free_nodes.select(2, 0) * icy;
  return {2.0 * A * torch::pow(tau, n) * H / (n + 1.0),
          sliding * tau / torch::clamp_min(p.beta2, minimum_beta2)};
}
} // namespace

torch::Tensor Emulator::raw_inputs(const TorchBPPatch& p) const {
  const auto options = p.options();
  const torch::Tensor H = p.thickness, s = p.bed + p.thickness;
  const torch::Tensor free_bed = p.free_nodes.select(2, 0);
  const torch::Tensor icy = p.free_nodes.select(2, p.nz - 1);
  std::optional<std::pair<torch::Tensor, torch::Tensor>> speeds; // computed once, if asked for
  torch::Tensor imbalance;                                       // likewise
  const MembraneOptions membrane = membrane_options(m_metadata);
  const auto channel = [&](const std::string& name) -> torch::Tensor {
    if (name == "thickness") return H;
    if (name == "surface_slope_x") return centred_difference(s, 1, p.dx);
    if (name == "surface_slope_y") return centred_difference(s, 0, p.dy);
    if (name == "bed_fixed") return icy * (1.0 - free_bed);
    if (name == "log10_1_plus_beta2") return torch::log10(1.0 + torch::clamp_min(p.beta2, 0.0));
    if (name == "log10_hardness") return torch::log10(p.hardness.mean(2));
    if (name == "log10_dx") return torch::full_like(H, std::log10(p.dx));
    if (name == "icy") return icy;
    // Scale-free combinations: how many columns an ice thickness spans (the
    // reach of membrane stresses), and the local shallow-ice speeds (floored
    // at 1e-6 m/a: no sliding, flat ice), whose logs span the data set's
    // five decades of speed.
    if (name == "log10_thickness_over_dx")
      return torch::log10(torch::clamp_min(H * icy, 1.0) / std::sqrt(p.dx * p.dy));
    if (!speeds) speeds = local_shallow_ice_speeds(p);
    if (name == "log10_deformation_speed")
      return torch::log10(torch::clamp_min(speeds->first, 1e-6));
    if (name == "log10_sliding_speed") return torch::log10(torch::clamp_min(speeds->second, 1e-6));
    // The non-local membrane balance (membrane_reference.hpp).
    if (name == "log10_membrane_speed")
      return torch::log10(torch::clamp_min(
                 torch::sqrt(membrane_velocity(p, membrane).pow(2).sum(2) + 1e-24), 1e-6)) *
             icy;
    if (name == "membrane_deformation_share") return membrane_deformation_share(p, membrane) * icy;
    if (name == "membrane_imbalance_along" || name == "membrane_imbalance_across") {
      if (!imbalance.defined()) imbalance = membrane_imbalance(p, membrane);
      return imbalance.select(2, name == "membrane_imbalance_along" ? 0 : 1);
    }
    throw Error("emulator: unknown input channel '" + name + "'");
  };
  std::vector<torch::Tensor> channels;
  for (const std::string& name : m_metadata.inputs) channels.push_back(channel(name));
  return torch::stack(channels, 0).unsqueeze(0).to(options);
}

torch::Tensor Emulator::inputs(const TorchBPPatch& p) const {
  const auto options = p.options();
  const int64_t c = int64_t(m_metadata.inputs.size());
  const torch::Tensor mean = torch::tensor(m_metadata.input_mean, torch::kFloat64).to(options);
  const torch::Tensor std = torch::tensor(m_metadata.input_std, torch::kFloat64).to(options);
  return (raw_inputs(p) - mean.view({1, c, 1, 1})) / std.view({1, c, 1, 1});
}

torch::Tensor Emulator::reference_speed(const TorchBPPatch& p) const {
  const auto options = p.options();
  if (m_metadata.output_scaling == "constant")
    return torch::full({p.ny, p.nx}, m_metadata.velocity_scale, options);
  if (m_metadata.output_scaling == "membrane")
    return m_metadata.velocity_scale *
           torch::clamp_min(
               torch::sqrt(membrane_velocity(p, membrane_options(m_metadata)).pow(2).sum(2) +
                           1e-24),
               1e-6);
  const torch::Tensor icy = p.free_nodes.select(2, p.nz - 1);
  const auto speeds = local_shallow_ice_speeds(p);
  const torch::Tensor mean = detail::icy_mean_5x5(speeds.first + speeds.second, icy);
  return m_metadata.velocity_scale * torch::clamp_min(mean, 1e-6);
}

torch::Tensor shallow_ice_velocity(const TorchBPPatch& p) {
  // u(z) = -(U_d (1 - (1 - sigma)^(n+1)) + U_b) grad s / |grad s|: the
  // deformation profile of the slab plus uniform sliding.
  const double n = p.constants.glen_exponent;
  const auto [deformation, sliding] = local_shallow_ice_speeds(p);
  const torch::Tensor s = p.bed + p.thickness;
  const torch::Tensor sx = centred_difference(s, 1, p.dx), sy = centred_difference(s, 0, p.dy);
  const torch::Tensor slope = torch::sqrt(sx * sx + sy * sy + 1e-30);
  const torch::Tensor profile = 1.0 - torch::pow(1.0 - p.sigma.view({1, 1, p.nz}), n + 1.0);
  const torch::Tensor speed = deformation.unsqueeze(2) * profile + sliding.unsqueeze(2);
  const torch::Tensor u =
      torch::stack({-speed * (sx / slope).unsqueeze(2), -speed * (sy / slope).unsqueeze(2)}, 3);
  return u * p.free_nodes.unsqueeze(3);
}

torch::Tensor Emulator::downhill_direction(const TorchBPPatch& p) const {
  const torch::Tensor s = p.bed + p.thickness;
  const torch::Tensor icy = p.free_nodes.select(2, p.nz - 1);
  const torch::Tensor g =
      torch::stack({centred_difference(s, 1, p.dx) * icy, centred_difference(s, 0, p.dy) * icy}, 0);
  namespace F = torch::nn::functional;
  const auto pool = F::AvgPool2dFuncOptions(5).stride(1).padding(2).count_include_pad(false);
  const torch::Tensor mean = F::avg_pool2d(g.unsqueeze(0), pool).squeeze(0); // [2, ny, nx]
  const torch::Tensor norm = torch::sqrt(mean.pow(2).sum(0) + 1e-12);
  return (-mean / norm).permute({1, 2, 0}); // [ny, nx, 2]
}

MembraneOptions membrane_options(const EmulatorMetadata& m) {
  MembraneOptions o;
  o.viscosity = m.membrane_viscosity;
  return o;
}

bool uses_membrane(const EmulatorMetadata& m) {
  return m.output_scaling == "membrane" ||
         std::any_of(m.inputs.begin(), m.inputs.end(), [](const std::string& name) {
           return name.find("membrane") != std::string::npos;
         });
}

void check_has_membrane_reference(const EmulatorMetadata& m, const std::string& source) {
  if (!uses_membrane(m))
    throw Error("emulator.output: reference needs a model that corrects or reads the membrane "
                "reference (output_scaling: membrane, or a membrane input); '" +
                source + "' uses no membrane reference");
}

torch::Tensor Emulator::velocity(const TorchBPPatch& patch) {
  if (int(m_metadata.sigma.size()) != patch.nz)
    throw Error("emulator: the model has " + std::to_string(m_metadata.sigma.size()) +
                " levels, the patch " + std::to_string(patch.nz));
  // The membrane reference is solved once per call (inputs, speed and frame
  // share it), unless the caller cached it.
  TorchBPPatch solved;
  const bool solve = uses_membrane(m_metadata) && !patch.membrane.defined();
  if (solve) {
    solved = patch;
    cache_membrane(solved, membrane_options(m_metadata));
  }
  const TorchBPPatch& p = solve ? solved : patch;
  const torch::Tensor out = m_net->forward(inputs(p)).squeeze(0); // [2 nz (+1), ny, nx]
  torch::Tensor u = out.narrow(0, 0, 2 * p.nz).view({p.nz, 2, p.ny, p.nx}).permute({2, 3, 0, 1});
  torch::Tensor speed = reference_speed(p);
  const bool membrane = m_metadata.output_scaling == "membrane";
  if (m_metadata.output_scaling == "log_speed" || membrane) {
    // The last channel g scales each column's speed by exp(g): the network
    // sets the speed's decade in log space and the level channels its shape.
    // g is clamped to [-20, 10] so that no column overflows.
    speed = speed * torch::exp(torch::clamp(out[2 * p.nz], -20.0, 10.0));
  }
  if (m_metadata.output_scaling == "flow_aligned" || m_metadata.output_scaling == "log_speed" ||
      membrane) {
    // Channels (a, b): along and across the downhill direction d, or, for
    // membrane, the membrane velocity's direction, a added to the membrane
    // profile (so that zero outputs give the membrane velocity itself).
    torch::Tensor d;
    torch::Tensor a = u.select(3, 0), b = u.select(3, 1);
    if (membrane) {
      const torch::Tensor ubar = membrane_velocity(p, membrane_options(m_metadata));
      d = (ubar / torch::sqrt(ubar.pow(2).sum(2, true) + 1e-24)).unsqueeze(2);
      a = a + membrane_profile(p, membrane_options(m_metadata));
    } else {
      d = downhill_direction(p).unsqueeze(2); // [ny, nx, 1, 2]
    }
    const torch::Tensor dx = d.select(3, 0), dy = d.select(3, 1);
    u = torch::stack({a * dx - b * dy, a * dy + b * dx}, 3);
  }
  return u * speed.unsqueeze(2).unsqueeze(3) * p.free_nodes.unsqueeze(3);
}

void Emulator::save(const std::string& path) const {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    torch::serialize::OutputArchive archive;
    m_net->save(archive);
    archive.write("nunatak_metadata", c10::IValue(m_metadata.to_text()));
    archive.save_to(tmp);
  } catch (const c10::Error& e) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw Error("cannot write emulator model '" + path + "': " + e.what_without_backtrace());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw Error("cannot write emulator model '" + path + "': " + ec.message());
  }
}

namespace {
/// The dtype of the first tensor stored in `archive` (searching sub-archives).
std::optional<torch::Dtype> stored_dtype(torch::serialize::InputArchive& archive) {
  for (const std::string& key : archive.keys()) {
    torch::Tensor t;
    if (archive.try_read(key, t)) return t.scalar_type();
    torch::serialize::InputArchive sub;
    if (archive.try_read(key, sub))
      if (auto d = stored_dtype(sub)) return d;
  }
  return std::nullopt;
}
} // namespace

Emulator Emulator::load(const std::string& path) {
  if (!std::filesystem::is_regular_file(path))
    throw Error("emulator model '" + path + "': no such file");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    throw Error("emulator model '" + path +
                "' is not a LibTorch archive: " + e.what_without_backtrace());
  }
  c10::IValue text;
  if (!archive.try_read("nunatak_metadata", text) || !text.isString())
    throw Error("'" + path + "' is a LibTorch archive but not a nunatak emulator model");
  Emulator model(EmulatorMetadata::from_text(text.toStringRef(), path), 0);
  try {
    // LibTorch's load shares the stored tensors' memory (Tensor::set_),
    // which reinterprets it when the dtypes differ: load in the stored dtype
    // (single-precision training writes floats), then convert to double.
    model.m_net->to(stored_dtype(archive).value_or(torch::kFloat64));
    model.m_net->load(archive);
    model.m_net->to(torch::kFloat64);
  } catch (const c10::Error& e) {
    throw Error("emulator model '" + path +
                "': the weights do not fit its metadata: " + e.what_without_backtrace());
  }
  return model;
}

void fit_normalisation(Emulator& model, const std::vector<TorchBPPatch>& patches) {
  if (patches.empty()) throw Error("fit_normalisation: no patches");
  const size_t c = model.metadata().inputs.size();
  std::vector<double> sum(c, 0.0), sum2(c, 0.0);
  double count = 0;
  for (const auto& p : patches) {
    const torch::Tensor x = model.raw_inputs(p).to(torch::kFloat64).squeeze(0); // [C, ny, nx]
    const torch::Tensor icy = p.free_nodes.select(2, p.nz - 1).to(torch::kFloat64) > 0.5;
    const double n = icy.sum().item<double>();
    if (n == 0) continue;
    count += n;
    for (size_t k = 0; k < c; ++k) {
      const torch::Tensor v = x[int64_t(k)].masked_select(icy);
      sum[k] += v.sum().item<double>();
      sum2[k] += (v * v).sum().item<double>();
    }
  }
  if (count == 0) throw Error("fit_normalisation: no icy column in the patches");
  EmulatorMetadata& m = model.metadata();
  for (size_t k = 0; k < c; ++k) {
    const double mean = sum[k] / count;
    const double var = std::max(0.0, sum2[k] / count - mean * mean);
    const double std = std::sqrt(var);
    m.input_mean[k] = mean;
    m.input_std[k] = std > 1e-6 * std::max(1.0, std::abs(mean)) ? std : 1.0;
  }
}

void fit_velocity_scale(Emulator& model, const std::vector<TrainingSample>& samples) {
  const torch::NoGradGuard no_grad;
  EmulatorMetadata& m = model.metadata();
  const double saved = m.velocity_scale;
  m.velocity_scale = 1.0;
  std::vector<double> ratios;
  for (const auto& s : samples) {
    if (!s.solution.defined()) continue;
    const torch::Tensor free = s.patch.free_nodes.unsqueeze(3);
    const torch::Tensor icy = s.patch.free_nodes.select(2, s.patch.nz - 1);
    const double n_free = free.sum().item<double>(), n_icy = icy.sum().item<double>();
    if (n_free == 0 || n_icy == 0) continue;
    const double u2 = (s.solution * free).pow(2).sum().item<double>() / (2 * n_free);
    const double r2 = (model.reference_speed(s.patch) * icy).pow(2).sum().item<double>() / n_icy;
    if (u2 > 0 && r2 > 0) ratios.push_back(std::log(std::sqrt(u2 / r2)));
  }
  if (ratios.empty()) {
    m.velocity_scale = saved;
    return;
  }
  m.velocity_scale = std::exp(median(ratios));
}

torch::Tensor physics_loss(const Emulator& model, const TorchBPPatch& patch,
                           const torch::Tensor& velocity) {
  double scale = 0;
  {
    const torch::NoGradGuard no_grad;
    const torch::Tensor s = patch.bed + patch.thickness;
    const torch::Tensor sx = centred_difference(s, 1, patch.dx);
    const torch::Tensor sy = centred_difference(s, 0, patch.dy);
    const torch::Tensor icy = patch.free_nodes.select(2, patch.nz - 1);
    scale = (patch.thickness * torch::sqrt(sx * sx + sy * sy) * icy * model.reference_speed(patch))
                .sum()
                .item<double>() *
            patch.dx * patch.dy;
  }
  if (!(scale > 0)) scale = 1.0;
  return bp_energy(patch, velocity) / scale;
}

torch::Tensor relative_squared_misfit(const TorchBPPatch& patch, const torch::Tensor& velocity,
                                      const torch::Tensor& solution) {
  if (!solution.defined() || solution.sizes() != velocity.sizes())
    throw Error("emulator data loss: the solution's shape differs from the velocity's");
  const torch::Tensor mask = patch.free_nodes.unsqueeze(3);
  const torch::Tensor target = solution.to(velocity.options()) * mask;
  const double norm2 = (target * target).sum().item<double>();
  const torch::Tensor misfit = (velocity - target) * mask;
  return (misfit * misfit).sum() / std::max(norm2, 1e-30);
}

torch::Tensor data_loss(const TorchBPPatch& patch, const torch::Tensor& velocity,
                        const torch::Tensor& solution) {
  const torch::Tensor relative =
      torch::sqrt(relative_squared_misfit(patch, velocity, solution) + 1e-12);
  // The log-speed misfit of the surface speed over the ice: it keeps a
  // network that is far off (a velocity near 0, or decades too fast) from a
  // flat plateau of the relative term.
  const torch::Tensor icy = patch.free_nodes.select(2, patch.nz - 1);
  const double columns = icy.sum().item<double>();
  if (columns == 0) return relative;
  const auto surface_speed = [&](const torch::Tensor& u) {
    return torch::sqrt(u.select(2, patch.nz - 1).pow(2).sum(2) + 1e-20);
  };
  const torch::Tensor target = surface_speed(solution.to(velocity.options()));
  const double floor = std::max(
      data_log_floor * std::sqrt((target * target * icy).sum().item<double>() / columns), 1e-12);
  const torch::Tensor log_misfit =
      torch::log((surface_speed(velocity) + floor) / (target + floor)) * icy;
  return relative + data_log_weight * log_misfit.pow(2).sum() / columns;
}

std::vector<TrainingStep> train(Emulator& model, const std::vector<TrainingSample>& samples,
                                const TrainingOptions& options) {
  if (samples.empty()) throw Error("emulator training: no samples");
  if (options.loss != "physics" && options.loss != "data" && options.loss != "hybrid")
    throw Error("emulator.loss '" + options.loss + "': use physics, data or hybrid");
  if (options.steps < 0 || !(options.learning_rate > 0) || options.balance_every < 1 ||
      !(options.balance_ratio > 0) || options.physics_warmup_steps < 0)
    throw Error("emulator training: steps and warm-up must be >= 0, the learning rate, "
                "balance_every and balance_ratio > 0");
  if (options.loss == "data")
    for (const auto& s : samples)
      if (!s.solution.defined()) throw Error("emulator.loss data: a sample has no solver solution");
  model.to(samples.front().patch.options());
  torch::optim::Adam adam(model.net()->parameters(),
                          torch::optim::AdamOptions(options.learning_rate));
  std::mt19937_64 order_rng(options.seed); // the order only: the same sequence everywhere
  std::vector<size_t> order(samples.size());
  std::iota(order.begin(), order.end(), size_t(0));
  LossBalance balance;
  StepMode mode;
  mode.loss = options.loss;
  mode.balance_ratio = options.balance_ratio;
  std::vector<TrainingStep> history;
  history.reserve(size_t(options.steps));
  for (int step = 0; step < options.steps; ++step) {
    const size_t k = size_t(step) % samples.size();
    if (k == 0)
      for (size_t a = order.size(); a > 1; --a) std::swap(order[a - 1], order[order_rng() % a]);
    mode.physics_only = options.loss == "hybrid" && step < options.physics_warmup_steps;
    mode.balance = !balance.set || step % options.balance_every == 0;
    adam.zero_grad();
    const StepLosses losses = accumulate_gradients(model, {&samples[order[k]]}, mode, balance);
    adam.step();
    TrainingStep record;
    record.total = losses.total;
    record.physics = losses.physics;
    record.data = losses.data_samples > 0 ? losses.data : std::nan("");
    record.weight = balance.weight;
    history.push_back(record);
  }
  return history;
}

} // namespace nunatak::emulator
