// Unit tests of sections 7 and 8: the prefixer (render_prefix, Ring,
// emit() under arbitrary chunkings, backpressure, partial lines, two
// streams on one sink) and the input feed.
#define DOCK_NO_MAIN
#include "../dock.cpp"

#include <catch2/catch.hpp>

#include "prefixed.hpp"

#include <random>
#include <string>

using namespace dock;

namespace {

std::string rendered(std::string_view spec) {
  std::string out;
  auto err = render_prefix(spec, out);
  return err ? "error: " + *err : out;
}

// Feeds `input` to a stream in chunks of the given sizes, draining the ring
// after each step; returns everything written, as a target would see it.
std::string run_stream(const std::string& prefix, const std::string& input, const std::vector<size_t>& chunks,
                       size_t ring_size = 1 << 20) {
  Stream s;
  s.prefix = prefix;
  Ring ring(ring_size);
  OpenLine line;
  std::string out;
  auto drain = [&] {
    auto r = ring.runs();
    out.append(static_cast<char*>(r[0].iov_base), r[0].iov_len);
    out.append(static_cast<char*>(r[1].iov_base), r[1].iov_len);
    ring.consume(ring.size());
  };
  size_t at = 0, i = 0;
  while (at < input.size()) {
    size_t n = std::min(chunks[i++ % chunks.size()], input.size() - at);
    auto room = s.space();
    n = std::min(n, room.size());
    std::memcpy(room.data(), input.data() + at, n);
    s.filled(n);
    at += n;
    emit(s, ring, line);
    drain();
  }
  s.end();
  emit(s, ring, line);
  drain();
  return out;
}

}  // namespace

TEST_CASE("prefix text and colour", "[prefix]") {
  CHECK(rendered("[web] ") == "[web] ");
  CHECK(rendered("web:red") == "\x1b[31;1mweb\x1b[0m");
  CHECK(rendered("web:green") == "\x1b[32;1mweb\x1b[0m");
  CHECK(rendered("w:yellow") == "\x1b[33;1mw\x1b[0m");
  CHECK(rendered("w:blue") == "\x1b[34;1mw\x1b[0m");
  CHECK(rendered("w:magenta") == "\x1b[35;1mw\x1b[0m");
  CHECK(rendered("w:cyan") == "\x1b[36;1mw\x1b[0m");
  CHECK(rendered("w:white") == "\x1b[37;1mw\x1b[0m");
  CHECK(rendered("w:RED") == "\x1b[31;1mw\x1b[0m");
  CHECK(rendered("a:b:c") == "a:b:c");          // not a colour: all text
  CHECK(rendered("a:b:red") == "\x1b[31;1ma:b\x1b[0m");  // only after the last ':'
  CHECK(rendered("host:8080") == "host:8080");
  CHECK(rendered("red") == "red");
  CHECK(rendered("x:") == "x:");
  CHECK(rendered(":red") == "error: empty prefix");
  CHECK(rendered("") == "error: empty prefix");
  CHECK(rendered(std::string(4096, 'p')) == std::string(4096, 'p'));
  CHECK(rendered(std::string(4097, 'p')) == "error: longer than 4096 bytes");
  // Found by fuzzing: a line break in the prefix would start lines with no
  // prefix at all (and a \r would overwrite it on a terminal).
  CHECK(rendered("a\nb") == "error: a prefix is put at the start of one line and cannot hold a line break");
  CHECK(rendered("a\rb:red") == "error: a prefix is put at the start of one line and cannot hold a line break");
  CHECK(rendered("tab\there") == "tab\there");
  static_assert(kSinkCapacity >= kLineMax + kMaxPrefix + 16, "a unit always fits an empty ring");
}

TEST_CASE("ring buffer wraps around", "[prefix]") {
  Ring r(8);
  r.push("abcdef");
  r.consume(4);
  r.push("ghijkl");  // wraps
  CHECK(r.size() == 8);
  CHECK(r.free() == 0);
  auto runs = r.runs();
  std::string got(static_cast<char*>(runs[0].iov_base), runs[0].iov_len);
  got.append(static_cast<char*>(runs[1].iov_base), runs[1].iov_len);
  CHECK(got == "efghijkl");
}

TEST_CASE("exactly one prefix per line, whatever the chunking", "[prefix]") {
  const std::string input = "one\ntwo\n\nthree has more words\r\nlast without newline";
  std::mt19937 rng(42);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<size_t> chunks;
    for (int i = 0; i < 8; ++i) chunks.push_back(1 + rng() % 9);
    INFO("trial " << trial);
    CHECK(run_stream("P> ", input, chunks) == with_prefixes("P> ", input));
  }
  CHECK(run_stream("P> ", "", {1}) == "");
  CHECK(run_stream("P> ", "\n\n", {1}) == "P> \nP> \n");  // empty lines get one too
  CHECK(run_stream("", "a\nb", {1}) == "a\nb");        // no prefix: bytes unchanged
}

