// Behaviour tests of what dock does before the command (SPEC §10): env
// files, --file-env, templates, --user and --no-new-privs, seen from
// outside, as PID 1 and as a subreaper; every error is one line, exit 1,
// and nothing after it runs.
#include "harness.hpp"
#include "http_server.hpp"

#include <sys/stat.h>

using namespace t;

namespace {

// The tests' own environment may hold *_FILE variables (a CI's, say) that
// --file-env would read: they are not the tests'.
void forget_file_vars() {
  std::vector<std::string> names;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view v = *e;
    std::string_view name = v.substr(0, v.find('='));
    if (name.size() > 5 && name.substr(name.size() - 5) == "_FILE") names.emplace_back(name);
  }
  for (const auto& n : names) unsetenv(n.c_str());
}

void write(const std::string& path, const std::string& text, mode_t mode = 0644) {
  std::ofstream(path) << text;
  REQUIRE(chmod(path.c_str(), mode) == 0);
}

}  // namespace

TEST_CASE("env files, a secret and a template reach the command, which runs as --user", "[before][user][pid1]") {
  forget_file_vars();
  const bool pid1 = each_mode();
  Dir dir(pid1 ? "before-1" : "before");
  REQUIRE(chmod(dir.path.c_str(), 0755) == 0);
  const std::string d = dir.path + "/";
  write(d + "one.env", "# the first\nA=1\nexport B=\"two words\"\nC='$HOME'\n");
  write(d + "two.env", "\nA=2\n");
  write(d + "secret", "s3cret\n", 0600);
  write(d + "app.conf.in", "a={{A}} b={{ B }} s={{S}}\nd={{D:-dflt}} {{ .Go }} $host ${A}\n", 0640);
  Proc p = run_dock({"-d", "--env-file", d + "one.env", "--env-file=" + d + "two.env", "--file-env", "S", "--template",
                     d + "app.conf.in:" + d + "app.conf", "--user", "nobody", "--", "sh", "-c",
                     "id -u; id -g; echo \"$A|$B|$C|$S|${S_FILE-unset}\"; cat " + d + "app.conf"},
                    {.pid1 = pid1, .env = {"S_FILE=" + d + "secret", "B=inherited"}});
  CHECK(p.exit_code() == 0);
  CHECK(p.out_buf == "65534\n65534\n2|two words|$HOME|s3cret|unset\n"
                     "a=2 b=two words s=s3cret\nd=dflt {{ .Go }} $host ${A}\n");
  struct stat sb {};
  REQUIRE(stat((d + "app.conf").c_str(), &sb) == 0);
  CHECK(sb.st_uid == 65534);
  CHECK((sb.st_mode & 07777) == 0640);
  CHECK(p.err_buf.find("s3cret") == std::string::npos);  // never printed, not even with -d
  CHECK(p.err_buf.find("S set from") != std::string::npos);
}

TEST_CASE("--user: HOME from /etc/passwd, replacing an inherited one (as gosu); groups from /etc/group", "[before][user]") {
  std::vector<std::string> args{"env", "-u", "HOME"};
  for (const auto& a : dock_command()) args.push_back(a);
  for (const std::string a : {"--user", "root:daemon", "--", "sh", "-c", "echo $HOME; id -G"}) args.push_back(a);
  Proc p = Proc::start(args);
  p.close_in();
  p.drain();
  CHECK(p.exit_code() == 0);
  CHECK(p.out_buf == "/root\n1\n");  // USER:GROUP: that group only
  // Docker sets HOME=/root in every container: --user replaces it, as gosu and su-exec do.
  Proc replaced = run_dock({"--user", "nobody", "--", "sh", "-c", "echo $HOME"}, {.env = {"HOME=/root"}});
  CHECK(replaced.out_buf == "/nonexistent\n");
  Proc no_home = run_dock({"--user", "4242", "--", "sh", "-c", "echo $HOME"}, {.env = {"HOME=/root"}});
  CHECK(no_home.out_buf == "/\n");  // no entry: /
  Proc number = run_dock({"--user", "4242:4343", "--", "sh", "-c", "id -u; id -G"});
  CHECK(number.exit_code() == 0);
  CHECK(number.out_buf == "4242\n4343\n");  // a number needs no entry
}

