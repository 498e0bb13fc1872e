// Readiness (SPEC §11-§13) through the real ./dock, as PID 1 and as a
// subreaper: --bind-port, --ready-file, --notify and --notify-access, the
// upward NOTIFY_SOCKET, dock --check PATH and dock --check URL, and
// --health-port's probes over HTTP.
#include "kit.hpp"

using namespace t;

namespace {

// A connection to dock's --health-port on 127.0.0.1 (or ::1).
int health_connect(int port, bool v6 = false) {
  const int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_storage ss{};
  socklen_t len;
  if (v6) {
    auto& a = reinterpret_cast<sockaddr_in6&>(ss);
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(uint16_t(port));
    a.sin6_addr = in6addr_loopback;
    len = sizeof a;
  } else {
    auto& a = reinterpret_cast<sockaddr_in&>(ss);
    a.sin_family = AF_INET;
    a.sin_port = htons(uint16_t(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    len = sizeof a;
  }
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0);
  return fd;
}

// Whether the peer closed `fd` within `timeout_ms` (EOF or a reset);
// what it sent before is appended to `got`.
bool closed_within(int fd, int timeout_ms, std::string* got = nullptr) {
  const int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    const int r = poll(&p, 1, int(std::max<int64_t>(0, deadline - now_ms())));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char buf[4096];
    const ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
    if (n > 0 && got != nullptr) got->append(buf, size_t(n));
  }
}

// One request; the whole answer, read until dock closes.
std::string ask(int port, std::string_view request, bool v6 = false) {
  const int fd = health_connect(port, v6);
  REQUIRE(send(fd, request.data(), request.size(), MSG_NOSIGNAL) == ssize_t(request.size()));
  std::string answer;
  CHECK(closed_within(fd, kTimeoutMs, &answer));
  close(fd);
  return answer;
}

std::string get(int port, const std::string& path) { return ask(port, "GET " + path + " HTTP/1.1\r\nHost: pod\r\n\r\n"); }

std::string status_line(const std::string& answer) { return answer.substr(0, answer.find("\r\n")); }

std::string body_of(const std::string& answer) {
  const size_t blank = answer.find("\r\n\r\n");
  return blank == std::string::npos ? "" : answer.substr(blank + 4);
}

constexpr const char* kOk = "HTTP/1.1 200 OK";
constexpr const char* kUnavailable = "HTTP/1.1 503 Service Unavailable";

}  // namespace

TEST_CASE("--bind-port: running only after the child listens, within 0.5 s", "[hook][bind-port]") {
  const bool grandchild = GENERATE(false, true);
  INFO((grandchild ? "a grandchild listens" : "the child listens"));
  const bool pid1 = each_mode();
  HttpServer server;
  const int port = free_port();
  const std::string ready = temp_path("ready-" + std::to_string(port));
  Options o;
  o.pid1 = pid1;
  std::vector<std::string> args{"--web-hook", server.url(), "--bind-port", std::to_string(port),
                                "--ready-file", ready, "--", helper(), "listen", std::to_string(port), "1000"};
  if (grandchild) args.push_back("--grandchild");
  Proc dock = start_dock(args, o);
  REQUIRE(server.wait_requests(1));
  CHECK(!exists(ready));
  REQUIRE(dock.wait_out("\n", 5000));
  const int64_t listened = listen_time(dock.out_buf);
  REQUIRE(server.wait_requests(2, 3000));
  auto reqs = server.requests();
  CHECK(statuses(server) == std::vector<std::string>{"starting", "running"});
  CHECK(reqs[1].at_ms >= listened);
  CHECK(reqs[1].at_ms - listened <= 500);
  CHECK(exists(ready));
  dock.send("exit 0\n");
  CHECK(dock.exit_code() == 0);
  CHECK(!exists(ready));
  REQUIRE(server.wait_requests(3));
}

