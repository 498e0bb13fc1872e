// libFuzzer target: what dock reads before the command. The bytes are an
// /etc/passwd, an /etc/group, an --env-file and a --template source in
// turn (split at NUL bytes). Whatever they hold: --user resolves or says
// why, and what it finds is in the files; every pair an env file yields
// has a valid name; rendering never leaves a {{NAME}} it could have
// filled, and renders a value's own braces never.
#define DOCK_NO_MAIN
#include "../../dock.cpp"

#include <cstdlib>

using namespace dock;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  std::string_view part[4];
  for (auto& p : part) {
    const size_t nul = all.find('\0');
    p = all.substr(0, nul);
    all = nul == std::string_view::npos ? std::string_view{} : all.substr(nul + 1);
  }
  for (std::string_view spec : {"root", "app", "1000", "app:audio", "0:0", "x:1"}) {
    Identity id;
    if (resolve_identity(spec, part[0], part[1], id)) continue;
    if (id.groups.empty() || id.groups[0] != id.gid) std::abort();
  }
  EnvPairs pairs;
  if (!parse_env_file(part[2], pairs))
    for (const auto& [name, value] : pairs) {
      if (name.empty()) std::abort();
      for (size_t i = 0; i < name.size(); ++i)
        if (!env_name_char(name[i], i == 0)) std::abort();
      if (value.find('\n') != std::string::npos) std::abort();
    }
  // Every variable is set to "{{X}}": a rendered value must never be
  // rendered again, so the output holds as many "{{X}}" as were filled
  // in, and rendering cannot fail.
  auto lookup = [](std::string_view) -> std::optional<std::string_view> { return std::string_view("{{X}}"); };
  std::string out;
  if (render_template(part[3], lookup, out)) std::abort();
  if (out.size() > part[3].size() * 5 + 5) std::abort();
  return 0;
}
