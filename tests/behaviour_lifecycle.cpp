// A child's life under the real ./dock: exit codes, bad usage, DOCK_*
// variables, orphans and zombies, leftovers at shutdown, dock's own death,
// and what an idle dock costs.
#include "harness.hpp"

#include <sys/stat.h>

using namespace t;

namespace {


// The pid on the line "<prefix><pid>" in out, or -1.
pid_t pid_after(const std::string& out, const std::string& prefix) {
  size_t at = out.find(prefix);
  return at == std::string::npos ? -1 : pid_t(std::atol(out.c_str() + at + prefix.size()));
}

int zombie_children(pid_t parent) {
  int n = 0;
  for (pid_t kid : children_of(parent))
    if (proc_state(kid) == 'Z') ++n;
  return n;
}

}  // namespace

TEST_CASE("exit status is the child's, 128+N for a signal", "[exit][pid1]") {
  const bool pid1 = each_mode();
  for (int code : {0, 1, 3, 255}) {
    INFO("exit " << code);
    Proc p = run_dock({"--", "sh", "-c", "exit " + std::to_string(code)}, {.pid1 = pid1});
    CHECK(p.exit_code() == code);
    CHECK(p.err_buf.empty());
  }
  for (int sig : {SIGTERM, SIGKILL, SIGUSR1, SIGINT}) {
    INFO("signal " << sig);
    Proc p = run_dock({"--", "sh", "-c", "kill -" + std::to_string(sig) + " $$"}, {.pid1 = pid1});
    CHECK(p.exit_code() == 128 + sig);
  }
}

TEST_CASE("a command that cannot be executed: 127 not found, 126 not executable", "[exit][pid1]") {
  const std::string noexec = temp_path("noexec");
  { std::ofstream(noexec) << "#!/bin/sh\necho hi\n"; }
  chmod(noexec.c_str(), 0644);
  const bool pid1 = each_mode();
  Proc missing = run_dock({"--", "/nonexistent/cmd", "arg"}, {.pid1 = pid1});
  CHECK(missing.exit_code() == 127);
  CHECK(missing.err_buf == "dock: /nonexistent/cmd: No such file or directory\n");
  Proc nopath = run_dock({"no-such-command-anywhere"}, {.pid1 = pid1});
  CHECK(nopath.exit_code() == 127);
  CHECK(nopath.err_buf == "dock: no-such-command-anywhere: No such file or directory\n");
  Proc denied = run_dock({"--", noexec}, {.pid1 = pid1});
  CHECK(denied.exit_code() == 126);
  CHECK(denied.err_buf == "dock: " + noexec + ": Permission denied\n");
  Proc dir = run_dock({"--", "/tmp"}, {.pid1 = pid1});
  CHECK(dir.exit_code() == 126);
  unlink(noexec.c_str());
}

TEST_CASE("the command is looked up in PATH as a shell does", "[exit][pid1]") {
  // dir_a holds a file named like the command but not executable, dir_b
  // the real one: a script without #!, which only /bin/sh can run.
  const std::string dir_a = temp_path("path-a"), dir_b = temp_path("path-b");
  mkdir(dir_a.c_str(), 0755);
  mkdir(dir_b.c_str(), 0755);
  const std::string denied = dir_a + "/dock-test-cmd", script = dir_b + "/dock-test-cmd";
  { std::ofstream(denied) << "echo wrong one\n"; }
  { std::ofstream(script) << "echo \"ran $0 with $# args: $*\"\nexit 7\n"; }
  chmod(denied.c_str(), 0644);
  chmod(script.c_str(), 0755);
  const std::string path = "PATH=" + dir_a + ":" + dir_b + ":/usr/bin:/bin";
  const bool pid1 = each_mode();
  Proc found = run_dock({"--", "dock-test-cmd", "x", "y z"}, {.pid1 = pid1, .env = {path}});
  CHECK(found.exit_code() == 7);
  CHECK(found.out_buf == "ran " + script + " with 2 args: x y z\n");
  CHECK(found.err_buf.empty());
  Proc only_denied = run_dock({"--", "dock-test-cmd"}, {.pid1 = pid1, .env = {"PATH=" + dir_a}});
  CHECK(only_denied.exit_code() == 126);
  CHECK(only_denied.err_buf == "dock: dock-test-cmd: Permission denied\n");
  Proc by_path = run_dock({"--", script, "a"}, {.pid1 = pid1});
  CHECK(by_path.exit_code() == 7);
  CHECK(by_path.out_buf == "ran " + script + " with 1 args: a\n");
  unlink(denied.c_str());
  unlink(script.c_str());
  rmdir(dir_a.c_str());
  rmdir(dir_b.c_str());
}