TEST_CASE("a partial line waits, then goes out once; its continuation has no prefix", "[prefix]") {
  Stream s;
  s.prefix = "P ";
  Ring ring(1024);
  OpenLine line;
  auto feed = [&](std::string_view d) {
    auto room = s.space();
    std::memcpy(room.data(), d.data(), d.size());
    s.filled(d.size());
  };
  feed("abc");
  CHECK(emit(s, ring, line) == 0);  // held: no newline, no flush yet
  CHECK(ring.empty());
  s.flush_now();             // 100 ms passed
  CHECK(emit(s, ring, line) == 3);
  CHECK(line.by == &s);                 // the line is open on this sink
  CHECK_FALSE(s.flushing());
  feed("def\nghi\n");
  emit(s, ring, line);
  CHECK(line.by == nullptr);
  auto r = ring.runs();
  CHECK(std::string(static_cast<char*>(r[0].iov_base), r[0].iov_len) == "P abcdef\nP ghi\n");
}

TEST_CASE("a 64 KiB line without newline goes out at once", "[prefix]") {
  Stream s;
  s.prefix = "P ";
  Ring ring(kSinkCapacity);
  OpenLine line;
  auto room = s.space();
  std::memset(room.data(), 'x', kLineMax);
  s.filled(kLineMax);
  CHECK(emit(s, ring, line) == kLineMax);
  CHECK(ring.size() == kLineMax + 2);
}

TEST_CASE("backpressure: a unit is written whole or not at all", "[prefix]") {
  Stream s;
  s.prefix = "PREFIX ";
  Ring ring(16);
  OpenLine line;
  auto room = s.space();
  std::string data = "12345\n123456789\n";
  std::memcpy(room.data(), data.data(), data.size());
  s.filled(data.size());
  CHECK(emit(s, ring, line) == 6);  // "PREFIX 12345\n" fits (13), the next (17) does not
  CHECK(ring.size() == 13);
  CHECK(s.size() == 10);
  ring.consume(13);
  CHECK(emit(s, ring, line) == 0);  // 17 bytes never fit in 16: it waits for...
  s.flush_now();            // ...nothing more: a line longer than the ring
  CHECK(emit(s, ring, line) == 0);  // (the ring is sized far above kLineMax in dock)
  static_assert(kSinkCapacity > kLineMax + 1024);
}

TEST_CASE("two streams on one sink: neither waits for the other, no line mixes", "[prefix]") {
  Stream out, err;
  out.prefix = "O ";
  err.prefix = "E ";
  Ring ring(4096);
  OpenLine line;
  auto feed = [](Stream& s, std::string_view d) {
    auto room = s.space();
    std::memcpy(room.data(), d.data(), d.size());
    s.filled(d.size());
  };
  auto take = [&] {
    auto r = ring.runs();
    std::string text(static_cast<char*>(r[0].iov_base), r[0].iov_len);
    text.append(static_cast<char*>(r[1].iov_base), r[1].iov_len);
    ring.consume(ring.size());
    return text;
  };
  feed(out, "prompt: ");
  out.flush_now();
  emit(out, ring, line);  // out's line is open
  CHECK(line.by == &out);
  feed(err, "warning\n");
  CHECK(emit(err, ring, line) == 8);  // err does not wait: out's line is ended first
  CHECK(line.by == nullptr);
  feed(out, "answer\n");
  emit(out, ring, line);  // out's continuation is a line of its own
  CHECK(take() == "O prompt: \nE warning\nO answer\n");

  // Its own continuation never ends a stream's line.
  feed(out, "50%");
  out.flush_now();
  emit(out, ring, line);
  feed(out, " 100%\n");
  emit(out, ring, line);
  CHECK(take() == "O 50% 100%\n");

  // A partial line of the other stream, when it is due, ends the open one too.
  feed(out, "a");
  out.flush_now();
  emit(out, ring, line);
  feed(err, "b");
  CHECK(emit(err, ring, line) == 0);  // not due yet: nothing moves
  err.flush_now();
  CHECK(emit(err, ring, line) == 1);
  CHECK(line.by == &err);
  feed(err, "c\n");
  emit(err, ring, line);
  CHECK(take() == "O a\nE bc\n");

  // No room for the newline and the other's line: nothing moves, the open
  // line stays open for its own stream.
  Ring small(12);
  OpenLine tight;
  feed(out, "12345");
  out.flush_now();
  CHECK(emit(out, small, tight) == 5);  // "O 12345" (7 bytes)
  feed(err, "xy\n");
  CHECK(emit(err, small, tight) == 0);  // "\nE xy\n" needs 6, 5 are free
  CHECK(out.line_open());
  feed(out, "6\n");
  CHECK(emit(out, small, tight) == 2);  // the continuation, no prefix
  small.consume(small.size());
  CHECK(emit(err, small, tight) == 3);  // now at a line start: no newline added
  CHECK(small.size() == 5);

  // A stream that ended mid-line lets the other go on, on a line of its own;
  // nothing is added while nobody writes after it.
  feed(out, "unterminated");
  out.end();
  emit(out, ring, line);
  CHECK(line.by == nullptr);
  CHECK(take() == "O unterminated");
  feed(err, "after\n");
  CHECK(emit(err, ring, line) == 6);
  CHECK(take() == "\nE after\n");
}

