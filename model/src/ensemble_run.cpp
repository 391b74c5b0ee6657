// Running an ensemble: settings, member files and status, the dispatcher of
// members to groups of ranks, and one member's run (ensemble_run.hpp).

#include "nunatak/model/ensemble_run.hpp"

#include "nunatak/core/constants.hpp"
#include "nunatak/core/error.hpp"
#include "nunatak/io/file_safety.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/io/quicklook.hpp"

#include <fmt/format.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

namespace fs = std::filesystem;

namespace nunatak::model {

namespace {

constexpr int request_tag = 7301; ///< leader -> rank 0: 1 = "a member, please", 0 = "I leave"
constexpr int reply_tag = 7302;   ///< rank 0 -> leader: a member index, or -1 = "no more"

/// How long the ranks of a group that raised a rank-local error wait for the
/// rest of the group before they abort the run.
constexpr double local_error_wait_seconds = 60.0;

std::string host_name() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

/// Keys that may differ between a member's earlier status and now without
/// making its results another experiment's.
bool ignored_in_comparison(const std::string& key) {
  return key.rfind("ensemble.", 0) == 0 || key == "experiment.name" || key == "output.quicklook" ||
         key == "output.compression_level" || key == "checkpoint.interval";
}

/// "key: old -> new" for every key where `before` and `now` differ.
std::vector<std::string> differences(const io::Config& before, const io::Config& now) {
  std::vector<std::string> out;
  for (const auto& spec : io::config_schema()) {
    if (ignored_in_comparison(spec.name)) continue;
    const std::string a = before.text(spec.name), b = now.text(spec.name);
    if (a != b) out.push_back(spec.name + ": " + a + " -> " + b);
  }
  return out;
}

/// "key = value, key = value".
std::string parameter_text(const std::vector<std::string>& keys,
                           const std::vector<double>& values) {
  std::string text;
  for (size_t k = 0; k < keys.size() && k < values.size(); ++k)
    text += fmt::format("{}{} = {:.6g}", k ? ", " : "", keys[k], values[k]);
  return text;
}

/// Writes `text` to `path` under a temporary name, then renames it.
void write_atomically(const std::string& path, const std::string& text) {
  io::write_then_rename(path, [&](const std::string& temporary) {
    std::ofstream out(temporary);
    out << text;
    out.close();
    if (!out) throw Error("cannot write '" + path + "' (disk full, or no permission?)");
  });
}

/// Hands out members to groups. Lives on world rank 0; other group leaders
/// talk to it through `comm` (a duplicate of the world).
class Dispatcher {
public:
  Dispatcher(std::vector<int> queue, MPI_Comm comm, int other_leaders)
      : m_queue(std::move(queue)), m_comm(comm), m_active(other_leaders) {}
  /// Rank 0: the next member for its own group (-1: none, or stopping).
  int take() {
    if (m_stopping || m_next >= m_queue.size()) return -1;
    return m_queue[m_next++];
  }
  /// Rank 0: no more members for anyone (a stop signal).
  void stop() { m_stopping = true; }
  /// Rank 0: answers the requests that have arrived (not blocking).
  void serve() {
    int flag = 1;
    while (m_active > 0) {
      MPI_Status status;
      MPI_Iprobe(MPI_ANY_SOURCE, request_tag, m_comm, &flag, &status);
      if (!flag) return;
      answer(status.MPI_SOURCE);
    }
  }
  /// Rank 0: answers requests until every other leader has left.
  void drain() {
    while (m_active > 0) {
      MPI_Status status;
      MPI_Probe(MPI_ANY_SOURCE, request_tag, m_comm, &status);
      answer(status.MPI_SOURCE);
    }
  }
  /// A leader other than rank 0: asks rank 0 for a member (-1: no more).
  static int ask(MPI_Comm comm) {
    int want = 1, member = -1;
    MPI_Send(&want, 1, MPI_INT, 0, request_tag, comm);
    MPI_Recv(&member, 1, MPI_INT, 0, reply_tag, comm, MPI_STATUS_IGNORE);
    return member;
  }
  /// A leader other than rank 0: says that its group stops.
  static void leave(MPI_Comm comm) {
    int want = 0;
    MPI_Send(&want, 1, MPI_INT, 0, request_tag, comm);
  }

private:
  void answer(int source) {
    int want = 0;
    MPI_Recv(&want, 1, MPI_INT, source, request_tag, m_comm, MPI_STATUS_IGNORE);
    if (!want) {
      --m_active;
      return;
    }
    const int member = take();
    MPI_Send(&member, 1, MPI_INT, source, reply_tag, m_comm);
    if (member < 0) --m_active;
  }
  std::vector<int> m_queue;
  size_t m_next = 0;
  MPI_Comm m_comm;
  int m_active; ///< other leaders that have not been told "no more" nor left
  bool m_stopping = false;
};

/// Swaps the default logger for one that writes to the member's log file
/// (and warnings, prefixed with the member, to stderr) while it lives.
class MemberLog {
public:
  MemberLog(const std::string& path, int member) : m_previous(spdlog::default_logger()) {
    auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path, false);
    file->set_pattern("[%Y-%m-%d %H:%M:%S] %l: %v");
    auto err = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    err->set_level(spdlog::level::warn);
    err->set_pattern(fmt::format("%^%l%$: member {}: %v", member));
    auto logger = std::make_shared<spdlog::logger>("nunatak member " + std::to_string(member),
                                                   spdlog::sinks_init_list{file, err});
    logger->set_level(m_previous->level());
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(logger);
  }
  ~MemberLog() { spdlog::set_default_logger(m_previous); }
  MemberLog(const MemberLog&) = delete;
  MemberLog& operator=(const MemberLog&) = delete;

private:
  std::shared_ptr<spdlog::logger> m_previous;
};

/// Called by the ranks of a group that caught an error that is not a
/// CollectiveError: if the whole group caught it (an error every rank raised
/// alike), returns; otherwise the rest of the group is stuck in a collective
/// call and the run is aborted with the error.
void agree_or_abort(MPI_Comm agree, const std::string& error, int member) {
  int size = 1;
  MPI_Comm_size(agree, &size);
  if (size == 1) return;
  MPI_Request request;
  MPI_Ibarrier(agree, &request);
  const auto start = std::chrono::steady_clock::now();
  int done = 0;
  while (!done) {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) return;
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >
        local_error_wait_seconds)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  spdlog::error("member {}: an error on rank {} only, the rest of its group does not answer (an "
                "error in nunatak, please report it): {}",
                member, rank, error);
  MPI_Abort(MPI_COMM_WORLD, 1);
}

