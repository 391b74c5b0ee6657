# Installation and the exported CMake package: after `cmake --install build
# --prefix P`, another project finds nunatak with
#   find_package(nunatak REQUIRED)   # CMAKE_PREFIX_PATH=P
#   target_link_libraries(app PRIVATE nunatak::model)   # or core, io, solver, inversion, emulator,
#                                                        # model_ml (the LibTorch parts of model)
# tests/consumer is such a project; the test `consumer_project` builds it
# against a fresh installation.
include(GNUInstallDirs)
if(NOT NUNATAK_ENABLE_SOLVERS)
  return() # a LibTorch-only build (GPU machines) is used in place, not installed
endif()
include(CMakePackageConfigHelpers)

set_target_properties(nunatak_core_base PROPERTIES EXPORT_NAME core_base)
set_target_properties(nunatak_core PROPERTIES EXPORT_NAME core)
set_target_properties(nunatak_inversion PROPERTIES EXPORT_NAME inversion)
set_target_properties(nunatak_io PROPERTIES EXPORT_NAME io)
set_target_properties(nunatak_solver PROPERTIES EXPORT_NAME solver)
set_target_properties(nunatak_model PROPERTIES EXPORT_NAME model)
set_target_properties(nunatak_kokkos PROPERTIES EXPORT_NAME kokkos)
set_target_properties(nunatak_coupling PROPERTIES EXPORT_NAME coupling)
set_target_properties(nunatak_c PROPERTIES EXPORT_NAME c)
set(nunatak_installed nunatak_core_base nunatak_core nunatak_inversion nunatak_io nunatak_solver
                      nunatak_model nunatak_kokkos nunatak_coupling nunatak_c)
set(nunatak_installed_headers core inversion io solver model coupling)
# The Fortran module library and its .mod files, where it was built.
set(NUNATAK_WITH_FORTRAN OFF)
if(TARGET nunatak_fortran)
  set(NUNATAK_WITH_FORTRAN ON)
  set_target_properties(nunatak_fortran PROPERTIES EXPORT_NAME fortran INSTALL_RPATH "$ORIGIN")
  list(APPEND nunatak_installed nunatak_fortran)
  install(DIRECTORY ${CMAKE_BINARY_DIR}/fortran_modules/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nunatak/fortran)
endif()
if(NUNATAK_ENABLE_EMULATOR)
  set_target_properties(nunatak_emulator PROPERTIES EXPORT_NAME emulator)
  set_target_properties(nunatak_torch PROPERTIES EXPORT_NAME torch)
  set_target_properties(nunatak_gradient_inversion PROPERTIES EXPORT_NAME gradient_inversion)
  set_target_properties(nunatak_superres PROPERTIES EXPORT_NAME superres)
  set_target_properties(nunatak_model_ml PROPERTIES EXPORT_NAME model_ml)
  list(APPEND nunatak_installed nunatak_emulator nunatak_torch nunatak_gradient_inversion
                                nunatak_superres nunatak_model_ml)
  list(APPEND nunatak_installed_headers emulator superres)
endif()

install(TARGETS ${nunatak_installed}
        EXPORT nunatakTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS nunatak RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The program's LibTorch plugin, where the program looks for it (apps/nunatak).
if(TARGET nunatak_ml)
  install(TARGETS nunatak_ml LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()
foreach(library ${nunatak_installed_headers})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${library}/include/
          DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endforeach()
install(FILES ${CMAKE_BINARY_DIR}/generated/nunatak/core/version.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/nunatak/core)

set(NUNATAK_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/nunatak)
install(EXPORT nunatakTargets NAMESPACE nunatak:: DESTINATION ${NUNATAK_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/nunatakConfig.cmake.in
                              ${CMAKE_BINARY_DIR}/nunatakConfig.cmake
                              INSTALL_DESTINATION ${NUNATAK_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/nunatakConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/nunatakConfig.cmake ${CMAKE_BINARY_DIR}/nunatakConfigVersion.cmake
        DESTINATION ${NUNATAK_CMAKE_DIR})

# pkg-config files for host programs that do not use CMake (C, Fortran); the
# prefix is found from the file's own place, so an installation can move.
set(pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH pc_to_prefix /root/${pc_dir} /root)
configure_file(${PROJECT_SOURCE_DIR}/cmake/nunatak.pc.in ${CMAKE_BINARY_DIR}/nunatak.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/nunatak.pc DESTINATION ${pc_dir})
if(TARGET nunatak_fortran)
  configure_file(${PROJECT_SOURCE_DIR}/cmake/nunatak-fortran.pc.in
                 ${CMAKE_BINARY_DIR}/nunatak-fortran.pc @ONLY)
  install(FILES ${CMAKE_BINARY_DIR}/nunatak-fortran.pc DESTINATION ${pc_dir})
endif()