TEST_CASE("before the command: each failure is one line naming the file, exit 1, nothing run", "[before][errors][pid1]") {
  forget_file_vars();
  const bool pid1 = each_mode();
  Dir dir(pid1 ? "before-errors-1" : "before-errors");
  const std::string d = dir.path + "/";
  const std::string marker = d + "ran";
  write(d + "bad.env", "A=1\nnot a pair\n");
  write(d + "quote.env", "Q=\"open\n");
  write(d + "secret", "x\n");
  write(d + "t.in", "fine\n{{NOPE}}\n");
  struct Case {
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::string line;
  };
  const std::vector<Case> cases{
      {{"--env-file", d + "bad.env"}, {}, "dock: --env-file: " + d + "bad.env: line 2: not NAME=VALUE\n"},
      {{"--env-file", d + "quote.env"}, {}, "dock: --env-file: " + d + "quote.env: line 1: Q: unmatched quote\n"},
      {{"--env-file", d + "missing.env"}, {}, "dock: --env-file: " + d + "missing.env: No such file or directory\n"},
      {{"--env-file", dir.path}, {}, "dock: --env-file: " + dir.path + ": not a regular file\n"},
      {{"--file-env", "S"}, {"S=1", "S_FILE=" + d + "secret"}, "dock: --file-env: S and S_FILE are both set\n"},
      {{"--file-env", "S"}, {"S_FILE=" + d + "nope"}, "dock: --file-env: S_FILE=" + d + "nope: No such file or directory\n"},
      {{"--template", d + "t.in:" + d + "t.out"}, {}, "dock: --template: " + d + "t.in: line 2: NOPE is not set\n"},
      {{"--user", "no-such-user"}, {}, "dock: --user: user no-such-user is not in /etc/passwd\n"},
      {{"--user", "nobody:no-such-group"}, {}, "dock: --user: group no-such-group is not in /etc/group\n"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = c.args;
    for (const std::string a : {"--", "touch", marker.c_str()}) args.push_back(a);
    Proc p = run_dock(args, {.pid1 = pid1, .env = c.env});
    INFO(c.line);
    CHECK(p.exit_code() == 1);
    CHECK(p.err_buf == c.line);
    CHECK(access(marker.c_str(), F_OK) != 0);
    CHECK(access((d + "t.out").c_str(), F_OK) != 0);
  }
  // Bad usage is found first: exit 2.
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"--template", "no-colon"},
                                              std::vector<std::string>{"--user", ":x"},
                                              std::vector<std::string>{"--user", "x:"}}) {
    std::vector<std::string> args = bad;
    for (const std::string a : {"--", "touch", marker.c_str()}) args.push_back(a);
    Proc p = run_dock(args, {.pid1 = pid1});
    CHECK(p.exit_code() == 2);
    CHECK(access(marker.c_str(), F_OK) != 0);
  }
}

TEST_CASE("--user: a dock that is not root cannot switch, and says so", "[before][user]") {
  if (!have("setpriv")) return skip("setpriv (util-linux) is needed to run dock as nobody");
  Dir dir("before-notroot");
  const std::string marker = dir.path + "/ran";
  REQUIRE(chmod(dir.path.c_str(), 0777) == 0);
  auto as_nobody = [&](const std::string& user) {
    std::vector<std::string> args{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", dock_path(),
                                  "--user", user, "--", "touch", marker};
    Proc p = Proc::start(args);
    p.close_in();
    p.drain();
    p.wait_exit();
    return p;
  };
  Proc root = as_nobody("root");
  CHECK(root.exit_code() == 1);
  CHECK(root.err_buf == "dock: --user: dock runs as uid 65534, not root: it cannot switch to uid 0 "
                        "(run dock as root, or drop --user)\n");
  CHECK(access(marker.c_str(), F_OK) != 0);
  Proc same = as_nobody("nobody");  // already that user: nothing to switch
  CHECK(same.exit_code() == 0);
  CHECK(access(marker.c_str(), F_OK) == 0);
}

TEST_CASE("--template replaces a symlink at DST and never writes through it", "[before][template][field]") {
  Dir dir("before-symlink");
  REQUIRE(chmod(dir.path.c_str(), 01777) == 0);  // a directory others can write
  const std::string d = dir.path + "/";
  write(d + "victim", "keep\n", 0644);
  write(d + "t.in", "rendered {{X}}\n");
  REQUIRE(symlink((d + "victim").c_str(), (d + "t.out").c_str()) == 0);
  Proc p = run_dock({"--template", d + "t.in:" + d + "t.out", "--", "true"}, {.env = {"X=yes"}});
  CHECK(p.exit_code() == 0);
  CHECK(read_file(d + "victim") == "keep\n");
  struct stat sb {};
  REQUIRE(lstat((d + "t.out").c_str(), &sb) == 0);
  CHECK(S_ISREG(sb.st_mode));
  CHECK(read_file(d + "t.out") == "rendered yes\n");
  // Nothing of dock's is left in the directory but what it wrote.
  Proc ls = Proc::start({"sh", "-c", "ls -A " + d + " | wc -l"});
  ls.close_in();
  ls.drain();
  CHECK(ls.out_buf == "3\n");
}

