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

namespace {

// The memory limit of the OOM cases: small, but dock's own memory must
// stay far below it, or the OOM killer could pick dock rather than the
// hog -- the sanitizers' shadow memory and qemu's are dock's here.
long oom_limit_mib() { return memory_is_docks() ? 32 : 256; }

std::string oom_limits() { return "(memory.max " + std::to_string(oom_limit_mib()) + "M, peak "; }

// The OOM line for the command ./tests/helper, up to the peak (which
// moves by a page or two).
std::string helper_oom() { return "dock: ./tests/helper was killed by the OOM killer " + oom_limits(); }

// Whether `err` has "dock: pid N (NAME) was killed by the OOM killer (memory.max ...".
bool says_pid_killed(const std::string& err, const std::string& name) {
  const size_t at = err.find("dock: pid ");
  if (at == std::string::npos) return false;
  size_t i = at + 10;
  while (i < err.size() && std::isdigit(static_cast<unsigned char>(err[i]))) ++i;
  const std::string rest = " (" + name + ") was killed by the OOM killer " + oom_limits();
  return i > at + 10 && err.compare(i, rest.size(), rest) == 0;
}

}  // namespace

TEST_CASE("OOM kills: the command killed by the OOM killer is said, exit 137, crashed says oom_kill", "[oom][hook][pid1]") {
  const bool pid1 = each_mode();
  TestCgroup cg(-1, oom_limit_mib() << 20);
  if (!cg.made) return skip("OOM kills: no cgroup v1 memory hierarchy to make a child cgroup in");
  HttpServer server;
  Proc p = run_wrapped(cg.enter(), {"--web-hook", server.url(), "--", helper(), "hog"}, {.pid1 = pid1});
  INFO(p.err_buf);
  CHECK(p.exit_code() == 137);
  CHECK(p.err_buf.find(helper_oom()) != std::string::npos);
  REQUIRE(server.wait_requests(3));
  CHECK(statuses(server) == std::vector<std::string>{"starting", "running", "crashed"});
  const Json crashed = ps_of(server.requests()[2]);
  REQUIRE(crashed.get("oom_kill"));
  CHECK(crashed.get("oom_kill")->boolean);
  CHECK(crashed.get("exit_code")->number == 137);
  // SIGKILL from anyone else is no OOM kill.
  HttpServer other;
  Proc q = run_wrapped(cg.enter(), {"--web-hook", other.url(), "--", "sh", "-c", "kill -KILL $$"}, {.pid1 = pid1});
  CHECK(q.exit_code() == 137);
  CHECK(q.err_buf.find("OOM") == std::string::npos);
  REQUIRE(other.wait_requests(3));
  CHECK_FALSE(ps_of(other.requests()[2]).get("oom_kill"));
}

TEST_CASE("OOM kills: any process of the container is said; --oom-stop stops the command as SIGTERM would", "[oom][pid1]") {
  const bool pid1 = each_mode();
  TestCgroup cg(-1, oom_limit_mib() << 20);
  if (!cg.made) return skip("OOM kills: no cgroup v1 memory hierarchy to make a child cgroup in");
  // An orphan (dock reaps it): named by pid and name; the command runs on.
  const std::string orphan_hog = "(" + helper() + " hog &); echo started; read x; echo still here";
  {
    Proc p = Proc::start(wrapped(cg.enter(), {"--", "sh", "-c", orphan_hog}), dock_options({.pid1 = pid1}));
    REQUIRE(p.wait_out("started\n"));
    REQUIRE(p.wait_err("was killed by the OOM killer"));
    REQUIRE(p.wait_err(")\n"));
    INFO(p.err_buf);
    CHECK(says_pid_killed(p.err_buf, "helper"));
    p.send("go\n");
    CHECK(p.wait_out("still here\n"));
    CHECK(p.exit_code() == 0);
  }
  // --oom-stop: the command gets the stop, after --stop-delay.
  {
    Proc p = Proc::start(wrapped(cg.enter(), {"-d", "--oom-stop", "--stop-delay", "200ms", "--", "sh", "-c", orphan_hog}),
                         dock_options({.pid1 = pid1}));
    CHECK(p.exit_code() == 128 + SIGTERM);  // sh's read ends by the SIGTERM
    p.drain();
    INFO(p.err_buf);
    CHECK(says_pid_killed(p.err_buf, "helper"));
    CHECK(p.err_buf.find("dock: --oom-stop: stopping sh as SIGTERM would\n") != std::string::npos);
    CHECK(p.err_buf.find("forwarding it in 200 ms (--stop-delay)") != std::string::npos);
    CHECK(p.out_buf.find("still here") == std::string::npos);
  }
  // A worker its own parent reaps: said when the command ends.
  {
    Proc p = run_wrapped(cg.enter(), {"--", "sh", "-c", helper() + " hog; echo worker $?"}, {.pid1 = pid1});
    INFO(p.err_buf);
    CHECK(p.exit_code() == 0);
    CHECK(p.out_buf == "hogging\nworker 137\n");
    CHECK(p.err_buf.find("dock: 1 process of the container was killed by the OOM killer while sh ran " + oom_limits()) !=
          std::string::npos);
  }
}
