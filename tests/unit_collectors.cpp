// Unit tests of section 7's collectors (--log-to, --log-buffer, --log-tag,
// --timestamps): the URLs, the records and their framing (raw, RFC 5424
// with RFC 6587 octet counting, one datagram a message), dropping the
// oldest whole lines, and a property test that no line reaches a collector
// split or twice, whatever the writes, the drops and the lost connections.
#define DOCK_NO_MAIN
#include "../dock.cpp"

#include <catch2/catch.hpp>

#include "prefixed.hpp"

#include <random>
#include <string>

using namespace dock;

namespace {

std::string parsed(std::string_view url) {
  LogTarget t;
  if (auto err = parse_log_to_url(url, t)) return "error: " + *err;
  std::string kind = t.syslog ? (t.datagram ? "syslog-udp" : "syslog") : "raw";
  const std::string where = t.at.scheme == Scheme::Unix ? t.at.path : t.at.host + " " + t.at.port;
  return kind + (t.at.scheme == Scheme::Tls ? " tls " : " ") + where;
}

LogTarget target(std::string_view url) {
  LogTarget t;
  REQUIRE(!parse_log_to_url(url, t));
  return t;
}

// A collector with fixed framing context and a ring of `buffer` bytes.
struct Fixture {
  LogTarget to;
  pid_t pid = 42;
  Collector c;
  Fixture(std::string_view url, size_t buffer = 1 << 20) : to(target(url)) {
    c.to = &to;
    c.host = "box";
    c.tag = "app";
    c.procid = &pid;
    c.ring = Ring(buffer);
  }
  // Everything staged, as if written at once.
  std::string take() {
    std::string out;
    for (;;) {
      stage_lines(c);
      if (c.staged == 0) return out;
      out.append(c.stage.get() + c.sent, c.staged - c.sent);
      stage_sent(c, c.staged - c.sent);
    }
  }
};

// 2026-12-03T17:46:31.123456Z in µs since the epoch.
constexpr int64_t kT = 1796319991123456;

}  // namespace

TEST_CASE("--log-to URLs: schemes, syslog's well-known ports, bad ones", "[collectors]") {
  CHECK(parsed("tcp://127.0.0.1:5000") == "raw 127.0.0.1 5000");
  CHECK(parsed("tls://logs.example:6000?ca=/ca.pem") == "raw tls logs.example 6000");
  CHECK(parsed("unix:///run/log.sock") == "raw /run/log.sock");
  CHECK(parsed("syslog+tcp://logs") == "syslog logs 514");
  CHECK(parsed("syslog+tcp://[::1]") == "syslog ::1 514");
  CHECK(parsed("syslog+tls://logs/?ca=/ca.pem") == "syslog tls logs 6514");
  CHECK(parsed("syslog+udp://10.0.0.1:1514") == "syslog-udp 10.0.0.1 1514");
  CHECK(parsed("SYSLOG+TCP://logs:601") == "syslog logs 601");
  CHECK(parsed("tcp://logs") == "error: missing port (HOST:PORT)");
  CHECK(parsed("/var/log/x") ==
        "error: not a URL (tcp://HOST:PORT, tls://, unix:///PATH, syslog+tcp://HOST[:PORT], syslog+tls://, "
        "syslog+udp://)");
  CHECK(parsed("file:///x").starts_with("error: unknown scheme 'file'"));
  CHECK(parsed("udp://h:1").starts_with("error: unknown scheme 'udp'"));
  CHECK(parsed("syslog+unix:///dev/log") == "error: unknown scheme 'syslog+unix' (syslog+tcp, syslog+tls, syslog+udp)");
  CHECK(parsed("syslog+tcp://h:0") == "error: port '0' is not in 1..65535");

  LinesConfig c;
  for (int i = 0; i < 4; ++i) CHECK(!parse_log_to("tcp://h:" + std::to_string(1000 + i), c));
  auto err = parse_log_to("tcp://h:2000", c);
  REQUIRE(err);
  CHECK(*err == "at most 4 collectors");
}

TEST_CASE("--log-buffer and --log-tag values", "[collectors]") {
  LinesConfig c;
  CHECK(!parse_log_buffer("256k", c));
  CHECK(c.log_buffer == 256 * 1024);
  CHECK(*parse_log_buffer("4096", c) == "4096 needs a unit, e.g. 4096K");
  CHECK(*parse_log_buffer("1k", c) == "'1k' is not a size from 4k to 1g (e.g. 1m, 256k)");
  CHECK(*parse_log_buffer("2g", c) == "'2g' is not a size from 4k to 1g (e.g. 1m, 256k)");
  CHECK(!parse_log_tag("web-1", c));
  CHECK(c.log_tag == "web-1");
  CHECK(*parse_log_tag("my app", c) == "'my app': printable ASCII without spaces only (RFC 5424)");
  CHECK(*parse_log_tag(std::string(49, 'a'), c) == "'" + std::string(49, 'a') + "' is not 1 to 48 characters");
  CHECK(default_tag("/usr/local/bin/my server") == "my_server");
  CHECK(default_tag("nginx") == "nginx");
}

