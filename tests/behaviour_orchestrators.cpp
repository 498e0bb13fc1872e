// What orchestrators see (SPEC §11-§13), through the real ./dock, as PID 1
// and as a subreaper: --stop-delay, --exit-map, --notify and the upward
// NOTIFY_SOCKET, dock --check, --pdeath-signal and --version's first line.
#include "http_server.hpp"

#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/un.h>

using namespace t;

namespace {

bool exists(const std::string& path) {
  struct stat sb;
  return lstat(path.c_str(), &sb) == 0;
}

std::vector<std::string> statuses(HttpServer& server) {
  std::vector<std::string> out;
  for (const auto& r : server.requests()) {
    const size_t at = r.body.find("\"status\":\"");
    REQUIRE(at != std::string::npos);
    out.push_back(r.body.substr(at + 10, r.body.find('"', at + 10) - at - 10));
  }
  return out;
}

// A datagram socket the test owns, as systemd or Podman would hold one:
// abstract ("@name") or a path.
struct NotifyPeer {
  int fd = -1;
  std::string name;  // NOTIFY_SOCKET's value
  explicit NotifyPeer(bool abstract) {
    static int n = 0;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    name = abstract ? "@dock-test-" + std::to_string(getpid()) + "-" + std::to_string(++n)
                    : temp_path("notify-" + std::to_string(++n));
    if (!abstract) unlink(name.c_str());
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, name.data(), name.size());
    if (abstract) a.sun_path[0] = '\0';
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), socklen_t(offsetof(sockaddr_un, sun_path) + name.size())) == 0);
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  }
  ~NotifyPeer() {
    close(fd);
    if (name[0] == '/') unlink(name.c_str());
  }
  // The next datagram and its sender's pid, or "" at the deadline.
  std::string next(int timeout_ms, pid_t* sender = nullptr) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) return "";
    char buf[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = recvmsg(fd, &msg, 0);
    if (n < 0) return "";
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c && sender; c = CMSG_NXTHDR(&msg, c))
      if (c->cmsg_type == SCM_CREDENTIALS) *sender = reinterpret_cast<ucred*>(CMSG_DATA(c))->pid;
    return std::string(buf, size_t(n));
  }
};

// The helper's pid (as the tests see it) from "ready notify PID ...".
pid_t notify_pid(Proc& p) {
  REQUIRE(p.wait_out("ready notify "));
  REQUIRE(p.wait_out("\n"));
  return pid_t(std::atol(p.out_buf.c_str() + p.out_buf.find("ready notify ") + 13));
}

std::string notify_socket_seen(Proc& p) {
  notify_pid(p);
  const size_t at = p.out_buf.find("NOTIFY_SOCKET=");
  return p.out_buf.substr(at + 14, p.out_buf.find('\n', at) - at - 14);
}

// Sends a command to the helper and waits for its answer.
void tell(Proc& p, const std::string& cmd) {
  const size_t from = p.out_buf.size();
  p.send(cmd + "\n");
  REQUIRE(read_until(p.out, p.out_buf, "sent\n", now_ms() + kTimeoutMs, from) != std::string::npos);
}

}  // namespace

// ---- --stop-delay ----

TEST_CASE("--stop-delay: not ready at once, SIGTERM only after the delay, the kill timeout from then", "[stop-delay][pid1]") {
  const bool pid1 = each_mode();
  HttpServer server;
  const std::string ready = temp_path(pid1 ? "delay-ready-1" : "delay-ready");
  NotifyPeer up(true);
  Proc p = start_dock({"--stop-delay", "1500ms", "--stop-timeout", "1s", "--ready-file", ready, "--web-hook",
                       server.url(), "--", helper(), "record"},
                      {.pid1 = pid1, .env = {"NOTIFY_SOCKET=" + up.name}});
  REQUIRE(p.wait_out("ready child"));
  REQUIRE(wait_file(ready, true));
  CHECK(up.next(kTimeoutMs) == "READY=1\n");
  REQUIRE(server.wait_requests(2));
  const int64_t t0 = now_ms();
  REQUIRE(signal_pid(p.dock_pid(), SIGTERM));
  // Not ready at once: the ready file goes, the hook hears "stopping",
  // the supervisor STOPPING=1, while the command has not heard a thing.
  CHECK(wait_file(ready, false, 1000));
  CHECK(up.next(1000) == "STOPPING=1\n");
  REQUIRE(server.wait_requests(3));
  CHECK(now_ms() - t0 < 1000);
  CHECK(p.out_buf.find("got 15") == std::string::npos);
  // Other signals are forwarded as usual meanwhile.
  REQUIRE(signal_pid(p.dock_pid(), SIGUSR1));
  CHECK(p.wait_out("child got 10", 1000));
  CHECK(p.out_buf.find("got 15") == std::string::npos);
  // The SIGTERM after the delay; the child ignores it (record does) and
  // gets SIGKILL a --stop-timeout after the forward, not after dock's SIGTERM.
  REQUIRE(p.wait_out("child got 15", 3000));
  const int64_t forwarded = now_ms() - t0;
  CHECK(forwarded >= 1400);
  CHECK(forwarded < 2500);
  CHECK(p.exit_code() == 128 + SIGKILL);
  const int64_t took = now_ms() - t0;
  CHECK(took >= 2400);
  CHECK(took < 4000);
  REQUIRE(server.wait_requests(4));
  CHECK(statuses(server) == std::vector<std::string>{"starting", "running", "stopping", "crashed"});
}