/// What one member's run needs besides the member.
struct MemberRun {
  const io::Config& base;
  const EnsembleSettings& settings;
  MPI_Comm group, agree;
  RunSignals& signals;
  const std::string& command_line;
  std::function<void()> between_steps; ///< rank 0 serves requests
};

/// Runs member `index` on the group (collective on it); returns its status.
MemberStatus run_member(const MemberRun& r, int index) {
  int grank = 0, gsize = 1;
  MPI_Comm_rank(r.group, &grank);
  MPI_Comm_size(r.group, &gsize);
  const bool leader = grank == 0;
  const EnsembleMember& member = r.settings.members[size_t(index)];
  const std::string status_path = member_status_path(r.settings, index);
  const std::string stem = member_stem(r.settings, index);

  // The earlier attempt, if any (read by the leader, told to the group).
  MemberStatus status;
  int continue_run = 0;
  if (leader) {
    if (auto before = read_member_status(status_path)) status = *before;
    continue_run =
        (status.state == MemberState::running || status.state == MemberState::interrupted) &&
        fs::exists(stem + "_checkpoint.nc");
  }
  MPI_Bcast(&continue_run, 1, MPI_INT, 0, r.group);
  if (!continue_run) { // nothing of an earlier attempt but their count
    const int attempts = status.attempts;
    status = MemberStatus();
    status.attempts = attempts;
  }
  status.index = index;
  status.keys = member.keys;
  status.values = member.values;
  status.attempts += 1;
  status.ranks = gsize;
  status.host = host_name();
  status.error.clear();
  status.checkpoint.clear();
  status.state = MemberState::running;

  const auto start = std::chrono::steady_clock::now();
  const double year = core::seconds_per_year;
  try {
    const io::Config config = member_run_config(r.base, r.settings, member);
    status.configuration = config.to_yaml();
    const std::string checkpoint = checkpoint_path(config);
    if (leader) {
      // A fresh start leaves no checkpoint of an earlier attempt behind.
      if (!continue_run) fs::remove(checkpoint);
      write_member_status(status_path, status);
    }
    std::unique_ptr<MemberLog> log;
    if (leader) log = std::make_unique<MemberLog>(stem + ".log", index);
    if (leader)
      spdlog::info("member {} ({}), attempt {}, on {} rank(s){}", index,
                   parameter_text(member.keys, member.values), status.attempts, gsize,
                   continue_run ? ", continued from " + checkpoint : "");
    prepare_files(configured_files(config, Purpose::run, continue_run ? checkpoint : ""), r.group);
    Simulation simulation(config, r.group,
                          r.command_line + " # ensemble member " + std::to_string(index));
    if (continue_run) simulation.restart_from(checkpoint);
    if (leader) {
      // The same inputs give every member the same warnings: shown once, then
      // only in the member's log.
      static std::set<std::string> shown;
      auto warn = [&](const std::string& w) {
        if (shown.insert(w).second)
          spdlog::warn("{}", w);
        else
          spdlog::info("warning: {}", w);
      };
      for (const auto& w : simulation.warnings()) warn(w);
      for (const auto& w : simulation.state_warnings()) warn(w);
    }
    // A continued member keeps the start of its first attempt.
    const double area = simulation.model().area();
    if (!continue_run || !std::isfinite(status.area_start)) status.area_start = area;
    // The member's own signals: the command's, and its wall-clock limit.
    RunSignals member_signals;
    const double limit = config.get_real("ensemble.member_time_limit");
    int timed_out = 0;
    const RunSummary summary = simulation.run(member_signals, [&](double, long long, double wall) {
      if (r.signals.stop) member_signals.stop = 1;
      if (r.signals.checkpoint.exchange(0)) member_signals.checkpoint = 1;
      if (limit > 0 && wall > limit) {
        member_signals.stop = 1;
        timed_out = 1;
      }
      if (r.between_steps) r.between_steps();
    });
    MPI_Allreduce(MPI_IN_PLACE, &timed_out, 1, MPI_INT, MPI_MAX, r.group);
    status.state = summary.completed ? MemberState::finished : MemberState::interrupted;
    if (!summary.completed && timed_out) {
      status.state = MemberState::failed;
      status.error = fmt::format("ran longer than ensemble.member_time_limit ({} s): stopped at "
                                 "year {:.6g} after {} steps",
                                 limit, summary.time / year, summary.steps);
    }
    status.checkpoint = summary.completed ? "" : summary.checkpoint;
    status.steps = summary.steps;
    status.time_years = summary.time / year;
    if (!continue_run || !std::isfinite(status.volume_start))
      status.volume_start = summary.volume_start;
    status.volume_end = summary.volume_end;
    if (summary.completed)
      io::on_rank_zero(r.group, [&] {
        for (const auto& q : config.get_list("output.quicklook")) {
          const std::string source =
              io::is_timeseries_variable(q) ? summary.timeseries : summary.output;
          io::write_quicklook(source, q, io::quicklook_path(source, q));
        }
      });
    if (leader)
      spdlog::info("{} at year {:.6g} after {} steps", state_name(status.state), status.time_years,
                   status.steps);
  } catch (const CollectiveError& e) {
    status.state = MemberState::failed;
    status.error = e.what();
  } catch (const std::exception& e) {
    agree_or_abort(r.agree, e.what(), index);
    status.state = MemberState::failed;
    status.error = e.what();
  }
  status.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (leader) {
    write_member_status(status_path, status);
    if (status.state == MemberState::failed) {
      std::ofstream(stem + ".log", std::ios::app) << "error: " << status.error << "\n";
      spdlog::warn("member {} failed after {:.1f} s: {}", index, status.wall_seconds, status.error);
    } else {
      spdlog::info("member {} {} in {:.1f} s: year {:.6g}, {} steps, ice volume {:.6g} -> "
                   "{:.6g} km3",
                   index, state_name(status.state), status.wall_seconds, status.time_years,
                   status.steps, status.volume_start / 1e9, status.volume_end / 1e9);
    }
  }
  return status;
}

} // namespace

