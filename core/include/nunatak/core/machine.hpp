#pragma once
/// \file machine.hpp
/// What a timing depends on besides the code: the BLAS that this process
/// loaded. LibTorch's convolutions on a CPU are matrix products, so the
/// emulator's speed depends on it several-fold (docs/emulator.md, "BLAS"),
/// and Debian picks it at run time (update-alternatives), not at build time.

#include <string>

namespace nunatak::core {

/// The file name of the loaded shared library whose name holds "blas" with
/// its folder (e.g. "openblas-serial/libblas.so.3", "blas/libblas.so.3" for
/// the reference BLAS), or "none loaded" where the process has none.
std::string blas_library();

} // namespace nunatak::core
