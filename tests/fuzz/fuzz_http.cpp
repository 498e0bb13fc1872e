// libFuzzer target: the web hook's reading of a server's answer. The
// answer arrives in pieces; whatever the bytes, the status is 0 (need
// more), -1 (not HTTP) or 200..599, and once decided it never changes as
// more bytes come.
#define DOCK_NO_MAIN
#include "../../dock.cpp"

#include <cstdlib>

using namespace dock;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const int final_status = parse_http_status(all);
  if (!(final_status == 0 || final_status == -1 || (final_status >= 200 && final_status <= 599))) std::abort();
  for (size_t n = 0; n <= size; n += 1 + n / 8) {
    const int early = parse_http_status(all.substr(0, n));
    if (early != 0 && early != final_status) std::abort();
  }
  return 0;
}
