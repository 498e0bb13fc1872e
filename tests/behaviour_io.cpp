// --io through the real ./dock against real peers on loopback: files,
// TCP (IPv4 and IPv6) and unix sockets served by socat.
#include "kit.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

using namespace t;

namespace {

std::string slurp(const std::string& path) { return read_proc(path); }

bool have_ipv6_loopback() {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  close(fd);
  return ok;
}

}  // namespace

TEST_CASE("--io file: stdout and stderr appended, existing content kept", "[io]") {
  const std::string path = temp_path("append.log");
  { std::ofstream(path) << "old line\n"; }
  chmod(path.c_str(), 0640);
  Proc p = run_dock({"--io", "file://" + path, "--", "sh", "-c", "echo out; echo err >&2; exit 4"});
  CHECK(p.exit_code() == 4);
  CHECK(p.out_buf.empty());
  CHECK(p.err_buf.empty());
  CHECK(slurp(path) == "old line\nout\nerr\n");
  struct stat sb;
  REQUIRE(stat(path.c_str(), &sb) == 0);
  CHECK((sb.st_mode & 0777) == 0640);  // an existing file keeps its mode
  unlink(path.c_str());
}

TEST_CASE("--io file: a new file is created 0600; bare and relative paths work", "[io]") {
  const std::string path = temp_path("new.log");
  unlink(path.c_str());
  Proc p = run_dock({"--io", path, "--", "echo", "bare"});
  CHECK(p.exit_code() == 0);
  CHECK(slurp(path) == "bare\n");
  struct stat sb;
  REQUIRE(stat(path.c_str(), &sb) == 0);
  CHECK((sb.st_mode & 0777) == 0600);
  unlink(path.c_str());

  // file://rel is relative to dock's working directory.
  const std::string rel = "dock-io-rel-" + std::to_string(getpid()) + ".log";
  Proc r = run_dock({"--io", "file://" + rel, "--", "echo", "relative"});
  CHECK(r.exit_code() == 0);
  CHECK(slurp(rel) == "relative\n");
  unlink(rel.c_str());
}

TEST_CASE("--io file that is a directory: exit 2, command not started", "[io]") {
  const std::string dir = temp_path("ro-dir");
  mkdir(dir.c_str(), 0755);
  const std::string marker = temp_path("marker");
  // A directory where a file is expected is bad input, found before anything starts.
  Proc p = run_dock({"--io", dir, "--", "touch", marker});
  CHECK(p.exit_code() == 2);
  CHECK(p.err_buf == "dock: --io: '" + dir + "': " + dir + " is a directory\n");
  CHECK(access(marker.c_str(), F_OK) != 0);
  rmdir(dir.c_str());
}

TEST_CASE("--io tcp: data both ways, EOF on stdin when the peer stops sending", "[io][tcp]") {
  const int port = free_port();
  Proc peer = listen_with_socat("TCP-LISTEN:" + std::to_string(port) + ",bind=127.0.0.1");
  // SIGHUP ignored so the child lives on after the peer's half-close and can
  // show it read everything, then EOF.
  Proc dock = start_dock({"--io", "tcp://127.0.0.1:" + std::to_string(port), "--", "sh", "-c",
                          "trap '' HUP; echo hello-from-child; while read l; do echo \"got $l\"; done; "
                          "echo eof-seen; echo to-stderr >&2"});
  REQUIRE(peer.wait_out("hello-from-child\n"));
  peer.send("one\ntwo\n");
  peer.close_in();  // socat shuts down its sending side: the child reads EOF
  CHECK(dock.exit_code() == 0);
  peer.drain();
  CHECK(peer.out_buf == "hello-from-child\ngot one\ngot two\neof-seen\nto-stderr\n");
  CHECK(dock.out_buf.empty());
}

// SPEC §4 (revised): the peer's FIN alone is EOF on stdin (see the
// half-close case in behaviour_field.cpp); the connection gone for good --
// the child's next write meets a reset -- is the hang-up.
TEST_CASE("--io tcp: the peer gone for good sends SIGHUP, then SIGKILL after --kill-timeout", "[io][tcp]") {
  const int port = free_port();
  const std::string record = temp_path("hup.txt");
  unlink(record.c_str());
  Proc peer = listen_with_socat("TCP-LISTEN:" + std::to_string(port) + ",bind=127.0.0.1");
  // SIGHUP and SIGPIPE ignored: only SIGKILL can end it.
  Proc dock = start_dock({"--kill-timeout", "500ms", "--io", "tcp://127.0.0.1:" + std::to_string(port), "--",
                          "sh", "-c", "trap 'echo got-hup >> " + record + "' HUP; trap '' PIPE; echo up; "
                          "while :; do echo tick 2>/dev/null; sleep 0.05; done"});
  REQUIRE(peer.wait_out("up"));
  const int64_t t0 = now_ms();
  REQUIRE(signal_pid(peer.pid, SIGKILL));  // the peer is gone
  CHECK(dock.exit_code() == 128 + SIGKILL);  // it ignored SIGHUP, so SIGKILL
  CHECK(now_ms() - t0 >= 450);
  CHECK(slurp(record).find("got-hup\n") != std::string::npos);
  unlink(record.c_str());

  // A child with SIGHUP's default action just ends with it.
  const int port2 = free_port();
  Proc peer2 = listen_with_socat("TCP-LISTEN:" + std::to_string(port2) + ",bind=127.0.0.1");
  Proc dock2 = start_dock({"--io", "tcp://127.0.0.1:" + std::to_string(port2), "--", "sh", "-c",
                           "trap '' PIPE; echo up; while :; do echo tick 2>/dev/null; sleep 0.05; done"});
  REQUIRE(peer2.wait_out("up"));
  REQUIRE(signal_pid(peer2.pid, SIGKILL));
  CHECK(dock2.exit_code() == 128 + SIGHUP);
  dock2.drain();
  CHECK(dock2.err_buf == "dock: tcp://127.0.0.1:" + std::to_string(port2) + ": peer closed the connection; SIGHUP to sh\n");
}

