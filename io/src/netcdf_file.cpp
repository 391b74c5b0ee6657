#include "nunatak/io/netcdf_file.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/io/path_checks.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <netcdf.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <mutex>
#include <utility>

namespace nunatak::io {

namespace {

/// HDF5 (under NetCDF-4) registers an exit-time clean-up (H5_term_library)
/// that closes every file still open. A file whose close failed (a full disk,
/// a file size limit: HDF5 cannot flush it) stays half-closed in HDF5 1.10, and
/// that clean-up then crashes (SIGSEGV in H5F__close_cb: exit status 139 after
/// nunatak has reported the error). nunatak closes every file itself (NcFile's
/// destructor), so it tells HDF5 not to register the clean-up: H5dont_atexit(),
/// which works only before HDF5 starts, i.e. before the first NetCDF call. It
/// is looked up in the HDF5 library that NetCDF itself uses (a process may
/// hold two: NetCDF's serial one and the MPI one PETSc uses), through NetCDF's
/// own handle: dlsym searches a library and its dependencies.
void prepare_hdf5() {
  static std::once_flag once;
  std::call_once(once, [] {
    Dl_info info{};
    if (!dladdr(reinterpret_cast<void*>(&nc_open), &info) || !info.dli_fname) return;
    void* netcdf = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
    if (!netcdf) return;
    using DontAtExit = int (*)();
    if (auto dont_atexit = reinterpret_cast<DontAtExit>(dlsym(netcdf, "H5dont_atexit")))
      dont_atexit();
    dlclose(netcdf);
  });
}

/// The first `n` bytes of `path` (fewer if it is shorter).
std::string first_bytes(const std::string& path, size_t n, size_t offset = 0) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes(n, '\0');
  in.seekg(std::streamoff(offset));
  in.read(bytes.data(), std::streamsize(n));
  bytes.resize(size_t(std::max<std::streamsize>(in.gcount(), 0)));
  return bytes;
}

/// HDF5's signature, at offset 0 or a power of two from 512 on (a user block).
bool has_hdf5_signature(const std::string& path, size_t size) {
  static const std::string signature("\x89HDF\r\n\x1a\n", 8);
  for (size_t offset = 0; offset + 8 <= size; offset = offset == 0 ? 512 : 2 * offset)
    if (first_bytes(path, 8, offset) == signature) return true;
  return false;
}

/// What a file that is not NetCDF seems to be, from its first bytes.
std::string looks_like(const std::string& head) {
  auto starts = [&](const std::string& magic) { return head.compare(0, magic.size(), magic) == 0; };
  if (starts("\x1f\x8b")) return "; it is gzip-compressed: decompress it first (gunzip)";
  if (starts("PK\x03\x04")) return "; it is a zip archive: extract it first (unzip)";
  if (starts("GRIB")) return "; it is a GRIB file (convert it, e.g. with cdo -f nc copy)";
  if (starts("II*") || starts("MM\x00*"))
    return "; it is a TIFF/GeoTIFF image (convert it, e.g. "
           "with gdal_translate -of netCDF)";
  if (starts("\x89PNG")) return "; it is a PNG image";
  std::string lower;
  for (char c : head.substr(0, 64)) lower += char(std::tolower(static_cast<unsigned char>(c)));
  if (lower.find("<!doctype html") != std::string::npos || lower.find("<html") != std::string::npos)
    return "; it is an HTML page (a failed download?)";
  if (lower.rfind("<?xml", 0) == 0) return "; it is an XML file";
  if (head.find('\0') == std::string::npos) return "; it looks like text";
  return "";
}

/// Why `path` is not a NetCDF file nunatak can open, or "" when it looks like
/// one: it is missing, a folder, empty, or has neither classic NetCDF's
/// signature ("CDF" 1, 2 or 5) nor HDF5's (NetCDF-4).
std::string not_netcdf_reason(const std::string& path) {
  if (auto why = unreadable_file(path)) return *why;
  struct stat st {};
  ::stat(path.c_str(), &st);
  const size_t size = size_t(st.st_size);
  if (size == 0) return "is empty (0 bytes), not a NetCDF file";
  const std::string head = first_bytes(path, 64);
  if (head.size() >= 4 && head.compare(0, 3, "CDF") == 0 &&
      (head[3] == '\x01' || head[3] == '\x02' || head[3] == '\x05'))
    return "";
  if (has_hdf5_signature(path, size)) return "";
  return "is not a NetCDF file (it starts with neither \"CDF\", classic NetCDF's signature, nor "
         "HDF5's, NetCDF-4's)" +
         looks_like(head);
}

/// Reads the header of a classic-format file (CDF-1, CDF-2 or CDF-5, big-endian;
/// the NetCDF classic format specification) to find the least size its data
/// need. nc_open does not check that a classic file is complete, and reads the
/// missing part of a truncated one as zeros; this lets open() refuse it.
class ClassicHeader {
public:
  explicit ClassicHeader(const std::string& path) : m_path(path) {}

