// What the world throws at PID 1, against the real ./dock: a full disk, too
// few descriptors, peers that reset, stall or talk nonsense, a hook server
// that never answers or floods, a child that closes its stdout or is
// stopped at shutdown, 100,000 orphans and 10,000 signals. Each test checks
// that dock survives, says what happened, relays the child's status and
// loses nothing it could keep.
#include "kit.hpp"

#include <sys/stat.h>


using namespace t;

namespace {

// Reads what the peer sends until its request head ends (or it stops).
void read_head(int conn, int stop) {
  std::string got;
  char buf[4096];
  while (got.find("\r\n\r\n") == std::string::npos) {
    pollfd p[2] = {{conn, POLLIN, 0}, {stop, POLLIN, 0}};
    if (poll(p, 2, kTimeoutMs) <= 0 || (p[1].revents & POLLIN)) return;
    const ssize_t n = read(conn, buf, sizeof buf);
    if (n <= 0) return;
    got.append(buf, size_t(n));
  }
}

// Waits until the test ends or the peer goes away.
void hold(int conn, int stop) {
  char buf[4096];
  for (;;) {
    pollfd p[2] = {{conn, POLLIN, 0}, {stop, POLLIN, 0}};
    if (poll(p, 2, -1) <= 0 || (p[1].revents & POLLIN)) return;
    if (read(conn, buf, sizeof buf) <= 0) return;
  }
}

// Writes without SIGPIPE: dock closing first is what some tests expect.
bool send_all(int fd, const std::string& data) {
  return send(fd, data.data(), data.size(), MSG_NOSIGNAL) == ssize_t(data.size());
}

// `sh -c CMD` with stdin and stdout on /dev/null: exit code and stderr.
struct ShellRun {
  int code = -1;
  std::string err;
};
ShellRun run_shell(const std::string& cmd) {
  const std::string err = temp_path("shell-err");
  const int st = std::system(("(" + cmd + ") </dev/null >/dev/null 2>" + err).c_str());
  ShellRun r{WIFEXITED(st) ? WEXITSTATUS(st) : -1, read_file(err)};
  unlink(err.c_str());
  return r;
}

// Reads the child's stdout until `needle` occurs n times, or the deadline.
bool read_until_count(Proc& p, const std::string& needle, size_t n, int timeout_ms) {
  const int64_t deadline = now_ms() + timeout_ms;
  char buf[65536];
  while (count(p.out_buf, needle) < n) {
    const int64_t left = deadline - now_ms();
    if (left <= 0) return false;
    pollfd f{p.out, POLLIN, 0};
    if (poll(&f, 1, int(left)) <= 0) continue;
    const ssize_t r = read(p.out, buf, sizeof buf);
    if (r <= 0) return false;
    p.out_buf.append(buf, size_t(r));
  }
  return true;
}

// How many ranges of `whole`, taken in order, make up `part`; -1 when no
// such ranges do (a byte changed, or ranges moved).
int ranges_of(const std::string& part, const std::string& whole) {
  int ranges = 0;
  size_t i = 0, at = 0;
  while (i < part.size()) {
    const size_t p = whole.find(part.substr(i, 16), at);
    if (p == std::string::npos) return -1;
    size_t len = 0;
    while (i + len < part.size() && p + len < whole.size() && part[i + len] == whole[p + len]) len++;
    i += len, at = p + len, ranges++;
  }
  return ranges;
}

}  // namespace

