// libFuzzer target: durations, sizes, signal names, booleans, rewrites,
// prefix specs, and the cgroup files --cgroup-env reads. Each parser either refuses or gives a value in its range;
// a parsed value printed back parses to itself where a canonical form
// exists (signal numbers, plain milliseconds).
#define DOCK_NO_MAIN
#include "../../dock.cpp"

#include <cstdlib>

using namespace dock;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto ms = parse_duration(text)) {
    if (*ms < 0) std::abort();
    if (parse_duration(std::to_string(*ms) + "ms") != ms) std::abort();
  }
  if (auto bytes = parse_size(text)) {
    if (*bytes < 0) std::abort();  // 0 parses; --log-max-size refuses it itself
  }
  if (auto sig = signal_from_name(text)) {
    if (*sig < 0 || *sig > SIGRTMAX) std::abort();
    if (*sig > 0 && signal_from_name(std::to_string(*sig)) != sig) std::abort();
  }
  (void)parse_bool(text);
  Config c;
  if (!add_rewrite(text, c)) {
    // accepted: a rewrite maps a real signal
  }
  std::string prefix;
  if (!render_prefix(text, prefix)) {
    if (prefix.size() > kMaxPrefix + 32 || prefix.find('\n') != std::string::npos) std::abort();
  }
  // /proc/self/cgroup and mountinfo as the kernel (or anything) writes
  // them: a directory found is a mount point's, the limits in range.
  const auto lines = parse_proc_cgroup(text);
  const auto mounts = parse_cgroup_mounts(text);
  for (const char* controller : {"memory", "cpu", ""}) {
    const std::string dir = cgroup_dir(lines, mounts, controller);
    if (!dir.empty() && std::none_of(mounts.begin(), mounts.end(), [&](const CgroupMount& m) { return dir.rfind(m.point, 0) == 0; }))
      std::abort();
  }
  if (auto bytes = parse_memory_limit(text); bytes && *bytes >= uint64_t(1) << 62) std::abort();
  if (auto cpus = parse_cpu_max(text); cpus && *cpus < 1) std::abort();
  return 0;
}
