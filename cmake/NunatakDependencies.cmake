# Every third-party dependency of nunatak, found once and exposed as an imported
# target `nunatak::<name>`. All of them come from Debian 12 packages (setup.sh
# installs them). Debian's quirks are hidden here and nowhere else.

if(NUNATAK_ENABLE_EMULATOR)
  # LibTorch: Debian's libtorch-dev (1.13, CPU), or any LibTorch found through
  # CMAKE_PREFIX_PATH (e.g. PyTorch's, on a GPU machine: 2.x with CUDA).
  find_package(Torch REQUIRED)
  add_library(nunatak_torch INTERFACE)
  target_link_libraries(nunatak_torch INTERFACE ${TORCH_LIBRARIES})
  # at::parallel_for is inline: it runs its chunks on LibTorch's OpenMP
  # threads only in code compiled with OpenMP, else all on the calling
  # thread. Debian's LibTorch uses the system's libgomp, as this does.
  find_package(OpenMP COMPONENTS CXX)
  if(OpenMP_CXX_FOUND)
    target_link_libraries(nunatak_torch INTERFACE OpenMP::OpenMP_CXX)
  endif()
  add_library(nunatak::torch ALIAS nunatak_torch)
endif()

if(NUNATAK_ENABLE_TESTS AND NUNATAK_ENABLE_SOLVERS)
  find_package(GTest REQUIRED)
elseif(NUNATAK_ENABLE_TESTS)
  # A LibTorch-only machine may lack GoogleTest: the libraries build anyway,
  # the tests only where it is found (tests/CMakeLists.txt).
  find_package(GTest)
endif()

if(NOT NUNATAK_ENABLE_SOLVERS)
  return()
endif()

find_package(MPI REQUIRED COMPONENTS C CXX)
find_package(PkgConfig REQUIRED)

# PETSc 3.18 (petsc-dev) ships a pkg-config file only.
pkg_check_modules(PETSC REQUIRED IMPORTED_TARGET GLOBAL PETSc>=3.18)
add_library(nunatak::petsc ALIAS PkgConfig::PETSC)

# Kokkos 3.4.1 (libtrilinos-kokkos-dev): Debian's KokkosConfig.cmake points at
# a non-existent /usr/lib/include, so use the TriBITS `KokkosCore` package and
# add the real header folder ourselves. The build is Serial-only.
find_package(KokkosCore REQUIRED)
find_path(NUNATAK_KOKKOS_INCLUDE_DIR Kokkos_Core.hpp
          HINTS ${KokkosCore_INCLUDE_DIRS} /usr/include/trilinos REQUIRED)
add_library(nunatak_kokkos INTERFACE)
target_include_directories(nunatak_kokkos SYSTEM INTERFACE ${NUNATAK_KOKKOS_INCLUDE_DIR})
target_link_libraries(nunatak_kokkos INTERFACE trilinos_kokkoscore)
add_library(nunatak::kokkos ALIAS nunatak_kokkos)

pkg_check_modules(NETCDF REQUIRED IMPORTED_TARGET GLOBAL netcdf)
add_library(nunatak::netcdf ALIAS PkgConfig::NETCDF)
pkg_check_modules(UDUNITS REQUIRED IMPORTED_TARGET GLOBAL udunits)
add_library(nunatak::udunits ALIAS PkgConfig::UDUNITS)
pkg_check_modules(CAIRO REQUIRED IMPORTED_TARGET GLOBAL cairo)
add_library(nunatak::cairo ALIAS PkgConfig::CAIRO)

find_package(yaml-cpp REQUIRED)
find_package(CLI11 REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
