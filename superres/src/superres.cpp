// The super-resolution network, its inputs, the mass-conserving block scaling
// and the model file (superres.hpp).

#include "nunatak/superres/superres.hpp"

#include "network.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/core/regrid.hpp"

#include <torch/serialize.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <unistd.h>

namespace nunatak::superres {

namespace {

const int metadata_version = 1;

std::string join(const std::vector<double>& v) {
  std::ostringstream out;
  out.precision(17);
  for (size_t k = 0; k < v.size(); ++k) out << (k ? " " : "") << v[k];
  return out.str();
}

std::vector<double> split(const std::string& text) {
  std::istringstream in(text);
  std::vector<double> v;
  double x;
  while (in >> x) v.push_back(x);
  return v;
}

void check_size(const std::vector<double>& v, const core::Grid& g, const char* what) {
  if (v.size() != size_t(g.size()))
    throw Error(std::string("super-resolution: ") + what + " has " + std::to_string(v.size()) +
                " values, the grid " + std::to_string(g.size()) + " (" + g.describe() + ")");
}

} // namespace

std::vector<std::string> Metadata::input_names() const {
  // Without use_smb the surface mass balance enters by its detail only: a
  // scenario's offset cancels in it, so that the network cannot read the
  // scenario from it (a model trained on one scenario could only learn its
  // level as a constant).
  std::vector<std::string> names = {
      "thickness_bicubic", "log_speed_bicubic", "bed", "bed_detail", "ocean", "smb_detail"};
  if (use_time) names.push_back("time");
  if (use_change) names.push_back("coarse_change");
  if (use_smb) {
    names.push_back("smb");
    names.push_back("smb_cumulative");
  }
  if (use_initial) names.push_back("initial_detail");
  return names;
}

std::string Metadata::to_text() const {
  std::ostringstream out;
  out.precision(17);
  out << "version: " << metadata_version << "\n"
      << "factor: " << factor << "\n"
      << "fine_grid: " << fine.nx() << " " << fine.ny() << " " << fine.dx() << " " << fine.dy()
      << " " << fine.x0() << " " << fine.y0() << "\n"
      << "width: " << width << "\n"
      << "depth: " << depth << "\n"
      << "conserve_mass: " << int(conserve_mass) << "\n"
      << "use_time: " << int(use_time) << "\n"
      << "use_change: " << int(use_change) << "\n"
      << "use_smb: " << int(use_smb) << "\n"
      << "use_initial: " << int(use_initial) << "\n"
      << "time_scale: " << time_scale << "\n"
      << "sea_level: " << sea_level << "\n"
      << "input_mean: " << join(input_mean) << "\n"
      << "input_std: " << join(input_std) << "\n"
      << "code_version: " << code_version << "\n";
  return out.str();
}

Metadata Metadata::from_text(const std::string& text, const std::string& source) {
  Metadata m;
  std::istringstream lines(text);
  std::string line;
  bool versioned = false;
  while (std::getline(lines, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, colon);
    const std::string value = line.substr(std::min(line.size(), colon + 2));
    const std::vector<double> numbers = split(value);
    const auto one = [&]() {
      if (numbers.size() != 1)
        throw Error("super-resolution model '" + source + "': '" + key + "' is not one number");
      return numbers[0];
    };
    if (key == "version") {
      if (int(one()) != metadata_version)
        throw Error("super-resolution model '" + source + "' has version " + value +
                    "; this nunatak reads version " + std::to_string(metadata_version));
      versioned = true;
    } else if (key == "factor") {
      m.factor = int(one());
    } else if (key == "fine_grid") {
      if (numbers.size() != 6)
        throw Error("super-resolution model '" + source + "': fine_grid needs 6 numbers");
      m.fine = core::Grid(int(numbers[0]), int(numbers[1]), numbers[2], numbers[3], numbers[4],
                          numbers[5]);
    } else if (key == "width") {
      m.width = int(one());
    } else if (key == "depth") {
      m.depth = int(one());
    } else if (key == "conserve_mass") {
      m.conserve_mass = one() != 0;
    } else if (key == "use_time") {
      m.use_time = one() != 0;
    } else if (key == "use_change") {
      m.use_change = one() != 0;
    } else if (key == "use_smb") {
      m.use_smb = one() != 0;
    } else if (key == "use_initial") {
      m.use_initial = one() != 0;
    } else if (key == "time_scale") {
      m.time_scale = one();
    } else if (key == "sea_level") {
      m.sea_level = one();
    } else if (key == "input_mean") {
      m.input_mean = numbers;
    } else if (key == "input_std") {
      m.input_std = numbers;
    } else if (key == "code_version") {
      m.code_version = value;
    }
  }
  if (!versioned)
    throw Error("super-resolution model '" + source + "': its metadata have no version");
  const size_t channels = m.input_names().size();
  if (m.input_mean.size() != channels || m.input_std.size() != channels)
    throw Error("super-resolution model '" + source + "': the normalisation has " +
                std::to_string(m.input_mean.size()) + " means and " +
                std::to_string(m.input_std.size()) + " deviations for " + std::to_string(channels) +
                " inputs");
  if (m.factor < 1 || m.width < 1 || m.depth < 0)
    throw Error("super-resolution model '" + source + "': bad factor, width or depth");
  return m;
}

void conserve_block_volume(const core::Grid& fine, int factor, const std::vector<double>& coarse,
                           std::vector<double>& thickness) {
  check_size(thickness, fine, "the thickness");
  const core::Grid cg = core::coarsened_grid(fine, factor);
  check_size(coarse, cg, "the coarse thickness");
  const std::vector<double> mean = core::coarsen(fine, thickness, factor, core::Coarsening::volume);
  const int nx = fine.nx(), ny = fine.ny();
  for (int j = 0; j < ny; ++j)
    for (int i = 0; i < nx; ++i) {
      const size_t b = size_t(j / factor) * size_t(cg.nx()) + size_t(i / factor);
      double& h = thickness[size_t(j) * size_t(nx) + size_t(i)];
      if (mean[b] > 0) {
        h *= coarse[b] / mean[b];
      } else {
        // No ice predicted in the block: its volume spread over the cells in the grid.
        const int in_x = std::min(factor, nx - (i / factor) * factor);
        const int in_y = std::min(factor, ny - (j / factor) * factor);
        h = coarse[b] * double(factor * factor) / double(in_x * in_y);
      }
    }
}

// --- the model ---

Model::Model(Metadata metadata, std::uint64_t seed)
    : m_metadata(std::move(metadata)), m_impl(std::make_unique<Impl>()) {
  torch::manual_seed(seed);
  const int channels = int(m_metadata.input_names().size());
  m_impl->net = SuperResNet(channels, m_metadata.width, m_metadata.depth);
  m_impl->net->to(torch::kFloat32);
  if (m_metadata.input_mean.empty()) {
    m_metadata.input_mean.assign(size_t(channels), 0.0);
    m_metadata.input_std.assign(size_t(channels), 1.0);
  }
}

Model::~Model() = default;
Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;

core::Grid Model::coarse_grid() const {
  return core::coarsened_grid(m_metadata.fine, m_metadata.factor);
}

long long Model::parameter_count() const {
  long long n = 0;
  for (const auto& p : m_impl->net->parameters()) n += p.numel();
  return n;
}

void Model::save(const std::string& path) const {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  try {
    torch::serialize::OutputArchive archive;
    m_impl->net->save(archive);
    archive.write("nunatak_superres_metadata", c10::IValue(m_metadata.to_text()));
    archive.write("nunatak_superres_training", c10::IValue(m_metadata.training));
    archive.save_to(tmp);
  } catch (const c10::Error& e) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw Error("cannot write super-resolution model '" + path +
                "': " + e.what_without_backtrace());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw Error("cannot write super-resolution model '" + path + "': " + ec.message());
  }
}

