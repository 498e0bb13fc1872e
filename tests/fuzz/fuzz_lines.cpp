// libFuzzer target: the prefixer. The input picks a prefix, a ring size,
// how the child's bytes arrive (chunk sizes), when a partial line is
// flushed (as the 100 ms timer would) and how much the target takes each
// time; whatever the schedule, the output must be the input with the
// prefix at the start of every line, once.
#define DOCK_NO_MAIN
#include "../../dock.cpp"

#include <cstdlib>

#include "../prefixed.hpp"
#include "sink_fuzz.hpp"

using namespace dock;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Choices in{data, size};
  std::string prefix;
  for (size_t len = in.byte() % 8; len > 0; --len) {
    const char c = char(in.byte());
    prefix += c == '\n' ? '|' : c;  // a prefix holds no line break (render_prefix refuses one)
  }
  // A ring from the smallest the sink allows to twice that.
  const size_t ring_size = kLineMax + kMaxPrefix + 32 + size_t(in.byte()) * 512;
  const uint8_t schedule[4] = {in.byte(), in.byte(), in.byte(), in.byte()};
  // The text: what is left, repeated to cross kLineMax now and then.
  std::string input(reinterpret_cast<const char*>(in.p), in.n);
  if (!input.empty() && (schedule[3] & 1)) {
    while (input.size() < kLineMax + 100) input += input;
  }

  Stream s;
  s.prefix = prefix;
  Ring ring(ring_size);
  OpenLine line;
  std::string out;
  unsigned step = 0;
  auto drain = [&](bool all) { take(ring, out, all ? ring.size() : size_t(schedule[1]) * 97 + 1); };
  size_t at = 0;
  while (at < input.size()) {
    ++step;
    size_t n = size_t(schedule[0] ^ (step * 31)) % 4096 + 1;
    auto room = s.space();
    n = std::min({n, room.size(), input.size() - at});
    std::memcpy(room.data(), input.data() + at, n);
    s.filled(n);
    at += n;
    if ((step + schedule[2]) % 5 == 0) s.flush_now();  // the partial-line timer fired
    emit(s, ring, line);
    drain(false);
    if (n == 0) {  // the stream's buffer is full and the ring would not take it: let the target catch up
      drain(true);
      emit(s, ring, line);
    }
  }
  s.end();
  while (s.size() > 0) {
    emit(s, ring, line);
    drain(true);
  }
  drain(true);
  if (out != with_prefixes(prefix, input)) {
    std::fprintf(stderr, "prefix '%s', %zu bytes in, %zu out\n", prefix.c_str(), input.size(), out.size());
    std::abort();
  }
  return 0;
}
