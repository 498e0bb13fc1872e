// libFuzzer target: the --template renderer. With every variable set to
// "{{X}}", rendering never fails and never renders a value again: the
// output is at most the input with each placeholder replaced by 5 bytes.
// With no variable set, it fails only on a placeholder without a default,
// naming its line.
#define DOCK_NO_MAIN
#include "../../dock.cpp"

#include <cstdlib>

using namespace dock;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view src(reinterpret_cast<const char*>(data), size);
  auto braces = [](std::string_view) -> std::optional<std::string_view> { return std::string_view("{{X}}"); };
  std::string out;
  if (render_template(src, braces, out)) std::abort();
  if (out.size() > src.size() * 5 + 5) std::abort();
  auto unset = [](std::string_view) -> std::optional<std::string_view> { return std::nullopt; };
  if (auto err = render_template(src, unset, out); err && err->rfind("line ", 0) != 0) std::abort();
  return 0;
}