TEST_CASE("bad usage: one line, exit 2, nothing started", "[usage]") {
  const std::string marker = temp_path("started");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--bogus", "--", "touch", marker}, "dock: --bogus: unknown option"},
      {{"-z", "touch", marker}, "dock: -z: unknown option"},
      {{"--kill-timeout", "soon", "touch", marker}, "dock: --kill-timeout: 'soon' is not a duration"},
      {{"--rewrite", "TERM", "touch", marker}, "dock: --rewrite: 'TERM' is not FROM:TO"},
      {{"--rewrite", "KILL:TERM", "touch", marker}, "dock: --rewrite: SIGKILL cannot be caught"},
      {{"--log-rotate", "1h", "touch", marker}, "dock: --log-rotate: needs a file --io"},
      {{"--web-hook", "ftp://127.0.0.1:1/", "touch", marker}, "dock: --web-hook: 'ftp://127.0.0.1:1/': unknown scheme 'ftp' (http, https)"},
      {{"--bind-port", "70000", "touch", marker}, "dock: --bind-port: '70000' is not a port in 1..65535"},
      {{"--ready-file", "/nonexistent-dir/ready", "touch", marker}, "dock: --ready-file: directory /nonexistent-dir: No such file or directory"},
      {{"--stdout-prefix", ":red", "touch", marker}, "dock: --stdout-prefix: ':red': empty prefix"},
      {{"--io", "http://x:1", "touch", marker}, "dock: --io: 'http://x:1': unknown scheme 'http'"},
      {{"--io", "tcp://127.0.0.1:0", "touch", marker}, "dock: --io: 'tcp://127.0.0.1:0': port '0' is not in 1..65535"},
      {{"--io", "/nonexistent-dir/out.log", "touch", marker}, "dock: --io: '/nonexistent-dir/out.log': directory /nonexistent-dir: No such file or directory"},
      {{"--"}, "dock: usage: missing command"},
      {{}, "dock: usage: missing command"},
  };
  for (const auto& [args, want] : cases) {
    INFO(want);
    Proc p = run_dock(args);
    CHECK(p.exit_code() == 2);
    CHECK(p.err_buf.rfind(want, 0) == 0);
    CHECK(count(p.err_buf, "\n") == 1);
    CHECK(p.out_buf.empty());
    CHECK(access(marker.c_str(), F_OK) != 0);
  }
  Proc env = run_dock({"touch", marker}, {.env = {"DOCK_KILL_TIMEOUT=forever"}});
  CHECK(env.exit_code() == 2);
  CHECK(env.err_buf.rfind("dock: DOCK_KILL_TIMEOUT: 'forever' is not a duration", 0) == 0);
  CHECK(access(marker.c_str(), F_OK) != 0);
}

TEST_CASE("help and version go to stdout with status 0", "[usage]") {
  Proc h = run_dock({"--help"});
  CHECK(h.exit_code() == 0);
  CHECK(h.out_buf.rfind("usage: dock [OPTIONS] [--] COMMAND [ARG...]", 0) == 0);
  for (auto flag : {"--kill-timeout", "--rewrite", "--single-child", "--debug", "--version"})
    CHECK(h.out_buf.find(flag) != std::string::npos);
  Proc v = run_dock({"-V"});
  CHECK(v.exit_code() == 0);
  CHECK(v.out_buf.rfind("dock ", 0) == 0);
}

TEST_CASE("dock's own DOCK_* variables do not reach the child; others do", "[env]") {
  Proc p = run_dock({"--", "env"}, {.env = {"DOCK_KILL_TIMEOUT=1s", "DOCK_DEBUG=0", "DOCK_SINGLE_CHILD=1",
                                            "DOCK_REWRITE=HUP:0", "DOCK_SOMETHING_ELSE=kept",
                                            "PLAIN=also-kept"}});
  CHECK(p.exit_code() == 0);
  CHECK(p.out_buf.find("DOCK_KILL_TIMEOUT") == std::string::npos);
  CHECK(p.out_buf.find("DOCK_DEBUG") == std::string::npos);
  CHECK(p.out_buf.find("DOCK_SINGLE_CHILD") == std::string::npos);
  CHECK(p.out_buf.find("DOCK_REWRITE") == std::string::npos);
  CHECK(p.out_buf.find("DOCK_SOMETHING_ELSE=kept\n") != std::string::npos);
  CHECK(p.out_buf.find("PLAIN=also-kept\n") != std::string::npos);

  // DOCK_DEBUG=1 is honoured, and a -d flag with DOCK_DEBUG=0 still debugs.
  Proc d = run_dock({"true"}, {.env = {"DOCK_DEBUG=1"}});
  CHECK(d.err_buf.find("dock: debug: started true") != std::string::npos);
  Proc f = run_dock({"-d", "true"}, {.env = {"DOCK_DEBUG=0"}});
  CHECK(f.err_buf.find("dock: debug: started true") != std::string::npos);
}