std::string members_csv(const EnsembleSettings& settings) {
  std::string text = "# " + settings.description + "\n";
  if (settings.members.empty()) return text;
  const auto& keys = settings.members.front().keys;
  for (size_t k = 0; k < keys.size(); ++k) text += (k ? "," : "") + keys[k];
  text += "\n";
  for (const auto& m : settings.members) {
    for (size_t k = 0; k < m.values.size(); ++k)
      text += fmt::format("{}{:.17g}", k ? "," : "", m.values[k]);
    text += "\n";
  }
  return text;
}

const char* state_name(MemberState state) {
  switch (state) {
  case MemberState::not_run:
    return "not_run";
  case MemberState::running:
    return "running";
  case MemberState::finished:
    return "finished";
  case MemberState::failed:
    return "failed";
  case MemberState::interrupted:
    return "interrupted";
  }
  return "not_run";
}

EnsembleSettings ensemble_settings(const io::Config& config) {
  EnsembleSettings s;
  s.directory = config.get_string("ensemble.directory");
  if (s.directory.empty()) throw Error("ensemble.directory: give a folder for the members' files");
  s.ranks_per_member = int(config.get_int("ensemble.ranks_per_member"));
  const std::string table = config.get_string("ensemble.table");
  const auto& specs = config.get_list("ensemble.parameters");
  const long long count = config.get_int("ensemble.members");
  if (!table.empty()) {
    if (!specs.empty() || count > 0)
      throw Error("ensemble.table and ensemble.parameters/ensemble.members: give either a table "
                  "of members or ranges to sample, not both");
    s.members = read_member_table(table);
    s.description = fmt::format("the {} members of the table '{}'", s.members.size(), table);
    return s;
  }
  if (specs.empty())
    throw Error("ensemble.parameters: no ranges to sample and no ensemble.table: give ranges "
                "(e.g. 'flow_law.enhancement_factor = 1 .. 5') or a table of members");
  if (count < 1) throw Error("ensemble.members: give the number of members to sample (it is 0)");
  std::vector<ParameterRange> ranges;
  for (size_t k = 0; k < specs.size(); ++k) {
    ranges.push_back(
        parse_parameter_range(specs[k], "ensemble.parameters[" + std::to_string(k) + "]"));
    for (size_t j = 0; j < k; ++j)
      if (ranges[j].key == ranges[k].key)
        throw Error("ensemble.parameters: '" + ranges[k].key + "' has two ranges");
  }
  const auto seed = static_cast<std::uint64_t>(config.get_int("ensemble.seed"));
  s.members = sample_members(ranges, int(count), seed);
  s.description =
      fmt::format("a Latin-hypercube sample of {} members (seed {})", s.members.size(), seed);
  return s;
}

