// --setup and --teardown programs (SPEC §10) through the real ./dock:
// their order, their terminal, signals while they run, what they leave
// behind, --teardown URL's POST.
#include "kit.hpp"

using namespace t;

TEST_CASE("--setup and --teardown: the order seen from outside", "[before][setup][teardown][pid1]") {
  forget_file_vars();
  const bool pid1 = each_mode();
  Dir dir(pid1 ? "order-1" : "order");
  const std::string d = dir.path + "/", log = d + "log";
  write(d + "app.env", "A=from-env-file\n");
  write(d + "secret", "s3cret\n", 0600);
  write(d + "t.in", "rendered {{A}}\n");
  script(d + "setup", "echo \"setup A=$A S=$S $(cat " + d + "t.out)\" >> " + log + "\n");
  script(d + "teardown", "echo \"teardown status=$DOCK_EXIT_STATUS A=$A\" >> " + log + "\n");
  Proc p = run_dock({"--env-file", d + "app.env", "--file-env", "S", "--template", d + "t.in:" + d + "t.out", "--setup",
                     d + "setup", "--teardown", d + "teardown", "--kill-timeout", "5s", "--", "sh", "-c",
                     "echo \"command A=$A S=$S\" >> " + log +
                         "; (trap '' TERM; : > " + d + "trapped; sleep 1; echo leftover-gone >> " + log + ") & "
                         // exit only once the leftover ignores SIGTERM
                         "while [ ! -e " + d + "trapped ]; do sleep 0.01; done; exit 7"},
                    {.pid1 = pid1, .env = {"S_FILE=" + d + "secret"}});
  CHECK(p.exit_code() == 7);
  CHECK(read_file(log) ==
        "setup A=from-env-file S=s3cret rendered from-env-file\n"
        "command A=from-env-file S=s3cret\n"
        "leftover-gone\n"
        "teardown status=7 A=from-env-file\n");
  CHECK(p.err_buf.empty());
}

TEST_CASE("--setup DIR runs its executable files in byte order, nothing else", "[before][setup]") {
  Dir dir("setup-dir");
  const std::string d = dir.path + "/", parts = d + "parts/", log = d + "log";
  REQUIRE(mkdir(parts.c_str(), 0755) == 0);
  REQUIRE(mkdir((parts + "sub").c_str(), 0755) == 0);
  script(parts + "10-b", "echo 10-b >> " + log + "\n");
  script(parts + "02-a", "echo 02-a >> " + log + "\n");
  script(parts + "B-upper", "echo B-upper >> " + log + "\n");
  script(parts + ".hidden", "echo hidden >> " + log + "\n");
  write(parts + "05-not-executable", "#!/bin/sh\necho no >> " + log + "\n", 0644);
  Proc p = run_dock({"--setup", parts, "--", "sh", "-c", "echo command >> " + log});
  CHECK(p.exit_code() == 0);
  CHECK(read_file(log) == "02-a\n10-b\nB-upper\ncommand\n");
}

TEST_CASE("a failing --setup is dock's status: nothing else runs, no teardown", "[before][setup]") {
  Dir dir("setup-fails");
  const std::string d = dir.path + "/", log = d + "log";
  script(d + "fails", "echo fails >> " + log + "; exit 3\n");
  script(d + "killed", "kill -TERM $$\n");
  script(d + "teardown", "echo teardown >> " + log + "\n");
  Proc p = run_dock({"--setup", d + "fails", "--setup", d + "never", "--teardown", d + "teardown", "--", "sh", "-c",
                     "echo command >> " + log});
  // --setup never does not exist: found before anything runs.
  CHECK(p.exit_code() == 1);
  CHECK(p.err_buf == "dock: --setup: " + d + "never: No such file or directory\n");
  CHECK(access(log.c_str(), F_OK) != 0);
  Proc q = run_dock({"--setup", d + "fails", "--teardown", d + "teardown", "--", "sh", "-c", "echo command >> " + log});
  CHECK(q.exit_code() == 3);
  CHECK(q.err_buf == "dock: --setup " + d + "fails: exited with 3\n");
  CHECK(read_file(log) == "fails\n");
  Proc r = run_dock({"--setup", d + "killed", "--", "true"});
  CHECK(r.exit_code() == 143);
  CHECK(r.err_buf == "dock: --setup " + d + "killed: killed by SIGTERM\n");
}