Model Model::load(const std::string& path) {
  if (!std::filesystem::is_regular_file(path))
    throw Error("super-resolution model '" + path + "': no such file");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    throw Error("super-resolution model '" + path +
                "' is not a LibTorch archive: " + e.what_without_backtrace());
  }
  c10::IValue text, training;
  if (!archive.try_read("nunatak_superres_metadata", text) || !text.isString())
    throw Error("'" + path + "' is a LibTorch archive but not a nunatak super-resolution model");
  Model model(Metadata::from_text(text.toStringRef(), path), 0);
  if (archive.try_read("nunatak_superres_training", training) && training.isString())
    model.m_metadata.training = training.toStringRef();
  try {
    model.m_impl->net->load(archive);
  } catch (const c10::Error& e) {
    throw Error("super-resolution model '" + path +
                "': the weights do not fit its metadata: " + e.what_without_backtrace());
  }
  return model;
}

// --- inputs and prediction ---

Inputs make_inputs(const Metadata& m, const Snapshot& s, DetailCache* bed_cache,
                   DetailCache* smb_cache) {
  const core::Grid& fine = m.fine;
  const core::Grid coarse = core::coarsened_grid(fine, m.factor);
  check_size(s.coarse_thickness, coarse, "the coarse thickness");
  check_size(s.coarse_speed, coarse, "the coarse surface speed");
  check_size(s.bed, fine, "the fine bed");
  check_size(s.smb, fine, "the fine surface mass balance");
  const auto up = [&](const std::vector<double>& v) {
    return core::interpolate(coarse, v, fine, core::Interpolation::bicubic);
  };
  const auto detail = [&](const std::vector<double>& v) {
    std::vector<double> smooth = up(core::coarsen(fine, v, m.factor, core::Coarsening::mean));
    for (size_t k = 0; k < v.size(); ++k) smooth[k] = v[k] - smooth[k];
    return smooth;
  };
  std::vector<double> speed_c = s.coarse_speed;
  for (double& x : speed_c) x = std::isfinite(x) ? std::max(x, 0.0) : 0.0;
  Inputs in;
  in.bicubic_thickness = up(s.coarse_thickness);
  in.bicubic_speed = up(speed_c);
  for (double& h : in.bicubic_thickness) h = std::max(h, 0.0);
  for (double& u : in.bicubic_speed) u = std::max(u, 0.0);
  const size_t n = size_t(fine.size());
  std::vector<std::vector<double>> channels(m.input_names().size(), std::vector<double>(n));
  const auto cached_detail = [&](const std::vector<double>& v, DetailCache* cache) {
    if (!cache) return detail(v);
    if (cache->field != v) {
      cache->detail = detail(v);
      cache->field = v;
    }
    return cache->detail;
  };
  const std::vector<double> bed_detail = cached_detail(s.bed, bed_cache),
                            smb_detail = cached_detail(s.smb, smb_cache);
  std::vector<double> change(n, 0.0);
  if (m.use_change && !s.coarse_initial_thickness.empty()) {
    check_size(s.coarse_initial_thickness, coarse, "the coarse run's first thickness");
    std::vector<double> dh = s.coarse_thickness;
    for (size_t k = 0; k < dh.size(); ++k) dh[k] -= s.coarse_initial_thickness[k];
    change = up(dh);
  }
  if (m.use_smb) {
    if (s.smb_cumulative.empty())
      throw Error("super-resolution: the model takes the surface mass balance integrated since "
                  "the start of the run (use_smb), and the snapshot has none");
    check_size(s.smb_cumulative, fine, "the integrated surface mass balance");
  }
  std::vector<double> initial_detail;
  if (m.use_initial) {
    if (s.fine_initial_thickness.empty() || s.coarse_initial_thickness.empty())
      throw Error("super-resolution: the model takes the initial state's detail (use_initial), "
                  "and the snapshot lacks the fine initial thickness or the coarse run's first "
                  "record");
    check_size(s.fine_initial_thickness, fine, "the fine initial thickness");
    check_size(s.coarse_initial_thickness, coarse, "the coarse run's first thickness");
    std::vector<double> h0 = s.coarse_initial_thickness;
    for (double& h : h0) h = std::isfinite(h) ? h : 0.0;
    initial_detail = up(h0);
    for (size_t k = 0; k < n; ++k) {
      const double f = std::isfinite(s.fine_initial_thickness[k]) ? s.fine_initial_thickness[k] : 0;
      initial_detail[k] = f - std::max(initial_detail[k], 0.0);
    }
  }
  const size_t change_channel = 6 + size_t(m.use_time),
               smb_channel = change_channel + size_t(m.use_change),
               initial_channel = smb_channel + 2 * size_t(m.use_smb);
  for (size_t k = 0; k < n; ++k) {
    channels[0][k] = in.bicubic_thickness[k] / thickness_scale;
    channels[1][k] = std::log1p(in.bicubic_speed[k] / speed_reference);
    channels[2][k] = s.bed[k] / thickness_scale;
    channels[3][k] = bed_detail[k] / 100.0;
    channels[4][k] = s.bed[k] < m.sea_level ? 1.0 : 0.0;
    channels[5][k] = smb_detail[k];
    if (m.use_time) channels[6][k] = s.time / m.time_scale;
    if (m.use_change) channels[change_channel][k] = change[k] / thickness_scale;
    if (m.use_smb) {
      channels[smb_channel][k] = s.smb[k];
      channels[smb_channel + 1][k] = s.smb_cumulative[k] / thickness_scale;
    }
    if (m.use_initial) channels[initial_channel][k] = initial_detail[k] / thickness_scale;
  }
  std::vector<float> flat;
  flat.reserve(channels.size() * n);
  for (const auto& c : channels)
    for (double x : c) flat.push_back(float(x));
  in.raw = torch::from_blob(flat.data(), {1, int64_t(channels.size()), fine.ny(), fine.nx()},
                            torch::kFloat32)
               .clone();
  return in;
}