TEST_CASE("--io tcp: a refused connection is exit 1 and the command never starts", "[io][tcp]") {
  const int port = free_port();
  const std::string marker = temp_path("never");
  Proc p = run_dock({"--io", "tcp://127.0.0.1:" + std::to_string(port), "--", "touch", marker});
  CHECK(p.exit_code() == 1);
  CHECK(p.err_buf == "dock: tcp://127.0.0.1:" + std::to_string(port) + ": Connection refused\n");
  CHECK(access(marker.c_str(), F_OK) != 0);
  Proc q = run_dock({"--io", "tcp://no-such-host.invalid:80", "--", "touch", marker});
  CHECK(q.exit_code() == 1);
  CHECK(q.err_buf.rfind("dock: tcp://no-such-host.invalid:80: no-such-host.invalid: ", 0) == 0);
  CHECK(access(marker.c_str(), F_OK) != 0);
}

TEST_CASE("--io tcp: every address of the host is tried", "[io][tcp]") {
  if (!have_ipv6_loopback()) {
    skip("no IPv6 loopback");
    return;
  }
  // A name with two addresses, ::1 first; only 127.0.0.1 listens. The
  // hosts file is replaced in a private mount namespace for dock alone.
  const std::string hosts = temp_path("hosts");
  { std::ofstream(hosts) << "::1 two-addresses.test\n127.0.0.1 two-addresses.test\n"; }
  const int port = free_port();
  Proc peer = listen_with_socat("TCP-LISTEN:" + std::to_string(port) + ",bind=127.0.0.1");
  Proc dock = Proc::start({"unshare", "--mount", "sh", "-c",
                           "mount --bind " + hosts + " /etc/hosts && exec " + dock_path() +
                               " -d --io tcp://two-addresses.test:" + std::to_string(port) + " -- echo reached"});
  dock.close_in();
  CHECK(peer.wait_out("reached\n"));
  CHECK(dock.exit_code() == 0);
  unlink(hosts.c_str());
}

TEST_CASE("--io tcp6 and unix sockets", "[io][tcp]") {
  SECTION("tcp6") {
    if (!have_ipv6_loopback()) {
      skip("no IPv6 loopback");
      return;
    }
    const int port = free_port();
    Proc peer = listen_with_socat("TCP6-LISTEN:" + std::to_string(port) + ",bind=[::1]");
    Proc dock = start_dock({"--io", "tcp6://[::1]:" + std::to_string(port), "--", "sh", "-c", "read l; echo \"v6 $l\""});
    peer.send("ping\n");
    CHECK(peer.wait_out("v6 ping\n"));
    CHECK(dock.exit_code() == 0);
  }
  SECTION("unix") {
    const std::string sock = temp_path("io.sock");
    unlink(sock.c_str());
    Proc peer = listen_with_socat("UNIX-LISTEN:" + sock);
    Proc dock = start_dock({"--io", "unix://" + sock, "--", "sh", "-c", "read l; echo \"unix $l\""});
    peer.send("ping\n");
    CHECK(peer.wait_out("unix ping\n"));
    CHECK(dock.exit_code() == 0);
    unlink(sock.c_str());
  }
}

TEST_CASE("--io tcp: a peer that never answers the handshake times out after 5 s", "[io][tcp][slow]") {
  // A listener with a full accept queue drops further SYNs: connect hangs.
  int port = 0;
  int lfd = loopback_listener(0, port);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(uint16_t(port));
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {  // fill the accept queue (and a little more)
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
    fillers.push_back(c);
  }
  const std::string url = "tcp://127.0.0.1:" + std::to_string(port);
  const int64_t t0 = now_ms();
  Proc p = run_dock({"--io", url, "--", "true"});
  const int64_t took = now_ms() - t0;
  CHECK(p.exit_code() == 1);
  CHECK(p.err_buf == "dock: " + url + ": connection timed out after 5 s\n");
  CHECK(took >= 4900);
  for (int c : fillers) close(c);
  close(lfd);
}

TEST_CASE("--io tcp: a reset connection costs no wake-ups while the child is quiet", "[io][tcp]") {
  int port = 0;
  const int lfd = loopback_listener(1, port);
  Proc dock = start_dock({"--kill-timeout", "3s", "--io", "tcp://127.0.0.1:" + std::to_string(port),
                          "--stdout-prefix", "P ", "--", "sh", "-c", "trap '' HUP; echo one; exec sleep 100"});
  pollfd pf{lfd, POLLIN, 0};
  REQUIRE(poll(&pf, 1, kTimeoutMs) == 1);
  const int c = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
  REQUIRE(c >= 0);
  std::string got;
  REQUIRE(read_until(c, got, "P one\n", now_ms() + kTimeoutMs) != std::string::npos);
  linger reset{1, 0};
  REQUIRE(setsockopt(c, SOL_SOCKET, SO_LINGER, &reset, sizeof reset) == 0);
  close(c);  // RST: dock's socket now reports HUP and ERR, whatever it asks for
  close(lfd);
  // An observation window, not a synchronisation: dock waits for the kill
  // timeout with nothing to do, and must not spin meanwhile.
  const long before = cpu_ticks(dock.dock_pid());
  usleep(1'000'000);
  const long after = cpu_ticks(dock.dock_pid());
  CHECK(before >= 0);
  CHECK(after - before <= 5);  // ticks of 10 ms; a spinning loop uses about 100
  CHECK(dock.exit_code() == 128 + SIGKILL);
}
