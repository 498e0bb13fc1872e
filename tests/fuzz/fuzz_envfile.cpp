// libFuzzer target: the --env-file parser. Whatever the bytes, it accepts
// or names a line; every pair it yields has a valid name and a value on
// one line.
#define DOCK_NO_MAIN
#include "../../dock.cpp"

#include <cstdlib>

using namespace dock;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  EnvPairs pairs;
  if (auto err = parse_env_file(text, pairs)) {
    if (err->rfind("line ", 0) != 0) std::abort();
    return 0;
  }
  for (const auto& [name, value] : pairs) {
    if (name.empty()) std::abort();
    for (size_t i = 0; i < name.size(); ++i)
      if (!env_name_char(name[i], i == 0)) std::abort();
    if (value.find('\n') != std::string::npos) std::abort();
  }
  return 0;
}