TEST_CASE("--no-new-privs: the command and its children gain no privileges", "[before][user]") {
  Proc p = run_dock({"--no-new-privs", "--user", "nobody", "--", "grep", "NoNewPrivs", "/proc/self/status"});
  CHECK(p.exit_code() == 0);
  CHECK(p.out_buf.find("NoNewPrivs:\t1") != std::string::npos);
  Proc without = run_dock({"--", "grep", "NoNewPrivs", "/proc/self/status"});
  CHECK(without.out_buf.find("NoNewPrivs:\t0") != std::string::npos);
}

TEST_CASE("--user nobody with --bind-port and --ready-file", "[before][user][bind-port][pid1]") {
  const bool pid1 = each_mode();
  Dir dir(pid1 ? "before-bind-1" : "before-bind");
  const std::string ready = dir.path + "/ready";
  const int port = free_port();
  Proc dock = start_dock({"--user", "nobody", "--bind-port", std::to_string(port), "--ready-file", ready, "--",
                          helper(), "listen", std::to_string(port), "200"},
                         {.pid1 = pid1});
  REQUIRE(dock.wait_out("listening"));
  CHECK(wait_file_contains(ready, "\n", 3000));
  dock.send("exit 0\n");
  CHECK(dock.exit_code() == 0);
  dock.drain();
  CHECK(dock.err_buf.empty());
}

namespace {

// An executable shell script at `path`.
void script(const std::string& path, const std::string& body) { write(path, "#!/bin/sh\n" + body, 0755); }

}  // namespace

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

TEST_CASE("--wait-for: the command starts once the port listens, not before", "[before][wait-for][pid1]") {
  const bool pid1 = each_mode();
  const int port = free_port();
  Proc dock = start_dock({"-d", "--wait-for", "tcp://127.0.0.1:" + std::to_string(port), "--", "echo", "started"},
                         {.pid1 = pid1});
  REQUIRE(dock.wait_err("again in"));  // it tried, and waits
  CHECK(dock.out_buf.empty());
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);  // free_port() said it was free
  const int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(uint16_t(port));
  REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(listener, 4) == 0);
  CHECK(dock.exit_code() == 0);
  dock.drain();
  CHECK(dock.out_buf == "started\n");
  close(listener);
}

TEST_CASE("--wait-for: file:// and unix://, in order", "[before][wait-for]") {
  Dir dir("wait-for");
  const std::string file = dir.path + "/ready", sock = dir.path + "/s.sock";
  Proc dock = start_dock({"-d", "--wait-for", "file://" + file, "--wait-for", "unix://" + sock, "--", "echo", "started"});
  REQUIRE(dock.wait_err("--wait-for file://" + file + ": No such file or directory"));
  std::ofstream(file) << "x";
  REQUIRE(dock.wait_err("--wait-for unix://" + sock + ":"));  // the file is there: on to the socket
  Proc server = Proc::start({"socat", "UNIX-LISTEN:" + sock + ",fork", "EXEC:cat"});
  CHECK(dock.exit_code() == 0);
  dock.drain();
  CHECK(dock.out_buf == "started\n");
}

TEST_CASE("--wait-for gives up after --wait-timeout: one line, exit 1, nothing started", "[before][wait-for]") {
  Dir dir("wait-timeout");
  const std::string marker = dir.path + "/ran";
  int port = 0;
  close(loopback_listener(1, port));  // nothing listens there now
  const std::string url = "tcp://127.0.0.1:" + std::to_string(port);
  const int64_t start = now_ms();
  Proc p = run_dock({"--setup", "/bin/true", "--wait-for", url, "--wait-timeout", "700ms", "--", "touch", marker});
  const int64_t took = now_ms() - start;
  CHECK(p.exit_code() == 1);
  CHECK(p.err_buf == "dock: waited 700ms for " + url + ": Connection refused\n");
  CHECK(took >= 650);
  CHECK(took < 3000);
  CHECK(access(marker.c_str(), F_OK) != 0);
  Proc bad = run_dock({"--wait-for", "tls://127.0.0.1:1", "--", "true"});
  CHECK(bad.exit_code() == 2);
}

