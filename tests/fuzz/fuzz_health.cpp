// libFuzzer target: --health-port's reading of a request head, which any
// client that reaches the port may send. The bytes arrive in pieces: once
// a prefix is decided (bad, or a whole head), every longer input is
// decided the same way; a whole head names an uppercase method and a path
// of printable bytes; every answer is one of the statuses the server gives,
// with a Content-Length that is the body's.
#define DOCK_NO_MAIN
#include "../../dock.cpp"

#include <cstdlib>

using namespace dock;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using Kind = HealthRequest::Kind;
  const std::string_view all(reinterpret_cast<const char*>(data), size);
  const HealthRequest whole = parse_health_request(all);
  if (whole.kind == Kind::Complete) {
    if (whole.method.empty() || whole.path.empty()) std::abort();
    for (char ch : whole.method)
      if (ch < 'A' || ch > 'Z') std::abort();
    for (char ch : whole.path)
      if (ch <= ' ' || ch == 0x7f || ch == '?') std::abort();
  }
  for (size_t n = 0; n <= size; n += 1 + n / 8) {
    const HealthRequest early = parse_health_request(all.substr(0, n));
    if (early.kind == Kind::Incomplete) continue;
    if (early.kind != whole.kind || early.method != whole.method || early.path != whole.path) std::abort();
  }
  for (bool live : {false, true}) {
    const HealthAnswer a = health_answer(whole, live ? "" : "dock is stopping", live);
    if (a.status != 200 && a.status != 400 && a.status != 404 && a.status != 405 && a.status != 431 && a.status != 503)
      std::abort();
    const std::string text = health_response(a, whole.method == "HEAD");
    const size_t blank = text.find("\r\n\r\n");
    const size_t length = text.find("Content-Length: ");
    if (blank == std::string::npos || length == std::string::npos) std::abort();
    if (whole.method != "HEAD" && std::to_string(text.size() - blank - 4) != text.substr(length + 16, text.find('\r', length) - length - 16))
      std::abort();
  }
  return 0;
}
