// --log-to, --log-buffer, --log-tag and --timestamps through the real
// ./dock: a real syslog daemon (Debian's rsyslog) over TCP and TLS, a
// collector that is down at start, goes away and comes back, hostile
// collectors (one that never reads, one that resets in the middle of a
// line), and dock's memory while a flood meets a collector that is away.
#include "kit.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>
#include <future>
#include <map>
#include <mutex>

using namespace t;

namespace {

// rsyslogd from Debian, listening on 127.0.0.1:port (imtcp; with `tls`,
// RFC 5425 through its gtls driver and the test server certificate),
// writing each message as "SEVERITY|APP-NAME|PROCID|MSG" to `log`.
struct Rsyslog {
  int port = 0;
  std::string dir, log;
  Proc proc;
  explicit Rsyslog(bool tls) {
    dir = temp_path(tls ? "rsyslog-tls" : "rsyslog-tcp");
    log = dir + "/messages";
    REQUIRE(std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str()) == 0);
    port = free_port();
    std::string conf = "global(workDirectory=\"" + dir + "\"";
    if (tls)
      conf += " defaultNetstreamDriverCAFile=\"" + certs() + "/ca.pem\" defaultNetstreamDriverCertFile=\"" + certs() +
              "/server.pem\" defaultNetstreamDriverKeyFile=\"" + certs() + "/server.key\"";
    conf += ")\n";
    conf += tls ? "module(load=\"imtcp\" streamDriver.name=\"gtls\" streamDriver.mode=\"1\" streamDriver.authMode=\"anon\")\n"
                : "module(load=\"imtcp\")\n";
    conf += "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"" + std::to_string(port) + "\")\n";
    conf += "template(name=\"t\" type=\"string\" string=\"%syslogseverity-text%|%app-name%|%procid%|%msg%\\n\")\n";
    conf += "action(type=\"omfile\" file=\"" + log + "\" template=\"t\")\n";
    write(dir + "/rsyslog.conf", conf);
    proc = Proc::start({"rsyslogd", "-n", "-f", dir + "/rsyslog.conf", "-i", dir + "/pid"});
    // rsyslog says nowhere when it listens: its port is tried, as
    // wait-for-it would, every 20 ms for 10 s at most.
    bool up = false;
    for (int64_t until = now_ms() + 10000; !up && now_ms() < until; usleep(20000)) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      const sockaddr_in a = loopback(port);
      up = connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
      close(fd);
    }
    REQUIRE(up);
  }
  ~Rsyslog() {
    if (proc.pid > 0) kill(proc.pid, SIGTERM);
    proc.wait_exit(5000);
    REQUIRE(std::system(("rm -rf " + dir).c_str()) == 0);
  }
};

struct Message {
  std::string severity, tag, pid, text;
};

std::vector<Message> messages(const std::string& log) {
  std::vector<Message> out;
  std::istringstream in(read_file(log));
  for (std::string line; std::getline(in, line);) {
    Message m;
    std::istringstream fields(line);
    std::getline(fields, m.severity, '|');
    std::getline(fields, m.tag, '|');
    std::getline(fields, m.pid, '|');
    std::getline(fields, m.text);
    out.push_back(m);
  }
  return out;
}

// The next connection on `listener`, within the timeout.
int accept_within(int listener, int timeout_ms) {
  pollfd p{listener, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) != 1) return -1;
  return accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
}

// Everything on `fd` until `needle` has arrived (or the timeout).
std::string read_for(int fd, std::string_view needle, int timeout_ms = kTimeoutMs) {
  std::string buf;
  read_until(fd, buf, needle, now_ms() + timeout_ms);
  return buf;
}

// The numbers of the lines "line N" in `text`, in order; complete lines only.
std::vector<long> numbered_lines(const std::string& text, bool& all_whole) {
  std::vector<long> out;
  all_whole = true;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (in.eof()) break;  // no newline: cut by the connection's end
    if (l.starts_with("dock: ")) continue;
    const size_t digits = l.find_first_not_of("0123456789", 5);
    if (!l.starts_with("line ") || digits == 5 || l.substr(digits) != " " + std::string(40, '.')) all_whole = false;
    else out.push_back(std::stol(l.substr(5)));
  }
  return out;
}

// The lines numbered FROM to TO - 1, 50 bytes each.
std::string numbered(int from, int to) {
  return "i=" + std::to_string(from) + "; while [ $i -lt " + std::to_string(to) +
         " ]; do echo \"line $i ........................................\"; i=$((i+1)); done";
}

}  // namespace

