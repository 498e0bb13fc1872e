// The container's limits (SPEC §17) through the real ./dock, as PID 1 and
// as a subreaper: --cgroup-env in a cgroup the test makes with a CPU quota
// and a memory limit.
#include "kit.hpp"

#include <sched.h>

using namespace t;

namespace {

// A child cgroup of the v1 memory and cpu hierarchies (this machine's, and
// Docker's here) with `quota_us` of CPU per 100 ms and `memory_max` bytes;
// enter() is the wrapper that puts dock in it.
struct TestCgroup {
  std::string memory = "/sys/fs/cgroup/memory/dock-test-" + std::to_string(getpid());
  std::string cpu = "/sys/fs/cgroup/cpu/dock-test-" + std::to_string(getpid());
  bool made = false;
  TestCgroup(long quota_us, long memory_max) {
    if (mkdir(memory.c_str(), 0755) != 0 || mkdir(cpu.c_str(), 0755) != 0) return;
    made = true;
    std::ofstream(memory + "/memory.limit_in_bytes") << memory_max;
    std::ofstream(cpu + "/cpu.cfs_period_us") << 100000;
    std::ofstream(cpu + "/cpu.cfs_quota_us") << quota_us;
  }
  ~TestCgroup() {
    rmdir(memory.c_str());
    rmdir(cpu.c_str());
  }
  std::vector<std::string> enter() const {
    return {"sh", "-c", "echo $$ >" + memory + "/cgroup.procs && echo $$ >" + cpu + "/cgroup.procs && exec \"$@\"", "sh"};
  }
};

int cpus_here() {
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(sched_getaffinity(0, sizeof set, &set) == 0);
  return CPU_COUNT(&set);
}

}  // namespace

TEST_CASE("--cgroup-env: DOCK_CPUS and DOCK_MEMORY_MAX from the container's limits", "[cgroups][pid1]") {
  const bool pid1 = each_mode();
  Dir dir(pid1 ? "cgroup-env-1" : "cgroup-env");
  write(dir.path + "/nginx.conf.template", "worker_processes {{DOCK_CPUS}};\n");
  script(dir.path + "/setup", "echo setup sees $DOCK_CPUS $DOCK_MEMORY_MAX >&2\n");
  const std::vector<std::string> args{"--cgroup-env", "--template", dir.path + "/nginx.conf.template:" + dir.path + "/nginx.conf",
                                      "--setup", dir.path + "/setup", "--",
                                      "sh", "-c", "echo cpus=$DOCK_CPUS mem=${DOCK_MEMORY_MAX-unset}"};
  {
    TestCgroup cg(50000, 64 << 20);  // half a CPU, 64 MiB
    if (!cg.made) return skip("--cgroup-env: no cgroup v1 memory and cpu hierarchy to make a child cgroup in");
    Proc p = run_wrapped(cg.enter(), args, {.pid1 = pid1});
    INFO(p.err_buf);
    CHECK(p.exit_code() == 0);
    CHECK(p.out_buf == "cpus=1 mem=67108864\n");  // 0.5 rounds up to 1
    CHECK(p.err_buf.find("setup sees 1 67108864\n") != std::string::npos);
    CHECK(read_file(dir.path + "/nginx.conf") == "worker_processes 1;\n");
  }
  // No limits: the CPUs dock may run on, and no DOCK_MEMORY_MAX, even one
  // an image's ENV set.
  Proc p = run_dock(args, {.pid1 = pid1, .env = {"DOCK_MEMORY_MAX=1", "DOCK_CPUS=64"}});
  INFO(p.err_buf);
  CHECK(p.out_buf == "cpus=" + std::to_string(cpus_here()) + " mem=unset\n");
  CHECK(p.err_buf.find("DOCK_MEMORY_MAX") == std::string::npos);  // no warning: dock's output, no option
  // Without the flag dock leaves them alone.
  Proc q = run_dock({"--", "sh", "-c", "echo cpus=${DOCK_CPUS-unset} mem=${DOCK_MEMORY_MAX-unset}"}, {.pid1 = pid1});
  CHECK(q.out_buf == "cpus=unset mem=unset\n");
}