  /// The least file size the header promises; nullopt when the header cannot
  /// be walked (then NetCDF's own checks decide). Throws "truncated" when the
  /// header itself runs past the end of the file.
  std::optional<unsigned long long> required_size(unsigned long long file_size) {
    m_bytes = first_bytes(m_path, size_t(std::min<unsigned long long>(file_size, 64ull << 20)));
    m_file_size = file_size;
    m_version = m_bytes.size() > 3 ? m_bytes[3] : 0;
    m_pos = 4;
    const unsigned long long numrecs = m_version == 5 ? u64() : u32();
    const bool streaming = m_version != 5 && numrecs == 0xffffffffull;
    if (!m_ok) return std::nullopt;
    // dimensions
    std::vector<unsigned long long> dims;
    const unsigned long long ndims = list(0x0a);
    for (unsigned long long d = 0; d < ndims && m_ok; ++d) {
      skip_name();
      dims.push_back(size());
    }
    skip_attributes();
    // variables
    struct Var {
      std::vector<unsigned long long> dimids;
      unsigned long long type_size = 0, begin = 0;
    };
    std::vector<Var> vars;
    const unsigned long long nvars = list(0x0b);
    for (unsigned long long v = 0; v < nvars && m_ok; ++v) {
      Var var;
      skip_name();
      const unsigned long long n = size();
      for (unsigned long long k = 0; k < n && m_ok; ++k) var.dimids.push_back(size());
      skip_attributes();
      var.type_size = type_size(u32());
      size(); // vsize (clipped for large variables: recomputed from the dimensions)
      var.begin = m_version == 1 ? u32() : u64();
      vars.push_back(var);
    }
    if (!m_ok) return std::nullopt;
    // A lower bound of the size: records of the record variables back to back
    // without padding (the true layout pads them to 4 bytes).
    auto is_record = [&](const Var& v) {
      return !v.dimids.empty() && v.dimids[0] < dims.size() && dims[v.dimids[0]] == 0;
    };
    auto values = [&](const Var& v) {
      unsigned long long n = 1;
      for (size_t k = is_record(v) ? 1 : 0; k < v.dimids.size(); ++k) {
        if (v.dimids[k] >= dims.size()) return 0ull;
        n *= dims[v.dimids[k]];
      }
      return n * v.type_size;
    };
    unsigned long long record_size = 0, required = 0;
    for (const auto& v : vars)
      if (is_record(v)) record_size += values(v);
    for (const auto& v : vars) {
      const unsigned long long bytes = values(v);
      if (bytes == 0) continue;
      if (!is_record(v))
        required = std::max(required, v.begin + bytes);
      else if (!streaming && numrecs > 0)
        required = std::max(required, v.begin + (numrecs - 1) * record_size + bytes);
    }
    return required;
  }

private:
  bool need(unsigned long long n) {
    if (!m_ok) return false;
    if (m_pos + n > m_bytes.size()) {
      if (m_bytes.size() >= m_file_size)
        throw Error("input file '" + m_path + "' is truncated: its NetCDF header ends after " +
                    std::to_string(m_file_size) +
                    " bytes, in the middle (an interrupted download or copy?)");
      m_ok = false; // a header larger than what was read: give up
      return false;
    }
    return true;
  }
  unsigned long long big_endian(int n) {
    if (!need(unsigned(n))) return 0;
    unsigned long long v = 0;
    for (int k = 0; k < n; ++k) v = (v << 8) | static_cast<unsigned char>(m_bytes[m_pos++]);
    return v;
  }
  unsigned long long u32() { return big_endian(4); }
  unsigned long long u64() { return big_endian(8); }
  unsigned long long size() { return m_version == 5 ? u64() : u32(); }
  void skip(unsigned long long n) {
    const unsigned long long padded = (n + 3) / 4 * 4;
    if (need(padded)) m_pos += size_t(padded);
  }
  void skip_name() { skip(size()); }
  /// A list's tag (`tag` or ABSENT = 0) and its length.
  unsigned long long list(unsigned long long tag) {
    const unsigned long long t = u32();
    const unsigned long long n = size();
    if (t != tag && !(t == 0 && n == 0)) m_ok = false;
    return m_ok ? n : 0;
  }
  static unsigned long long type_size(unsigned long long type) {
    switch (type) {
    case NC_BYTE:
    case NC_CHAR:
    case NC_UBYTE:
      return 1;
    case NC_SHORT:
    case NC_USHORT:
      return 2;
    case NC_INT:
    case NC_FLOAT:
    case NC_UINT:
      return 4;
    default:
      return 8; // NC_DOUBLE, NC_INT64, NC_UINT64
    }
  }
  void skip_attributes() {
    const unsigned long long n = list(0x0c);
    for (unsigned long long a = 0; a < n && m_ok; ++a) {
      skip_name();
      const unsigned long long size_of = type_size(u32());
      skip(size() * size_of);
    }
  }

