// The summary of an ensemble: one NetCDF file with a `member` dimension (the
// parameters, the status, the wall time and the ice volume and area over
// time) and a PNG of the spread of the ice volume (ensemble_run.hpp).

#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/io/file_safety.hpp"
#include "nunatak/io/line_plot.hpp"
#include "nunatak/io/netcdf_file.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/io/timeseries_file.hpp"
#include "nunatak/model/ensemble_run.hpp"

#include <fmt/format.h>
#include <netcdf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

namespace fs = std::filesystem;

namespace nunatak::model {

namespace {

constexpr double nan = std::numeric_limits<double>::quiet_NaN();

/// The summary's times (years): start + k * interval up to end, and end.
std::vector<double> summary_times(const io::Config& config) {
  const double start = config.get_real("time.start"), end = config.get_real("time.end");
  double interval = config.get_real("ensemble.summary_interval");
  if (!(interval > 0)) interval = config.get_real("output.interval");
  if (!(interval > 0)) interval = (end - start) / 100.0;
  std::vector<double> t;
  const double tolerance = 1e-9 * std::max(1.0, std::abs(end - start));
  for (long long k = 0;; ++k) {
    const double tk = start + double(k) * interval;
    if (tk > end - tolerance) break;
    t.push_back(tk);
  }
  t.push_back(end);
  return t;
}

/// `values` at `times` (years) by linear interpolation of the points (t, v),
/// t ascending; NaN outside them.
std::vector<double> interpolate(const std::vector<double>& t, const std::vector<double>& v,
                                const std::vector<double>& times) {
  std::vector<double> out(times.size(), nan);
  if (t.empty()) return out;
  const double tolerance = 1e-9 * std::max(1.0, std::abs(t.back() - t.front()));
  for (size_t k = 0; k < times.size(); ++k) {
    const double x = times[k];
    if (x < t.front() - tolerance || x > t.back() + tolerance) continue;
    auto hi = std::lower_bound(t.begin(), t.end(), x);
    if (hi == t.end()) hi = t.end() - 1;
    const size_t j = size_t(hi - t.begin());
    if (j == 0 || std::abs(t[j] - x) <= tolerance) {
      out[k] = v[j];
      continue;
    }
    const double w = (x - t[j - 1]) / (t[j] - t[j - 1]);
    out[k] = (1 - w) * v[j - 1] + w * v[j];
  }
  return out;
}

/// The median of the finite values (NaN if none).
double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  if (v.empty()) return nan;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

} // namespace

EnsembleSummary write_ensemble_summary(const io::Config& base, const EnsembleSettings& settings,
                                       const std::string& command_line) {
  const double year = core::seconds_per_year;
  const size_t members = settings.members.size();
  const std::vector<double> times = summary_times(base);
  const size_t nt = times.size();

  std::vector<MemberStatus> status(members);
  std::vector<double> volume(members * nt, nan), area(members * nt, nan);
  EnsembleSummary summary;
  std::string errors;
  for (size_t m = 0; m < members; ++m) {
    const int index = int(m);
    if (auto s = read_member_status(member_status_path(settings, index))) status[m] = *s;
    status[m].index = index;
    status[m].keys = settings.members[m].keys;
    status[m].values = settings.members[m].values;
    switch (status[m].state) {
    case MemberState::finished:
      ++summary.counts.finished;
      break;
    case MemberState::failed:
      ++summary.counts.failed;
      break;
    case MemberState::running:
    case MemberState::interrupted:
      ++summary.counts.interrupted;
      break;
    case MemberState::not_run:
      ++summary.counts.not_run;
      break;
    }
    if (status[m].state == MemberState::failed)
      errors += fmt::format("member {}: {}\n", index, status[m].error);
    // The time series: the start from the status, then the steps (also the
    // part an interrupted member published with its checkpoint).
    std::vector<double> t, v, a;
    if (std::isfinite(status[m].volume_start)) {
      t.push_back(base.get_real("time.start"));
      v.push_back(status[m].volume_start);
      a.push_back(status[m].area_start);
    }
    const std::string ts = timeseries_path(member_stem(settings, index) + ".nc");
    if (status[m].state != MemberState::failed && status[m].state != MemberState::not_run &&
        fs::exists(ts)) {
      for (const auto& r : io::read_timeseries(ts)) {
        const double ty = r.time / year;
        if (!t.empty() && ty <= t.back()) continue;
        t.push_back(ty);
        v.push_back(r.volume);
        a.push_back(r.area);
      }
    }
    const auto vi = interpolate(t, v, times), ai = interpolate(t, a, times);
    std::copy(vi.begin(), vi.end(), volume.begin() + long(m * nt));
    std::copy(ai.begin(), ai.end(), area.begin() + long(m * nt));
  }

  // --- summary.nc ---
  summary.netcdf = (fs::path(settings.directory) / "summary.nc").string();
  io::write_then_rename(summary.netcdf, [&](const std::string& temporary) {
    io::NcFile f = io::NcFile::create(temporary);
    const int member_dim = f.define_dimension("member", members);
    const int time_dim = f.define_dimension("time", nt);
    const int member_var = f.define_variable("member", NC_INT, {member_dim});
    f.put_attribute(member_var, "long_name", std::string("ensemble member index"));
    const int time_var = f.define_variable("time", NC_DOUBLE, {time_dim});
    f.put_attribute(time_var, "units", std::string(io::time_units));
    f.put_attribute(time_var, "calendar", std::string("365_day"));
    f.put_attribute(time_var, "axis", std::string("T"));
    const std::vector<std::string> keys =
        settings.members.empty() ? std::vector<std::string>() : settings.members.front().keys;
    std::vector<int> parameter_vars;
    for (const auto& key : keys) {
      const int var = f.define_variable(key, NC_DOUBLE, {member_dim});
      const io::KeySpec* spec = io::find_key(key);
      if (spec && !spec->units.empty()) f.put_attribute(var, "units", spec->units);
      f.put_attribute(var, "long_name",
                      "ensemble parameter " + key + (spec ? ": " + spec->doc : std::string()));
      parameter_vars.push_back(var);
    }
    const int status_var = f.define_variable("status", NC_BYTE, {member_dim});
    f.put_attribute(status_var, "long_name", std::string("state of the member's run"));
    f.put_attribute(status_var, "flag_values", std::vector<int>{0, 1, 2, 3, 4});
    f.put_attribute(status_var, "flag_meanings",
                    std::string("not_run running finished failed interrupted"));
    if (!errors.empty()) f.put_attribute(status_var, "errors", errors);
    const auto number = [&](const std::string& name, int type, const std::string& units,
                            const std::string& long_name, const std::vector<int>& dims) {
      const int var = f.define_variable(name, type, dims);
      if (!units.empty()) f.put_attribute(var, "units", units);
      f.put_attribute(var, "long_name", long_name);
      if (type == NC_DOUBLE) f.put_attribute(var, "_FillValue", std::vector<double>{nan});
      return var;
    };
    const int wall_var = number("wall_time", NC_DOUBLE, "s",
                                "wall-clock time of the member's last attempt", {member_dim});
    const int steps_var = number("steps", NC_INT, "", "time steps taken", {member_dim});
    const int attempts_var = number("attempts", NC_INT, "", "runs of the member", {member_dim});
    const int reached_var =
        number("time_reached", NC_DOUBLE, "year", "model time reached", {member_dim});
    const int volume_var =
        number("ice_volume", NC_DOUBLE, "m3", "ice volume", {member_dim, time_dim});
    const int area_var =
        number("ice_area", NC_DOUBLE, "m2", "ice-covered area", {member_dim, time_dim});
    f.put_attribute(NC_GLOBAL, "Conventions", std::string("CF-1.8"));
    f.put_attribute(NC_GLOBAL, "title", "nunatak ensemble summary: " + settings.description);
    f.put_attribute(NC_GLOBAL, "history", command_line + "\n");
    f.put_attribute(NC_GLOBAL, "nunatak_config_yaml", base.to_yaml());
    f.end_definitions();

    std::vector<double> index(members), wall(members), steps(members), attempts(members),
        reached(members), state(members);
    for (size_t m = 0; m < members; ++m) {
      index[m] = double(m);
      wall[m] = status[m].state == MemberState::not_run ? nan : status[m].wall_seconds;
      steps[m] = double(status[m].steps);
      attempts[m] = double(status[m].attempts);
      reached[m] = status[m].time_years;
      state[m] = double(int(status[m].state));
    }
    const std::vector<size_t> at0{0}, all{members};
    if (members > 0) {
      f.write(member_var, at0, all, index.data());
      f.write(status_var, at0, all, state.data());
      f.write(wall_var, at0, all, wall.data());
      f.write(steps_var, at0, all, steps.data());
      f.write(attempts_var, at0, all, attempts.data());
      f.write(reached_var, at0, all, reached.data());
      for (size_t k = 0; k < keys.size(); ++k) {
        std::vector<double> values(members);
        for (size_t m = 0; m < members; ++m) values[m] = settings.members[m].values[k];
        f.write(parameter_vars[k], at0, all, values.data());
      }
      f.write(volume_var, {0, 0}, {members, nt}, volume.data());
      f.write(area_var, {0, 0}, {members, nt}, area.data());
    }
    std::vector<double> seconds(nt);
    for (size_t k = 0; k < nt; ++k) seconds[k] = times[k] * year;
    f.write(time_var, {0}, {nt}, seconds.data());
    f.close();
  });

  // --- summary.png: the ice volume of each member, or its spread ---
  io::LineChart chart;
  chart.title = "Ice volume of the ensemble";
  chart.subtitle = fmt::format("{}: {} finished, {} failed, {} unfinished, {} not run",
                               settings.description, summary.counts.finished, summary.counts.failed,
                               summary.counts.interrupted, summary.counts.not_run);
  chart.x_label = "time (years)";
  chart.y_label = "ice volume (km3)";
  const auto km3 = [&](size_t m) {
    std::vector<double> y(nt);
    for (size_t k = 0; k < nt; ++k) y[k] = volume[m * nt + k] / 1e9;
    return y;
  };
  if (members <= 10) {
    for (size_t m = 0; m < members; ++m)
      chart.series.push_back(
          {times, km3(m),
           fmt::format("member {}{}", m,
                       status[m].state == MemberState::finished
                           ? ""
                           : std::string(" (") + state_name(status[m].state) + ")")});
  } else {
    io::Series low{times, std::vector<double>(nt, nan), "minimum"},
        mid{times, std::vector<double>(nt, nan), "median"},
        high{times, std::vector<double>(nt, nan), "maximum"};
    for (size_t k = 0; k < nt; ++k) {
      std::vector<double> column;
      for (size_t m = 0; m < members; ++m)
        if (std::isfinite(volume[m * nt + k])) column.push_back(volume[m * nt + k] / 1e9);
      if (column.empty()) continue;
      low.y[k] = *std::min_element(column.begin(), column.end());
      high.y[k] = *std::max_element(column.begin(), column.end());
      mid.y[k] = median(column);
    }
    chart.series = {low, mid, high};
  }
  summary.png = (fs::path(settings.directory) / "summary.png").string();
  bool any = false;
  for (const auto& s : chart.series)
    for (double y : s.y) any = any || std::isfinite(y);
  if (any) {
    io::write_line_png(chart, summary.png);
  } else {
    std::error_code ignored;
    fs::remove(summary.png, ignored); // no stale picture of an earlier summary
    summary.png.clear();
  }
  return summary;
}

} // namespace nunatak::model
