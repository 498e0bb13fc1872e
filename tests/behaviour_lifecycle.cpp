// A child's life under the real ./dock: exit codes, bad usage, DOCK_*
// variables, orphans and zombies, leftovers at shutdown, dock's own death,
// and what an idle dock costs.
#include "kit.hpp"

#include <sys/stat.h>

using namespace t;

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

TEST_CASE("review 13: --pdeath-signal when the parent died before dock set it", "[review][signals]") {
  if (emulated()) return skip("qemu-user: strace cannot delay the emulated prctl");
  if (!have("strace")) return skip("strace is missing");
  if (sanitized()) return skip("dock built with sanitizers: their runtime calls prctl first, and LeakSanitizer cannot run traced");
  // strace (detached, -D) holds dock's first prctl -- PR_SET_PDEATHSIG --
  // for 1 s; the parent that started dock is killed meanwhile.
  std::vector<std::string> traced{"strace", "-D", "-qq", "-o", "/dev/null", "-e", "trace=prctl", "-e", "inject=prctl:delay_enter=1000000:when=1"};
  if (field_mode()) {  // setpriv's own prctls come first: trace after it
    traced = {dock_command()[0], dock_command()[1], dock_command()[2]};
    for (auto a : {"strace", "-D", "-qq", "-o", "/dev/null", "-e", "trace=prctl", "-e", "inject=prctl:delay_enter=1000000:when=1"}) traced.push_back(a);
  }
  traced.push_back(dock_path());
  std::string line;
  for (const auto& a : traced) line += "'" + a + "' ";
  line += "--pdeath-signal TERM -- sleep 100 & echo $!; wait";
  Proc parent = Proc::start({"sh", "-c", line});
  REQUIRE(parent.wait_out("\n"));
  const pid_t dock = pid_t(std::atol(parent.out_buf.c_str()));
  REQUIRE(dock > 1);
  // Until dock sits in the held prctl (the tracer keeps it stopped at the
  // call's entry: no event to wait on).
  const std::string in_prctl = std::to_string(SYS_prctl) + " ";
  const int64_t deadline = now_ms() + kTimeoutMs;
  while (read_proc("/proc/" + std::to_string(dock) + "/syscall").rfind(in_prctl, 0) != 0) {
    REQUIRE(now_ms() < deadline);
    pollfd none{-1, 0, 0};
    poll(&none, 1, 5);
  }
  REQUIRE(signal_pid(parent.pid, SIGKILL));
  CHECK(parent.wait_exit());
  // dock acts on SIGTERM at once: nothing had started, so it ends (and its stdout, shared with the test).
  CHECK(gone_within(dock, 5000));
  if (alive(dock)) kill(dock, SIGKILL);
}