  std::string m_path, m_bytes;
  unsigned long long m_file_size = 0;
  size_t m_pos = 0;
  char m_version = 0;
  bool m_ok = true;
};

/// Throws if `path`, a classic-format file, is shorter than its header says.
void require_complete_classic(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return;
  const auto size = static_cast<unsigned long long>(st.st_size);
  ClassicHeader header(path);
  if (auto required = header.required_size(size); required && *required > size)
    throw Error("input file '" + path + "' is truncated: its NetCDF header describes " +
                std::to_string(*required) + " bytes of data, but the file has " +
                std::to_string(size) + " bytes (an interrupted download or copy?)");
}

/// The reason a file cannot be created at `path`, found by trying it with
/// open(2): NetCDF-4 reports every failure of HDF5 to create a file as
/// "Permission denied".
/// errno's text for a write that failed for want of room ("No space left on
/// device (the disk is full)"), or "" for another reason.
std::string no_room(int err) {
  if (err != ENOSPC && err != EFBIG && err != EDQUOT) return "";
  return std::string(std::strerror(err)) + (err == EFBIG
                                                ? " (the file size limit, ulimit -f, is reached)"
                                            : err == EDQUOT ? " (the disk quota is used up)"
                                                            : " (the disk is full)");
}

/// Why nc_create failed on `path` (NetCDF-4 says "Permission denied" for
/// every file it cannot create): `err` is errno after the call, `existed`
/// whether the path existed before it.
std::string create_failure(const std::string& path, int nc_status, int err, bool existed) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return "it is a folder";
  if (const std::string room = no_room(err); !room.empty()) return room;
  errno = 0;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
  if (fd < 0) return describe_errno(errno, path);
  ::close(fd);
  if (!existed) ::unlink(path.c_str());
  // An empty file can be created on a full disk (it takes no block): ask
  // the file system how much room is left.
  const std::string dir = path.find('/') == std::string::npos
                              ? std::string(".")
                              : path.substr(0, path.find_last_of('/') + 1);
  struct statvfs fs {};
  if (::statvfs(dir.c_str(), &fs) == 0 && double(fs.f_bavail) * double(fs.f_frsize) < 65536.0)
    return no_room(ENOSPC) + ": " +
           std::to_string(static_cast<unsigned long long>(fs.f_bavail) * fs.f_frsize) +
           " bytes free";
  return nc_strerror(nc_status);
}

} // namespace

double physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? double(pages) * double(page) : 0.0;
}

std::string format_bytes(double bytes) {
  if (!std::isfinite(bytes)) return "more bytes than a 64-bit size can count";
  const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 6) {
    bytes /= 1024.0;
    ++u;
  }
  char text[64];
  std::snprintf(text, sizeof text, u == 0 ? "%.0f %s" : "%.3g %s", bytes, units[u]);
  return text;
}