TEST_CASE("--bind-port: a port never bound, or bound by someone else, is never running", "[hook][bind-port]") {
  HttpServer server;
  int port = 0;
  const int other = loopback_listener(4, port);  // the tests listen on it, not the child
  const std::string ready = temp_path("ready-never");
  Proc dock = run_dock({"--web-hook", server.url(), "--bind-port", std::to_string(port), "--ready-file", ready,
                        "--", "sh", "-c", "sleep 1; exit 5"});
  close(other);
  CHECK(dock.exit_code() == 5);
  REQUIRE(server.wait_requests(2));
  CHECK(statuses(server) == std::vector<std::string>{"starting", "crashed"});
  CHECK(!exists(ready));
}

TEST_CASE("--ready-file: made when running, removed at exit, also when dock is stopped by a signal", "[ready-file]") {
  const std::string ready = temp_path("ready-signal");
  { std::ofstream stale(ready); }  // left by an earlier run: removed before the child starts
  Proc dock = start_dock({"--ready-file", ready, "--", "sh", "-c", "echo ready child $$; exec sleep 60"});
  REQUIRE(dock.wait_out("ready child"));
  REQUIRE(wait_file_contains(ready, "\n"));
  REQUIRE(dock.wait_out("\n"));
  CHECK(read_file(ready) == std::to_string(pid_from(dock.out_buf, "child")) + "\n");
  REQUIRE(signal_pid(dock.dock_pid(), SIGTERM));  // forwarded: sleep dies of it
  CHECK(dock.exit_code() == 128 + SIGTERM);
  CHECK(!exists(ready));

  Proc fails = run_dock({"--ready-file", temp_path("no-such-dir") + "/ready", "--", "touch", temp_path("started")});
  CHECK(fails.exit_code() == 2);
  CHECK(fails.err_buf == "dock: --ready-file: directory " + temp_path("no-such-dir") + ": No such file or directory\n");
  CHECK(!exists(temp_path("started")));
  Proc bad_hook = run_dock({"--web-hook", "http://[::1/", "--", "true"});
  CHECK(bad_hook.exit_code() == 2);
  CHECK(bad_hook.err_buf == "dock: --web-hook: 'http://[::1/': unclosed '[' in the host\n");
}

TEST_CASE("--notify: READY=1 makes dock ready (ready file, hook running); RELOADING=1 takes it back", "[notify][pid1]") {
  const bool pid1 = each_mode();
  HttpServer server;
  const std::string ready = temp_path(pid1 ? "notify-ready-1" : "notify-ready");
  NotifyPeer up(false);
  Proc p = start_dock({"--notify", "--ready-file", ready, "--web-hook", server.url(), "--", helper(), "notify"},
                      {.pid1 = pid1, .env = {"NOTIFY_SOCKET=" + up.name}});
  const std::string given = notify_socket_seen(p);
  CHECK(given.rfind("@", 0) == 0);  // dock's own, abstract
  REQUIRE(server.wait_requests(1));
  // Running, but not ready: nothing yet.
  tell(p, "send STATUS=warming up");
  CHECK(up.next(300).empty());
  CHECK_FALSE(exists(ready));
  CHECK(statuses(server) == std::vector<std::string>{"starting"});
  tell(p, "send READY=1\\nSTATUS=serving");
  CHECK(wait_file(ready, true));
  CHECK(up.next(kTimeoutMs) == "READY=1\n");
  REQUIRE(server.wait_requests(2));
  CHECK(statuses(server) == std::vector<std::string>{"starting", "running"});
  tell(p, "send RELOADING=1");
  CHECK(wait_file(ready, false));
  tell(p, "send READY=1");
  CHECK(wait_file(ready, true));
  p.send("exit 0\n");
  CHECK(p.exit_code() == 0);
  CHECK_FALSE(exists(ready));
  REQUIRE(server.wait_requests(3));
  CHECK(statuses(server) == std::vector<std::string>{"starting", "running", "crashed"});  // "running" once
}