TEST_CASE("disk full under --io FILE with a prefix: nothing stops, one line counts the loss", "[faults]") {
  if (geteuid() != 0) {
    skip("mounting a small tmpfs needs root");
    return;
  }
  SmallDisk disk("full", "64k");
  const std::string log = disk.dir.path + "/app.log";
  Proc p = start_dock({"--io", log, "--stdout-prefix", "app| ", "--", "sh", "-c",
                       "while read l; do echo \"$l\"; done; echo done"});
  p.send("first\n");
  REQUIRE(wait_file_contains(log, "app| first\n"));
  disk.fill();
  std::string big;  // 20,000 bytes in numbered pieces, so that a dropped or moved range shows
  for (int i = 0; big.size() < 20000; i++) {
    char piece[9];
    std::snprintf(piece, sizeof piece, "%07d.", i);
    big += piece;
  }
  p.send(big + "\nlost\n");
  REQUIRE(p.wait_err("No space left on device"));
  CHECK(alive(p.dock_pid()));
  disk.free();  // space returns
  p.send("after\n");
  REQUIRE(wait_file_contains(log, "app| after\n"));
  REQUIRE(p.wait_err("bytes could not be written\n"));
  p.close_in();
  CHECK(p.exit_code() == 0);
  p.drain();
  INFO(p.err_buf);
  // Every byte dock tried to write is in the file or in the count.
  const std::string tried = "app| " + big + "\n" + "app| lost\n";
  const size_t at = p.err_buf.find("writing again; ");
  REQUIRE(at != std::string::npos);
  const unsigned long lost = std::stoul(p.err_buf.substr(at + 15));
  const std::string text = read_file(log);
  REQUIRE(text.rfind("app| first\n", 0) == 0);
  const size_t after = text.find("app| after\n");
  REQUIRE(after != std::string::npos);
  const size_t kept = after - std::string("app| first\n").size();
  CHECK(lost > 0);
  CHECK(kept + lost == tried.size());
  // What was kept is what was tried with whole ranges left out, in order.
  // Which ranges depends on when the shell echoed each line (before or
  // after space returned), not on dock.
  const int ranges = ranges_of(text.substr(11, kept), tried);
  CHECK(ranges >= 1);
  CHECK(ranges <= 2);
  CHECK(text.substr(11, kept).rfind("app| 0000000.", 0) == 0);
  CHECK(count(p.err_buf, "No space left on device") == 1);
  CHECK(count(p.err_buf, "writing again") == 1);
  CHECK(text.substr(after) == "app| after\napp| done\n");
}

TEST_CASE("too few descriptors (ulimit -n): one clear line, exit 1, nothing started", "[faults]") {
  const std::string marker = temp_path("fd-marker");
  for (int limit : {4, 5, 6, 7}) {
    for (bool prefix : {false, true}) {
      INFO("ulimit -n " << limit << (prefix ? " with a prefix" : ""));
      unlink(marker.c_str());
      const std::string cmd = "ulimit -n " + std::to_string(limit) + "; exec " + dock_path() +
                              (prefix ? " --stdout-prefix 'p '" : "") + " -- touch " + marker;
      const ShellRun r = run_shell(cmd);
      INFO(r.err);
      if (r.code == 0) {  // enough for this setup: it ran
        CHECK(exists(marker));
        continue;
      }
      CHECK(r.code == 1);
      CHECK(count(r.err, "\n") == 1);
      CHECK(r.err.rfind("dock: ", 0) == 0);
      // strerror(EMFILE): glibc's words, or musl's (./dock-static)
      CHECK((r.err.find("Too many open files") != std::string::npos ||
             r.err.find("No file descriptors available") != std::string::npos));
      CHECK_FALSE(exists(marker));
    }
  }
  // The lowest limit never suffices: dock needs its loop's descriptors.
  CHECK(run_shell("ulimit -n 4; exec " + dock_path() + " -- true").code == 1);
  unlink(marker.c_str());
}

