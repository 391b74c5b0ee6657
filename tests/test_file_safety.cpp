// No file read is ever written, and no two outputs are the same file
// (io/file_safety.hpp): the same file is found under every spelling (./a,
// dir/../a, an absolute path, a symbolic link, a hard link), temporaries
// count, the restart checkpoint may be replaced by the checkpoint writer and
// by nothing else, unwritable places are named before any work, and the
// temporaries of dead processes are cleaned up while those of live ones stay.
#include "nunatak/core/error.hpp"
#include "nunatak/io/file_safety.hpp"
#include "test_files.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace nunatak;
using test::TempDir;
namespace fs = std::filesystem;

namespace {

/// The message of the Error that `plan` raises ("" if none).
std::string plan_error(const io::FilePlan& plan) {
  try {
    io::check_file_plan(plan);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

/// A PID that is certainly not running: a child that has exited and been reaped.
pid_t dead_pid() {
  const pid_t pid = fork();
  if (pid == 0) _exit(0);
  int status = 0;
  waitpid(pid, &status, 0);
  return pid;
}

/// Changes the working folder for the life of the object.
class WorkingFolder {
public:
  explicit WorkingFolder(const std::string& dir) : m_old(fs::current_path()) {
    fs::current_path(dir);
  }
  ~WorkingFolder() { fs::current_path(m_old); }

private:
  fs::path m_old;
};

} // namespace

TEST(FileSafety, SameFileUnderEverySpelling) {
  TempDir dir;
  const WorkingFolder here(dir.path());
  test::write_text("a.nc", "data");
  fs::create_directory("sub");
  fs::create_symlink("a.nc", "link.nc");
  fs::create_hard_link("a.nc", "hard.nc");
  for (const std::string& other :
       {std::string("./a.nc"), std::string("sub/../a.nc"), dir.file("a.nc"), std::string("link.nc"),
        std::string("hard.nc"), std::string("nothere/../a.nc")})
    EXPECT_TRUE(io::same_file("a.nc", other)) << other;
  test::write_text("b.nc", "data");
  EXPECT_FALSE(io::same_file("a.nc", "b.nc"));
  // Files that do not exist yet: by their resolved path.
  EXPECT_TRUE(io::same_file("out/x.nc", "./out/../out/x.nc"));
  EXPECT_FALSE(io::same_file("out/x.nc", "out/y.nc"));
}

TEST(FileSafety, AnOutputOverAnInputIsRefusedNamingBoth) {
  TempDir dir;
  const WorkingFolder here(dir.path());
  test::write_text("in.nc", "data");
  fs::create_symlink("in.nc", "link.nc");
  fs::create_hard_link("in.nc", "hard.nc");
  for (const std::string& out :
       {std::string("in.nc"), std::string("./in.nc"), std::string("link.nc"),
        std::string("hard.nc"), std::string("sub/../in.nc")}) {
    io::FilePlan plan;
    plan.read("in.nc", "input.geometry.file");
    plan.write("out/run.nc", "output.file");
    plan.write(out, "checkpoint.file");
    const std::string e = plan_error(plan);
    EXPECT_CONTAINS(e, "checkpoint.file '" + out +
                           "' is the file read as input.geometry.file "
                           "'in.nc'");
    EXPECT_CONTAINS(e, "never writes over a file it reads");
    if (out != "in.nc") {
      EXPECT_CONTAINS(e, "the same file under another name");
    }
  }
  // A file named like this process's temporary of an output.
  io::FilePlan plan;
  test::write_text(io::temporary_path("out.nc"), "data");
  plan.read(io::temporary_path("out.nc"), "input.forcing.file");
  plan.write("out.nc", "output.file");
  EXPECT_CONTAINS(plan_error(plan), "output.file 'out.nc' is the file read as input.forcing.file");
}

TEST(FileSafety, TwoOutputsMustDiffer) {
  TempDir dir;
  const WorkingFolder here(dir.path());
  io::FilePlan plan;
  plan.write("out/run.nc", "output.file");
  plan.write("out/../out/run.nc", "checkpoint.file");
  EXPECT_CONTAINS(plan_error(plan),
                  "output.file 'out/run.nc' and checkpoint.file 'out/../out/run.nc' are the same "
                  "file");
}

TEST(FileSafety, TheRestartCheckpointMayBeReplacedByTheCheckpointWriterOnly) {
  TempDir dir;
  const WorkingFolder here(dir.path());
  test::write_text("ck.nc", "data");
  io::FilePlan plan;
  plan.read("ck.nc", "--restart", "checkpoint.file");
  plan.write("ck.nc", "checkpoint.file");
  plan.write("run.nc", "output.file");
  EXPECT_EQ(plan_error(plan), "");
  plan.writes[1].path = "./ck.nc"; // the output over the checkpoint: refused
  EXPECT_CONTAINS(plan_error(plan), "output.file './ck.nc' is the file read as --restart 'ck.nc'");
}

TEST(FileSafety, UnwritablePlacesAreNamed) {
  TempDir dir;
  const WorkingFolder here(dir.path());
  test::write_text("afile", "data");
  fs::create_directory("folder");
  auto error_for = [](const std::string& path) {
    io::FilePlan plan;
    plan.write(path, "output.file");
    return plan_error(plan);
  };
  EXPECT_CONTAINS(error_for("folder"), "output.file 'folder' is a folder, not a file name");
  EXPECT_CONTAINS(error_for("out/"), "output.file 'out/' is a folder, not a file name");
  EXPECT_CONTAINS(error_for("afile/run.nc"), "cannot create the folder 'afile' for output.file "
                                             "'afile/run.nc': '" +
                                                 dir.file("afile") + "' is a file, not a folder");
  EXPECT_CONTAINS(error_for("afile/sub/run.nc"), "is a file, not a folder");
  EXPECT_CONTAINS(error_for(std::string(250, 'a') + ".nc"), "is too long (253 characters");
  EXPECT_CONTAINS(error_for(std::string(300, 'b') + "/run.nc"), "the folder name");
  EXPECT_CONTAINS(error_for("/dev/null"), "is not a regular file");
  {
    io::FilePlan plan;
    plan.write("", "output.file"); // ignored: a plan names only real paths
    EXPECT_EQ(plan_error(plan), "");
  }
  EXPECT_EQ(error_for("new/folders/run.nc"), "");
  EXPECT_FALSE(fs::exists("new")) << "checking creates nothing";
}

TEST(FileSafety, StaleTemporariesOfDeadProcessesAreRemoved) {
  TempDir dir;
  const WorkingFolder here(dir.path());
  fs::create_directory("out");
  const std::string dead = "out/run.nc.tmp." + std::to_string(dead_pid());
  const std::string alive = "out/run.nc.tmp." + std::to_string(getppid());
  const std::string mine = io::temporary_path("out/run.nc");
  const std::string other = "out/run.nc.tmp.notapid";
  for (const auto& f : {dead, alive, mine, other}) test::write_text(f, "partial");
  io::FilePlan plan;
  plan.write("out/run.nc", "output.file");
  plan.write("./out/run.nc", "output.file"); // the same file twice: cleaned once
  const auto messages = io::clean_stale_temporaries(plan);
  ASSERT_EQ(messages.size(), 2u);
  std::string all = messages[0] + "\n" + messages[1];
  EXPECT_CONTAINS(all, "removed '" + dead + "', a temporary of output.file 'out/run.nc'");
  EXPECT_CONTAINS(all, "which is no longer running");
  EXPECT_CONTAINS(all, "left '" + alive + "'");
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_TRUE(fs::exists(alive));
  EXPECT_TRUE(fs::exists(mine));
  EXPECT_TRUE(fs::exists(other));
}