TEST_CASE("a stop request while --wait-for waits ends dock at once, 128+N, nothing started", "[before][wait-for][signals][pid1]") {
  const bool pid1 = each_mode();
  Dir dir(pid1 ? "wait-stop-1" : "wait-stop");
  const std::string marker = dir.path + "/ran";
  int port = 0;
  close(loopback_listener(1, port));
  for (int sig : {SIGTERM, SIGINT}) {
    Proc dock = start_dock({"-d", "--wait-for", "tcp://127.0.0.1:" + std::to_string(port), "--teardown",
                            "/bin/false", "--", "touch", marker},
                           {.pid1 = pid1});
    REQUIRE(dock.wait_err("again in"));
    const int64_t sent = now_ms();
    REQUIRE(signal_pid(dock.dock_pid(), sig));
    CHECK(dock.exit_code() == 128 + sig);
    CHECK(now_ms() - sent < 1000);
    CHECK(access(marker.c_str(), F_OK) != 0);
    dock.drain();
    CHECK(dock.err_buf.find("--teardown") == std::string::npos);  // no teardown after a signal ended the wait
  }
}

TEST_CASE("--wait-for http://: a GET until it is answered with 2xx", "[before][wait-for][hook]") {
  HttpServer server({{503, 0}, {404, 0}});  // then 200
  Proc dock = run_dock({"--wait-for", server.url("/health?ready=1", "user:pw@"), "--", "echo", "started"});
  CHECK(dock.exit_code() == 0);
  CHECK(dock.out_buf == "started\n");
  const auto reqs = server.requests();
  REQUIRE(reqs.size() == 3);
  for (const auto& r : reqs) {
    CHECK(r.line == "GET /health?ready=1 HTTP/1.1");
    CHECK(r.header("Host") == "127.0.0.1:" + std::to_string(server.port));
    CHECK(r.header("Authorization") == "Basic dXNlcjpwdw==");
  }
  HttpServer never({{500, 0}, {500, 0}, {500, 0}, {500, 0}, {500, 0}, {500, 0}, {500, 0}, {500, 0}});
  Proc gave_up = run_dock({"--wait-for", never.url("/h"), "--wait-timeout", "600ms", "--", "echo", "started"});
  CHECK(gave_up.exit_code() == 1);
  CHECK(gave_up.err_buf == "dock: waited 600ms for " + never.url("/h") + ": HTTP status 500\n");
  CHECK(gave_up.out_buf.empty());
}

TEST_CASE("env files, secrets and templates are not read through a symlink others could plant", "[before][field]") {
  forget_file_vars();
  Dir shared("before-planted");
  REQUIRE(chmod(shared.path.c_str(), 01777) == 0);  // like /tmp: anyone may put a symlink here
  Dir own("before-own");
  REQUIRE(chmod(own.path.c_str(), 0755) == 0);      // only root writes here
  const std::string secret = own.path + "/root-only";
  write(secret, "TOP=secret-of-root\n", 0600);
  const std::string planted = shared.path + "/link";
  REQUIRE(symlink(secret.c_str(), planted.c_str()) == 0);
  const std::string ok_link = own.path + "/link";
  REQUIRE(symlink(secret.c_str(), ok_link.c_str()) == 0);
  const std::string refusal = ": a symlink in a directory others can write: not followed\n";
  Proc env = run_dock({"--env-file", planted, "--user", "nobody", "--", "sh", "-c", "echo $TOP"});
  CHECK(env.exit_code() == 1);
  CHECK(env.err_buf == "dock: --env-file: " + planted + refusal);
  CHECK(env.out_buf.empty());
  Proc file_env = run_dock({"--file-env", "S", "--", "sh", "-c", "echo $S"}, {.env = {"S_FILE=" + planted}});
  CHECK(file_env.exit_code() == 1);
  CHECK(file_env.err_buf == "dock: --file-env: S_FILE=" + planted + refusal);
  Proc tpl = run_dock({"--template", planted + ":" + shared.path + "/out", "--", "true"});
  CHECK(tpl.exit_code() == 1);
  CHECK(access((shared.path + "/out").c_str(), F_OK) != 0);
  // In a directory only root writes (Kubernetes' ..data links), a symlink is followed.
  Proc followed = run_dock({"--env-file", ok_link, "--", "sh", "-c", "echo $TOP"});
  CHECK(followed.exit_code() == 0);
  CHECK(followed.out_buf == "secret-of-root\n");
}