TEST_CASE("--stop-delay: a second SIGTERM forwards at once; the held one goes through --rewrite", "[stop-delay][pid1]") {
  const bool pid1 = each_mode();
  Proc p = start_dock({"--stop-delay", "10s", "--", helper(), "record"}, {.pid1 = pid1});
  REQUIRE(p.wait_out("ready child"));
  REQUIRE(signal_pid(p.dock_pid(), SIGTERM));
  REQUIRE(signal_pid(p.dock_pid(), SIGUSR2));  // forwarded at once: the first TERM was taken in
  REQUIRE(p.wait_out("child got 12"));
  CHECK(p.out_buf.find("got 15") == std::string::npos);
  const int64_t t0 = now_ms();
  REQUIRE(signal_pid(p.dock_pid(), SIGTERM));
  REQUIRE(p.wait_out("child got 15", 2000));
  CHECK(now_ms() - t0 < 1000);
  p.send("exit 0\n");
  CHECK(p.exit_code() == 0);

  // --rewrite TERM:QUIT: the held SIGTERM arrives as SIGQUIT.
  Proc q = start_dock({"--stop-delay", "300ms", "--rewrite", "TERM:QUIT", "--", helper(), "record"}, {.pid1 = pid1});
  REQUIRE(q.wait_out("ready child"));
  REQUIRE(signal_pid(q.dock_pid(), SIGTERM));
  REQUIRE(q.wait_out("child got 3"));
  CHECK(q.out_buf.find("got 15") == std::string::npos);
  q.send("exit 0\n");
  CHECK(q.exit_code() == 0);
}

TEST_CASE("--stop-delay: a command that ends during the delay ends dock at once", "[stop-delay]") {
  Proc p = start_dock({"--stop-delay", "30s", "--", helper(), "record"}, {.env = {"DOCK_STOP_DELAY="}});
  REQUIRE(p.wait_out("ready child"));
  REQUIRE(signal_pid(p.dock_pid(), SIGTERM));
  REQUIRE(signal_pid(p.dock_pid(), SIGUSR1));
  REQUIRE(p.wait_out("child got 10"));
  const int64_t t0 = now_ms();
  p.send("exit 4\n");
  CHECK(p.exit_code() == 4);
  CHECK(now_ms() - t0 < 2000);
  // From the variable; a bad one is bad usage.
  Proc v = start_dock({"--", helper(), "record"}, {.env = {"DOCK_STOP_DELAY=1s"}});
  REQUIRE(v.wait_out("ready child"));
  const int64_t t1 = now_ms();
  REQUIRE(signal_pid(v.dock_pid(), SIGTERM));
  REQUIRE(v.wait_out("child got 15", 3000));
  CHECK(now_ms() - t1 >= 900);
  v.send("exit 0\n");
  CHECK(v.exit_code() == 0);
  Proc bad = run_dock({"--stop-delay", "5", "--", "true"});
  CHECK(bad.exit_code() == 2);
  CHECK(bad.err_buf.rfind("dock: --stop-delay: ", 0) == 0);
}

TEST_CASE("--debug prints the worst-case stop time", "[stop-delay]") {
  Proc p = run_dock({"-d", "--stop-delay", "2s", "--stop-timeout", "20s", "--kill-timeout", "3s", "--", "true"});
  CHECK(p.exit_code() == 0);
  CHECK(p.err_buf.find("a stop takes at most 25s after SIGTERM") != std::string::npos);
  HttpServer server;
  Proc h = run_dock({"-d", "--kill-timeout", "1s", "--web-hook", server.url(), "--", "true"});
  // Unbounded without --stop-timeout; the hook's last wait after the command's end.
  CHECK(h.err_buf.find("a stop takes as long as the command needs after SIGTERM (no --stop-timeout") != std::string::npos);
  CHECK(h.err_buf.find("then at most 5s (") != std::string::npos);
}

