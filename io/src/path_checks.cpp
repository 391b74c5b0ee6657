#include "nunatak/io/path_checks.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

namespace nunatak::io {

std::string describe_errno(int err, const std::string& path) {
  std::string text = std::strerror(err);
  if (err == ENAMETOOLONG) {
    // Which limit: a part of the name (NAME_MAX) or the whole path (PATH_MAX).
    size_t longest = 0, start = 0;
    while (start <= path.size()) {
      const size_t end = std::min(path.find('/', start), path.size());
      longest = std::max(longest, end - start);
      start = end + 1;
    }
    text += " (" + std::to_string(path.size()) + " bytes, the longest part " +
            std::to_string(longest) + " bytes; the system allows " + std::to_string(NAME_MAX) +
            " bytes a part and " + std::to_string(PATH_MAX) + " in all)";
  } else if (err == ENOTDIR) {
    text += " (a part of the path before the file name is not a folder)";
  }
  return text;
}

std::optional<std::string> unreadable_file(const std::string& path) {
  if (path.empty()) return std::string("is an empty file name");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) return std::string("does not exist");
    return "cannot be opened: " + describe_errno(err, path);
  }
  if (S_ISDIR(st.st_mode)) return std::string("is a folder, not a file");
  if (!S_ISREG(st.st_mode)) return std::string("is not a regular file (a device, pipe or socket)");
  if (::access(path.c_str(), R_OK) != 0) return "cannot be read: " + describe_errno(errno, path);
  return std::nullopt;
}

} // namespace nunatak::io