TEST_CASE("without a prefix, bytes pass at once, as far as the ring has room", "[prefix]") {
  Stream s;
  s.lines = false;
  Ring ring(8);
  OpenLine line;
  auto room = s.space();
  const std::string data = "no newline yet, and more";
  std::memcpy(room.data(), data.data(), data.size());
  s.filled(data.size());
  CHECK(emit(s, ring, line) == 8);  // a partial line goes without waiting for 100 ms
  CHECK(line.by == nullptr);           // and it holds no line open
  auto r = ring.runs();
  CHECK(std::string(static_cast<char*>(r[0].iov_base), r[0].iov_len) == "no newli");
  ring.consume(8);
  CHECK(emit(s, ring, line) == 8);
  CHECK(s.size() == data.size() - 16);
}

TEST_CASE("input feed: bytes move through a fixed buffer; a full child input stops the reading", "[input]") {
  int src[2], dst[2];
  REQUIRE(pipe2(src, O_NONBLOCK | O_CLOEXEC) == 0);  // the peer writes src[1]
  REQUIRE(pipe2(dst, O_NONBLOCK | O_CLOEXEC) == 0);  // the child reads dst[0]
  const int pipe_size = fcntl(dst[1], F_GETPIPE_SZ);
  Feed f;
  f.from = src[0];
  f.to = Fd(dst[1]);
  const std::string hello = "hello\n";
  REQUIRE(write(src[1], hello.data(), hello.size()) == ssize_t(hello.size()));
  CHECK_FALSE(move_input(f));
  char buf[64];
  CHECK(read(dst[0], buf, sizeof buf) == ssize_t(hello.size()));
  CHECK(std::string(buf, hello.size()) == hello);

  // The child reads nothing: its pipe fills, then dock's buffer, then dock
  // stops reading -- what is left stays with the peer.
  std::string block(4096, 'x');
  size_t sent = 0;
  for (int i = 0; i < 64; ++i) {
    while (write(src[1], block.data(), block.size()) == ssize_t(block.size())) sent += block.size();
    move_input(f);
  }
  CHECK(f.len == f.buf.size());
  CHECK(f.buf.size() == kFeedCapacity);
  int unread = 0;
  REQUIRE(ioctl(src[0], FIONREAD, &unread) == 0);
  CHECK(size_t(pipe_size) + f.len + size_t(unread) == sent);

  // The peer's end comes only after everything it sent was delivered.
  close(src[1]);
  size_t received = 0;
  bool ended = false;
  for (int i = 0; i < 100000 && !(ended && f.len == 0); ++i) {
    ssize_t n;
    while ((n = read(dst[0], buf, sizeof buf)) > 0) received += size_t(n);
    ended = move_input(f) || ended;
  }
  ssize_t n;
  while ((n = read(dst[0], buf, sizeof buf)) > 0) received += size_t(n);
  CHECK(ended);
  CHECK(f.eof);
  CHECK(f.len == 0);
  CHECK(received == sent);

  // A child that closed its input: what comes is discarded, not kept.
  signal(SIGPIPE, SIG_IGN);
  close(dst[0]);
  f.eof = false;
  int again[2];
  REQUIRE(pipe2(again, O_NONBLOCK | O_CLOEXEC) == 0);
  f.from = again[0];
  REQUIRE(write(again[1], hello.data(), hello.size()) == ssize_t(hello.size()));
  move_input(f);
  CHECK(f.to_gone);
  CHECK(f.len == 0);
  signal(SIGPIPE, SIG_DFL);
  close(again[0]);
  close(again[1]);
  close(src[0]);
}
