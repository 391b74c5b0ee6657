#pragma once
/// \file petsc_handle.hpp
/// RAII for PETSc objects (house style rule 7), after PISM's Wrapper.hh: an
/// owning handle that destroys its object, copy deleted, move allowed,
/// destructor never throws; and scoped borrows of a DM's work vectors and of
/// a vector's array.

#include "nunatak/core/petsc_check.hpp"

#include <petscdm.h>
#include <petscsnes.h>

#include <utility>

namespace nunatak::core {

/// How each PETSc object type is destroyed.
template <class T>
struct PetscDestroy;
template <>
struct PetscDestroy<DM> {
  static PetscErrorCode destroy(DM* h) { return DMDestroy(h); }
};
template <>
struct PetscDestroy<Vec> {
  static PetscErrorCode destroy(Vec* h) { return VecDestroy(h); }
};
template <>
struct PetscDestroy<Mat> {
  static PetscErrorCode destroy(Mat* h) { return MatDestroy(h); }
};
template <>
struct PetscDestroy<SNES> {
  static PetscErrorCode destroy(SNES* h) { return SNESDestroy(h); }
};
template <>
struct PetscDestroy<KSP> {
  static PetscErrorCode destroy(KSP* h) { return KSPDestroy(h); }
};
template <>
struct PetscDestroy<VecScatter> {
  static PetscErrorCode destroy(VecScatter* h) { return VecScatterDestroy(h); }
};
template <>
struct PetscDestroy<PetscContainer> {
  static PetscErrorCode destroy(PetscContainer* h) { return PetscContainerDestroy(h); }
};

/// An owned PETSc object (DM, Vec, Mat, SNES, KSP, PetscContainer), destroyed with it.
template <class T>
class PetscHandle {
public:
  PetscHandle() = default;
  /// Takes ownership of `handle` (one reference).
  explicit PetscHandle(T handle) : m_handle(handle) {}
  ~PetscHandle() { reset(); }
  PetscHandle(const PetscHandle&) = delete;
  PetscHandle& operator=(const PetscHandle&) = delete;
  PetscHandle(PetscHandle&& other) noexcept : m_handle(std::exchange(other.m_handle, nullptr)) {}
  PetscHandle& operator=(PetscHandle&& other) noexcept {
    if (this != &other) {
      reset();
      m_handle = std::exchange(other.m_handle, nullptr);
    }
    return *this;
  }