std::string member_stem(const EnsembleSettings& settings, int index) {
  const int last = std::max(0, int(settings.members.size()) - 1);
  const int width = std::max(3, int(std::to_string(last).size()));
  return (fs::path(settings.directory) / fmt::format("member_{:0{}}", index, width)).string();
}

std::string member_status_path(const EnsembleSettings& settings, int index) {
  return member_stem(settings, index) + ".status";
}

io::Config member_run_config(const io::Config& base, const EnsembleSettings& settings,
                             const EnsembleMember& member) {
  io::Config config = member_config(base, member);
  const std::string stem = member_stem(settings, member.index);
  const std::string origin =
      "ensemble.directory (the files of member " + std::to_string(member.index) + ")";
  config.set("output.file", YAML::Dump(YAML::Node(stem + ".nc")), origin);
  config.set("checkpoint.file", YAML::Dump(YAML::Node(stem + "_checkpoint.nc")), origin);
  return config;
}

void write_member_status(const std::string& path, const MemberStatus& s) {
  YAML::Emitter out;
  out.SetDoublePrecision(17);
  out << YAML::BeginMap;
  out << YAML::Key << "member" << YAML::Value << s.index;
  out << YAML::Key << "status" << YAML::Value << state_name(s.state);
  out << YAML::Key << "parameters" << YAML::Value << YAML::BeginMap;
  for (size_t k = 0; k < s.keys.size(); ++k)
    out << YAML::Key << s.keys[k] << YAML::Value << s.values[k];
  out << YAML::EndMap;
  out << YAML::Key << "wall_seconds" << YAML::Value << s.wall_seconds;
  out << YAML::Key << "steps" << YAML::Value << s.steps;
  out << YAML::Key << "time_years" << YAML::Value << s.time_years;
  out << YAML::Key << "volume_start_m3" << YAML::Value << s.volume_start;
  out << YAML::Key << "volume_end_m3" << YAML::Value << s.volume_end;
  out << YAML::Key << "area_start_m2" << YAML::Value << s.area_start;
  out << YAML::Key << "error" << YAML::Value << s.error;
  out << YAML::Key << "checkpoint" << YAML::Value << s.checkpoint;
  out << YAML::Key << "attempts" << YAML::Value << s.attempts;
  out << YAML::Key << "ranks" << YAML::Value << s.ranks;
  out << YAML::Key << "host" << YAML::Value << s.host;
  out << YAML::Key << "configuration" << YAML::Value << YAML::Literal << s.configuration;
  out << YAML::EndMap;
  write_atomically(path, std::string(out.c_str()) + "\n");
}

