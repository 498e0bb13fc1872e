// libFuzzer target: the --io and --web-hook URL parsers. Any text is either
// refused with a reason or gives a target that is whole: a known kind, a
// port in range for TCP and TLS, a path for files and unix sockets, a host
// for the hook.
#define DOCK_NO_MAIN
#include "../../dock.cpp"

#include <cstdlib>

using namespace dock;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  IoTarget t;
  if (auto err = parse_io_url(text, t)) {
    if (err->empty()) std::abort();
  } else {
    const auto port_ok = [](const std::string& p) {
      const auto n = parse_uint(p, 65535);
      return n && *n >= 1;
    };
    const bool net = t.scheme == Scheme::Tcp || t.scheme == Scheme::Tcp4 || t.scheme == Scheme::Tcp6 ||
                     t.scheme == Scheme::Tls;
    if (net && (t.host.empty() || !port_ok(t.port))) std::abort();
    if ((t.scheme == Scheme::File || t.scheme == Scheme::Unix) && t.path.empty()) std::abort();
    if (t.scheme != Scheme::Tls && (t.insecure || !t.ca.empty() || !t.cert.empty())) std::abort();
  }
  HookUrl h;
  if (auto err = parse_hook_url(text, h)) {
    if (err->empty()) std::abort();
  } else if (h.host.empty() || h.port.empty() || h.target.empty() || h.target[0] != '/' ||
             h.target.find_first_of(" \r\n") != std::string::npos || h.authority.find_first_of("\r\n") != std::string::npos) {
    std::abort();  // the request line and Host header could be split or smuggled
  }
  return 0;
}