  T get() const { return m_handle; }
  operator T() const { return m_handle; }
  explicit operator bool() const { return m_handle != nullptr; }
  /// Destroys the object held (if any) and returns the slot for a PETSc
  /// creation call: `NUNATAK_PETSC(DMCreate(comm, dm.out()))`.
  T* out() {
    reset();
    return &m_handle;
  }
  /// Destroys the object held, if any.
  void reset() noexcept {
    if (m_handle) (void)PetscDestroy<T>::destroy(&m_handle);
    m_handle = nullptr;
  }

private:
  T m_handle = nullptr;
};

using DMHandle = PetscHandle<DM>;
using VecHandle = PetscHandle<Vec>;
using MatHandle = PetscHandle<Mat>;
using SNESHandle = PetscHandle<SNES>;
using KSPHandle = PetscHandle<KSP>;

/// A work vector of a DM (local: ghosted; or global), borrowed for the
/// lifetime of this object.
class BorrowedVec {
public:
  enum Kind { local, global };
  BorrowedVec(DM dm, Kind kind) : m_dm(dm), m_kind(kind) {
    NUNATAK_PETSC(kind == local ? DMGetLocalVector(dm, &m_vec) : DMGetGlobalVector(dm, &m_vec));
  }
  ~BorrowedVec() {
    if (m_kind == local)
      (void)DMRestoreLocalVector(m_dm, &m_vec);
    else
      (void)DMRestoreGlobalVector(m_dm, &m_vec);
  }
  BorrowedVec(const BorrowedVec&) = delete;
  BorrowedVec& operator=(const BorrowedVec&) = delete;
  Vec get() const { return m_vec; }
  operator Vec() const { return m_vec; }

private:
  DM m_dm;
  Kind m_kind;
  Vec m_vec = nullptr;
};

/// A DMDA local vector whose storage is `data` (a ghosted-box array) for the
/// lifetime of this object.
class PlacedLocalVec {
public:
  PlacedLocalVec(DM dm, double* data) : m_vec(dm, BorrowedVec::local) {
    NUNATAK_PETSC(VecPlaceArray(m_vec, data));
  }
  ~PlacedLocalVec() { (void)VecResetArray(m_vec); }
  PlacedLocalVec(const PlacedLocalVec&) = delete;
  PlacedLocalVec& operator=(const PlacedLocalVec&) = delete;
  Vec get() const { return m_vec; }
  operator Vec() const { return m_vec; }

private:
  BorrowedVec m_vec;
};

/// Read access to a vector's local array for the lifetime of this object.
class VecReadArray {
public:
  explicit VecReadArray(Vec v) : m_vec(v) { NUNATAK_PETSC(VecGetArrayRead(v, &m_array)); }
  ~VecReadArray() { (void)VecRestoreArrayRead(m_vec, &m_array); }
  VecReadArray(const VecReadArray&) = delete;
  VecReadArray& operator=(const VecReadArray&) = delete;
  const PetscScalar* data() const { return m_array; }

private:
  Vec m_vec;
  const PetscScalar* m_array = nullptr;
};

/// Write access to a vector's local array for the lifetime of this object.
class VecWriteArray {
public:
  explicit VecWriteArray(Vec v) : m_vec(v) { NUNATAK_PETSC(VecGetArray(v, &m_array)); }
  ~VecWriteArray() { (void)VecRestoreArray(m_vec, &m_array); }
  VecWriteArray(const VecWriteArray&) = delete;
  VecWriteArray& operator=(const VecWriteArray&) = delete;
  PetscScalar* data() const { return m_array; }

private:
  Vec m_vec;
  PetscScalar* m_array = nullptr;
};

/// Throws nunatak::Error, naming `what`, unless memory of PETSc type `type`
/// is reachable from Kokkos' default execution space (host memory from a
/// host space, device memory from a device space): a vector type that does
/// not match the Kokkos build (e.g. -bp_dm_vec_type kokkos with a CUDA PETSc
/// and a Serial Kokkos) is one clear error, not a kernel reading the wrong
/// memory.
void check_kernel_memory(PetscMemType type, const char* what);

/// Read access to a vector's array where PETSc keeps it (VecGetArrayReadAndMemType:
/// device memory for a device vector, no copy to the host), for kernels in
/// Kokkos' default execution space, for the lifetime of this object.
class VecKernelReadArray {
public:
  VecKernelReadArray(Vec v, const char* what) : m_vec(v) {
    PetscMemType type = PETSC_MEMTYPE_HOST;
    NUNATAK_PETSC(VecGetArrayReadAndMemType(v, &m_array, &type));
    try {
      check_kernel_memory(type, what);
    } catch (...) {
      (void)VecRestoreArrayReadAndMemType(v, &m_array);
      throw;
    }
  }
  ~VecKernelReadArray() { (void)VecRestoreArrayReadAndMemType(m_vec, &m_array); }
  VecKernelReadArray(const VecKernelReadArray&) = delete;
  VecKernelReadArray& operator=(const VecKernelReadArray&) = delete;
  const PetscScalar* data() const { return m_array; }

private:
  Vec m_vec;
  const PetscScalar* m_array = nullptr;
};

/// Read-write access to a vector's array where PETSc keeps it
/// (VecGetArrayAndMemType), for kernels in Kokkos' default execution space.
class VecKernelWriteArray {
public:
  VecKernelWriteArray(Vec v, const char* what) : m_vec(v) {
    PetscMemType type = PETSC_MEMTYPE_HOST;
    NUNATAK_PETSC(VecGetArrayAndMemType(v, &m_array, &type));
    try {
      check_kernel_memory(type, what);
    } catch (...) {
      (void)VecRestoreArrayAndMemType(v, &m_array);
      throw;
    }
  }
  ~VecKernelWriteArray() { (void)VecRestoreArrayAndMemType(m_vec, &m_array); }
  VecKernelWriteArray(const VecKernelWriteArray&) = delete;
  VecKernelWriteArray& operator=(const VecKernelWriteArray&) = delete;
  PetscScalar* data() const { return m_array; }

private:
  Vec m_vec;
  PetscScalar* m_array = nullptr;
};

} // namespace nunatak::core
