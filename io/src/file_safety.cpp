#include "nunatak/io/file_safety.hpp"

#include "nunatak/core/error.hpp"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>

namespace nunatak::io {

namespace fs = std::filesystem;

void FilePlan::read(const std::string& path, const std::string& role,
                    const std::string& replaced_by) {
  if (!path.empty()) reads.push_back({path, role, replaced_by, ""});
}

void FilePlan::write(const std::string& path, const std::string& role, const std::string& key) {
  if (!path.empty()) writes.push_back({path, role, "", key});
}

std::string temporary_path(const std::string& path) {
  return path + ".tmp." + std::to_string(::getpid());
}

void write_then_rename(const std::string& path,
                       const std::function<void(const std::string& temporary)>& write) {
  if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path());
  const std::string tmp = temporary_path(path);
  try {
    write(tmp);
    fs::rename(tmp, path);
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
}

namespace {

/// The absolute path with every link of its existing part resolved.
fs::path resolved(const std::string& path) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec);
  if (ec) return fs::path(path).lexically_normal();
  const fs::path canonical = fs::weakly_canonical(absolute, ec);
  return ec ? absolute.lexically_normal() : canonical;
}

std::string quoted(const FileUse& use) {
  return use.role + " '" + use.path + "'";
}

/// ", the same file under another name" where the two spellings differ.
std::string alias_note(const std::string& a, const std::string& b) {
  return a == b ? "" : " (the same file under another name)";
}

/// The file-name limit of the folder `dir` (or of its nearest existing parent).
long name_max(const fs::path& existing_dir) {
  errno = 0;
  const long n = ::pathconf(existing_dir.c_str(), _PC_NAME_MAX);
  return n > 0 ? n : 255;
}

/// Throws if `use` cannot be written where it is named.
void check_writable(const FileUse& use) {
  if (use.path.empty()) throw Error(use.role + " is empty: it must name a file");
  const fs::path p(use.path);
  std::error_code ec;
  if (!p.has_filename() || fs::is_directory(p, ec))
    throw Error(quoted(use) + " is a folder, not a file name");
  const fs::file_status status = fs::status(p, ec);
  if (fs::exists(status) && !fs::is_regular_file(status))
    throw Error(quoted(use) + " exists and is not a regular file (a device, pipe or socket): " +
                "nunatak writes a file and renames it into place, which would replace it");
  const fs::path absolute = fs::absolute(p, ec);
  if (absolute.string().size() + 32 >= PATH_MAX)
    throw Error(quoted(use) + ": the path is too long (" +
                std::to_string(absolute.string().size()) + " characters; at most " +
                std::to_string(PATH_MAX - 32) + ")");
  // The nearest folder that exists: the writer creates the missing ones below it.
  fs::path existing = absolute.parent_path();
  while (!existing.empty() && !fs::exists(existing, ec) && existing != existing.root_path())
    existing = existing.parent_path();
  if (!fs::is_directory(existing, ec))
    throw Error("cannot create the folder '" + p.parent_path().string() + "' for " + quoted(use) +
                ": '" + existing.string() + "' is a file, not a folder");
  const std::string tmp_name = fs::path(temporary_path(use.path)).filename().string();
  const long limit = name_max(existing);
  if (long(tmp_name.size()) > limit)
    throw Error(quoted(use) + ": the file name '" + p.filename().string() + "' is too long (" +
                std::to_string(p.filename().string().size()) +
                " characters; the file system allows " + std::to_string(limit) +
                ", and nunatak adds " +
                std::to_string(tmp_name.size() - p.filename().string().size()) +
                " for its temporary name)");
  for (const auto& part : p.parent_path())
    if (long(part.string().size()) > limit)
      throw Error(quoted(use) + ": the folder name '" + part.string() + "' is too long (" +
                  std::to_string(part.string().size()) + " characters; at most " +
                  std::to_string(limit) + ")");
  if (::access(existing.c_str(), W_OK | X_OK) != 0)
    throw Error("cannot write " + quoted(use) + ": the folder '" + existing.string() +
                "' is not writable (" + std::strerror(errno) + ")");
}

} // namespace

bool same_file(const std::string& a, const std::string& b) {
  if (resolved(a) == resolved(b)) return true;
  struct stat sa {};
  struct stat sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

void check_file_plan(const FilePlan& plan) {
  for (const auto& w : plan.writes) check_writable(w);
  for (const auto& w : plan.writes)
    for (const auto& r : plan.reads) {
      const bool same = same_file(w.path, r.path);
      if (!same && !same_file(temporary_path(w.path), r.path)) continue;
      if (same && !r.replaced_by.empty() && r.replaced_by == w.role) continue;
      throw Error(quoted(w) + " is the file read as " + quoted(r) + alias_note(w.path, r.path) +
                  ": nunatak never writes over a file it reads; choose another " +
                  (w.key.empty() ? w.role : w.key));
    }
  for (size_t i = 0; i < plan.writes.size(); ++i)
    for (size_t j = i + 1; j < plan.writes.size(); ++j) {
      const FileUse &a = plan.writes[i], &b = plan.writes[j];
      if (same_file(a.path, b.path))
        throw Error(quoted(a) + " and " + quoted(b) + " are the same file" +
                    alias_note(a.path, b.path) + ": each output needs its own file name");
    }
}

std::vector<std::string> clean_stale_temporaries(const FilePlan& plan) {
  std::vector<std::string> messages;
  std::vector<fs::path> seen;
  const long long self = ::getpid();
  for (const auto& w : plan.writes) {
    const fs::path target = resolved(w.path);
    bool done = false;
    for (const auto& s : seen) done = done || s == target;
    if (done) continue;
    seen.push_back(target);
    const fs::path dir = fs::path(w.path).has_parent_path() ? fs::path(w.path).parent_path() : ".";
    const std::string prefix = fs::path(w.path).filename().string() + ".tmp.";
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) continue;
    for (const auto& entry :
         fs::directory_iterator(dir, fs::directory_options::skip_permission_denied, ec)) {
      const std::string name = entry.path().filename().string();
      if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
      const std::string digits = name.substr(prefix.size());
      if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos)
        continue;
      const long long pid = std::stoll(digits);
      if (pid == self || pid <= 0) continue;
      const std::string file = (dir / name).string();
      if (::kill(pid_t(pid), 0) == 0 || errno == EPERM) {
        messages.push_back("left '" + file + "' (a temporary of " + quoted(w) +
                           "): it belongs to " + "process " + digits +
                           ", which is running (another run writing the same file?)");
        continue;
      }
      std::error_code removed;
      fs::remove(entry.path(), removed);
      messages.push_back((removed ? "could not remove '" + file + "' (" + removed.message() + ")"
                                  : "removed '" + file + "'") +
                         ", a temporary of " + quoted(w) + " left by process " + digits +
                         ", which is no longer running (a run killed before it finished)");
    }
  }
  return messages;
}

} // namespace nunatak::io