TEST_CASE("orphans are reaped at once and never end dock", "[reap][pid1]") {
  const bool pid1 = each_mode();
  Proc p = start_dock({"--", helper(), "orphans", "1000"}, {.pid1 = pid1});
  // Sample dock's zombie children while the orphans are made and die.
  int worst = 0;
  pid_t dock = -1;
  const int64_t deadline = now_ms() + kTimeoutMs;
  while (p.out_buf.find("made 1000") == std::string::npos && now_ms() < deadline) {
    if (dock <= 0) dock = p.dock_pid();
    if (dock > 0) worst = std::max(worst, zombie_children(dock));
    read_until(p.out, p.out_buf, "made 1000", now_ms() + 5);
  }
  REQUIRE(p.out_buf.find("made 1000") != std::string::npos);
  INFO("most zombies seen at once: " << worst);
  CHECK(worst < 100);
  // 1,000 orphans have exited; dock still serves its child.
  CHECK(alive(dock));
  p.send("exit 4\n");
  CHECK(p.exit_code() == 4);
}

TEST_CASE("an orphan is reparented to dock", "[reap]") {
  Proc p = run_dock({"--", helper(), "orphan-ppid"});
  CHECK(p.exit_code() == 0);
  // dock waited for the orphan too (its line is there), and it was dock's.
  // As PID 1 (under emulation, harness.hpp) dock is pid 1 to the orphan.
  CHECK(pid_after(p.out_buf, "orphan ppid ") == (p.pid1 ? 1 : p.pid));
}

TEST_CASE("shutdown: leftovers get SIGTERM, the stubborn one SIGKILL after --kill-timeout", "[shutdown][pid1]") {
  const bool pid1 = each_mode();
  Proc p = start_dock({"--kill-timeout", "1s", "--", helper(), "leftovers"}, {.pid1 = pid1});
  for (auto role : {"ready parent", "ready polite", "ready setsid", "ready stubborn"})
    REQUIRE(p.wait_out(role));
  // Host pids of the three leftovers: the helper's children.
  pid_t dock = p.dock_pid();
  pid_t helper_pid = children_of(dock).at(0);
  std::vector<pid_t> leftovers = children_of(helper_pid);
  REQUIRE(leftovers.size() == 3);

  const int64_t t0 = now_ms();
  p.send("exit 0\n");
  p.close_in();
  REQUIRE(p.wait_exit().has_value());
  const int64_t took = now_ms() - t0;
  p.drain();
  CHECK(p.exit_code() == 0);
  CHECK(p.out_buf.find("polite got 15") != std::string::npos);
  CHECK(p.out_buf.find("setsid got 15") != std::string::npos);
  CHECK(p.out_buf.find("stubborn got 15") != std::string::npos);
  CHECK(took >= 900);  // the stubborn one had its grace period
  for (pid_t pid : leftovers) CHECK_FALSE(alive(pid));
}