TEST_CASE("--log-to syslog+tcp and syslog+tls to rsyslog: every line once, in order, severity, tag, pid",
          "[log-to][syslog]") {
  if (!have("rsyslogd")) return skip("rsyslogd is not installed (scripts/install-deps.sh installs it)");
  const bool pid1 = each_mode();
  // syslog+tls with the builds that have TLS (not ./dock-static's musl).
  std::optional<Rsyslog> plain(std::in_place, false), tls;
  std::vector<std::string> args = {"--log-to", "syslog+tcp://127.0.0.1:" + std::to_string(plain->port)};
  if (dock_has_tls()) {
    tls.emplace(true);
    args.insert(args.end(), {"--log-to", "syslog+tls://localhost:" + std::to_string(tls->port) + "?ca=" + certs() + "/ca.pem"});
  }
  // rsyslog may still be starting: dock tries again until it is there.
  args.insert(args.end(), {"--log-tag", "web", "--stdout-prefix", "[web] :green", "--", "sh", "-c",
                           "echo \"pid $$\"; i=0; while [ $i -lt 200 ]; do echo \"out $i\"; echo \"err $i\" >&2; "
                           "i=$((i+1)); done; printf 'no newline'"});
  Proc p = run_dock(args, {.pid1 = pid1});
  CHECK(p.exit_code() == 0);
  const pid_t command = pid_after(p.out_buf, "pid ");
  REQUIRE(command > 0);
  for (std::optional<Rsyslog>* r : {&plain, &tls}) {
    if (!*r) continue;
    INFO((r == &tls ? "syslog+tls" : "syslog+tcp"));
    Rsyslog* rs = &**r;
    REQUIRE(wait_file_contains(rs->log, "no newline"));
    REQUIRE(wait_file_contains(rs->log, "err 199"));
    const auto got = messages(rs->log);
    CHECK(got.size() == 402);
    long out = 0, err = 0;
    for (const auto& m : got) {
      CHECK(m.tag == "web");
      CHECK(m.pid == std::to_string(command));
      if (m.text.starts_with("[web] out ")) {
        CHECK(m.severity == "info");
        CHECK(m.text == "[web] out " + std::to_string(out++));
      } else if (m.text.starts_with("[web] err ")) {
        CHECK(m.severity == "err");
        CHECK(m.text == "[web] err " + std::to_string(err++));
      } else {
        CHECK(m.severity == "info");
        CHECK((m.text == "[web] pid " + std::to_string(command) || m.text == "[web] no newline"));
      }
    }
    CHECK(out == 200);
    CHECK(err == 200);
  }
  // dock's own stdout still has every line, with its prefix and colour.
  CHECK(count(p.out_buf, "\x1b[32;1m[web] \x1b[0mout ") == 200);
  CHECK(count(p.err_buf, "\x1b[32;1m[web] \x1b[0merr ") == 200);
}

TEST_CASE("--log-to: down at start, away and back: the command never waits; one line each way", "[log-to]") {
  const bool pid1 = each_mode();
  const int port = free_port();
  const std::string url = "tcp://127.0.0.1:" + std::to_string(port);
  Proc p = start_dock({"--log-to", url, "--", "sh", "-c", "echo one; read x; echo two; read x; echo three"},
                      {.pid1 = pid1});
  // Nothing listens: the command runs anyway, and dock says so once.
  REQUIRE(p.wait_out("one\n"));
  REQUIRE(p.wait_err(url + ": Connection refused; lines wait in its buffer (1M) and dock tries again\n"));
  int listener = listen_on(port);
  int conn = accept_within(listener, 10000);
  REQUIRE(conn >= 0);
  CHECK(read_for(conn, "one\n") == "one\n");
  REQUIRE(p.wait_err(url + ": connected\n"));
  // It goes away: the next line waits for it.
  close(conn);
  close(listener);
  REQUIRE(p.wait_err(url + ": the collector closed the connection; lines wait"));
  p.send("\n");
  REQUIRE(p.wait_out("two\n"));
  listener = listen_on(port);
  conn = accept_within(listener, 10000);
  REQUIRE(conn >= 0);
  CHECK(read_for(conn, "two\n") == "two\n");
  REQUIRE(p.wait_err(url + ": connected\n", 5000));
  p.send("\n");
  std::string rest;
  read_to_eof(conn, rest, now_ms() + kTimeoutMs);
  CHECK(rest == "three\n");
  CHECK(p.exit_code() == 0);
  p.drain();
  CHECK(count(p.err_buf, "lines wait") == 2);
  CHECK(count(p.err_buf, ": connected") == 2);
  close(conn);
  close(listener);
}

