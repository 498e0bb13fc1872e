// libFuzzer target: /etc/passwd and /etc/group as dock reads them for
// --user (the bytes: the passwd text, a NUL, the group text). Whatever
// they hold, --user resolves or says why, and what it finds is coherent:
// the primary group comes first in the groups, and a named user's ids are
// those of a line of the file.
#define DOCK_NO_MAIN
#include "../../dock.cpp"

#include <cstdlib>

using namespace dock;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const size_t nul = all.find('\0');
  const std::string_view passwd = all.substr(0, nul);
  const std::string_view group = nul == std::string_view::npos ? std::string_view{} : all.substr(nul + 1);
  for (std::string_view spec : {"root", "app", "1000", "app:audio", "0:0", "x:1", "app:1"}) {
    Identity id;
    if (resolve_identity(spec, passwd, group, id)) continue;
    if (id.groups.empty() || id.groups[0] != id.gid) std::abort();
  }
  for_each_line(passwd, [](std::string_view line) {
    if (auto e = parse_passwd_line(line); e && (e->name.empty() || e->name.find(':') != std::string::npos)) std::abort();
  });
  for_each_line(group, [](std::string_view line) {
    if (auto g = parse_group_line(line))
      for (const auto& m : g->members)
        if (m.empty() || m.find(',') != std::string::npos) std::abort();
  });
  return 0;
}
