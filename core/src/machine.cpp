/// The loaded BLAS (machine.hpp), found among the process's shared objects.
#include "nunatak/core/machine.hpp"

#include <link.h>

#include <cstdlib>

#include <string>

namespace nunatak::core {

std::string blas_library() {
  std::string found;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) -> int {
        const std::string opened = info->dlpi_name ? info->dlpi_name : "";
        if (opened.find("blas") == std::string::npos) return 0;
        // Through the symbolic links of Debian's alternatives to the file.
        char* resolved = realpath(opened.c_str(), nullptr);
        const std::string path = resolved ? resolved : opened;
        std::free(resolved);
        const std::size_t slash = path.find_last_of('/');
        const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
        if (name.find("blas") == std::string::npos) return 0;
        // The folder names the implementation (Debian's alternatives).
        const std::size_t folder = slash == std::string::npos || slash == 0
                                       ? std::string::npos
                                       : path.find_last_of('/', slash - 1);
        *static_cast<std::string*>(data) =
            folder == std::string::npos ? path : path.substr(folder + 1);
        return 1;
      },
      &found);
  return found.empty() ? "none loaded" : found;
}

} // namespace nunatak::core