// ---- --exit-map ----

TEST_CASE("--exit-map: the command's status only, never dock's own", "[exit-map][pid1]") {
  const bool pid1 = each_mode();
  Proc term = start_dock({"--exit-map", "143:0", "--", helper(), "notify"}, {.pid1 = pid1});
  notify_pid(term);
  REQUIRE(signal_pid(term.dock_pid(), SIGTERM));
  CHECK(term.exit_code() == 0);
  CHECK(run_dock({"--exit-map", "1:0", "--", "false"}, {.pid1 = pid1}).exit_code() == 0);
  CHECK(run_dock({"--exit-map", "3:4", "--", "sh", "-c", "exit 5"}, {.pid1 = pid1}).exit_code() == 5);
  CHECK(run_dock({"--", "false"}, {.pid1 = pid1, .env = {"DOCK_EXIT_MAP=2:0, 1:9"}}).exit_code() == 9);
  // dock's own: not found (127), not executable (126), a setup failure (1).
  CHECK(run_dock({"--exit-map", "127:0", "--", "/no/such/command"}, {.pid1 = pid1}).exit_code() == 127);
  CHECK(run_dock({"--exit-map", "126:0", "--", "/etc/passwd"}, {.pid1 = pid1}).exit_code() == 126);
  Proc io = run_dock({"--exit-map", "1:0", "--io", "tcp://127.0.0.1:" + std::to_string(free_port()), "--", "true"},
                     {.pid1 = pid1});
  CHECK(io.exit_code() == 1);
  CHECK(run_dock({"--exit-map", "2:0", "--no-such-option", "--", "true"}).exit_code() == 2);
  // The teardown sees what dock exits with.
  Dir dir(pid1 ? "exit-map-1" : "exit-map");
  const std::string seen = dir.path + "/seen";
  std::ofstream(dir.path + "/down") << "#!/bin/sh\necho $DOCK_EXIT_STATUS > " << seen << "\n";
  REQUIRE(chmod((dir.path + "/down").c_str(), 0755) == 0);
  CHECK(run_dock({"--exit-map", "3:0", "--teardown", dir.path + "/down", "--", "sh", "-c", "exit 3"}, {.pid1 = pid1})
            .exit_code() == 0);
  CHECK(read_file(seen) == "0\n");
  for (const char* bad : {"143", "143:", "256:0", "1:300", "-1:0", "a:b"}) {
    INFO(bad);
    Proc b = run_dock({"--exit-map", bad, "--", "true"});
    CHECK(b.exit_code() == 2);
    CHECK(b.err_buf.rfind("dock: --exit-map: ", 0) == 0);
  }
}

// ---- --notify ----

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

// ---- dock --check ----

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

// ---- --pdeath-signal, --version ----

TEST_CASE("--pdeath-signal: dock gets SIG when the process that started it dies", "[pdeath]") {
  // A parent (sh) starts dock and is then killed; dock's SIGTERM is
  // forwarded to the command like any other.
  const std::string out = temp_path("pdeath-out");
  unlink(out.c_str());
  Proc parent = Proc::start({"sh", "-c", dock_path() + " --pdeath-signal TERM --stop-timeout 500ms -- " + helper() + " record --no-stdin & echo dock $!; wait"},
                            {.env = {"HELPER_OUT=" + out}});
  REQUIRE(parent.wait_out("dock "));
  REQUIRE(parent.wait_out("\n"));
  const pid_t dock = pid_t(std::atol(parent.out_buf.c_str() + parent.out_buf.find("dock ") + 5));
  REQUIRE(wait_file_contains(out, "ready child"));
  const int pidfd = int(syscall(SYS_pidfd_open, dock, 0));
  REQUIRE(pidfd >= 0);
  REQUIRE(signal_pid(parent.pid, SIGKILL));
  CHECK(wait_file_contains(out, "child got 15"));
  pollfd pf{pidfd, POLLIN, 0};
  CHECK(poll(&pf, 1, kTimeoutMs) == 1);  // dock ended
  close(pidfd);
  CHECK(run_dock({"--pdeath-signal", "NOPE", "--", "true"}).exit_code() == 2);
}

TEST_CASE("--version: the first line as docker info reads an init's", "[version]") {
  Proc p = run_dock({"--version"});
  CHECK(p.exit_code() == 0);
  CHECK(p.out_buf.rfind("dock version 0.", 0) == 0);
  CHECK(count(p.out_buf, "\n") >= 2);
}