TEST_CASE("a signal to dock while --setup runs goes to the setup program, and dock stops with it", "[before][setup][signals][pid1]") {
  const bool pid1 = each_mode();
  Dir dir(pid1 ? "setup-signal-1" : "setup-signal");
  const std::string d = dir.path + "/", log = d + "log";
  script(d + "setup", "trap 'echo got-TERM >> " + log + "; exit 9' TERM\necho ready\nwhile :; do sleep 0.05; done\n");
  Proc p = start_dock({"--setup", d + "setup", "--", "sh", "-c", "echo command >> " + log}, {.pid1 = pid1});
  REQUIRE(p.wait_out("ready\n"));
  REQUIRE(signal_pid(p.dock_pid(), SIGTERM));
  CHECK(p.exit_code() == 143);  // the stop is remembered: 128+N whatever the program's status (SPEC §10)
  CHECK(read_file(log) == "got-TERM\n");
}

TEST_CASE("--teardown runs after a start-up failure, sees the status, and is bounded by --kill-timeout", "[before][teardown]") {
  Dir dir("teardown-more");
  const std::string d = dir.path + "/", log = d + "log";
  script(d + "teardown", "echo \"teardown $DOCK_EXIT_STATUS\" >> " + log + "\n");
  script(d + "slow", "echo slow >> " + log + "; exec sleep 100\n");
  Proc missing = run_dock({"--teardown", d + "teardown", "--", "no-such-command-anywhere"});
  CHECK(missing.exit_code() == 127);
  int port = 0;
  const int closed = loopback_listener(1, port);
  close(closed);  // nothing listens there now: the io target fails
  Proc refused = run_dock({"--teardown", d + "teardown", "--io", "tcp://127.0.0.1:" + std::to_string(port), "--", "true"});
  CHECK(refused.exit_code() == 1);
  const int64_t start = now_ms();
  Proc slow = run_dock({"--teardown", d + "slow", "--teardown", d + "teardown", "--kill-timeout", "500ms", "--", "sh",
                        "-c", "exit 4"});
  CHECK(slow.exit_code() == 4);  // a teardown's failure does not change the status
  CHECK(now_ms() - start < 4000);
  CHECK(slow.err_buf.find("dock: --teardown: still running after 500 ms: SIGKILL\n") != std::string::npos);
  CHECK(slow.err_buf.find("dock: --teardown " + d + "slow: killed by SIGKILL\n") != std::string::npos);
  CHECK(read_file(log) == "teardown 127\nteardown 1\nslow\nteardown 4\n");
}