NcFile NcFile::open(const std::string& path) {
  if (const std::string why = not_netcdf_reason(path); !why.empty())
    throw Error("input file '" + path + "' " + why);
  if (first_bytes(path, 3) == "CDF") require_complete_classic(path);
  prepare_hdf5();
  int id = -1;
  const int status = nc_open(path.c_str(), NC_NOWRITE, &id);
  if (status == NC_EHDFERR || status == NC_ENOTNC)
    throw Error("input file '" + path +
                "' cannot be read as NetCDF: it is damaged or truncated (an interrupted download "
                "or copy?), or an HDF5 file that is not NetCDF-4 (" +
                nc_strerror(status) + ")");
  if (status != NC_NOERR)
    throw Error("cannot open '" + path + "' as NetCDF: " +
                (status > 0 ? describe_errno(status, path) : nc_strerror(status)));
  return NcFile(path, id);
}

NcFile NcFile::create(const std::string& path) {
  prepare_hdf5();
  struct stat st {};
  const bool existed = ::stat(path.c_str(), &st) == 0;
  int id = -1;
  errno = 0;
  const int status = nc_create(path.c_str(), NC_NETCDF4 | NC_CLOBBER, &id);
  if (status != NC_NOERR) {
    const std::string why = create_failure(path, status, errno, existed);
    // HDF5 may leave the empty file it could not write.
    if (!existed && ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) ::unlink(path.c_str());
    throw Error("cannot create NetCDF file '" + path + "': " + why);
  }
  return NcFile(path, id);
}

NcFile NcFile::open_for_writing(const std::string& path) {
  if (const std::string why = not_netcdf_reason(path); !why.empty())
    throw Error("cannot open '" + path + "' for writing: it " + why);
  prepare_hdf5();
  int id = -1;
  const int status = nc_open(path.c_str(), NC_WRITE, &id);
  if (status != NC_NOERR)
    throw Error("cannot open '" + path + "' for writing: " +
                (status > 0 ? describe_errno(status, path) : nc_strerror(status)));
  return NcFile(path, id);
}

NcFile::~NcFile() {
  // On an error path (a write failed) nc_close fails too; the file is as
  // closed as HDF5 can make it, and prepare_hdf5() keeps HDF5's exit-time
  // clean-up from crashing on it.
  if (m_id >= 0) nc_close(m_id);
}

NcFile::NcFile(NcFile&& other) noexcept
    : m_path(std::move(other.m_path)), m_id(std::exchange(other.m_id, -1)) {}

NcFile& NcFile::operator=(NcFile&& other) noexcept {
  if (this != &other) {
    if (m_id >= 0) nc_close(m_id);
    m_path = std::move(other.m_path);
    m_id = std::exchange(other.m_id, -1);
  }
  return *this;
}

void NcFile::close() {
  if (m_id < 0) return;
  const int id = std::exchange(m_id, -1);
  errno = 0;
  check(nc_close(id), "closing the file");
}

void NcFile::check(int status, const std::string& what) const {
  if (status == NC_NOERR) return;
  // HDF5 reports a failed write as "HDF error"; errno says why (the writing
  // calls clear it first).
  std::string why = status > 0 ? describe_errno(status, m_path) : nc_strerror(status);
  const int err = errno;
  if (status == NC_EHDFERR && (err == ENOSPC || err == EFBIG || err == EDQUOT || err == EIO))
    why += ": " + (err == EIO ? std::string(std::strerror(err)) : no_room(err));
  throw Error("NetCDF error in '" + m_path + "' while " + what + ": " + why);
}

std::vector<std::string> NcFile::variable_names() const {
  int n = 0;
  check(nc_inq_nvars(m_id, &n), "listing variables");
  std::vector<std::string> names;
  for (int v = 0; v < n; ++v) names.push_back(variable_name(v));
  return names;
}

std::optional<int> NcFile::find_variable(const std::string& name) const {
  int varid = -1;
  if (nc_inq_varid(m_id, name.c_str(), &varid) != NC_NOERR) return std::nullopt;
  return varid;
}

int NcFile::variable(const std::string& name) const {
  if (auto v = find_variable(name)) return *v;
  throw Error("variable '" + name + "' not found in '" + m_path + "'");
}

