# Warnings for nunatak's own targets (not for third-party headers, which are
# included as SYSTEM through their imported targets).
add_library(nunatak_warnings INTERFACE)
target_compile_options(nunatak_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor>)
