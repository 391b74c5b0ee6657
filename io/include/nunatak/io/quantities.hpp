#pragma once
/// \file quantities.hpp
/// The physical quantities nunatak reads and writes, and how to recognise them
/// in other people's files (PISM, ISMIP6, BedMachine, IGM, Yelmo names and CF
/// standard names).

#include "nunatak/core/field.hpp"
#include "nunatak/core/floatation.hpp"

#include <string>
#include <vector>

namespace nunatak::io {

/// How a quantity's values are converted on input.
enum class QuantityKind {
  length,    ///< converted to m
  velocity,  ///< converted to m s-1
  mass_flux, ///< surface mass balance: kg m-2 s-1, or a length rate times a density
  stress,    ///< converted to Pa
  softness,  ///< Glen's A: converted to Pa-n s-1 (n = flow_law.glen_exponent), on levels
  flag,      ///< masks: values kept, units ignored
};

/// One quantity: its field metadata and the names it goes by in the wild.
struct QuantitySpec {
  core::FieldInfo info; ///< name (PISM style), units (SI), output units, ...
  QuantityKind kind;
  std::vector<std::string> names;          ///< variable names to look for, in order
  std::vector<std::string> standard_names; ///< CF standard names that identify it
};

/// The catalogue entry for `name` ("thk", "topg", "usurf", "mask",
/// "climatic_mass_balance", "uvelsurfobs", "vvelsurfobs", "velsurfobs_mag",
/// "thkobs", "dhdt", "tauc", "softness"); throws nunatak::Error for other names.
const QuantitySpec& quantity(const std::string& name);

/// Every quantity in the catalogue.
const std::vector<QuantitySpec>& quantities();

/// Metadata of derived output fields that are not inputs ("velsurf_mag", ...).
core::FieldInfo output_field_info(const std::string& name);

/// The PISM cell-type mask convention used by nunatak's `mask` field: the
/// floatation rule's (core/floatation.hpp).
using core::CellType;
using core::floating_ice;
using core::grounded_ice;
using core::ice_free_bedrock;
using core::ice_free_ocean;

} // namespace nunatak::io
