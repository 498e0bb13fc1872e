// Unit tests of section 13: /proc/self/cgroup and mountinfo as v1, v2 and
// hybrid hosts and Docker write them, where the limit files are, and the
// limits as the kernel writes them.
#define DOCK_NO_MAIN
#include "../dock.cpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace dock;

namespace {

std::string dir_for(std::string_view cgroup, std::string_view mountinfo, std::string_view controller) {
  const auto lines = parse_proc_cgroup(cgroup);
  const auto mounts = parse_cgroup_mounts(mountinfo);
  return cgroup_dir(lines, mounts, controller);
}

// This machine's (Debian 12 with the memory and cpu controllers on v1, a
// v2 hierarchy beside them).
constexpr std::string_view kHybridCgroup =
    "9:name=systemd:/\n8:pids:/\n4:memory:/process_api/6bfa74\n3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";
constexpr std::string_view kHybridMounts =
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

TEST_CASE("cgroup files: v1 hierarchies win over v2, paths below the mount's root", "[cgroups]") {
  CHECK(dir_for(kHybridCgroup, kHybridMounts, "memory") == "/sys/fs/cgroup/memory/process_api/6bfa74");
  CHECK(dir_for(kHybridCgroup, kHybridMounts, "cpu") == "/sys/fs/cgroup/cpu");
  // A controller no v1 hierarchy has: the v2 one.
  CHECK(dir_for(kHybridCgroup, kHybridMounts, "io") == "/sys/fs/cgroup/unified");

  // Docker on a v1 host, no cgroup namespace: the mount's root is the
  // container's cgroup, so its files are at the mount point itself.
  constexpr std::string_view docker_v1 = "4:memory:/docker/abc123\n5:cpu,cpuacct:/docker/abc123\n0::/system.slice/x\n";
  constexpr std::string_view docker_v1_mounts =
      "611 609 0:31 /docker/abc123 /sys/fs/cgroup/memory ro,nosuid - cgroup cgroup rw,memory\n"
      "612 609 0:28 /docker/abc123 /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct\n";
  CHECK(dir_for(docker_v1, docker_v1_mounts, "memory") == "/sys/fs/cgroup/memory");
  CHECK(dir_for(docker_v1, docker_v1_mounts, "cpu") == "/sys/fs/cgroup/cpu,cpuacct");
  CHECK(dir_for(docker_v1, docker_v1_mounts, "cpuacct") == "/sys/fs/cgroup/cpu,cpuacct");
  CHECK(dir_for(docker_v1, docker_v1_mounts, "pids").empty());  // not mounted: nothing to say

  // v2 with a cgroup namespace (Docker 20.10+, Kubernetes on v2): "0::/".
  constexpr std::string_view v2_mounts = "1139 1138 0:27 / /sys/fs/cgroup ro,nosuid master:9 - cgroup2 cgroup rw,nsdelegate\n";
  CHECK(dir_for("0::/\n", v2_mounts, "memory") == "/sys/fs/cgroup");
  // v2 on the host: a service's own cgroup, a mount point with a blank.
  CHECK(dir_for("0::/system.slice/app.service\n", "28 1 0:26 / /sys/fs/my\\040cg rw - cgroup2 cgroup2 rw\n", "cpu") ==
        "/sys/fs/my cg/system.slice/app.service");
  // A cgroup outside what the mount shows: no file to read.
  CHECK(dir_for("0::/other\n", "28 1 0:26 /mine /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "memory").empty());
  CHECK(dir_for("0::/mine2\n", "28 1 0:26 /mine /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n", "memory").empty());
  CHECK(dir_for("", "", "memory").empty());
}

TEST_CASE("cgroup limits as the kernel writes them", "[cgroups]") {
  CHECK(parse_memory_limit("67108864\n") == 67108864u);
  CHECK_FALSE(parse_memory_limit("max\n"));                  // v2: no limit
  CHECK_FALSE(parse_memory_limit("9223372036854771712\n"));  // v1: no limit (the page counter's maximum)
  CHECK_FALSE(parse_memory_limit(""));
  CHECK(parse_cpu_max("150000 100000\n") == 2);  // Docker's --cpus 1.5
  CHECK(parse_cpu_max("100000 100000\n") == 1);
  CHECK(parse_cpu_max("50000 100000\n") == 1);
  CHECK(parse_cpu_max("400000 100000\n") == 4);
  CHECK_FALSE(parse_cpu_max("max 100000\n"));
  CHECK_FALSE(parse_cpu_max("garbage"));
  CHECK(parse_cfs_quota("150000\n", "100000\n") == 2);
  CHECK_FALSE(parse_cfs_quota("-1\n", "100000\n"));  // v1: no quota
  CHECK_FALSE(parse_cfs_quota("0\n", "100000\n"));
}

}  // namespace

TEST_CASE("the OOM killer's count in v1 memory.oom_control and v2 memory.events", "[oom]") {
  // v1, this machine's and Docker's here (kernel 4.13 on).
  CHECK(parse_oom_kills("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n") == 3u);
  // v2, with oom_group_kill (5.19 on) after it.
  CHECK(parse_oom_kills("low 0\nhigh 12\nmax 40\noom 2\noom_kill 2\noom_group_kill 0\n") == 2u);
  CHECK(parse_oom_kills("low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n") == 0u);
  CHECK_FALSE(parse_oom_kills("oom_kill_disable 0\nunder_oom 0\n"));  // before 4.13
  CHECK_FALSE(parse_oom_kills("oom_kill x\n"));
  CHECK_FALSE(parse_oom_kills(""));
}

TEST_CASE("memory sizes as limits are written", "[oom]") {
  CHECK(memory_text(900) == "900B");
  CHECK(memory_text(2048) == "2K");
  CHECK(memory_text(32u << 20) == "32M");
  CHECK(memory_text((32u << 20) - 4096) == "31M");  // a page short: below
  CHECK(memory_text(268435456) == "256M");
  CHECK(memory_text(1610612736) == "1.5G");
  CHECK(memory_text(uint64_t(3) << 40) == "3T");
}