std::string NcFile::variable_name(int varid) const {
  char name[NC_MAX_NAME + 1] = {0};
  check(nc_inq_varname(m_id, varid, name), "reading a variable name");
  return name;
}

std::vector<Dimension> NcFile::dimensions(int varid) const {
  int ndims = 0;
  check(nc_inq_varndims(m_id, varid, &ndims),
        "reading dimensions of '" + variable_name(varid) + "'");
  std::vector<int> ids(ndims);
  check(nc_inq_vardimid(m_id, varid, ids.data()), "reading dimensions");
  int nunlim = 0;
  check(nc_inq_unlimdims(m_id, &nunlim, nullptr), "reading unlimited dimensions");
  std::vector<int> unlim(nunlim);
  if (nunlim > 0) check(nc_inq_unlimdims(m_id, &nunlim, unlim.data()), "reading unlimited dims");
  std::vector<Dimension> dims;
  for (int id : ids) {
    char name[NC_MAX_NAME + 1] = {0};
    size_t len = 0;
    check(nc_inq_dim(m_id, id, name, &len), "reading a dimension");
    bool is_unlimited = false;
    for (int u : unlim) is_unlimited = is_unlimited || u == id;
    dims.push_back({name, len, is_unlimited});
  }
  return dims;
}

int NcFile::type(int varid) const {
  nc_type t = NC_NAT;
  check(nc_inq_vartype(m_id, varid, &t), "reading a variable type");
  return t;
}

std::optional<std::string> NcFile::text_attribute(int varid, const std::string& name) const {
  nc_type t = NC_NAT;
  size_t len = 0;
  if (nc_inq_att(m_id, varid, name.c_str(), &t, &len) != NC_NOERR) return std::nullopt;
  std::string text;
  if (t == NC_CHAR) {
    text.assign(len, '\0');
    check(nc_get_att_text(m_id, varid, name.c_str(), text.data()), "reading attribute " + name);
  } else if (t == NC_STRING && len >= 1) { // NetCDF-4 strings (written by h5py, R, ...)
    std::vector<char*> strings(len, nullptr);
    check(nc_get_att_string(m_id, varid, name.c_str(), strings.data()),
          "reading attribute " + name);
    for (size_t k = 0; k < len; ++k)
      text += (k ? "\n" : "") + std::string(strings[k] ? strings[k] : "");
    nc_free_string(len, strings.data());
  } else {
    return std::nullopt;
  }
  while (!text.empty() && text.back() == '\0') text.pop_back();
  return text;
}

std::optional<int> NcFile::attribute_type(int varid, const std::string& name) const {
  nc_type t = NC_NAT;
  if (nc_inq_atttype(m_id, varid, name.c_str(), &t) != NC_NOERR) return std::nullopt;
  return t;
}

std::optional<std::vector<double>> NcFile::number_attribute(int varid,
                                                            const std::string& name) const {
  nc_type t = NC_NAT;
  size_t len = 0;
  if (nc_inq_att(m_id, varid, name.c_str(), &t, &len) != NC_NOERR) return std::nullopt;
  if (t == NC_CHAR || t == NC_STRING) return std::nullopt;
  std::vector<double> values(len);
  check(nc_get_att_double(m_id, varid, name.c_str(), values.data()), "reading attribute " + name);
  return values;
}

std::vector<core::Attribute> NcFile::attributes(int varid) const {
  int natts = 0;
  if (varid == NC_GLOBAL)
    check(nc_inq_natts(m_id, &natts), "counting global attributes");
  else
    check(nc_inq_varnatts(m_id, varid, &natts), "counting attributes");
  std::vector<core::Attribute> result;
  for (int a = 0; a < natts; ++a) {
    char name[NC_MAX_NAME + 1] = {0};
    check(nc_inq_attname(m_id, varid, a, name), "reading an attribute name");
    if (auto text = text_attribute(varid, name))
      result.push_back({name, *text});
    else if (auto numbers = number_attribute(varid, name))
      result.push_back({name, *numbers});
  }
  return result;
}