TEST_CASE("--notify: a command under --user reaches dock's socket", "[notify][user][pid1]") {
  const bool pid1 = each_mode();
  const std::string ready = temp_path(pid1 ? "notify-user-1" : "notify-user");
  Proc p = start_dock({"--user", "nobody", "--notify", "--ready-file", ready, "--", helper(), "notify"}, {.pid1 = pid1});
  notify_pid(p);
  tell(p, "send READY=1");
  CHECK(wait_file(ready, true));
  p.send("exit 0\n");
  CHECK(p.exit_code() == 0);
}

TEST_CASE("--notify with --bind-port: both must hold", "[notify][bind-port]") {
  const std::string ready = temp_path("notify-port");
  const int port = free_port();
  Proc p = start_dock({"--notify", "--bind-port", std::to_string(port), "--ready-file", ready, "--", helper(), "notify"});
  notify_pid(p);
  tell(p, "send READY=1");
  // Not ready without the port: given a moment it would take (20 ms probes).
  CHECK_FALSE(wait_file(ready, true, 300));
  p.send("listen " + std::to_string(port) + "\n");
  REQUIRE(p.wait_out("listening"));
  CHECK(wait_file(ready, true));
  p.send("exit 0\n");
  CHECK(p.exit_code() == 0);

  // The other order: the port first, then READY=1.
  const int port2 = free_port();
  Proc q = start_dock({"--notify", "--bind-port", std::to_string(port2), "--ready-file", ready, "--", helper(), "notify"});
  notify_pid(q);
  q.send("listen " + std::to_string(port2) + "\n");
  REQUIRE(q.wait_out("listening"));
  CHECK_FALSE(wait_file(ready, true, 300));
  tell(q, "send READY=1");
  CHECK(wait_file(ready, true));
  q.send("exit 0\n");
  CHECK(q.exit_code() == 0);
}

TEST_CASE("--notify: a descendant's READY=1 counts only with --notify-access all; garbage is ignored", "[notify][pid1]") {
  const bool pid1 = each_mode();
  const std::string ready = temp_path(pid1 ? "notify-access-1" : "notify-access");
  Proc p = start_dock({"-d", "--notify", "--ready-file", ready, "--", helper(), "notify"}, {.pid1 = pid1});
  notify_pid(p);
  tell(p, "child-send READY=1");
  tell(p, "send garbage");
  tell(p, "send =1");
  tell(p, "send READY=1\\0x");
  tell(p, "big 5000");  // READY=1 and 5,000 more bytes: oversized, ignored whole
  CHECK_FALSE(wait_file(ready, true, 300));
  tell(p, "send READY=1");
  CHECK(wait_file(ready, true));
  p.send("exit 0\n");
  CHECK(p.exit_code() == 0);
  p.drain();
  CHECK(p.err_buf.find("(5 ignored)") != std::string::npos);

  Proc all = start_dock({"--notify", "--notify-access", "all", "--ready-file", ready, "--", helper(), "notify"},
                        {.pid1 = pid1});
  notify_pid(all);
  tell(all, "child-send READY=1");
  CHECK(wait_file(ready, true));
  all.send("exit 0\n");
  CHECK(all.exit_code() == 0);

  // A process that is not dock's descendant cannot make it ready; as PID 1,
  // one outside dock's pid namespace (the kernel gives dock its pid as 0).
  Proc outsider = start_dock({"--notify", "--notify-access", "all", "--ready-file", ready, "--", helper(), "notify"},
                             {.pid1 = pid1});
  const std::string name = notify_socket_seen(outsider);
  Proc stranger = Proc::start({helper(), "notify"}, {.env = {"NOTIFY_SOCKET=" + name}});
  notify_pid(stranger);
  tell(stranger, "send READY=1");
  CHECK_FALSE(wait_file(ready, true, 300));
  stranger.send("exit 0\n");
  outsider.send("exit 0\n");
  CHECK(outsider.exit_code() == 0);
  CHECK(run_dock({"--notify-access", "some", "--", "true"}).exit_code() == 2);
  CHECK(run_dock({"--notify=yes", "--", "true"}).exit_code() == 2);
}