TEST_CASE("--log-to: a collector that never reads neither slows nor holds the command; drops are counted",
          "[log-to][hostile]") {
  const bool pid1 = each_mode();
  // It accepts and never reads.
  LoopbackServer stalled([](int, int stop) {
    pollfd p{stop, POLLIN, 0};
    poll(&p, 1, -1);
  });
  const std::string done = temp_path("stalled-done");
  unlink(done.c_str());
  const int64_t t0 = now_ms();
  Proc p = start_dock({"--log-to", "tcp://127.0.0.1:" + std::to_string(stalled.port), "--log-buffer", "64k",
                       "--io", "/dev/null", "--", "sh", "-c", helper() + " write 20000000 lines; touch " + done},
                      {.pid1 = pid1});
  REQUIRE(wait_file(done, true, 30000));
  INFO("the command took " << now_ms() - t0 << " ms");
  unlink(done.c_str());
  // The command's 20 MB are through; dock gives the collector at most the
  // drain's 5 s, then says what it could not deliver.
  CHECK(p.exit_code(15000) == 0);
  p.drain();
  CHECK(now_ms() - t0 < 14000);
  CHECK(p.err_buf.find(" lines were dropped (collector too slow or away)\n") != std::string::npos);
  CHECK(p.err_buf.find(" lines could not be delivered before exit\n") != std::string::npos);
}

