#pragma once
/// \file file_safety.hpp
/// No command ever writes over a file it reads, and no two outputs of one
/// command are the same file.
///
/// A command lists the files it will read and write (a `FilePlan`, each file
/// with the configuration key or option that named it) and checks the plan
/// before any work (`check_file_plan`). Two paths are the same file when they
/// resolve to the same absolute path (symbolic links, `./`, `dir/..`) or,
/// when both exist, when they have the same device and inode (hard links,
/// bind mounts). Every written file is written under the temporary name
/// `PATH.tmp.PID` and renamed when complete, so the temporaries are checked
/// too.
///
/// One exception is declared where it is safe: a file that is read
/// completely before anything is written and then replaced atomically by one
/// named writer (`FileUse::replaced_by`) — the restart checkpoint, which a
/// restarted run reads and then overwrites with its own checkpoints.

#include <functional>
#include <string>
#include <vector>

namespace nunatak::io {

/// One file that a command reads or writes.
struct FileUse {
  std::string path;
  /// What named it, for messages: "input.geometry.file", "output.file",
  /// "the time series of output.file", "--restart", ...
  std::string role;
  /// For a file read: the role of the one writer that may replace it (it is
  /// read completely before that writer writes, and replaced by a rename).
  std::string replaced_by;
  /// For a file written whose name is derived from another (the time series
  /// and quick-look maps from output.file): the key or option to change, for
  /// the advice in messages; "" when it is `role`.
  std::string key;
};

/// The files a command reads and writes.
struct FilePlan {
  std::vector<FileUse> reads, writes;
  /// Adds a file read (ignored if `path` is empty).
  void read(const std::string& path, const std::string& role, const std::string& replaced_by = "");
  /// Adds a file written (ignored if `path` is empty); `key`: see FileUse::key.
  void write(const std::string& path, const std::string& role, const std::string& key = "");
};

/// Not collective. Throws nunatak::Error, naming both roles and paths, if
///  - a file written (or its temporary PATH.tmp.PID) is a file read, unless
///    the read declares that writer in `replaced_by`;
///  - two files written are the same file;
/// and, naming the role and path, if a file written
///  - has an empty name or names a folder,
///  - has a file name (with the temporary's suffix) or a path too long for
///    the file system,
///  - lies in a folder that cannot be created (a file is in the way) or is
///    not writable.
void check_file_plan(const FilePlan& plan);

/// True if `a` and `b` name the same file (same resolved absolute path, or
/// both exist with the same device and inode).
bool same_file(const std::string& a, const std::string& b);

/// `PATH.tmp.PID` of this process: where `path` is written before the rename.
std::string temporary_path(const std::string& path);

/// Runs `write(temporary)` to produce `path` under its temporary name
/// (temporary_path; folders created), then renames it into place; removes
/// the temporary if `write` throws.
void write_then_rename(const std::string& path,
                       const std::function<void(const std::string& temporary)>& write);

/// Not collective. The temporaries `PATH.tmp.PID` of the files written by
/// `plan` left by processes that are no longer running on this host (a run
/// killed before it finished) are removed; those of running processes other
/// than this one are left alone. Returns one message for each, naming the
/// file and the process.
std::vector<std::string> clean_stale_temporaries(const FilePlan& plan);

} // namespace nunatak::io