TEST_CASE("NOTIFY_SOCKET: dock says READY=1 and STOPPING=1 upward and keeps it from the command", "[notify][pid1]") {
  const bool pid1 = each_mode();
  NotifyPeer up(true);
  // No --notify: ready at once; the command does not see NOTIFY_SOCKET.
  Proc p = start_dock({"--", helper(), "notify"}, {.pid1 = pid1, .env = {"NOTIFY_SOCKET=" + up.name}});
  CHECK(notify_socket_seen(p) == "unset");
  pid_t sender = 0;
  CHECK(up.next(kTimeoutMs, &sender) == "READY=1\n");
  if (!pid1) CHECK(sender == p.pid);  // dock itself, never the command
  REQUIRE(signal_pid(p.dock_pid(), SIGTERM));
  CHECK(up.next(kTimeoutMs) == "STOPPING=1\n");
  CHECK(p.exit_code() == 143);
  CHECK(up.next(200).empty());  // nothing else, no MAINPID
  // The command ending on its own: dock is stopping too.
  Proc ends = start_dock({"--", helper(), "notify"}, {.pid1 = pid1, .env = {"NOTIFY_SOCKET=" + up.name}});
  CHECK(up.next(kTimeoutMs) == "READY=1\n");
  ends.send("exit 3\n");
  CHECK(up.next(kTimeoutMs) == "STOPPING=1\n");
  CHECK(ends.exit_code() == 3);
  CHECK(up.next(200).empty());

  // --notify=pass: the command gets dock's NOTIFY_SOCKET and answers itself.
  Proc pass = start_dock({"--notify=pass", "--", helper(), "notify"}, {.pid1 = pid1, .env = {"NOTIFY_SOCKET=" + up.name}});
  const pid_t cmd = notify_pid(pass);
  CHECK(pass.out_buf.find("NOTIFY_SOCKET=" + up.name + "\n") != std::string::npos);
  CHECK(up.next(300).empty());  // dock says nothing
  tell(pass, "send READY=1");
  sender = 0;
  CHECK(up.next(kTimeoutMs, &sender) == "READY=1");
  if (!pid1) CHECK(sender == cmd);
  pass.send("exit 0\n");
  CHECK(pass.exit_code() == 0);
  CHECK(up.next(200).empty());
  Proc pass_env = start_dock({"--", helper(), "notify"}, {.pid1 = pid1, .env = {"NOTIFY_SOCKET=" + up.name, "DOCK_NOTIFY=pass"}});
  CHECK(notify_socket_seen(pass_env) == up.name);
  pass_env.send("exit 0\n");
  CHECK(pass_env.exit_code() == 0);

  // A supervisor that went away: a warning, and the command runs on.
  Proc gone = run_dock({"--", "sh", "-c", "exit 3"}, {.env = {"NOTIFY_SOCKET=" + temp_path("no-such-socket")}});
  CHECK(gone.exit_code() == 3);
  CHECK(gone.err_buf.find("dock: NOTIFY_SOCKET " + temp_path("no-such-socket") + ": ") == 0);
}