torch::Tensor normalise(const Metadata& m, const torch::Tensor& raw) {
  const auto c = int64_t(m.input_mean.size());
  std::vector<float> mean(m.input_mean.begin(), m.input_mean.end()),
      sd(m.input_std.begin(), m.input_std.end());
  const torch::Tensor mu = torch::from_blob(mean.data(), {1, c, 1, 1}, torch::kFloat32).clone();
  const torch::Tensor sigma = torch::from_blob(sd.data(), {1, c, 1, 1}, torch::kFloat32).clone();
  return (raw - mu) / sigma;
}

torch::Tensor fine_targets(const Metadata& m, const Snapshot& s) {
  check_size(s.fine_thickness, m.fine, "the fine thickness");
  check_size(s.fine_speed, m.fine, "the fine surface speed");
  const size_t n = size_t(m.fine.size());
  std::vector<float> flat(2 * n);
  for (size_t k = 0; k < n; ++k) {
    flat[k] = float(s.fine_thickness[k] / thickness_scale);
    const double u = std::isfinite(s.fine_speed[k]) ? std::max(s.fine_speed[k], 0.0) : 0.0;
    flat[n + k] = float(std::log1p(u / speed_reference));
  }
  return torch::from_blob(flat.data(), {1, 2, m.fine.ny(), m.fine.nx()}, torch::kFloat32).clone();
}