TEST_CASE("SIGTERM to dock: the command has as long as it needs, or --stop-timeout; then the leftovers' --kill-timeout", "[shutdown][pid1]") {
  const bool pid1 = each_mode();
  // A service that drains for 6 s on SIGTERM, longer than the default
  // --kill-timeout (5 s): it ends as it would under tini, with its status.
  Proc drain = start_dock({"--", "sh", "-c", "trap 'sleep 6; exit 0' TERM; echo up; while :; do sleep 100 & wait $!; done"},
                          {.pid1 = pid1});
  REQUIRE(drain.wait_out("up"));
  const int64_t td = now_ms();
  REQUIRE(signal_pid(drain.dock_pid(), SIGTERM));
  CHECK(drain.exit_code(15000) == 0);
  CHECK(now_ms() - td >= 5900);

  // A child that reports SIGTERM but carries on: --stop-timeout ends it.
  Proc p = start_dock({"--stop-timeout", "1s", "--", "sh", "-c",
                       "trap 'echo got-term' TERM; echo up; while :; do sleep 100 & wait $!; done"},
                      {.pid1 = pid1});
  REQUIRE(p.wait_out("up"));
  const int64_t t0 = now_ms();
  REQUIRE(signal_pid(p.dock_pid(), SIGTERM));
  CHECK(p.wait_out("got-term"));
  CHECK(p.exit_code() == 128 + SIGKILL);
  const int64_t took = now_ms() - t0;
  CHECK(took >= 900);
  CHECK(took < 5000);

  // The child ends 1.5 s after SIGTERM, a leftover ignores SIGTERM: the
  // leftovers' grace is --kill-timeout from the child's end (the Go dock's
  // meaning), whatever the stop took.
  Proc q = start_dock({"--kill-timeout", "2s", "--", "sh", "-c",
                       helper() + " leftovers </dev/null & trap 'sleep 1.5; exit 4' TERM; echo up; "
                       "while :; do sleep 100 & wait $!; done"},
                      {.pid1 = pid1});
  REQUIRE(q.wait_out("up"));
  REQUIRE(q.wait_out("ready stubborn"));
  const int64_t t1 = now_ms();
  REQUIRE(signal_pid(q.dock_pid(), SIGTERM));
  CHECK(q.exit_code() == 4);
  const int64_t took2 = now_ms() - t1;
  q.drain();
  CHECK(q.out_buf.find("stubborn got 15") != std::string::npos);
  CHECK(took2 >= 3400);
  CHECK(took2 < 5000);
}

TEST_CASE("a SIGTERM that --rewrite drops starts no kill clock", "[shutdown]") {
  Proc p = start_dock({"--stop-timeout", "200ms", "--rewrite", "TERM:0", "--", "sh", "-c", "echo up; read x; exit 5"});
  REQUIRE(p.wait_out("up"));
  REQUIRE(signal_pid(p.dock_pid(), SIGTERM));
  // Nothing to wait for: the point is that nothing happens in 3x the timeout.
  usleep(600 * 1000);
  CHECK(alive(p.dock_pid()));
  p.send("bye\n");
  CHECK(p.exit_code() == 5);
}

TEST_CASE("shutdown does not wait out the timeout when everything has ended", "[shutdown]") {
  // Every leftover exits on SIGTERM: dock must not sit out a 60 s timeout.
  Proc p = start_dock({"--kill-timeout", "60s", "--", "sh", "-c", "sleep 100 & sleep 100 & echo up; read x; exit 0"});
  REQUIRE(p.wait_out("up"));
  p.close_in();
  CHECK(p.exit_code(10'000) == 0);
}

TEST_CASE("--kill-timeout from DOCK_KILL_TIMEOUT", "[shutdown][env]") {
  Proc p = start_dock({"--", helper(), "leftovers"}, {.env = {"DOCK_KILL_TIMEOUT=300ms"}});
  REQUIRE(p.wait_out("ready stubborn"));
  p.send("exit 0\n");
  // The default would be 5 s; 300 ms ends well within 4 s.
  CHECK(p.exit_code(4000) == 0);
}

TEST_CASE("when dock dies the child gets SIGKILL (parent-death signal)", "[shutdown]") {
  Proc p = start_dock({"--", helper(), "record"});
  REQUIRE(p.wait_out("ready child"));
  auto kids = children_of(p.dock_pid());
  REQUIRE(kids.size() == 1);
  int pidfd = int(syscall(SYS_pidfd_open, kids[0], 0));
  REQUIRE(pidfd >= 0);
  REQUIRE(signal_pid(p.dock_pid(), SIGKILL));
  pollfd pf{pidfd, POLLIN, 0};
  CHECK(poll(&pf, 1, kTimeoutMs) == 1);  // the child ended too
  close(pidfd);
}

TEST_CASE("an idle dock makes no wake-ups", "[idle]") {
  Proc p = start_dock({"--", helper(), "record"});
  REQUIRE(p.wait_out("ready child"));
  auto switches = [&] {
    return proc_status_field(p.dock_pid(), "voluntary_ctxt_switches") +
           proc_status_field(p.dock_pid(), "nonvoluntary_ctxt_switches");
  };
  // The child can be ready before dock has gone to sleep: sample once dock
  // waits in epoll_wait (where the kernel's wchan says it is).
  const std::string wchan = "/proc/" + std::to_string(p.dock_pid()) + "/wchan";
  for (const int64_t deadline = now_ms() + 2000; now_ms() < deadline && read_proc(wchan).find("epoll") == std::string::npos;)
    usleep(1000);
  const long before = switches();
  // An observation window, not a synchronisation: nothing should happen.
  usleep(1'500'000);
  const long after = switches();
  CHECK(before >= 0);
  CHECK(after == before);
  p.send("exit 0\n");
  CHECK(p.exit_code() == 0);
}
