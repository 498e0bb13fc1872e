// dock's command line and its DOCK_* variables, through the real ./dock:
// bad usage, --help and --version, typos, the variables dock keeps from
// the command, messages that name what the user set.
#include "kit.hpp"

using namespace t;

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

TEST_CASE("--version: the first line as docker info reads an init's", "[version]") {
  Proc p = run_dock({"--version"});
  CHECK(p.exit_code() == 0);
  CHECK(p.out_buf.rfind("dock version 0.", 0) == 0);
  CHECK(count(p.out_buf, "\n") >= 2);
}

TEST_CASE("typos are caught: the closest option, one dash, a DOCK_* variable of no option (dock still starts)", "[options]") {
  Proc typo = run_dock({"--kill-timout", "5s", "--", "echo", "ran"});
  CHECK(typo.exit_code() == 2);
  CHECK(typo.err_buf == "dock: --kill-timout: unknown option; did you mean --kill-timeout?\n");
  Proc dash = run_dock({"-kill-timeout", "5s", "--", "echo", "ran"});
  CHECK(dash.exit_code() == 2);
  CHECK(dash.err_buf == "dock: -kill-timeout: long options take two dashes: --kill-timeout\n");
  // An image's ENV with a typo must not brick the container: one warning, the command runs and gets it.
  Proc env = run_dock({"--", "sh", "-c", "echo ran $DOCK_KILLTIMEOUT"}, {.env = {"DOCK_KILLTIMEOUT=5s"}});
  CHECK(env.exit_code() == 0);
  CHECK(env.out_buf == "ran 5s\n");
  CHECK(env.err_buf == "dock: DOCK_KILLTIMEOUT: not a dock option; did you mean DOCK_KILL_TIMEOUT? (left to the command)\n");
}

TEST_CASE("messages name what the user set: DOCK_READY_FILE, and DST rather than a temporary name", "[options][template]") {
  Proc env = run_dock({"--", "true"}, {.env = {"DOCK_READY_FILE=/nonexistent-dir/ready"}});
  CHECK(env.exit_code() == 2);
  CHECK(env.err_buf == "dock: DOCK_READY_FILE: directory /nonexistent-dir: No such file or directory\n");
  Dir dir("named-dst");
  const std::string ro = dir.path + "/ro";
  REQUIRE(mkdir(ro.c_str(), 0755) == 0);
  REQUIRE(mount("tmpfs", ro.c_str(), "tmpfs", MS_RDONLY, "size=16k") == 0);
  write(dir.path + "/app.in", "x\n");
  Proc t = run_dock({"--template", dir.path + "/app.in:" + ro + "/app.conf", "--", "true"});
  umount2(ro.c_str(), MNT_DETACH);
  CHECK(t.exit_code() == 1);
  CHECK(t.err_buf == "dock: --template: " + ro + "/app.conf: Read-only file system\n");
}
