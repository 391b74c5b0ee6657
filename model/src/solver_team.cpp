// Rank 0 drives, every rank solves (solver_team.hpp).

#include "nunatak/model/solver_team.hpp"

#include "nunatak/core/error.hpp"
#include "nunatak/io/output_file.hpp"
#include "nunatak/model/sample_solver.hpp"

#include <chrono>
#include <cstdint>
#include <iterator>
#include <map>
#include <thread>

namespace nunatak::model {

namespace {

enum OrderKind : int {
  order_create = 1,
  order_set_velocity,
  order_solve_thickness,
  order_solve_all,
  order_adjoint,
  order_destroy,
  order_finish
};
constexpr int flag_ocean_pressure = 1, flag_small_grid = 2;

template <class T>
void broadcast_vector(std::vector<T>& v, MPI_Datatype type, MPI_Comm comm) {
  unsigned long long n = v.size();
  MPI_Bcast(&n, 1, MPI_UNSIGNED_LONG_LONG, 0, comm);
  v.resize(size_t(n));
  if (n > 0) MPI_Bcast(v.data(), int(n), type, 0, comm);
}

void broadcast_string(std::string& s, MPI_Comm comm) {
  std::vector<char> c(s.begin(), s.end());
  broadcast_vector(c, MPI_CHAR, comm);
  s.assign(c.begin(), c.end());
}

} // namespace

void broadcast_patch(core::BPPatch& p, MPI_Comm comm) {
  int ints[] = {p.nx, p.ny, p.nz, p.i0, p.j0, p.xs, p.ys, p.xm, p.ym, p.ex0, p.ex1, p.ey0, p.ey1};
  MPI_Bcast(ints, int(std::size(ints)), MPI_INT, 0, comm);
  int* in = ints;
  for (int* field : {&p.nx, &p.ny, &p.nz, &p.i0, &p.j0, &p.xs, &p.ys, &p.xm, &p.ym, &p.ex0, &p.ex1,
                     &p.ey0, &p.ey1})
    *field = *in++;
  core::BPConstants& c = p.constants;
  double reals[] = {p.dx,
                    p.dy,
                    c.glen_exponent,
                    c.regularisation2,
                    c.friction_exponent,
                    c.friction_regularisation2,
                    c.rho_g,
                    c.minimum_thickness,
                    c.sea_level,
                    c.water_ratio};
  MPI_Bcast(reals, int(std::size(reals)), MPI_DOUBLE, 0, comm);
  const double* r = reals;
  for (double* field :
       {&p.dx, &p.dy, &c.glen_exponent, &c.regularisation2, &c.friction_exponent,
        &c.friction_regularisation2, &c.rho_g, &c.minimum_thickness, &c.sea_level, &c.water_ratio})
    *field = *r++;
  for (std::vector<double>* v : {&p.sigma, &p.thickness, &p.bed, &p.beta2, &p.hardness})
    broadcast_vector(*v, MPI_DOUBLE, comm);
  for (std::vector<std::uint8_t>* v :
       {&p.bed_fixed, &p.element_filled, &p.node_free, &p.front_faces})
    broadcast_vector(*v, MPI_UINT8_T, comm);
}

SolverTeam::SolverTeam(MPI_Comm comm) : m_comm(comm) {
  MPI_Comm_rank(comm, &m_rank);
  MPI_Comm_size(comm, &m_size);
}

SolverTeam::~SolverTeam() {
  if (leader()) finish();
}

void SolverTeam::send(const Order& order) {
  // Non-blocking on this side too: MPI matches a non-blocking collective
  // (the serving ranks' MPI_Ibcast) only with non-blocking ones.
  int message[3] = {order.what, order.solver, order.flags};
  MPI_Request request;
  MPI_Ibcast(message, 3, MPI_INT, 0, m_comm, &request);
  MPI_Wait(&request, MPI_STATUS_IGNORE);
}

SolverTeam::Order SolverTeam::receive() {
  int message[3] = {0, 0, 0};
  MPI_Request request;
  MPI_Ibcast(message, 3, MPI_INT, 0, m_comm, &request);
  for (int done = 0;;) {
    MPI_Test(&request, &done, MPI_STATUS_IGNORE);
    if (done) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return {message[0], message[1], message[2]};
}

void SolverTeam::finish() {
  if (!leader() || m_finished) return;
  m_finished = true;
  if (m_size > 1) send({order_finish, 0, 0});
}

void SolverTeam::serve() {
  if (leader()) throw Error("solver team: rank 0 leads, it does not serve");
  std::map<int, std::unique_ptr<SampleSolver>> solvers;
  const std::vector<double> none; // the arrays are read on rank 0 only
  for (;;) {
    const Order order = receive();
    if (order.what == order_finish) return;
    if (order.what == order_create) {
      core::BPPatch patch;
      broadcast_patch(patch, m_comm);
      std::string prefix;
      broadcast_string(prefix, m_comm);
      try {
        solvers[order.solver] =
            std::make_unique<SampleSolver>(patch, order.flags & flag_ocean_pressure, prefix,
                                           order.flags & flag_small_grid, m_comm);
      } catch (const std::exception&) {
        // Failed on rank 0 too: it will not use this solver.
      }
      continue;
    }
    const auto found = solvers.find(order.solver);
    if (found == solvers.end()) continue;
    SampleSolver& s = *found->second;
    try {
      switch (order.what) {
      case order_set_velocity:
        s.set_velocity(none);
        break;
      case order_solve_thickness:
        s.solve(none);
        break;
      case order_solve_all:
        s.solve(none, none, none);
        break;
      case order_adjoint:
        s.adjoint(none);
        break;
      case order_destroy:
        solvers.erase(found);
        break;
      default:
        throw Error("solver team: unknown order " + std::to_string(order.what));
      }
    } catch (const std::exception&) {
      // The same failure reached rank 0, which decides what to do next.
    }
  }
}

TeamSampleSolver::TeamSampleSolver(SolverTeam* team, const core::BPPatch& patch,
                                   bool ocean_pressure, const std::string& options_prefix,
                                   bool small_grid)
    : m_team(team && team->size() > 1 ? team : nullptr) {
  if (team && !team->leader()) throw Error("solver team: only rank 0 makes solvers");
  if (team && team->m_finished) throw Error("solver team: the team has finished");
  if (!m_team) {
    m_solver = std::make_unique<SampleSolver>(patch, ocean_pressure, options_prefix, small_grid);
    return;
  }
  m_id = ++m_team->m_next_solver;
  m_team->send({order_create, m_id,
                (ocean_pressure ? flag_ocean_pressure : 0) | (small_grid ? flag_small_grid : 0)});
  core::BPPatch copy = patch;
  broadcast_patch(copy, m_team->comm());
  std::string prefix = options_prefix;
  broadcast_string(prefix, m_team->comm());
  m_solver = std::make_unique<SampleSolver>(patch, ocean_pressure, options_prefix, small_grid,
                                            m_team->comm());
}

TeamSampleSolver::~TeamSampleSolver() {
  if (m_team && !m_team->m_finished) m_team->send({order_destroy, m_id, 0});
}

void TeamSampleSolver::set_velocity(const std::vector<double>& velocity) {
  if (m_team) m_team->send({order_set_velocity, m_id, 0});
  m_solver->set_velocity(velocity);
}

std::vector<double> TeamSampleSolver::solve(const std::vector<double>& thickness) {
  if (m_team) m_team->send({order_solve_thickness, m_id, 0});
  return m_solver->solve(thickness);
}

std::vector<double> TeamSampleSolver::solve(const std::vector<double>& thickness,
                                            const std::vector<double>& base,
                                            const std::vector<double>& beta2) {
  if (m_team) m_team->send({order_solve_all, m_id, 0});
  return m_solver->solve(thickness, base, beta2);
}

std::vector<double> TeamSampleSolver::adjoint(const std::vector<double>& rhs) {
  if (m_team) m_team->send({order_adjoint, m_id, 0});
  return m_solver->adjoint(rhs);
}

void lead_on_rank_zero(MPI_Comm comm, const std::function<void(SolverTeam&)>& work) {
  SolverTeam team(comm);
  if (!team.leader()) team.serve();
  io::on_rank_zero(comm, [&] {
    try {
      work(team);
    } catch (...) {
      team.finish();
      throw;
    }
    team.finish();
  });
}

int TeamSampleSolver::newton_iterations() const {
  return m_solver->newton_iterations();
}
int TeamSampleSolver::krylov_iterations() const {
  return m_solver->krylov_iterations();
}

} // namespace nunatak::model