std::optional<MemberStatus> read_member_status(const std::string& path) {
  if (!fs::exists(path)) return std::nullopt;
  MemberStatus s;
  try {
    const YAML::Node n = YAML::LoadFile(path);
    s.index = n["member"].as<int>();
    const std::string state = n["status"].as<std::string>();
    bool known = false;
    for (auto st : {MemberState::not_run, MemberState::running, MemberState::finished,
                    MemberState::failed, MemberState::interrupted})
      if (state == state_name(st)) {
        s.state = st;
        known = true;
      }
    if (!known) throw Error("unknown status '" + state + "'");
    for (const auto& kv : n["parameters"]) {
      s.keys.push_back(kv.first.as<std::string>());
      s.values.push_back(kv.second.as<double>());
    }
    s.wall_seconds = n["wall_seconds"].as<double>();
    s.steps = n["steps"].as<long long>();
    s.time_years = n["time_years"].as<double>();
    s.volume_start = n["volume_start_m3"].as<double>();
    s.volume_end = n["volume_end_m3"].as<double>();
    s.area_start = n["area_start_m2"].as<double>();
    s.error = n["error"].as<std::string>();
    s.checkpoint = n["checkpoint"].as<std::string>();
    s.attempts = n["attempts"].as<int>();
    s.ranks = n["ranks"].as<int>();
    s.host = n["host"].as<std::string>();
    s.configuration = n["configuration"].as<std::string>();
  } catch (const std::exception& e) {
    throw Error("ensemble status file '" + path + "' is damaged (" + e.what() +
                "): remove it to run the member again");
  }
  return s;
}