TEST_CASE("RFC 3339 times, in UTC", "[collectors]") {
  CHECK(rfc3339_text(kT, 3) == "2026-12-03T17:46:31.123Z");
  CHECK(rfc3339_text(kT, 6) == "2026-12-03T17:46:31.123456Z");
  CHECK(rfc3339_text(0, 3) == "1970-01-01T00:00:00.000Z");
}

TEST_CASE("framing: raw lines, RFC 5424 octet-counted, one datagram a message", "[collectors]") {
  {
    Fixture f("tcp://h:1");
    collect(f.c, LineKind::Out, kT, "hello");
    collect(f.c, LineKind::Err, kT, "");
    CHECK(f.take() == "hello\n\n");
  }
  {
    Fixture f("tcp://h:1");
    f.c.stamps = true;
    collect(f.c, LineKind::Out, kT, "hello");
    CHECK(f.take() == "2026-12-03T17:46:31.123Z hello\n");
  }
  {
    Fixture f("syslog+tcp://h");
    collect(f.c, LineKind::Out, kT, "[web] GET / 200");
    collect(f.c, LineKind::Err, kT, "boom");
    const std::string out = "<14>1 2026-12-03T17:46:31.123456Z box app 42 - - [web] GET / 200";
    const std::string err = "<11>1 2026-12-03T17:46:31.123456Z box app 42 - - boom";
    CHECK(f.take() == std::to_string(out.size()) + " " + out + std::to_string(err.size()) + " " + err);
  }
  {
    Fixture f("syslog+udp://h");
    collect(f.c, LineKind::Out, kT, "one");
    collect(f.c, LineKind::Out, kT, "two");
    stage_lines(f.c);
    REQUIRE(f.c.framed == 2);
    const std::string staged(f.c.stage.get(), f.c.staged);
    CHECK(staged == "<14>1 2026-12-03T17:46:31.123456Z box app 42 - - one<14>1 2026-12-03T17:46:31.123456Z box app 42 - - two");
    CHECK(f.c.ends[0] == staged.size() / 2);
  }
}

TEST_CASE("a full buffer drops the oldest whole lines and says so first, with when", "[collectors]") {
  Fixture f("tcp://h:1", 4096);
  for (int i = 0; i < 200; ++i) collect(f.c, LineKind::Out, kT + i * 1000, "line " + std::to_string(i) + std::string(40, '.'));
  CHECK(f.c.ring.size() <= 4096);
  const uint64_t dropped = f.c.dropped;
  CHECK(dropped > 100);
  CHECK(dropped + f.c.waiting == 200);
  const std::string got = f.take();
  const std::string first_kept = "line " + std::to_string(dropped) + ".";
  const std::string notice = "dock: " + std::to_string(dropped) + " lines dropped between 2026-12-03T17:46:31.123Z and " +
                             rfc3339_text(kT + int64_t(dropped - 1) * 1000, 3) + " (collector too slow or away)\n";
  CHECK(got.substr(0, notice.size()) == notice);
  CHECK(got.substr(notice.size(), first_kept.size()) == first_kept);
  CHECK(f.c.dropped == 0);
  CHECK(f.c.dropped_total == dropped);
  // A line longer than the whole buffer is dropped itself.
  collect(f.c, LineKind::Out, kT, std::string(5000, 'x'));
  CHECK(f.c.waiting == 0);
  CHECK(f.c.dropped == 1);
}

TEST_CASE("emit(): --timestamps before the prefix; the collectors get whole lines", "[collectors]") {
  LogTarget to = target("tcp://h:1");
  std::vector<Collector> taps(1);
  taps[0].to = &to;
  taps[0].ring = Ring(1 << 20);
  Stream out, err;
  REQUIRE(!render_prefix("web :red", out.prefix));
  out.stamps = err.stamps = true;
  out.taps = err.taps = &taps;
  out.plain = plain_prefix(out.prefix);
  err.kind = LineKind::Err;
  Ring ring(1 << 20);
  OpenLine line;
  auto feed = [&](Stream& s, std::string_view text, int64_t us) {
    auto room = s.space();
    std::memcpy(room.data(), text.data(), text.size());
    s.filled(text.size());
    s.read_at(text.size(), us);
  };
  feed(out, "one\ntw", kT);
  emit(out, ring, line);
  out.flush_now();  // 100 ms passed: the partial line goes to the sink...
  emit(out, ring, line);
  feed(err, "oops\n", kT + 5000);  // ...and is cut there by stderr's line
  emit(err, ring, line);
  feed(out, "o\n", kT + 9000);
  emit(out, ring, line);
  std::string sink(ring.size(), '\0');
  ring.copy_out(0, ring.size(), sink.data());
  const std::string red = "\x1b[31;1mweb \x1b[0m";
  CHECK(sink == "2026-12-03T17:46:31.123Z " + red + "one\n2026-12-03T17:46:31.123Z " + red + "tw\n" +
                    "2026-12-03T17:46:31.128Z oops\n2026-12-03T17:46:31.132Z " + red + "o\n");
  Fixture view("tcp://h:1");
  std::swap(view.c.ring, taps[0].ring);
  view.c.waiting = taps[0].waiting;
  CHECK(view.take() == "web one\noops\nweb two\n");  // no colour; "two" whole, after the line that cut it
}

