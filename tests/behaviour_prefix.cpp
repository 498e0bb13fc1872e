// --stdout-prefix / --stderr-prefix through the real ./dock: one prefix per
// line on every target, lines of the two streams never mixed, partial lines
// on time, everything flushed at exit, backpressure with bounded memory.
#include "kit.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/stat.h>

using namespace t;

namespace {

// Checks that `text` is exactly lines "O out i" and "E err i", each stream
// complete and in order.
void check_interleaved(const std::string& text, long n) {
  std::istringstream in(text);
  std::string line;
  long next_out = 0, next_err = 0, bad = 0;
  while (std::getline(in, line)) {
    if (line == "O out " + std::to_string(next_out)) ++next_out;
    else if (line == "E err " + std::to_string(next_err)) ++next_err;
    else if (++bad <= 3) FAIL_CHECK("unexpected line: '" << line << "'");
  }
  CHECK(bad == 0);
  CHECK(next_out == n);
  CHECK(next_err == n);
  CHECK(!text.empty());
  CHECK(text.back() == '\n');
}

}  // namespace

TEST_CASE("prefixes on dock's own stdout and stderr, with colour", "[prefix]") {
  Proc p = run_dock({"--stdout-prefix", "web:red", "--stderr-prefix", "[err] ", "--", "sh", "-c",
                     "echo a; echo b >&2; printf 'c\\n\\nd\\n'; echo 'x:y' >&2"});
  CHECK(p.exit_code() == 0);
  const std::string red = "\x1b[31;1mweb\x1b[0m";
  CHECK(p.out_buf == red + "a\n" + red + "c\n" + red + "\n" + red + "d\n");
  CHECK(p.err_buf == "[err] b\n[err] x:y\n");

  // Without --stderr-prefix, stderr takes stdout's; "a:b:c" is all text.
  Proc q = run_dock({"--stdout-prefix", "a:b:c", "--", "sh", "-c", "echo 1; echo 2 >&2"});
  CHECK(q.out_buf == "a:b:c1\n");
  CHECK(q.err_buf == "a:b:c2\n");
}