TEST_CASE("dock --check: 0 while the ready file names a live process, 1 otherwise, one line", "[check][pid1]") {
  const bool pid1 = each_mode();
  const std::string ready = temp_path(pid1 ? "check-1" : "check");
  Proc p = start_dock({"--ready-file", ready, "--", helper(), "record"}, {.pid1 = pid1});
  REQUIRE(p.wait_out("ready child"));
  REQUIRE(wait_file_contains(ready, "\n"));
  if (!pid1) {  // in PID 1 mode the pid is of dock's namespace: probed from inside below
    Proc ok = run_dock({"--check", ready});
    CHECK(ok.exit_code() == 0);
    CHECK(ok.out_buf == "ready: " + ready + ": pid " + read_file(ready).substr(0, read_file(ready).size() - 1) + " runs\n");
    CHECK(ok.err_buf.empty());
    CHECK(run_dock({"--check"}, {.env = {"DOCK_READY_FILE=" + ready}}).exit_code() == 0);
  }
  p.send("exit 0\n");
  CHECK(p.exit_code() == 0);
  Proc gone = run_dock({"--check", ready});
  CHECK(gone.exit_code() == 1);
  CHECK(gone.err_buf == "dock: not ready: " + ready + ": No such file or directory\n");
  CHECK(gone.out_buf.empty());
  // A pid that no longer runs, and a file that is not a ready file.
  Proc dead = run_dock({"--", "true"});
  std::ofstream(ready) << dead.pid << "\n";
  Proc stale = run_dock({"--check", ready});
  CHECK(stale.exit_code() == 1);
  CHECK(stale.err_buf == "dock: not ready: " + ready + ": pid " + std::to_string(dead.pid) + " does not run\n");
  std::ofstream(ready) << "hello\n";
  CHECK(run_dock({"--check", ready}).exit_code() == 1);
  unlink(ready.c_str());
  Proc none = run_dock({"--check"}, {.env = {"DOCK_READY_FILE="}});
  CHECK(none.exit_code() == 1);  // 0 or 1 only: Docker reserves a HEALTHCHECK's 2
  CHECK(none.err_buf == "dock: --check: no PATH, and DOCK_READY_FILE is not set\n");
  CHECK(run_dock({"--check", ready, "sh"}).exit_code() == 1);
}

TEST_CASE("dock --check as a probe inside the pid namespace (an exec probe)", "[check][pid1]") {
  // dock as PID 1 with a ready file; the probe runs in the same namespace.
  const std::string ready = temp_path("check-ns");
  Proc p = start_dock({"--ready-file", ready, "--", "sh", "-c",
                       "echo up $$; read x; " + dock_path() + " --check " + ready + "; echo probe=$?; read y"},
                      {.pid1 = true});
  REQUIRE(p.wait_out("up "));
  REQUIRE(p.wait_out("\n"));
  const std::string command = std::to_string(std::atol(p.out_buf.c_str() + p.out_buf.find("up ") + 3));
  REQUIRE(wait_file_contains(ready, "\n"));
  CHECK(read_file(ready) == command + "\n");
  p.send("go\n");
  REQUIRE(p.wait_out("probe="));
  REQUIRE(p.wait_out("\n"));
  CHECK(p.out_buf.find("ready: " + ready + ": pid " + command + " runs\nprobe=0") != std::string::npos);
  p.send("done\n");
  CHECK(p.exit_code() == 0);
}

TEST_CASE("dock --check looks again: a service that stopped listening is not ready", "[check][bind-port][pid1]") {
  if (emulated()) return skip("--bind-port: qemu-user has no NETLINK_SOCK_DIAG");
  const bool pid1 = each_mode();
  const std::string ready = temp_path(pid1 ? "relook-1" : "relook");
  const int port = free_port();
  const std::string p = std::to_string(port);
  // The probe runs inside dock's namespaces (an exec probe); the command
  // listens through socat, stops listening, and probes again.
  char dock_abs[PATH_MAX];
  REQUIRE(realpath(dock_path().c_str(), dock_abs) != nullptr);
  const std::string probe = std::string(dock_abs) + " --check " + ready + "; echo probe=$?";
  Proc d = start_dock({"--bind-port", p, "--ready-file", ready, "--", "sh", "-c",
                       "socat TCP-LISTEN:" + p + ",reuseaddr,fork /dev/null & echo up; read x; " + probe +
                           "; kill $!; wait $!; echo closed; read y; " + probe + "; read z"},
                      {.pid1 = pid1});
  REQUIRE(d.wait_out("up\n"));
  REQUIRE(wait_file_contains(ready, "port " + p + "\n"));
  d.send("go\n");
  REQUIRE(d.wait_out("probe="));
  REQUIRE(d.wait_out("\n", 2000));
  CHECK(d.out_buf.find(", port " + p + " listened on\nprobe=0") != std::string::npos);
  d.send("go\n");
  REQUIRE(d.wait_out("closed\n"));
  const size_t after = d.out_buf.size();
  REQUIRE(read_until(d.out, d.out_buf, "probe=", now_ms() + kTimeoutMs, after) != std::string::npos);
  REQUIRE(d.wait_out("\n"));
  CHECK(d.out_buf.find("probe=1", after) != std::string::npos);
  CHECK(d.wait_err("dock: not ready: " + ready + ": nothing listens on port " + p + " any more\n"));
  d.send("done\n");
  CHECK(d.exit_code() == 0);
}