// The property: whatever the collector takes per write, however often the
// connection is lost, and however small the buffer, each line the
// collector receives is one that was collected, whole, in order, at most
// once; every line is received or counted as dropped; and the notices'
// counts add up to what was dropped.
TEST_CASE("property: no line split, duplicated or lost uncounted across drops and reconnects", "[collectors]") {
  for (const char* url : {"tcp://h:1", "syslog+tcp://h", "syslog+udp://h"}) {
    std::mt19937 rng(7);
    for (int round = 0; round < 40; ++round) {
      Fixture f(url, 4096 + rng() % 20000);
      const bool datagram = f.to.datagram, syslog = f.to.syslog;
      std::vector<std::string> received;  // complete messages, in order
      std::string partial;                // this connection's incomplete tail
      uint64_t next_line = 0, noticed = 0;
      auto receive = [&](std::string_view bytes) {
        if (datagram) return received.emplace_back(bytes), void();
        partial += bytes;
        for (;;) {
          if (!syslog) {
            const size_t nl = partial.find('\n');
            if (nl == std::string::npos) return;
            received.push_back(partial.substr(0, nl));
            partial.erase(0, nl + 1);
          } else {
            const size_t sp = partial.find(' ');
            if (sp == std::string::npos) return;
            const size_t len = std::stoul(partial.substr(0, sp));
            if (partial.size() < sp + 1 + len) return;
            received.push_back(partial.substr(sp + 1, len));
            partial.erase(0, sp + 1 + len);
          }
        }
      };
      for (int step = 0; step < 400; ++step) {
        const unsigned op = rng() % 10;
        if (op < 5) {  // the command writes lines
          for (unsigned k = rng() % 20; k > 0; --k) {
            const size_t len = rng() % 300;
            const std::string text = "L" + std::to_string(next_line++) + "." + std::to_string(len) + ":" + std::string(len, 'x');
            collect(f.c, LineKind::Out, kT, text);
          }
        } else if (op < 9) {  // the collector takes some bytes
          stage_lines(f.c);
          if (f.c.sent == f.c.staged) continue;
          size_t n = 1 + rng() % (f.c.staged - f.c.sent);
          if (datagram) {  // a datagram goes whole
            size_t i = 0;
            while (f.c.ends[i] <= f.c.sent) ++i;
            n = f.c.ends[i] - f.c.sent;
          }
          receive({f.c.stage.get() + f.c.sent, n});
          stage_sent(f.c, n);
        } else {  // the connection is lost: the incomplete tail is the peer's loss
          partial.clear();
          stage_rewind(f.c);
        }
      }
      for (stage_lines(f.c); f.c.staged > 0; stage_lines(f.c)) {
        size_t i = 0;
        while (f.c.ends[i] <= f.c.sent) ++i;
        const size_t n = datagram ? f.c.ends[i] - f.c.sent : f.c.staged - f.c.sent;
        receive({f.c.stage.get() + f.c.sent, n});
        stage_sent(f.c, n);
      }
      CHECK(partial.empty());
      // The lines as received, in order, each once and whole.
      int64_t last = -1;
      uint64_t lines = 0;
      for (const std::string& m : received) {
        const std::string text = syslog ? m.substr(m.find(" - - ") + 5) : m;
        if (text.starts_with("dock: ")) {
          noticed += std::stoull(text.substr(6));
          continue;
        }
        REQUIRE(text.starts_with("L"));
        const size_t dot = text.find('.');
        const int64_t n = std::stoll(text.substr(1, dot - 1));
        CHECK(n > last);
        last = n;
        const size_t colon = text.find(':');
        CHECK(text.substr(colon + 1) == std::string(std::stoul(text.substr(dot + 1)), 'x'));
        ++lines;
      }
      CHECK(lines + f.c.dropped_total == next_line);
      CHECK(noticed == f.c.dropped_total);
    }
  }
}