TEST_CASE("review 3: a setup program on a terminal may read it, and Ctrl-Z does not hang dock", "[review][setup][tty][pid1]") {
  const bool pid1 = each_mode();
  Dir dir(pid1 ? "review-3-1" : "review-3");
  const std::string d = dir.path + "/";
  script(d + "ask", "printf 'name? '; read name; echo \"setup got $name\"\n");
  std::vector<std::string> argv = pid1 ? pid1_prefix() : std::vector<std::string>{};
  for (const std::string& a : {dock_path(), std::string("--setup"), d + "ask", std::string("--"), std::string("echo"),
                              std::string("command ran")})
    argv.push_back(a);
  {
    Pty term = Pty::start(argv);
    REQUIRE(term.expect("name? "));
    term.type("alice\n");
    CHECK(term.expect("setup got alice"));
    CHECK(term.expect("command ran"));
    auto st = term.wait_exit();
    REQUIRE(st.has_value());
    CHECK(WIFEXITED(*st));
  }
  if (!pid1) return;  // as a subreaper, Ctrl-Z stops dock too, as job control wants (tests/behaviour_tty)
  // As PID 1 (docker run -it): Ctrl-Z stops the setup program; docker stop still ends it.
  script(d + "wait", "echo setup-waits; exec sleep 100\n");
  argv = pid1_prefix();
  for (const std::string& a : {dock_path(), std::string("--setup"), d + "wait", std::string("--"), std::string("true")})
    argv.push_back(a);
  Pty term = Pty::start(argv);
  REQUIRE(term.expect("setup-waits"));
  term.type("\x1a");  // Ctrl-Z: SIGTSTP to the foreground group, the setup program's
  pid_t dock = -1;
  for (pid_t kid : children_of(term.pid)) dock = kid;
  REQUIRE(dock > 1);
  pid_t sleeper = -1;
  for (pid_t kid : children_of(dock)) sleeper = kid;
  REQUIRE(sleeper > 1);
  const int64_t deadline = now_ms() + kTimeoutMs;
  while (proc_state(sleeper) != 'T' && now_ms() < deadline) {
    pollfd none{-1, 0, 0};
    poll(&none, 1, 10);  // the stop is the kernel's, with no event to wait on
  }
  REQUIRE(proc_state(sleeper) == 'T');
  REQUIRE(signal_pid(dock, SIGTERM));
  auto st = term.wait_exit(5000);
  REQUIRE(st.has_value());
  CHECK(WEXITSTATUS(*st) == 143);
}

TEST_CASE("review 8: what setup and teardown programs leave behind is ended", "[review][setup][teardown]") {
  if (emulated()) return skip("dock is PID 1 under emulation: its end is the namespace's");
  Dir dir("review-8");
  const std::string d = dir.path + "/";
  script(d + "daemon", "sleep 1000 & echo $! > " + d + "pid.$1\n");
  script(d + "setup-daemon", "exec " + d + "daemon setup\n");
  script(d + "teardown-daemon", "exec " + d + "daemon teardown\n");
  script(d + "fail", "exit 3\n");
  auto leftover = [&](const std::string& which) {
    const pid_t pid = pid_t(std::atol(read_file(d + "pid." + which).c_str()));
    REQUIRE(pid > 1);
    return pid;
  };
  Proc failed = run_dock({"--kill-timeout", "1s", "--setup", d + "setup-daemon", "--setup", d + "fail", "--", "true"});
  CHECK(failed.exit_code() == 3);
  CHECK(gone_within(leftover("setup"), 0));

  Proc missing = run_dock({"--kill-timeout", "1s", "--setup", d + "setup-daemon", "--", "no-such-command-anywhere"});
  CHECK(missing.exit_code() == 127);
  CHECK(gone_within(leftover("setup"), 0));

  Proc teardown = run_dock({"--kill-timeout", "1s", "--teardown", d + "teardown-daemon", "--", "true"});
  CHECK(teardown.exit_code() == 0);
  CHECK(gone_within(leftover("teardown"), 0));
}

TEST_CASE("review 15: NOTIFY_SOCKET never reaches setup and teardown programs", "[review][notify][setup]") {
  Dir dir("review-15");
  const std::string d = dir.path + "/";
  script(d + "show", "echo \"$1 ${NOTIFY_SOCKET-unset}\"\n");
  script(d + "setup", "exec " + d + "show setup\n");
  script(d + "teardown", "exec " + d + "show teardown\n");
  Proc pass = run_dock({"--notify=pass", "--setup", d + "setup", "--teardown", d + "teardown", "--", d + "show", "command"},
                       {.env = {"NOTIFY_SOCKET=/run/supervisor.sock"}});
  CHECK(pass.exit_code() == 0);
  CHECK(pass.out_buf == "setup unset\ncommand /run/supervisor.sock\nteardown unset\n");
  Proc own = run_dock({"--notify", "--setup", d + "setup", "--", d + "show", "command"});
  CHECK(own.exit_code() == 0);
  CHECK(own.out_buf.substr(0, 12) == "setup unset\n");
  CHECK(own.out_buf.find("command @") != std::string::npos);
}