TEST_CASE("dock --check URL: a one-shot probe within --check-timeout, exit 0 or 1", "[check]") {
  int port = 0;
  const int listener = loopback_listener(16, port);
  Proc up = run_dock({"--check", "tcp://127.0.0.1:" + std::to_string(port)});
  CHECK(up.exit_code() == 0);
  CHECK(up.out_buf == "ready: tcp://127.0.0.1:" + std::to_string(port) + " answers\n");
  close(listener);
  Proc down = run_dock({"--check", "tcp://127.0.0.1:" + std::to_string(port)});
  CHECK(down.exit_code() == 1);
  CHECK(down.err_buf == "dock: not ready: tcp://127.0.0.1:" + std::to_string(port) + ": Connection refused\n");

  HttpServer ok({{204, 0}});
  CHECK(run_dock({"--check", ok.url("/healthz")}).exit_code() == 0);
  HttpServer failing({{503, 0}});
  Proc unhealthy = run_dock({"--check", failing.url("/healthz")});
  CHECK(unhealthy.exit_code() == 1);
  CHECK(unhealthy.err_buf == "dock: not ready: " + failing.url("/healthz") + ": HTTP status 503\n");
  HttpServer silent({{200, 20000}});
  const int64_t start = now_ms();
  Proc slow = run_dock({"--check", silent.url("/healthz"), "--check-timeout", "500ms"});
  CHECK(slow.exit_code() == 1);
  CHECK(now_ms() - start < 3000);
  Dir dir("check-unix");
  Proc sock = Proc::start({"socat", "-d", "-d", "UNIX-LISTEN:" + dir.path + "/app.sock,fork", "/dev/null"});
  REQUIRE(sock.wait_err("listening on"));
  CHECK(run_dock({"--check", "unix://" + dir.path + "/app.sock"}).exit_code() == 0);
  // Usage errors are 1 too: Docker reserves a HEALTHCHECK's 2.
  Proc usage = run_dock({"--check", "tcp://127.0.0.1:" + std::to_string(port), "--check-timeout", "soon"});
  CHECK(usage.exit_code() == 1);
  CHECK(usage.err_buf.rfind("dock: --check-timeout: 'soon' is not a duration", 0) == 0);
}

TEST_CASE("-d says what readiness waits for, and when the port is someone else's", "[bind-port][notify]") {
  if (emulated()) return skip("--bind-port: qemu-user has no NETLINK_SOCK_DIAG");
  int port = 0;
  const int outsider = loopback_listener(4, port);  // the test's socket: not dock's descendant's
  const std::string p = std::to_string(port);
  Proc d = start_dock({"-d", "--bind-port", p, "--notify", "--", "sh", "-c", "echo up; read x"});
  REQUIRE(d.wait_out("up\n"));
  CHECK(d.wait_err("not ready until the command or one of its children listens on port " + p + " (--bind-port)\n"));
  CHECK(d.wait_err("not ready until the command says READY=1 (--notify)\n"));
  CHECK(d.wait_err("port " + p + " is listened on by a process that is not the command or one of its children; still waiting\n"));
  d.send("x\n");
  CHECK(d.exit_code() == 0);
  close(outsider);
}