std::vector<double> NcFile::read(int varid, const std::vector<size_t>& start,
                                 const std::vector<size_t>& count) const {
  // The sizes come from the file: check them before allocating.
  size_t n = 1;
  bool overflow = false;
  std::string shape;
  for (size_t c : count) {
    shape += (shape.empty() ? "" : " x ") + std::to_string(c);
    if (c != 0 && n > std::numeric_limits<size_t>::max() / sizeof(double) / c) overflow = true;
    n *= c;
  }
  const double bytes = double(sizeof(double)) * double(n);
  const double memory = physical_memory_bytes();
  if (overflow || (memory > 0 && bytes > memory))
    throw Error("variable '" + variable_name(varid) + "' in '" + m_path + "': reading " + shape +
                " values needs " + format_bytes(overflow ? INFINITY : bytes) +
                ", more than this machine's memory (" + format_bytes(memory) +
                "); is the file's grid really that large?");
  std::vector<double> values(n);
  check(nc_get_vara_double(m_id, varid, start.data(), count.data(), values.data()),
        "reading variable '" + variable_name(varid) + "'");
  return values;
}

std::vector<double> NcFile::read_all(int varid) const {
  std::vector<size_t> start, count;
  for (const auto& d : dimensions(varid)) {
    start.push_back(0);
    count.push_back(d.length);
  }
  return read(varid, start, count);
}

int NcFile::define_dimension(const std::string& name, size_t length) {
  int id = -1;
  check(nc_def_dim(m_id, name.c_str(), length == 0 ? NC_UNLIMITED : length, &id),
        "defining dimension '" + name + "'");
  return id;
}

int NcFile::define_variable(const std::string& name, int nc_type_id, const std::vector<int>& dims) {
  int id = -1;
  check(nc_def_var(m_id, name.c_str(), nc_type_id, static_cast<int>(dims.size()), dims.data(), &id),
        "defining variable '" + name + "'");
  return id;
}

void NcFile::put_attribute(int varid, const std::string& name, const std::string& text) {
  check(nc_put_att_text(m_id, varid, name.c_str(), text.size(), text.c_str()),
        "writing attribute '" + name + "'");
}

void NcFile::put_attribute(int varid, const std::string& name, const std::vector<double>& v) {
  check(nc_put_att_double(m_id, varid, name.c_str(), NC_DOUBLE, v.size(), v.data()),
        "writing attribute '" + name + "'");
}

void NcFile::put_attribute(int varid, const std::string& name, const std::vector<int>& v) {
  nc_type t = NC_INT;
  if (varid != NC_GLOBAL) check(nc_inq_vartype(m_id, varid, &t), "reading a variable type");
  if (t != NC_BYTE && t != NC_SHORT) t = NC_INT; // flag_values must match the variable's type
  check(nc_put_att_int(m_id, varid, name.c_str(), t, v.size(), v.data()),
        "writing attribute '" + name + "'");
}

void NcFile::put_attribute(int varid, const core::Attribute& a) {
  if (auto text = std::get_if<std::string>(&a.value))
    put_attribute(varid, a.name, *text);
  else
    put_attribute(varid, a.name, std::get<std::vector<double>>(a.value));
}

void NcFile::set_compression(int varid, const std::vector<size_t>& chunks, int deflate_level) {
  check(nc_def_var_chunking(m_id, varid, NC_CHUNKED, chunks.data()), "setting chunk sizes");
  if (deflate_level > 0)
    check(nc_def_var_deflate(m_id, varid, 1, 1, deflate_level), "setting compression");
}

void NcFile::end_definitions() {
  errno = 0;
  const int status = nc_enddef(m_id);
  check(status, "ending the definitions");
}

void NcFile::redefine() {
  check(nc_redef(m_id), "re-entering define mode");
}

size_t NcFile::dimension_length(const std::string& name) const {
  size_t length = 0;
  int id = -1;
  check(nc_inq_dimid(m_id, name.c_str(), &id), "finding dimension '" + name + "'");
  check(nc_inq_dimlen(m_id, id, &length), "reading dimension '" + name + "'");
  return length;
}

void NcFile::write(int varid, const std::vector<size_t>& start, const std::vector<size_t>& count,
                   const double* values) {
  errno = 0;
  const int status = nc_put_vara_double(m_id, varid, start.data(), count.data(), values);
  if (status != NC_NOERR) {
    const int err = errno; // kept for check(), which reads it
    const std::string name = variable_name(varid);
    errno = err;
    check(status, "writing variable '" + name + "'");
  }
}

} // namespace nunatak::io