TEST_CASE("review 16: a stop during setup is remembered even when the setup program exits 0", "[review][setup][signals][pid1]") {
  const bool pid1 = each_mode();
  Dir dir(pid1 ? "review-16-1" : "review-16");
  const std::string d = dir.path + "/";
  script(d + "setup", "trap 'echo got-TERM; exit 0' TERM\necho ready\nwhile :; do sleep 0.05; done\n");
  Proc p = start_dock({"--setup", d + "setup", "--", "echo", "command ran"}, {.pid1 = pid1});
  REQUIRE(p.wait_out("ready\n"));
  REQUIRE(signal_pid(p.dock_pid(), SIGTERM));
  CHECK(p.exit_code() == 143);
  p.drain();
  CHECK(p.out_buf == "ready\ngot-TERM\n");
}

TEST_CASE("review 18: setup and teardown programs keep dock's HOME, not --user's", "[review][setup][user]") {
  Dir dir("review-18");
  const std::string d = dir.path + "/";
  script(d + "setup", "echo \"setup ${HOME-unset}\"\n");
  std::vector<std::string> args{"env", "-u", "HOME"};
  for (const auto& a : wrapped({}, {"--user", "nobody", "--setup", d + "setup", "--teardown", d + "setup", "--", "sh", "-c", "echo command $HOME"}))
    args.push_back(a);
  Proc p = Proc::start(args);
  p.close_in();
  p.drain();
  CHECK(p.exit_code() == 0);
  CHECK(p.out_buf == "setup unset\ncommand /nonexistent\nsetup unset\n");
}

TEST_CASE("review 20: -d names the setup program it forwards to", "[review][setup][signals]") {
  Dir dir("review-20");
  script(dir.path + "/setup", "trap 'exit 0' TERM\necho ready\nwhile :; do sleep 0.05; done\n");
  Proc p = start_dock({"-d", "--setup", dir.path + "/setup", "--", "true"});
  REQUIRE(p.wait_out("ready\n"));
  REQUIRE(signal_pid(p.dock_pid(), SIGTERM));
  CHECK(p.exit_code() == 143);
  p.drain();
  CHECK(p.err_buf.find("forwarding SIGTERM to the program's group") != std::string::npos);
  CHECK(p.err_buf.find("group -1") == std::string::npos);
}

TEST_CASE("--teardown URL: a POST once the command and its leftovers are gone (a sidecar's /quitquitquit)", "[teardown][hook]") {
  HttpServer sidecar({{200, 0}});
  Proc p = run_dock({"--teardown", sidecar.url("/quitquitquit"), "--", "sh", "-c", "echo job done; exit 3"});
  CHECK(p.exit_code() == 3);  // the command's status, the POST's success aside
  REQUIRE(sidecar.wait_requests(1));
  const auto reqs = sidecar.requests();
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].line == "POST /quitquitquit HTTP/1.1");
  CHECK(reqs[0].header("Content-Length") == "0");
  CHECK(reqs[0].body.empty());
  CHECK(p.err_buf.empty());
  HttpServer failing({{500, 0}});
  Proc f = run_dock({"--teardown", failing.url("/quitquitquit"), "--", "true"});
  CHECK(f.exit_code() == 0);  // reported, dock's status unchanged
  CHECK(f.err_buf == "dock: --teardown " + failing.url("/quitquitquit") + ": HTTP status 500\n");
  HttpServer silent({{200, 20000}});
  const int64_t start = now_ms();
  Proc s = run_dock({"--kill-timeout", "500ms", "--teardown", silent.url("/quitquitquit"), "--", "true"});
  CHECK(s.exit_code() == 0);
  CHECK(now_ms() - start < 3000);
  CHECK(s.err_buf == "dock: --teardown " + silent.url("/quitquitquit") + ": no answer within 500ms\n");
  CHECK(run_dock({"--teardown", "http://[::1/x", "--", "true"}).exit_code() == 2);
}
