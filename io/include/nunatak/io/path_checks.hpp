#pragma once
/// \file path_checks.hpp
/// What is wrong with a path a user gave, in words: the checks that come
/// before opening an input (NetCDF or YAML), so that an error says "does not
/// exist", "is a folder", "is empty" or "the name is too long" instead of a
/// library's generic message ("NetCDF: Unknown file format", "Permission
/// denied").

#include <optional>
#include <string>

namespace nunatak::io {

/// The reason `err` (an errno value) stops `path` from being opened, in words:
/// strerror's text, and for ENAMETOOLONG which part of the name is too long and
/// the limits (NAME_MAX bytes a part, PATH_MAX bytes in all).
std::string describe_errno(int err, const std::string& path);

/// Why `path` cannot be read as a regular file, or nullopt if it can: it does
/// not exist, a part of it is not a folder, its name is too long, it is a
/// folder, a device or a pipe, or it cannot be read (permissions). The text
/// follows the quoted path, e.g. "'x.nc' " + "is a folder, not a file".
std::optional<std::string> unreadable_file(const std::string& path);

} // namespace nunatak::io