TEST_CASE("--log-to: a reset in the middle of a line: no line split or twice; what follows on the next connection",
          "[log-to][hostile]") {
  const bool pid1 = each_mode();
  // The first connection reads 3000 bytes and resets (RST); the next one
  // takes everything until dock closes it.
  std::promise<std::string> first_read, second_read;
  int served = 0;
  LoopbackServer peer([&](int conn, int stop) {
    const bool resetting = ++served == 1;
    std::string got;
    char buf[65536];
    for (;;) {
      pollfd p[2] = {{conn, POLLIN, 0}, {stop, POLLIN, 0}};
      if (poll(p, 2, 10000) <= 0 || (p[1].revents & POLLIN)) break;
      const size_t want = resetting ? std::min<size_t>(sizeof buf, 3000 - got.size()) : sizeof buf;
      const ssize_t n = read(conn, buf, want);
      if (n <= 0) break;
      got.append(buf, size_t(n));
      if (resetting && got.size() >= 3000) {
        linger l{1, 0};
        setsockopt(conn, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        break;
      }
    }
    if (served <= 2) (resetting ? first_read : second_read).set_value(got);
  });
  // 3000 lines, then -- once the first connection is reset -- 3000 more.
  Proc p = start_dock({"--log-to", "tcp://127.0.0.1:" + std::to_string(peer.port), "--io", "/dev/null", "--", "sh",
                       "-c", numbered(0, 3000) + "; read x; " + numbered(3000, 6000)},
                      {.pid1 = pid1});
  auto first_done = first_read.get_future(), second_done = second_read.get_future();
  REQUIRE(first_done.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  const std::string first = first_done.get();
  p.send("\n");
  CHECK(p.exit_code() == 0);
  p.drain();
  CHECK(p.err_buf.find("tcp://127.0.0.1:" + std::to_string(peer.port) + ": ") != std::string::npos);
  REQUIRE(second_done.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  const std::string second = second_done.get();
  REQUIRE(first.size() == 3000);
  bool whole1 = false, whole2 = false;
  const std::vector<long> a = numbered_lines(first, whole1), b = numbered_lines(second, whole2);
  CHECK(whole1);
  CHECK(whole2);
  CHECK((!second.empty() && second.back() == '\n'));
  std::vector<long> all = a;
  all.insert(all.end(), b.begin(), b.end());
  CHECK(std::is_sorted(all.begin(), all.end()));
  CHECK(std::adjacent_find(all.begin(), all.end()) == all.end());  // none twice
  // Every line written after the reset reached the next connection.
  REQUIRE(b.size() >= 3000);
  CHECK(std::vector<long>(b.end() - 3000, b.end()).front() == 3000);
  CHECK(b.back() == 5999);
}

TEST_CASE("--log-to: a 100 MB flood with the collector away costs no more memory than the buffer",
          "[log-to][memory]") {
  const bool pid1 = each_mode();
  const int port = free_port();
  const std::string done = temp_path("flooded");
  unlink(done.c_str());
  const long long bytes = emulated() ? 20'000'000 : 100'000'000;
  Proc p = start_dock({"--log-to", "tcp://127.0.0.1:" + std::to_string(port), "--log-buffer", "1m", "--io",
                       "/dev/null", "--", "sh", "-c",
                       "read x; " + helper() + " write " + std::to_string(bytes) + " lines; touch " + done + "; read x"},
                      {.pid1 = pid1});
  REQUIRE(p.wait_err("lines wait in its buffer (1M)"));
  pid_t d = -1;
  for (int i = 0; i < 100 && (d = p.dock_pid()) <= 1; ++i) usleep(10000);
  REQUIRE(d > 1);
  const long idle = proc_status_field(d, "VmRSS");
  p.send("\n");
  REQUIRE(wait_file(done, true, 120000));
  const long flooded = proc_status_field(d, "VmHWM");
  INFO("VmRSS idle " << idle << " KiB, VmHWM after the flood " << flooded << " KiB");
  if (memory_is_docks()) CHECK(flooded - idle <= 1024 + 512);
  p.send("\n");
  CHECK(p.exit_code() == 0);
  p.drain();
  CHECK(p.err_buf.find(" lines could not be delivered before exit\n") != std::string::npos);
  unlink(done.c_str());
}

TEST_CASE("--timestamps: every line starts with the time it was read, before the prefix", "[log-to][timestamps]") {
  const bool pid1 = each_mode();
  Proc p = run_dock({"--timestamps", "--stderr-prefix", "E ", "--", "sh", "-c", "echo one; echo two >&2; printf three"},
                    {.pid1 = pid1});
  CHECK(p.exit_code() == 0);
  // "2026-12-03T17:46:31.123Z ": digits where the pattern has 9.
  auto stamped = [](std::string_view line, std::string_view rest) {
    constexpr std::string_view pattern = "9999-99-99T99:99:99.999Z ";
    if (line.size() != pattern.size() + rest.size() || line.substr(pattern.size()) != rest) return false;
    for (size_t i = 0; i < pattern.size(); ++i)
      if (pattern[i] == '9' ? !std::isdigit(static_cast<unsigned char>(line[i])) : line[i] != pattern[i]) return false;
    return true;
  };
  const size_t nl = p.out_buf.find('\n');
  REQUIRE(nl != std::string::npos);
  CHECK(stamped(std::string_view(p.out_buf).substr(0, nl), "one"));
  CHECK(stamped(std::string_view(p.out_buf).substr(nl + 1), "three"));
  REQUIRE(!p.err_buf.empty());
  CHECK(stamped(std::string_view(p.err_buf).substr(0, p.err_buf.size() - 1), "E two"));
  // The time is now, in UTC.
  const time_t now = time(nullptr);
  tm utc{};
  gmtime_r(&now, &utc);
  char year[8];
  strftime(year, sizeof year, "%Y-", &utc);
  CHECK(p.out_buf.starts_with(year));
}

TEST_CASE("--log-to, --log-buffer, --log-tag: bad values and lone options are exit 2", "[log-to][options]") {
  struct Bad {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Bad> bad = {
      {{"--log-to", "tcp://host"}, "dock: --log-to: 'tcp://host': missing port (HOST:PORT)\n"},
      {{"--log-to", "file:///x"},
       "dock: --log-to: 'file:///x': unknown scheme 'file' (tcp, tls, unix, syslog+tcp, syslog+tls, syslog+udp; a "
       "file is --io's)\n"},
      {{"--log-buffer", "1m"}, "dock: --log-buffer: needs --log-to (a collector to keep lines for)\n"},
      {{"--log-to", "tcp://h:1", "--log-buffer", "4096"}, "dock: --log-buffer: 4096 needs a unit, e.g. 4096K\n"},
      {{"--log-to", "tcp://h:1", "--log-tag", "web"}, "dock: --log-tag: is syslog's APP-NAME: needs a syslog+ --log-to\n"},
  };
  const std::string marker = temp_path("log-to-started");
  for (const auto& b : bad) {
    std::vector<std::string> args = b.args;
    for (const char* a : {"--", "touch"}) args.emplace_back(a);
    args.push_back(marker);
    Proc p = run_dock(args);
    INFO(p.err_buf);
    CHECK(p.exit_code() == 2);
    if (!b.message.empty()) CHECK(p.err_buf == b.message);
    CHECK(!exists(marker));
  }
  // An image's DOCK_LOG_BUFFER and DOCK_LOG_TAG wait for a DOCK_LOG_TO the
  // deployment may give: alone, they are left alone.
  Proc image = run_dock({"--", "echo", "fine"}, {.env = {"DOCK_LOG_BUFFER=8M", "DOCK_LOG_TAG=web"}});
  CHECK(image.exit_code() == 0);
  CHECK(image.out_buf == "fine\n");
  CHECK(image.err_buf.empty());
  Proc many = run_dock({"--", "true"}, {.env = {"DOCK_LOG_TO=tcp://a:1,tcp://a:2 tcp://a:3,tcp://a:4,tcp://a:5"}});
  CHECK(many.exit_code() == 2);
  CHECK(many.err_buf == "dock: DOCK_LOG_TO: at most 4 collectors\n");
}

TEST_CASE("--log-to tls: verified; at exit the lines, then close_notify; a wrong CA delivers nothing", "[log-to][tls]") {
  const bool pid1 = each_mode();
  // openssl s_server prints what it gets, then DONE at close_notify (ERROR
  // at an end without one); it takes one connection.
  auto s_server = [](int port) {
    Proc server = Proc::start({"openssl", "s_server", "-accept", "127.0.0.1:" + std::to_string(port), "-cert",
                               certs() + "/server.pem", "-key", certs() + "/server.key", "-naccept", "1"});
    REQUIRE(server.wait_out("ACCEPT\n"));
    return server;
  };
  const int other = free_port();
  Proc checked = s_server(other);
  Proc wrong = run_dock({"--log-to", "tls://localhost:" + std::to_string(other) + "?ca=" + certs() + "/server.pem",
                         "--", "echo", "secret"},
                        {.pid1 = pid1});
  INFO(wrong.err_buf);
  CHECK(wrong.exit_code() == 0);
  CHECK(wrong.err_buf.find("certificate verify failed") != std::string::npos);
  CHECK(wrong.err_buf.find(": 1 line could not be delivered before exit\n") != std::string::npos);
  checked.drain(5000);
  CHECK(checked.out_buf.find("secret") == std::string::npos);
  const int port = free_port();
  Proc server = s_server(port);
  Proc p = run_dock({"--log-to", "tls://localhost:" + std::to_string(port) + "?ca=" + certs() + "/ca.pem", "--",
                     "sh", "-c", "echo one; echo two"},
                    {.pid1 = pid1});
  CHECK(p.exit_code() == 0);
  INFO(p.err_buf);
  CHECK(p.err_buf.empty());
  REQUIRE(server.wait_out("two\n"));
  INFO(server.out_buf);  // ERROR: the connection was reset, not ended
  CHECK(server.wait_out("\nDONE\n"));
  CHECK(server.out_buf.find("ERROR") == std::string::npos);
}

TEST_CASE("--log-to: a collector that drips holds neither the command nor dock's exit", "[log-to][hostile]") {
  const bool pid1 = each_mode();
  std::string got;
  std::mutex m;
  // It reads 10 bytes every 20 ms.
  LoopbackServer drip([&](int conn, int stop) {
    std::string mine;
    char buf[10];
    for (;;) {
      pollfd p[2] = {{conn, POLLIN, 0}, {stop, POLLIN, 0}};
      if (poll(p, 2, 20) < 0 || (p[1].revents & POLLIN)) break;
      if (!(p[0].revents & POLLIN)) continue;
      const ssize_t n = read(conn, buf, sizeof buf);
      if (n <= 0) break;
      mine.append(buf, size_t(n));
      usleep(20000);
    }
    std::lock_guard<std::mutex> g(m);
    got = mine;
  });
  const int64_t t0 = now_ms();
  Proc p = run_dock({"--log-to", "tcp://127.0.0.1:" + std::to_string(drip.port), "--io", "/dev/null", "--", helper(),
                     "write", "20000000", "lines"},
                    {.pid1 = pid1});
  CHECK(p.exit_code() == 0);
  // The command's 20 MB took no time; dock's exit waited the drain's
  // 5 s at most for the collector, not the minutes it would need.
  CHECK(now_ms() - t0 < 9000);
  CHECK(p.err_buf.find(" lines could not be delivered before exit\n") != std::string::npos);
  for (int i = 0; i < 300 && drip.connections < 1; ++i) usleep(10000);
}