torch::Tensor scaled_outputs(SuperResNet& net, const torch::Tensor& raw,
                             const torch::Tensor& normalised) {
  const torch::Tensor o = net->forward(normalised);
  const torch::Tensor h = torch::relu(raw.narrow(1, 0, 1) + o.narrow(1, 0, 1));
  const torch::Tensor s = torch::relu(raw.narrow(1, 1, 1) + o.narrow(1, 1, 1));
  return torch::cat({h, s}, 1);
}

void Model::fit_normalisation(const std::vector<Snapshot>& snapshots) {
  if (snapshots.empty()) throw Error("super-resolution: no snapshots to normalise the inputs");
  std::vector<torch::Tensor> raws;
  for (const auto& s : snapshots)
    raws.push_back(make_inputs(m_metadata, s).raw.to(torch::kFloat64));
  const torch::Tensor all =
      torch::cat(raws, 0).transpose(0, 1).reshape({int64_t(raws[0].size(1)), -1});
  const torch::Tensor mean = all.mean(1), sd = all.std(1);
  for (int64_t c = 0; c < all.size(0); ++c) {
    m_metadata.input_mean[size_t(c)] = mean[c].item<double>();
    const double s = sd[c].item<double>();
    m_metadata.input_std[size_t(c)] = s > 1e-12 ? s : 1.0; // a constant channel stays as it is
  }
}

