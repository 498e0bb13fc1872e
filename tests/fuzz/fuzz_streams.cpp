// libFuzzer target: stdout and stderr sharing one sink. The input picks how
// the two streams' bytes arrive (which stream, how much), when partial
// lines are flushed and how much the target takes; whatever the schedule:
//  - every line out starts with exactly one prefix, and holds bytes of
//    that prefix's stream only;
//  - each stream's bytes come out complete and in order, with at most
//    some added newlines (where the other stream ended its open line);
//  - neither stream is left waiting: at the end both are fully written.
#define DOCK_NO_MAIN
#include "../../dock.cpp"

#include <cstdlib>

#include "../prefixed.hpp"
#include "sink_fuzz.hpp"

using namespace dock;

namespace {

// The prefixes start with a byte the streams' text never holds.
constexpr char kMark = '\x01';

[[noreturn]] void fail(const char* what, const std::string& out) {
  std::fprintf(stderr, "streams: %s (%zu bytes out)\n", what, out.size());
  std::abort();
}

// Whether `in` is `out` with some of its newlines taken out.
bool newlines_added_only(const std::string& in, const std::string& out) {
  size_t i = 0;
  for (char c : out) {
    if (i < in.size() && in[i] == c) ++i;
    else if (c != '\n') return false;
  }
  return i == in.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Choices in{data, size};
  const size_t ring_size = kLineMax + kMaxPrefix + 32 + size_t(in.byte()) * 64;
  const uint8_t schedule[3] = {in.byte(), in.byte(), in.byte()};
  // The rest is both streams' text, split in two near the middle.
  std::string text(reinterpret_cast<const char*>(in.p), in.n);
  for (char& c : text)
    if (c == kMark) c = '.';
  const size_t split = text.size() / 2 + (schedule[2] % 7);
  const std::string input[2] = {text.substr(0, std::min(split, text.size())),
                                text.substr(std::min(split, text.size()))};

  Stream s[2];
  s[0].prefix = std::string(1, kMark) + "O";
  s[1].prefix = std::string(1, kMark) + "E";
  Ring ring(ring_size);
  OpenLine line;
  std::string out;
  auto drain = [&](size_t want) { take(ring, out, want); };
  size_t at[2] = {0, 0};
  for (unsigned step = 0; at[0] < input[0].size() || at[1] < input[1].size(); ++step) {
    const uint8_t pick = uint8_t(schedule[0] ^ (step * 37));
    const int i = at[0] == input[0].size() ? 1 : at[1] == input[1].size() ? 0 : pick & 1;
    size_t n = size_t(pick >> 1) * 13 + 1;
    auto room = s[i].space();
    n = std::min({n, room.size(), input[i].size() - at[i]});
    std::memcpy(room.data(), input[i].data() + at[i], n);
    s[i].filled(n);
    at[i] += n;
    if ((step + schedule[1]) % 3 == 0) s[i].flush_now();  // its partial-line timer fired
    emit(s[i], ring, line);
    emit(s[1 - i], ring, line);  // the other may have waited for room
    drain(size_t(schedule[1]) * 131 + 1);
    if (n == 0) drain(ring.size());  // a full stream buffer: let the target catch up
  }
  for (int i : {0, 1}) s[i].end();
  for (int round = 0; round < 4 && (s[0].size() > 0 || s[1].size() > 0); ++round) {
    emit(s[0], ring, line);
    emit(s[1], ring, line);
    drain(ring.size());
  }
  drain(ring.size());
  if (s[0].size() > 0 || s[1].size() > 0) fail("a stream was left waiting", out);

  // Every line: one prefix, then that stream's bytes only.
  std::string got[2];
  for (size_t pos = 0; pos < out.size();) {
    size_t end = out.find('\n', pos);
    end = end == std::string::npos ? out.size() : end + 1;
    const std::string_view l(out.data() + pos, end - pos);
    if (l.size() < 2 || l[0] != kMark || (l[1] != 'O' && l[1] != 'E')) fail("a line without a prefix", out);
    if (l.find(kMark, 1) != std::string_view::npos) fail("a line with two prefixes", out);
    got[l[1] == 'O' ? 0 : 1].append(l.substr(2));
    pos = end;
  }
  for (int i : {0, 1})
    if (!newlines_added_only(input[i], got[i])) fail("a stream's bytes changed, moved or went missing", out);
  return 0;
}
