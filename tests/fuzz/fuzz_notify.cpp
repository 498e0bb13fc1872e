// libFuzzer target: the --notify message parser. Whatever a process sends
// to dock's socket, the parser accepts systemd's VAR=VALUE lines or
// refuses the datagram whole; a STATUS it keeps is one line of the input.
#define DOCK_NO_MAIN
#include "../../dock.cpp"

#include <cstdlib>

using namespace dock;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = parse_notify_message(text);
  if (!m) return 0;
  if (text.find('\0') != std::string_view::npos) std::abort();
  if (m->ready && text.find("READY=1") == std::string_view::npos) std::abort();
  if (m->reloading && text.find("RELOADING=1") == std::string_view::npos) std::abort();
  if (m->has_status) {
    if (m->status.find('\n') != std::string_view::npos) std::abort();
    if (m->status.data() < text.data() || m->status.data() + m->status.size() > text.data() + text.size()) std::abort();
  }
  return 0;
}
