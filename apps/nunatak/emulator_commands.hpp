#pragma once
/// \file emulator_commands.hpp
/// What the LibTorch subcommands of `nunatak emulator` share (included only
/// by command_emulator_train.cpp and command_emulator_gradient.cpp).

#include "commands.hpp"

#include "nunatak/emulator/network.hpp"
#include "nunatak/io/emulator_dataset.hpp"

#include <string>

namespace nunatak::app {

/// Throws nunatak::Error (naming `model_path` and each mismatch) if the model's
/// levels, constants or inputs do not fit `dataset`.
void check_model_fits(const emulator::Emulator& net, const io::EmulatorDataset& dataset,
                      const std::string& model_path);

/// Adds --refine (into `steps`, 0 .. 1000, described by `steps_help`) and
/// --refine-method (into `method`: defect or newton) to `cmd`.
void add_refine_options(CLI::App* cmd, int& steps, std::string& method,
                        const std::string& steps_help);

/// `nunatak emulator gradient` (command_emulator_gradient.cpp).
void add_gradient_command(CLI::App& emulator, Context& context);

} // namespace nunatak::app
