#pragma once
/// \file solver_team.hpp
/// A serial driver on rank 0 (the inversion: LibTorch, the optimisers) whose
/// Blatter-Pattyn solves run on every rank of a communicator.
///
/// Rank 0 leads. Each TeamSampleSolver it makes tells the other ranks, which
/// wait in SolverTeam::serve(), to build their part of the same SampleSolver
/// (the grid distributed over all ranks), to join its solves and adjoint
/// solves, and to destroy it. The arrays stay on rank 0: the solver's own
/// collective scatters and gathers move them. The other ranks wait for
/// orders without spinning (a non-blocking broadcast polled every
/// millisecond), so a rank-0 driver with threads keeps the cores to itself
/// between solves. A solve that fails, fails on every rank (PETSc's
/// convergence reasons are collective): rank 0 throws, the others go on
/// waiting for the next order.

#include "nunatak/core/bp_patch.hpp"

#include <mpi.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace nunatak::model {

class SampleSolver;

/// The ranks of `comm`: rank 0 leads, the others serve (see the file comment).
class SolverTeam {
public:
  /// Not collective.
  explicit SolverTeam(MPI_Comm comm);
  /// On rank 0: finish().
  ~SolverTeam();
  SolverTeam(const SolverTeam&) = delete;
  SolverTeam& operator=(const SolverTeam&) = delete;

  MPI_Comm comm() const { return m_comm; }
  int size() const { return m_size; }
  /// True on rank 0.
  bool leader() const { return m_rank == 0; }
  /// Ranks other than 0: builds, solves with and destroys the leader's
  /// solvers as it orders, until it calls finish().
  void serve();
  /// Rank 0: ends the other ranks' serve(). Call it before the next
  /// collective call outside the team. Does nothing the second time.
  void finish();

private:
  friend class TeamSampleSolver;
  struct Order {
    int what = 0, solver = 0, flags = 0;
  };
  /// Rank 0: sends `order` to the others.
  void send(const Order& order);
  /// The others: the next order (waits without spinning).
  Order receive();

  MPI_Comm m_comm;
  int m_rank = 0, m_size = 1;
  int m_next_solver = 0;
  bool m_finished = false;
};

/// A SampleSolver on the team's ranks, driven from rank 0. Its calls are
/// SampleSolver's, made on rank 0 only (the team's other ranks join them
/// from SolverTeam::serve()).
class TeamSampleSolver {
public:
  /// Rank 0: a SampleSolver for `patch` on all the team's ranks; on rank 0
  /// alone where `team` is null or has one rank.
  TeamSampleSolver(SolverTeam* team, const core::BPPatch& patch, bool ocean_pressure,
                   const std::string& options_prefix, bool small_grid);
  ~TeamSampleSolver();
  TeamSampleSolver(const TeamSampleSolver&) = delete;
  TeamSampleSolver& operator=(const TeamSampleSolver&) = delete;

  /// SampleSolver's, on the team's ranks.
  void set_velocity(const std::vector<double>& velocity);
  std::vector<double> solve(const std::vector<double>& thickness);
  std::vector<double> solve(const std::vector<double>& thickness, const std::vector<double>& base,
                            const std::vector<double>& beta2);
  std::vector<double> adjoint(const std::vector<double>& rhs);
  int newton_iterations() const;
  int krylov_iterations() const;

private:
  SolverTeam* m_team = nullptr; ///< null: one rank
  int m_id = 0;
  std::unique_ptr<SampleSolver> m_solver;
};

/// Runs `work` on rank 0 of `comm` with a team of all its ranks, the others
/// serving the team's solves until `work` returns or throws; if it throws,
/// every rank throws the same nunatak::CollectiveError (io::on_rank_zero).
/// Collective.
void lead_on_rank_zero(MPI_Comm comm, const std::function<void(SolverTeam&)>& work);

/// Collective on `comm`: `patch` on every rank as it is on rank 0.
void broadcast_patch(core::BPPatch& patch, MPI_Comm comm);

} // namespace nunatak::model
