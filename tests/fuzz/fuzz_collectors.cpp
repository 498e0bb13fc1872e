// libFuzzer target: a collector's buffer, stage and framing under any
// sequence of lines, partial writes and lost connections the input spells.
// Each input byte is an operation: collect a line (of a length and
// framing the byte picks), let the collector take some bytes, or lose the
// connection. Whatever the sequence, the collector receives each line at
// most once, whole and in order, and every line is received or counted as
// dropped; the notices' counts add up to the drops.
#define DOCK_NO_MAIN
#include "../../dock.cpp"

#include <cstdlib>

using namespace dock;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const char* urls[] = {"tcp://h:1", "syslog+tcp://h", "syslog+udp://h"};
  LogTarget to;
  if (parse_log_to_url(urls[data[0] % 3], to)) std::abort();
  pid_t pid = 7;
  Collector c;
  c.to = &to;
  c.host = "h";
  c.tag = "t";
  c.procid = &pid;
  c.ring = Ring(kMinLogBuffer + size_t(data[1]) * 64);
  std::vector<std::string> got;
  std::string partial;
  auto receive = [&](std::string_view bytes) {
    if (to.datagram) return got.emplace_back(bytes), void();
    partial += bytes;
    for (;;) {
      if (!to.syslog) {
        const size_t nl = partial.find('\n');
        if (nl == std::string::npos) return;
        got.push_back(partial.substr(0, nl));
        partial.erase(0, nl + 1);
      } else {
        const size_t sp = partial.find(' ');
        if (sp == std::string::npos) return;
        const size_t len = std::strtoul(partial.c_str(), nullptr, 10);
        if (partial.size() < sp + 1 + len) return;
        got.push_back(partial.substr(sp + 1, len));
        partial.erase(0, sp + 1 + len);
      }
    }
  };
  uint64_t lines = 0;
  auto take = [&](size_t most) {
    stage_lines(c);
    if (c.sent == c.staged) return false;
    size_t n = std::min(most, c.staged - c.sent);
    if (to.datagram) {
      size_t i = 0;
      while (c.ends[i] <= c.sent) ++i;
      n = c.ends[i] - c.sent;
    }
    receive({c.stage.get() + c.sent, n});
    stage_sent(c, n);
    return true;
  };
  for (size_t i = 2; i < size; ++i) {
    const uint8_t op = data[i];
    if (op < 128) {  // a line of up to ~2 KiB, numbered
      const std::string text = "L" + std::to_string(lines++) + ":" + std::string(size_t(op) * 16, 'x');
      collect(c, op % 2 ? LineKind::Err : LineKind::Out, 1, text);
    } else if (op < 240) {
      take(size_t(op - 127) * 37);
    } else {
      partial.clear();
      stage_rewind(c);
    }
  }
  while (take(SIZE_MAX)) {
  }
  if (!partial.empty()) std::abort();
  int64_t last = -1;
  uint64_t whole = 0, noticed = 0;
  for (const std::string& m : got) {
    const std::string text = to.syslog ? m.substr(m.find(" - - ") + 5) : m;
    if (text.compare(0, 6, "dock: ") == 0) {
      noticed += std::strtoull(text.c_str() + 6, nullptr, 10);
      continue;
    }
    if (text[0] != 'L') std::abort();
    const size_t colon = text.find(':');
    const int64_t n = std::strtoll(text.c_str() + 1, nullptr, 10);
    if (n <= last || text.find_first_not_of('x', colon + 1) != std::string::npos) std::abort();
    if ((text.size() - colon - 1) % 16 != 0) std::abort();
    last = n;
    ++whole;
  }
  if (whole + c.dropped_total != lines || noticed != c.dropped_total) std::abort();
  return 0;
}