Prediction Model::predict(const Snapshot& snapshot) const {
  const torch::NoGradGuard no_grad;
  Inputs in = [&] {
    const std::lock_guard<std::mutex> lock(m_impl->cache_mutex);
    return make_inputs(m_metadata, snapshot, &m_impl->bed, &m_impl->smb);
  }();
  m_impl->net->eval();
  const torch::Tensor out =
      scaled_outputs(m_impl->net, in.raw, normalise(m_metadata, in.raw)).to(torch::kFloat64);
  const size_t n = size_t(m_metadata.fine.size());
  Prediction p;
  p.thickness.resize(n);
  p.speed.resize(n);
  const torch::Tensor flat = out.reshape({2, -1}).contiguous();
  const double* v = flat.data_ptr<double>();
  for (size_t k = 0; k < n; ++k) {
    p.thickness[k] = v[k] * thickness_scale;
    p.speed[k] = speed_reference * std::expm1(v[n + k]);
  }
  if (m_metadata.conserve_mass)
    conserve_block_volume(m_metadata.fine, m_metadata.factor, snapshot.coarse_thickness,
                          p.thickness);
  p.bicubic_thickness = std::move(in.bicubic_thickness);
  p.bicubic_speed = std::move(in.bicubic_speed);
  return p;
}

// --- metrics ---

FieldMetrics compare_fields(const core::Grid& grid, const std::vector<double>& estimate,
                            const std::vector<double>& truth) {
  check_size(estimate, grid, "the estimate");
  check_size(truth, grid, "the reference");
  FieldMetrics m;
  double lo = INFINITY, hi = -INFINITY, sum2 = 0, sum = 0;
  long long count = 0;
  for (size_t k = 0; k < truth.size(); ++k) {
    if (!std::isfinite(truth[k]) || !std::isfinite(estimate[k])) continue;
    lo = std::min(lo, truth[k]);
    hi = std::max(hi, truth[k]);
    const double d = estimate[k] - truth[k];
    sum += d;
    sum2 += d * d;
    ++count;
  }
  if (count == 0) return {NAN, NAN, NAN, NAN};
  m.rmse = std::sqrt(sum2 / double(count));
  m.bias = sum / double(count);
  const double range = hi > lo ? hi - lo : 1.0;
  m.psnr = m.rmse > 0 ? 20 * std::log10(range / m.rmse) : INFINITY;
  // SSIM on 7 x 7 windows that lie in the grid and hold no missing cell.
  const double c1 = std::pow(0.01 * range, 2), c2 = std::pow(0.03 * range, 2);
  const int w = 7, nx = grid.nx(), ny = grid.ny();
  double ssim = 0;
  long long windows = 0;
  for (int j0 = 0; j0 + w <= ny; ++j0)
    for (int i0 = 0; i0 + w <= nx; ++i0) {
      double ma = 0, mb = 0, va = 0, vb = 0, cov = 0;
      bool ok = true;
      for (int j = j0; j < j0 + w && ok; ++j)
        for (int i = i0; i < i0 + w; ++i) {
          const size_t k = size_t(j) * size_t(nx) + size_t(i);
          if (!std::isfinite(truth[k]) || !std::isfinite(estimate[k])) {
            ok = false;
            break;
          }
          ma += estimate[k];
          mb += truth[k];
        }
      if (!ok) continue;
      const double n = w * w;
      ma /= n;
      mb /= n;
      for (int j = j0; j < j0 + w; ++j)
        for (int i = i0; i < i0 + w; ++i) {
          const size_t k = size_t(j) * size_t(nx) + size_t(i);
          va += (estimate[k] - ma) * (estimate[k] - ma);
          vb += (truth[k] - mb) * (truth[k] - mb);
          cov += (estimate[k] - ma) * (truth[k] - mb);
        }
      va /= n - 1;
      vb /= n - 1;
      cov /= n - 1;
      ssim += (2 * ma * mb + c1) * (2 * cov + c2) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      ++windows;
    }
  m.ssim = windows > 0 ? ssim / double(windows) : NAN;
  return m;
}

} // namespace nunatak::superres