TEST_CASE("a TCP peer that resets mid-stream: dock survives, says so once, the child gets SIGHUP", "[faults][io]") {
  std::atomic<bool> reset{false};
  LoopbackServer server([&](int conn, int) {
    char buf[65536];
    size_t got = 0;
    while (got < 1 << 20) {  // take 1 MiB, then reset
      const ssize_t n = read(conn, buf, sizeof buf);
      if (n <= 0) break;
      got += size_t(n);
    }
    linger l{1, 0};
    setsockopt(conn, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    reset = true;
  });
  Proc p = start_dock({"--io", "tcp://127.0.0.1:" + std::to_string(server.port), "--stdout-prefix", "out| ",
                       "--kill-timeout", "2s", "--", "sh", "-c", "trap 'exit 9' HUP; yes 'a line of output'"});
  const int code = p.exit_code(15000);
  p.drain();
  INFO(p.err_buf);
  CHECK(reset.load());
  CHECK((code == 9 || code == 128 + SIGHUP));  // the shell's trap, or SIGHUP itself
  // One line for the hang-up (SPEC §4), however many writes failed.
  CHECK(count(p.err_buf, "peer closed the connection; SIGHUP to sh") == 1);
  CHECK(count(p.err_buf, "Connection reset by peer") + count(p.err_buf, "Broken pipe") == 0);
}

TEST_CASE("a TLS peer that talks nonsense or stalls the handshake: exit 1 within the connect timeout", "[faults][tls]") {
  const std::string marker = temp_path("tls-marker");
  SECTION("garbage instead of a ServerHello") {
    LoopbackServer server([](int conn, int) {
      const std::string junk = "this is not TLS at all\r\n";
      for (int i = 0; i < 100; ++i)
        if (!send_all(conn, junk)) break;
    });
    const int64_t start = now_ms();
    Proc p = run_dock({"--io", "tls://127.0.0.1:" + std::to_string(server.port) + "?insecure=1", "--", "touch", marker});
    CHECK(p.exit_code() == 1);
    CHECK(now_ms() - start < 5000);
    INFO(p.err_buf);
    CHECK(p.err_buf.find("dock: tls://127.0.0.1:") != std::string::npos);
    CHECK_FALSE(exists(marker));
  }
  SECTION("a server that accepts and says nothing") {
    LoopbackServer server(hold);
    const int64_t start = now_ms();
    Proc p = run_dock({"--io", "tls://127.0.0.1:" + std::to_string(server.port) + "?insecure=1", "--", "touch", marker});
    const int64_t took = now_ms() - start;
    CHECK(p.exit_code() == 1);
    CHECK(took >= 4500);
    CHECK(took < 8000);
    INFO(p.err_buf);
    CHECK(p.err_buf.find("timed out") != std::string::npos);
    CHECK_FALSE(exists(marker));
  }
  unlink(marker.c_str());
}

TEST_CASE("a web hook server that never answers, floods, or talks nonsense: the child is unaffected", "[faults][hook]") {
  struct Case {
    const char* name;
    std::function<void(int, int)> serve;
    const char* said;
  };
  const std::vector<Case> cases = {
      {"never answers", [](int c, int s) { read_head(c, s); hold(c, s); }, "no answer within 5 s"},
      {"1 GiB without a line break",
       [](int c, int s) {
         read_head(c, s);
         std::string chunk = "HTTP/1.1 " + std::string(65536, 'x');
         for (size_t sent = 0; sent < (size_t(1) << 30);) {
           const ssize_t n = send(c, chunk.data(), chunk.size(), MSG_NOSIGNAL);
           if (n <= 0) break;
           sent += size_t(n);
           chunk.assign(65536, 'x');
         }
       },
       "the answer is not HTTP"},
      {"garbage", [](int c, int s) { read_head(c, s); send_all(c, "SSH-2.0-x\r\n\r\n"); hold(c, s); },
       "the answer is not HTTP"},
  };
  for (const auto& k : cases) {
    DYNAMIC_SECTION(k.name) {
      LoopbackServer server(k.serve);
      Proc dock = start_dock({"--web-hook", "http://127.0.0.1:" + std::to_string(server.port) + "/", "--",
                              helper(), "record"});
      REQUIRE(dock.wait_out("ready child"));
      const long hwm_before = proc_status_field(dock.dock_pid(), "VmHWM");
      const int64_t sent = now_ms();
      REQUIRE(signal_pid(dock.dock_pid(), SIGUSR1));
      REQUIRE(dock.wait_out("child got 10\n", 2000));
      CHECK(now_ms() - sent < 1000);
      REQUIRE(dock.wait_err(k.said, 25000));  // after the last of 3 attempts
      // Bounded memory: the answer is read into 1 KiB at most.
      CHECK(proc_status_field(dock.dock_pid(), "VmHWM") - hwm_before < 1024);
      dock.send("exit 3\n");
      CHECK(dock.exit_code(15000) == 3);
    }
  }
}

TEST_CASE("a child that closes its stdout early: no spinning, stderr still flows, status relayed", "[faults]") {
  Proc p = start_dock({"--stdout-prefix", "o| ", "--stderr-prefix", "e| ", "--", "sh", "-c",
                       "echo before; exec 1>&-; echo after-close >&2; read x; exit 5"});
  REQUIRE(p.wait_out("o| before\n"));
  REQUIRE(p.wait_err("e| after-close\n"));
  const long t0 = cpu_ticks(p.dock_pid());
  CHECK_FALSE(p.wait_out("never", 1000));  // a second of nothing to do
  CHECK(cpu_ticks(p.dock_pid()) - t0 <= 2);
  p.send("go\n");
  CHECK(p.exit_code() == 5);
}

TEST_CASE("a child stopped with SIGSTOP when shutdown begins still ends", "[faults][shutdown]") {
  const bool pid1 = each_mode();
  SECTION("the command is stopped and dock gets SIGTERM: SIGKILL at --stop-timeout") {
    Proc p = start_dock({"--stop-timeout", "1s", "--", "sh", "-c",
                         "trap 'echo got TERM' TERM; echo stopping; kill -STOP $$; echo resumed"},
                        {.pid1 = pid1});
    REQUIRE(p.wait_out("stopping\n"));
    // Wait until the shell is really stopped.
    pid_t sh = -1;
    const int64_t deadline = now_ms() + kTimeoutMs;
    while (now_ms() < deadline) {
      pid_t d = p.dock_pid();
      auto kids = d > 0 ? children_of(d) : std::vector<pid_t>{};
      if (!kids.empty() && proc_state(kids.front()) == 'T') { sh = kids.front(); break; }
      usleep(10000);
    }
    REQUIRE(sh > 0);
    const int64_t sent = now_ms();
    REQUIRE(signal_pid(p.dock_pid(), SIGTERM));
    const int code = p.exit_code();
    const int64_t took = now_ms() - sent;
    // SIGTERM reached a stopped shell that would catch it: it cannot
    // run its trap, so --stop-timeout ends it.
    CHECK(code == 137);
    CHECK(took >= 900);
    CHECK(took < 3000);
  }
  SECTION("a stopped leftover that ignores SIGTERM: SIGKILL after the grace, command's status") {
    Proc p = start_dock({"--kill-timeout", "1s", "--", "sh", "-c",
                         "sh -c 'trap \"\" TERM; kill -STOP $$; sleep 100' & "
                         // exit only once the leftover is stopped, its trap set
                         "while [ \"$(cut -d' ' -f3 /proc/$!/stat)\" != T ]; do sleep 0.01; done; "
                         "echo started; exit 4"},
                        {.pid1 = pid1});
    REQUIRE(p.wait_out("started\n"));
    const int64_t start = now_ms();
    CHECK(p.exit_code() == 4);
    CHECK(now_ms() - start >= 900);  // the grace ran out: it was SIGKILL
    CHECK(now_ms() - start < 4000);
    p.drain();
    CHECK(p.out_buf == "started\n");
  }
}

TEST_CASE("100,000 orphans in a row are all reaped", "[faults][reap][slow]") {
  const bool pid1 = each_mode();
  Proc p = start_dock({"--", helper(), "orphan-burst", "100000"}, {.pid1 = pid1});
  REQUIRE(p.wait_out("made 100000\n", 120000));
  // All reaped: dock's only child left is the helper, and no zombie.
  const pid_t d = p.dock_pid();
  REQUIRE(d > 0);
  const int64_t deadline = now_ms() + 20000;
  size_t kids = 0;
  while (now_ms() < deadline && (kids = children_of(d).size()) > 1) usleep(20000);
  CHECK(kids == 1);
  if (memory_is_docks()) CHECK(proc_status_field(d, "VmHWM") < 4 * 1024);
  p.send("exit 6\n");
  CHECK(p.exit_code() == 6);
}

TEST_CASE("10,000 signals of mixed kinds while the child writes: none lost that can be counted", "[faults][signals]") {
  Proc p = start_dock({"--stdout-prefix", "c| ", "--", helper(), "record"}, {.pid1 = true});
  REQUIRE(p.wait_out("c| ready child"));
  const pid_t d = p.dock_pid();
  REQUIRE(d > 0);
  // Four real-time signals (queued, so every one must arrive) and four
  // standard ones (merged while pending, so at least one of each).
  const int rt[4] = {SIGRTMIN + 1, SIGRTMIN + 2, SIGRTMIN + 3, SIGRTMIN + 4};
  const int std_sigs[4] = {SIGUSR1, SIGUSR2, SIGWINCH, SIGHUP};
  int sent_rt[4] = {0, 0, 0, 0};
  for (int i = 0; i < 10000; ++i) {
    const int k = i % 5;
    int sig = k < 4 ? rt[k] : std_sigs[(i / 5) % 4];
    if (k < 4) ++sent_rt[k];
    sigval v{};
    REQUIRE(sigqueue(d, sig, v) == 0);
  }
  // Every real-time signal recorded: the last kind sent counts them all.
  for (int k = 0; k < 4; ++k)
    CHECK(read_until_count(p, "c| child got " + std::to_string(rt[k]) + "\n", size_t(sent_rt[k]), 30000));
  p.send("exit 0\n");
  CHECK(p.exit_code() == 0);
  p.drain();
  for (int k = 0; k < 4; ++k) {
    INFO("SIGRTMIN+" << k + 1);
    CHECK(count(p.out_buf, "c| child got " + std::to_string(rt[k]) + "\n") == size_t(sent_rt[k]));
  }
  for (int s : std_sigs) {
    INFO("signal " << s);
    CHECK(count(p.out_buf, "c| child got " + std::to_string(s) + "\n") >= 1);
  }
  // Every line whole, with its prefix once.
  size_t lines = 0, bad = 0;
  for (size_t at = 0; at < p.out_buf.size();) {
    const size_t nl = p.out_buf.find('\n', at);
    if (nl == std::string::npos) { ++bad; break; }
    const std::string_view l(p.out_buf.data() + at, nl - at);
    if (l.rfind("c| ", 0) != 0 || l.find("c| ", 3) != std::string_view::npos) ++bad;
    ++lines;
    at = nl + 1;
  }
  CHECK(bad == 0);
  CHECK(lines >= 8001);
}