EnsembleReport run_ensemble(const io::Config& base, const EnsembleSettings& settings,
                            MPI_Comm world, RunSignals& signals, const EnsembleOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  int rank = 0, size = 1;
  MPI_Comm_rank(world, &rank);
  MPI_Comm_size(world, &size);
  const int members = int(settings.members.size());
  const bool single = options.only_member >= 0;
  if (single && options.only_member >= members)
    throw CollectiveError(fmt::format("--member {}: the ensemble has members 0 to {}",
                                      options.only_member, members - 1),
                          0);
  const int per_group = single ? size : settings.ranks_per_member;
  if (size % per_group != 0)
    throw CollectiveError(fmt::format("ensemble.ranks_per_member = {}: the {} MPI ranks do not "
                                      "split into groups of that size (use a multiple of it)",
                                      per_group, size),
                          0);
  const int groups = size / per_group;

  // The plan, on rank 0, checked against the statuses before any work.
  std::vector<int> queue;
  int before[3] = {0, 0, 0}; // finished, failed (skipped), to continue
  io::on_rank_zero(world, [&] {
    fs::create_directories(settings.directory);
    const std::string table = base.get_string("ensemble.table");
    const std::string csv = (fs::path(settings.directory) / "members.csv").string();
    if (table.empty() || !io::same_file(table, csv)) write_atomically(csv, members_csv(settings));
    for (int k = 0; k < members; ++k) {
      if (single && k != options.only_member) continue;
      const auto status = read_member_status(member_status_path(settings, k));
      if (status && status->state != MemberState::not_run) {
        const EnsembleMember& m = settings.members[size_t(k)];
        std::vector<std::string> changed;
        if (status->keys != m.keys || status->values != m.values) {
          changed.push_back("its parameters were " + parameter_text(status->keys, status->values) +
                            ", now " + parameter_text(m.keys, m.values));
        } else if (!status->configuration.empty()) {
          try {
            changed =
                differences(io::Config::from_text(status->configuration,
                                                  "the status of member " + std::to_string(k)),
                            member_run_config(base, settings, m));
          } catch (const Error& e) {
            changed.push_back(e.what());
          }
        }
        if (!changed.empty()) {
          std::string list;
          for (const auto& c : changed) list += (list.empty() ? "" : "; ") + c;
          throw Error(fmt::format(
              "ensemble.directory '{}' holds member {} ({}) of another configuration: {}. Use "
              "another ensemble.directory, or remove {}.* to run it again",
              settings.directory, k, state_name(status->state), list, member_stem(settings, k)));
        }
      }
      const MemberState state = status ? status->state : MemberState::not_run;
      if (!single && state == MemberState::finished) {
        ++before[0];
        continue;
      }
      if (!single && state == MemberState::failed && !options.retry_failed) {
        ++before[1];
        continue;
      }
      if (state == MemberState::running || state == MemberState::interrupted) ++before[2];
      queue.push_back(k);
    }
    spdlog::info(
        "ensemble: {}, {} group(s) of {} rank(s); {} to run{}{}{}", settings.description, groups,
        per_group, queue.size(), before[0] ? fmt::format(", {} finished before", before[0]) : "",
        before[1] ? fmt::format(", {} failed before (--retry-failed runs them)", before[1]) : "",
        before[2] ? fmt::format(", {} continued", before[2]) : "");
  });

  MPI_Comm group, agree, requests;
  MPI_Comm_split(world, rank / per_group, rank, &group);
  MPI_Comm_dup(group, &agree);
  MPI_Comm_dup(world, &requests);
  int grank = 0;
  MPI_Comm_rank(group, &grank);
  const bool leader = grank == 0;
  Dispatcher dispatcher(queue, requests, groups - 1);
  MemberRun run{base, settings, group, agree, signals, options.command_line, {}};
  if (rank == 0) run.between_steps = [&] { dispatcher.serve(); };

  int ran = 0;
  bool stopped = false;
  for (;;) {
    // The group stops together when any of its ranks had a stop signal.
    int stop_local = signals.stop.load(), stop = 0;
    MPI_Allreduce(&stop_local, &stop, 1, MPI_INT, MPI_MAX, group);
    int next = -1;
    if (leader) {
      if (rank == 0) {
        if (stop) dispatcher.stop();
        next = dispatcher.take();
      } else if (stop) {
        Dispatcher::leave(requests);
      } else {
        next = Dispatcher::ask(requests);
      }
    }
    MPI_Bcast(&next, 1, MPI_INT, 0, group);
    if (stop) stopped = true;
    if (next < 0) break;
    run_member(run, next);
    ++ran;
  }
  if (rank == 0) dispatcher.drain();
  MPI_Barrier(world);
  int totals[2] = {ran * (leader ? 1 : 0), stopped ? 1 : 0}, sums[2] = {0, 0};
  MPI_Allreduce(&totals[0], &sums[0], 1, MPI_INT, MPI_SUM, world);
  MPI_Allreduce(&totals[1], &sums[1], 1, MPI_INT, MPI_MAX, world);
  MPI_Comm_free(&requests);
  MPI_Comm_free(&agree);
  MPI_Comm_free(&group);

  EnsembleReport report;
  int counts[4] = {0, 0, 0, 0};
  io::on_rank_zero(world, [&] {
    for (int k = 0; k < members; ++k) {
      const auto status = read_member_status(member_status_path(settings, k));
      const MemberState state = status ? status->state : MemberState::not_run;
      if (state == MemberState::finished)
        ++counts[0];
      else if (state == MemberState::failed)
        ++counts[1];
      else if (state == MemberState::interrupted || state == MemberState::running)
        ++counts[2];
      else
        ++counts[3];
    }
  });
  MPI_Bcast(counts, 4, MPI_INT, 0, world);
  report.finished = counts[0];
  report.failed = counts[1];
  report.interrupted = counts[2];
  report.not_run = counts[3];
  report.ran = sums[0];
  report.stopped = sums[1] != 0;
  report.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

} // namespace nunatak::model