TEST_CASE("50,000 interleaved stdout and stderr lines: none mixed", "[prefix]") {
  const long n = 50'000;
  SECTION("into a file") {
    const std::string path = temp_path("mix.log");
    unlink(path.c_str());
    Proc p = run_dock({"--io", path, "--stdout-prefix", "O ", "--stderr-prefix", "E ", "--", helper(), "interleave",
                       std::to_string(n)});
    CHECK(p.exit_code() == 0);
    check_interleaved(read_file(path), n);
    unlink(path.c_str());
  }
  SECTION("into one pipe (2>&1)") {
    Proc p = Proc::start({"sh", "-c", "exec " + dock_path() + " --stdout-prefix 'O ' --stderr-prefix 'E ' -- " +
                                          helper() + " interleave " + std::to_string(n) + " 2>&1"},
                         dock_options({}));
    p.close_in();
    p.drain(30'000);
    CHECK(p.exit_code() == 0);
    check_interleaved(p.out_buf, n);
  }
}

TEST_CASE("a stdout line left open does not hold stderr back (one file for both)", "[prefix]") {
  // A progress line without newline, then 2 MB of stderr lines: more than
  // the pipe and dock's buffers hold, so if stderr waited for the stdout
  // line to end, the command would block for good.
  const std::string path = temp_path("open-line.log");
  unlink(path.c_str());
  Proc p = start_dock({"--io", path, "--stdout-prefix", "o| ", "--stderr-prefix", "e| ", "--", "sh", "-c",
                       "printf '50%%'; read go; " + helper() + " write 2000000 lines >&2; echo done"});
  REQUIRE(wait_file_contains(path, "o| 50%"));  // the partial line is out, and open
  p.send("go\n");
  CHECK(p.exit_code() == 0);
  const std::string text = read_file(path);
  // The open line was ended before the first stderr line; "done" is a line
  // of its own, with its prefix.
  REQUIRE(text.rfind("o| 50%\n", 0) == 0);
  REQUIRE(text.size() > 8);
  CHECK(text.substr(text.size() - 8) == "o| done\n");
  std::istringstream in(text.substr(7, text.size() - 15));
  std::string line;
  long lines = 0, bad = 0;
  while (std::getline(in, line)) {
    if (line.rfind("e| ", 0) == 0 && line.size() == 102 && line.find("e| ", 1) == std::string::npos) ++lines;
    else if (++bad <= 3) FAIL_CHECK("unexpected line: '" << line << "'");
  }
  CHECK(bad == 0);
  CHECK(lines == 20000);
  unlink(path.c_str());
}

TEST_CASE("a partial line goes out after 100 ms, its continuation without a prefix", "[prefix]") {
  const int64_t t0 = now_ms();
  Proc p = start_dock({"--stdout-prefix", "P ", "--", "sh", "-c", "printf abc; read x; echo def"});
  REQUIRE(p.wait_out("P abc"));
  const int64_t held = now_ms() - t0;
  CHECK(held >= 90);  // held for the partial-line time first
  p.send("go\n");     // only now does the line end
  CHECK(p.exit_code() == 0);
  p.drain();
  CHECK(p.out_buf == "P abcdef\n");
}

TEST_CASE("a 64 KiB line without newline goes out at once, with one prefix", "[prefix]") {
  // 100,000 bytes and no newline, then the child waits: the first 64 KiB
  // must not wait for the newline (nor for the 100 ms).
  Proc p = start_dock({"--stdout-prefix", "P ", "--", "sh", "-c", "head -c 100000 /dev/zero | tr '\\0' x; read x; echo"});
  REQUIRE(p.wait_out(std::string(65536, 'x')));
  p.send("go\n");
  CHECK(p.exit_code() == 0);
  p.drain();
  CHECK(p.out_buf == "P " + std::string(100000, 'x') + "\n");
}

TEST_CASE("output still in flight is written at exit, also from killed leftovers", "[prefix][shutdown]") {
  const std::string path = temp_path("exit.log");
  unlink(path.c_str());
  // A leftover that ignores SIGTERM writes a partial line and is killed after
  // the timeout; the child itself ends with a partial line too.
  const std::string fifo = temp_path("ready.fifo");
  unlink(fifo.c_str());
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  const int64_t t0 = now_ms();
  Proc p = run_dock({"--kill-timeout", "300ms", "--io", path, "--stdout-prefix", "P ", "--stderr-prefix", "E ", "--",
                     "sh", "-c",
                     "(trap '' TERM; printf bg-partial >&2; echo > " + fifo + "; exec sleep 100) & read x < " + fifo +
                         "; printf fg-partial"});
  CHECK(p.exit_code() == 0);
  CHECK(now_ms() - t0 >= 300);  // the leftover was there until SIGKILL
  unlink(fifo.c_str());
  const std::string text = read_file(path);
  INFO(text);
  CHECK(count(text, "P ") == 1);
  CHECK(count(text, "E ") == 1);
  CHECK(text.find("P fg-partial") != std::string::npos);
  CHECK(text.find("E bg-partial") != std::string::npos);
  unlink(path.c_str());
}

TEST_CASE("a slow TCP reader slows the child; all 100 MB arrive in order; memory stays bounded", "[prefix][tcp][slow]") {
  int port = 0;
  int lfd = loopback_listener(1, port);
  const long lines = 12'000'000;  // "P 1\n" .. "P 12000000\n": about 117 MB
  Proc dock = start_dock({"--io", "tcp://127.0.0.1:" + std::to_string(port), "--stdout-prefix", "P ",
                          "--", "seq", "1", std::to_string(lines)});
  pollfd pf{lfd, POLLIN, 0};
  REQUIRE(poll(&pf, 1, kTimeoutMs) == 1);
  int c = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  REQUIRE(c >= 0);
  long next = 1, bad = 0, reads = 0, worst_rss_kb = 0;
  std::string partial;
  std::vector<char> buf(64 * 1024);
  const int64_t deadline = now_ms() + 120'000;
  for (;;) {
    pollfd rp{c, POLLIN, 0};
    if (poll(&rp, 1, int(std::max<int64_t>(1, deadline - now_ms()))) != 1) break;
    ssize_t n = read(c, buf.data(), buf.size());
    if (n <= 0) break;
    partial.append(buf.data(), size_t(n));
    size_t at = 0;
    for (size_t nl; (nl = partial.find('\n', at)) != std::string::npos; at = nl + 1) {
      if (partial.compare(at, nl - at, "P " + std::to_string(next)) == 0) ++next;
      else ++bad;
    }
    partial.erase(0, at);
    if (++reads % 64 == 0) {
      worst_rss_kb = std::max(worst_rss_kb, proc_status_field(dock.dock_pid(), "VmRSS"));
      usleep(2000);  // a slow reader: dock and the child must wait for it
    }
  }
  close(c);
  close(lfd);
  CHECK(bad == 0);
  CHECK(next == lines + 1);
  CHECK(partial.empty());
  CHECK(dock.exit_code() == 0);
  INFO("dock's largest resident set while streaming: " << worst_rss_kb << " KiB");
  CHECK(worst_rss_kb > 0);
  if (memory_is_docks()) CHECK(worst_rss_kb < 8 * 1024);
}