TEST_CASE("--health-port: /ready follows readiness and looks again, /live the command; HEAD, 404, 405", "[health-port][bind-port][pid1]") {
  if (emulated()) return skip("--bind-port: qemu-user has no NETLINK_SOCK_DIAG");
  const bool pid1 = each_mode();
  const int hp = free_port(), port = free_port();
  const std::string p = std::to_string(port);
  const std::string ready = temp_path(pid1 ? "health-1" : "health");
  Proc d = start_dock({"-d", "--health-port", std::to_string(hp), "--bind-port", p, "--ready-file", ready,
                       "--stop-delay", "3s", "--", "sh", "-c",
                       "echo up; read x; socat TCP-LISTEN:" + p + ",reuseaddr,fork /dev/null & read y; kill $!; wait $!; "
                       "echo closed; read z"},
                      {.pid1 = pid1});
  REQUIRE(d.wait_out("up\n"));
  const std::string before = get(hp, "/ready");
  CHECK(status_line(before) == kUnavailable);
  CHECK(body_of(before) == "not ready: nothing listens on port " + p + " yet (--bind-port)\n");
  const std::string live = get(hp, "/live");
  CHECK(status_line(live) == kOk);
  CHECK(body_of(live) == "live\n");
  CHECK(live.find("\r\nConnection: close\r\n") != std::string::npos);
  d.send("go\n");
  REQUIRE(wait_file_contains(ready, "port " + p + "\n"));
  const std::string now = get(hp, "/ready");
  CHECK(status_line(now) == kOk);
  CHECK(body_of(now) == "ready\n");
  CHECK(status_line(ask(hp, "GET /ready?full=1 HTTP/1.0\r\n\r\n", true)) == kOk);  // every address: IPv6's too
  d.send("go\n");
  REQUIRE(d.wait_out("closed\n"));
  const std::string gone = get(hp, "/ready");  // looked at again, as dock --check does
  CHECK(status_line(gone) == kUnavailable);
  CHECK(body_of(gone) == "not ready: nothing listens on port " + p + " any more\n");
  const std::string head = ask(hp, "HEAD /live HTTP/1.1\r\n\r\n");
  CHECK(status_line(head) == kOk);
  CHECK(body_of(head).empty());
  const std::string post = ask(hp, "POST /ready HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
  CHECK(status_line(post) == "HTTP/1.1 405 Method Not Allowed");
  CHECK(post.find("\r\nAllow: GET, HEAD\r\n") != std::string::npos);
  CHECK(status_line(get(hp, "/healthz")) == "HTTP/1.1 404 Not Found");
  // The stop: neither live nor ready from the SIGTERM on, while the
  // command still runs out --stop-delay.
  REQUIRE(signal_pid(d.dock_pid(), SIGTERM));
  REQUIRE(d.wait_err("forwarding it in 3000 ms (--stop-delay)"));
  CHECK(status_line(get(hp, "/live")) == kUnavailable);
  CHECK(body_of(get(hp, "/ready")) == "not ready: dock is stopping\n");
  CHECK(d.exit_code() == 128 + SIGTERM);
}

TEST_CASE("--health-port: silent, slow, garbage and too many clients neither hold dock nor delay a signal", "[health-port][signals][pid1]") {
  const bool pid1 = each_mode();
  const int hp = free_port();
  Proc d = start_dock({"--health-port", std::to_string(hp), "--", helper(), "record"}, {.pid1 = pid1});
  REQUIRE(d.wait_out("ready child"));
  // 16 clients that say nothing take every place; one more is closed at
  // once, and the first of the 16 still gets its answer.
  std::vector<int> silent;
  for (int i = 0; i < 16; ++i) silent.push_back(health_connect(hp));
  const int extra = health_connect(hp);
  std::string none;
  CHECK(closed_within(extra, kTimeoutMs, &none));
  CHECK(none.empty());
  close(extra);
  for (int fd : silent) CHECK_FALSE(closed_within(fd, 0));
  const std::string request = "GET /live HTTP/1.1\r\n\r\n";
  REQUIRE(send(silent[0], request.data(), request.size(), MSG_NOSIGNAL) == ssize_t(request.size()));
  std::string answer;
  CHECK(closed_within(silent[0], kTimeoutMs, &answer));
  CHECK(status_line(answer) == kOk);
  // A signal while the other 15 hold their places reaches the command
  // before any of them is cut: nothing waits for them.
  REQUIRE(signal_pid(d.dock_pid(), SIGUSR1));
  CHECK(d.wait_out("child got " + std::to_string(SIGUSR1) + "\n"));
  for (size_t i = 1; i < silent.size(); ++i) CHECK_FALSE(closed_within(silent[i], 0));
  // Silent for 1 s: cut, with nothing said.
  for (size_t i = 1; i < silent.size(); ++i) {
    std::string said;
    CHECK(closed_within(silent[i], kTimeoutMs, &said));
    CHECK(said.empty());
  }
  for (int fd : silent) close(fd);
  // A client that sends its head a line at a time is cut after 1 s too,
  // while it is still sending.
  const int slow = health_connect(hp);
  bool cut = false;
  const std::string first = "GET /live HTTP/1.1\r\n";
  REQUIRE(send(slow, first.data(), first.size(), MSG_NOSIGNAL) == ssize_t(first.size()));
  std::string slow_got;
  for (int i = 0; i < 50 && !cut; ++i) {
    cut = send(slow, "X-Slow: 1\r\n", 11, MSG_NOSIGNAL) != 11 || closed_within(slow, 100, &slow_got);
  }
  CHECK(cut);
  CHECK(slow_got.empty());
  close(slow);
  // Garbage and an oversized head get an answer and a close.
  CHECK(status_line(ask(hp, "\x16\x03\x01\x02\xa5 hello\r\n")) == "HTTP/1.1 400 Bad Request");
  CHECK(status_line(ask(hp, "GET /live HTTP/1.1\r\nX-Big: " + std::string(5000, 'a') + "\r\n\r\n")) ==
        "HTTP/1.1 431 Request Header Fields Too Large");
  // A flood of connections that close at once.
  for (int i = 0; i < 200; ++i) close(health_connect(hp));
  CHECK(status_line(get(hp, "/live")) == kOk);
  REQUIRE(signal_pid(d.dock_pid(), SIGUSR2));
  CHECK(d.wait_out("child got " + std::to_string(SIGUSR2) + "\n"));
  d.send("exit 0\n");
  CHECK(d.exit_code() == 0);
  CHECK(d.err_buf.find("dock:") == std::string::npos);
}

TEST_CASE("--health-port: one address; a port taken is said before anything starts (1), a bad value is 2", "[health-port]") {
  const int hp = free_port();
  Proc d = start_dock({"--health-port", "127.0.0.1:" + std::to_string(hp), "--", "sh", "-c", "echo up; read x"});
  REQUIRE(d.wait_out("up\n"));
  CHECK(status_line(get(hp, "/live")) == kOk);
  const int v6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(uint16_t(hp));
  a.sin6_addr = in6addr_loopback;
  CHECK(connect(v6, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0);  // not on ::1
  close(v6);
  d.send("go\n");
  CHECK(d.exit_code() == 0);

  int port = 0;
  const int taken = loopback_listener(4, port);
  Proc busy = run_dock({"--health-port", std::to_string(port), "--", "sh", "-c", "echo started"});
  close(taken);
  CHECK(busy.exit_code() == 1);
  // strerror(EADDRINUSE): glibc's words, or musl's (./dock-static)
  const std::string in_use = "dock: --health-port: port " + std::to_string(port) + ": Address ";
  CHECK((busy.err_buf == in_use + "already in use\n" || busy.err_buf == in_use + "in use\n"));
  CHECK(busy.out_buf.empty());
  Proc bad = run_dock({"--health-port", "localhost:8081", "--", "sh", "-c", "echo started"});
  CHECK(bad.exit_code() == 2);
  CHECK(bad.err_buf.find("dock: --health-port: 'localhost:8081': 'localhost' is not an IP address") == 0);
  CHECK(bad.out_buf.empty());
  Proc same = run_dock({"--health-port", "8080", "--bind-port", "8080", "--", "sh", "-c", "echo started"});
  CHECK(same.exit_code() == 2);
  CHECK(same.err_buf == "dock: --health-port: port 8080 is --bind-port's, the command's own: dock would take it first\n");
  CHECK(same.out_buf.empty());
}
