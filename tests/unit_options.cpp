// Unit tests of section 14: the option table and parse_args (every
// feature's options as the command line and DOCK_* variables give them),
// --help and README's table, the worst-case stop.
#define DOCK_NO_MAIN
#include "../dock.cpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>

#include <initializer_list>
#include <string>
#include <vector>

using namespace dock;

namespace {

// argv/envp as the kernel gives them: null-terminated arrays of char*.
struct Args {
  std::vector<std::string> store;
  std::vector<char*> argv, envp;
  Args(std::initializer_list<const char*> a, std::initializer_list<const char*> e = {}) {
    store.reserve(a.size() + e.size() + 1);
    store.emplace_back("dock");
    for (auto s : a) store.emplace_back(s);
    for (auto s : e) store.emplace_back(s);
    for (size_t i = 0; i <= a.size(); ++i) argv.push_back(store[i].data());
    argv.push_back(nullptr);
    for (size_t i = a.size() + 1; i < store.size(); ++i) envp.push_back(store[i].data());
    envp.push_back(nullptr);
  }
  Parsed parse() { return parse_args({argv.data(), argv.size() - 1}, {envp.data(), envp.size() - 1}); }
};

std::vector<std::string> command_of(const Parsed& p) {
  std::vector<std::string> out;
  for (char* const* a = p.config.command; a && *a; ++a) out.emplace_back(*a);
  return out;
}

std::vector<std::string> env_of(const Parsed& p) {
  std::vector<std::string> out;
  for (char* e : p.config.child_env)
    if (e) out.emplace_back(e);
  return out;
}

}  // namespace


// ---- issue 18: orchestrators ----

TEST_CASE("the command starts at -- or at the first non-option", "[options]") {
  Args a{"ls", "-l"};
  auto p = a.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK(command_of(p) == std::vector<std::string>{"ls", "-l"});

  Args b{"-d", "--", "--weird", "-x"};
  p = b.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK(p.config.debug);
  CHECK(command_of(p) == std::vector<std::string>{"--weird", "-x"});

  Args c{"--single-child", "sh", "--kill-timeout", "1"};  // after the command: the command's
  p = c.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK(p.config.single_child);
  CHECK(p.config.kill_timeout_ms == kDefaultKillTimeoutMs);
  CHECK(command_of(p) == std::vector<std::string>{"sh", "--kill-timeout", "1"});
}

TEST_CASE("missing command is a usage error", "[options]") {
  for (auto args : {Args{}, Args{"--"}, Args{"-d"}, Args{"--kill-timeout", "3s", "--"}}) {
    auto p = args.parse();
    CHECK(p.action == Parsed::Action::Fail);
    CHECK(p.error.rfind("usage: missing command", 0) == 0);
  }
}

TEST_CASE("help and version", "[options]") {
  CHECK(Args{"-h"}.parse().action == Parsed::Action::Help);
  CHECK(Args{"--help", "ls"}.parse().action == Parsed::Action::Help);
  CHECK(Args{"-V"}.parse().action == Parsed::Action::Version);
  CHECK(Args{"--version"}.parse().action == Parsed::Action::Version);
  CHECK(Args{"-dV"}.parse().action == Parsed::Action::Version);
}

TEST_CASE("long options take VALUE or =VALUE", "[options]") {
  auto p = Args{"--kill-timeout", "10s", "true"}.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK(p.config.kill_timeout_ms == 10'000);
  p = Args{"--kill-timeout=250ms", "true"}.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK(p.config.kill_timeout_ms == 250);
}

TEST_CASE("every malformed input names what and why", "[options]") {
  std::vector<std::pair<std::vector<const char*>, std::string>> cases = {
      {{"--bogus", "ls"}, "--bogus: unknown option"},
      {{"-x", "ls"}, "-x: unknown option"},
      {{"-dx", "ls"}, "-x: unknown option"},
      {{"--kill-timeout"}, "--kill-timeout: needs a value"},
      {{"--kill-timeout", "abc", "ls"}, "--kill-timeout: 'abc' is not a duration"},
      {{"--kill-timeout", "-1s", "ls"}, "--kill-timeout: '-1s' is not a duration"},
      {{"--kill-timeout", "5x", "ls"}, "--kill-timeout: '5x' is not a duration"},
      {{"--kill-timeout=", "ls"}, "--kill-timeout: '' is not a duration"},
      {{"--single-child=1", "ls"}, "--single-child: takes no value"},
      {{"--debug=yes", "ls"}, "--debug: takes no value"},
      {{"--rewrite", "TERM", "ls"}, "--rewrite: 'TERM' is not FROM:TO"},
      {{"--rewrite", "FOO:TERM", "ls"}, "--rewrite: 'FOO' is not a signal"},
      {{"--rewrite", "TERM:BAR", "ls"}, "--rewrite: 'BAR' is not a signal or 0"},
      {{"--rewrite", "KILL:TERM", "ls"}, "--rewrite: SIGKILL cannot be caught"},
      {{"--rewrite", "STOP:0", "ls"}, "--rewrite: SIGSTOP cannot be caught"},
      {{"--rewrite", "CHLD:TERM", "ls"}, "--rewrite: SIGCHLD is dock's own"},
      {{"--rewrite", "65:TERM", "ls"}, "--rewrite: '65' is not a signal"},
      {{"--rewrite", "0:TERM", "ls"}, "--rewrite: '0' is not a signal"},
  };
  for (auto& [argv, want] : cases) {
    Args a{};
    a.store.resize(1);
    for (auto s : argv) a.store.emplace_back(s);
    a.argv.clear();
    for (auto& s : a.store) a.argv.push_back(s.data());
    a.argv.push_back(nullptr);
    auto p = a.parse();
    INFO(want);
    CHECK(p.action == Parsed::Action::Fail);
    CHECK(p.error.rfind(want, 0) == 0);
  }
}

TEST_CASE("a bad value of the reporting options is refused, never ignored", "[options]") {
  for (auto flag : {"--web-hook", "--bind-port"}) {
    Args a{flag, "x", "ls"};
    auto p = a.parse();
    INFO(flag);
    CHECK(p.action == Parsed::Action::Fail);
    CHECK(p.error.rfind(std::string(flag) + ": 'x'", 0) == 0);
  }
  Args a({"ls"}, {"DOCK_WEB_HOOK=x"});
  auto p = a.parse();
  CHECK(p.action == Parsed::Action::Fail);
  CHECK(p.error == "DOCK_WEB_HOOK: 'x': not an http:// or https:// URL");
}

TEST_CASE("log rotation options", "[options]") {
  auto p = Args{"--io", "/var/log/a.log", "--log-rotate", "1d", "--log-max-size", "10m", "--log-keep", "7", "sh"}.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK(p.config.log_rotate_ms == 86'400'000);
  CHECK(p.config.log_max_size == 10 << 20);
  CHECK(p.config.log_keep == 7);
  Args env({"sh"}, {"DOCK_IO=/var/log/a.log", "DOCK_LOG_ROTATE=12", "DOCK_LOG_KEEP=2"});
  p = env.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK(p.config.log_rotate_ms == 12 * 3'600'000);
  CHECK(p.config.log_keep == 2);
  CHECK(p.config.log_max_size == 0);
  CHECK(Args{"--io", "a.log", "sh"}.parse().config.log_keep == 5);
  auto err = [](std::initializer_list<const char*> args) {
    Args a(args);
    auto r = a.parse();
    return r.action == Parsed::Action::Fail ? r.error : std::string("accepted");
  };
  CHECK(err({"--log-rotate", "1h", "sh"}) == "--log-rotate: needs a file --io (rotation is for a log file)");
  CHECK(err({"--io", "tcp://h:1", "--log-max-size", "1m", "sh"}) == "--log-max-size: needs a file --io (rotation is for a log file)");
  CHECK(err({"--io", "a.log", "--log-keep", "3", "sh"}) == "--log-keep: needs --log-rotate or --log-max-size");
  CHECK(err({"--io", "a.log", "--log-rotate", "0", "sh"}).rfind("--log-rotate: '0' is not a duration above zero", 0) == 0);
  CHECK(err({"--io", "a.log", "--log-max-size", "0k", "sh"}).rfind("--log-max-size: '0k' is not a size above zero", 0) == 0);
  CHECK(err({"--io", "a.log", "--log-rotate", "1h", "--log-keep", "0", "sh"}) ==
        "--log-keep: '0' is not a count from 1 to 100000");
}

TEST_CASE("--tty and DOCK_TTY; tls:// URLs are accepted", "[options]") {
  auto p = Args{"--tty", "--io", "tls://h:443", "sh"}.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK(p.config.tty);
  CHECK(p.config.io.scheme == Scheme::Tls);
  CHECK_FALSE(Args{"sh"}.parse().config.tty);
  Args env({"sh"}, {"DOCK_TTY=yes"});
  CHECK(env.parse().config.tty);
  Args off({"sh"}, {"DOCK_TTY=0"});
  CHECK_FALSE(off.parse().config.tty);
  Args bad({"sh"}, {"DOCK_TTY=maybe"});
  CHECK(bad.parse().action == Parsed::Action::Fail);
  CHECK(Args{"--io", "ssl://h:1?insecure=1", "sh"}.parse().config.io.insecure);
}

TEST_CASE("rewrite table", "[options]") {
  auto p = Args{"--rewrite", "TERM:QUIT", "--rewrite", "SIGUSR1:0", "--rewrite=2:hup",
                "--rewrite", "RTMIN+1:RTMAX", "ls"}.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  const auto& rw = p.config.rewrite;
  CHECK(rw[SIGTERM] == SIGQUIT);
  CHECK(rw[SIGUSR1] == 0);
  CHECK(rw[SIGINT] == SIGHUP);
  CHECK(rw[size_t(SIGRTMIN + 1)] == SIGRTMAX);
  CHECK(rw[SIGHUP] == SIGHUP);  // untouched signals map to themselves
  CHECK(rw[SIGWINCH] == SIGWINCH);
}

TEST_CASE("DOCK_* variables: read, beaten by flags, removed from the child's environment", "[options][env]") {
  Args a1({"ls"}, {"PATH=/bin", "DOCK_KILL_TIMEOUT=2s", "DOCK_SINGLE_CHILD=yes",
                         "DOCK_DEBUG=1", "DOCK_REWRITE=TERM:QUIT, USR1:0", "DOCKER_HOST=x",
                         "DOCK_UNRELATED=keep", "HOME=/root"});
  auto p = a1.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK(p.config.kill_timeout_ms == 2000);
  CHECK(p.config.single_child);
  CHECK(p.config.debug);
  CHECK(p.config.rewrite[SIGTERM] == SIGQUIT);
  CHECK(p.config.rewrite[SIGUSR1] == 0);
  CHECK(env_of(p) == std::vector<std::string>{"PATH=/bin", "DOCKER_HOST=x", "DOCK_UNRELATED=keep", "HOME=/root"});
  CHECK(p.config.child_env.back() == nullptr);

  // A flag beats its variable, even a malformed one; the variable still goes.
  Args a2({"--kill-timeout", "7s", "ls"}, {"DOCK_KILL_TIMEOUT=garbage", "A=b"});
  p = a2.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK(p.config.kill_timeout_ms == 7000);
  CHECK(env_of(p) == std::vector<std::string>{"A=b"});

  // Booleans off, and a variable with a bad value is refused.
  Args a3({"ls"}, {"DOCK_DEBUG=0", "DOCK_SINGLE_CHILD=false"});
  p = a3.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK_FALSE(p.config.debug);
  CHECK_FALSE(p.config.single_child);
  Args a4({"ls"}, {"DOCK_DEBUG=maybe"});
  p = a4.parse();
  CHECK(p.action == Parsed::Action::Fail);
  CHECK(p.error.rfind("DOCK_DEBUG: 'maybe' is not a boolean", 0) == 0);
  Args a5({"ls"}, {"DOCK_KILL_TIMEOUT=soon"});
  p = a5.parse();
  CHECK(p.error.rfind("DOCK_KILL_TIMEOUT: 'soon' is not a duration", 0) == 0);
  Args a6({"ls"}, {"DOCK_REWRITE=TERM:QUIT,BOGUS:1"});
  p = a6.parse();
  CHECK(p.error.rfind("DOCK_REWRITE: 'BOGUS' is not a signal", 0) == 0);
  // Help and version have no variable: DOCK_HELP belongs to the child.
  Args a7({"ls"}, {"DOCK_HELP=1"});
  p = a7.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK(env_of(p) == std::vector<std::string>{"DOCK_HELP=1"});
}

TEST_CASE("--io and DOCK_IO in the options", "[io][options]") {
  Args a({"--io", "tcp://127.0.0.1:9", "true"});
  auto p = a.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK(p.config.io.scheme == Scheme::Tcp);
  CHECK(p.config.io.url == "tcp://127.0.0.1:9");
  Args b({"true"}, {"DOCK_IO=/tmp/out.log"});
  p = b.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK(p.config.io.path == "/tmp/out.log");
  CHECK(p.config.child_env.size() == 1);  // DOCK_IO removed: only the terminator
  Args c({"--io=tcp://h", "true"});
  p = c.parse();
  CHECK(p.error == "--io: 'tcp://h': missing port (HOST:PORT)");
  Args d({"true"}, {"DOCK_IO=ftp://x"});
  p = d.parse();
  CHECK(p.error.rfind("DOCK_IO: 'ftp://x': unknown scheme 'ftp'", 0) == 0);
}

TEST_CASE("--stdout-prefix and --stderr-prefix in the options", "[prefix][options]") {
  Args a({"--stdout-prefix", "web:green", "true"});
  auto p = a.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK(p.config.stdout_prefix == "\x1b[32;1mweb\x1b[0m");
  CHECK_FALSE(p.config.stderr_prefix.has_value());  // stderr takes stdout's
  Args b({"--stderr-prefix=E ", "true"}, {"DOCK_STDOUT_PREFIX=O "});
  p = b.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK(p.config.stdout_prefix == "O ");
  CHECK(p.config.stderr_prefix == "E ");
  Args c({"--stdout-prefix", ":red", "true"});
  p = c.parse();
  CHECK(p.error == "--stdout-prefix: ':red': empty prefix");
}

TEST_CASE("web hook, bind port and ready file options", "[hook][options]") {
  auto p = Args{"--web-hook", "http://h:1/x", "--bind-port", "8080", "--ready-file", "/run/r", "true"}.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  REQUIRE(p.config.web_hook);
  CHECK(p.config.web_hook->authority == "h:1");
  CHECK(p.config.bind_port == 8080);
  CHECK(p.config.ready_file == "/run/r");
  p = Args({"true"}, {"DOCK_WEB_HOOK=https://h/", "DOCK_BIND_PORT=443", "DOCK_READY_FILE=/tmp/x"}).parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK(p.config.web_hook->https);
  CHECK(p.config.bind_port == 443);
  CHECK(p.config.ready_file == "/tmp/x");
  CHECK(p.config.child_env.size() == 1);  // dock's variables are not passed on
  p = Args{"--bind-port", "0", "true"}.parse();
  CHECK(p.action == Parsed::Action::Fail);
  CHECK(p.error == "--bind-port: '0' is not a port in 1..65535");
  p = Args{"--web-hook", "tcp://h:1", "true"}.parse();
  CHECK(p.action == Parsed::Action::Fail);
  CHECK(p.error == "--web-hook: 'tcp://h:1': unknown scheme 'tcp' (http, https)");
  p = Args{"--ready-file", "/tmp/", "true"}.parse();
  CHECK(p.action == Parsed::Action::Fail);
}

TEST_CASE("an error quoting the user's value stays one line", "[options]") {
  // Found by fuzzing: a value with a line break made a two-line message,
  // enough to forge a second "dock: ..." line in a log.
  auto p = Args{"--kill-timeout", "1\ndock: all good", "true"}.parse();
  REQUIRE(p.action == Parsed::Action::Fail);
  CHECK(p.error == "--kill-timeout: '1\\ndock: all good' is not a duration (e.g. 500ms, 10s, 2m)");
  auto q = Args{"--stdout-prefix", "x\r\x01", "true"}.parse();
  REQUIRE(q.action == Parsed::Action::Fail);
  CHECK(q.error.find('\r') == std::string::npos);
  CHECK(q.error.find('\x01') == std::string::npos);
  Args env({"true"}, {"DOCK_KILL_TIMEOUT=\x1b[2J"});
  auto r = env.parse();
  REQUIRE(r.action == Parsed::Action::Fail);
  CHECK(r.error.find("\\x1b[2J") != std::string::npos);
  CHECK(escape_controls(std::string_view("a\tb\x7f\xc3\xa9", 6)) == "a\\tb\\x7f\xc3\xa9");  // UTF-8 passes
}

TEST_CASE("usage traps: bare integers, option-looking values, empty variables, which name is reported", "[options][env]") {
  auto err = [](Args a) { return a.parse().error; };
  CHECK(err({"--kill-timeout", "5", "sh"}) == "--kill-timeout: 5 needs a unit, e.g. 5s");
  CHECK(Args({"sh"}, {"DOCK_KILL_TIMEOUT=10"}).parse().error == "DOCK_KILL_TIMEOUT: 10 needs a unit, e.g. 10s");
  CHECK(Args({"--kill-timeout", "0", "sh"}).parse().config.kill_timeout_ms == 0);
  CHECK(Args({"--io", "a.log", "--log-rotate", "24", "sh"}).parse().config.log_rotate_ms == 24 * 3'600'000);
  // A value never starts with -- unless written --opt=--value.
  CHECK(err({"--io", "--tty", "true"}) ==
        "--io: needs a value, not the option --tty (a value that starts with -- is written --io=--...)");
  Args with_eq({"--io=--tty", "true"});
  Parsed eq = with_eq.parse();
  CHECK(eq.action == Parsed::Action::Run);
  CHECK(eq.config.io.path == "--tty");
  // An empty variable is an unset one, and still kept from the child.
  Args empty({"sh"}, {"DOCK_IO=", "DOCK_LOG_MAX_SIZE=", "KEEP=1"});
  Parsed off = empty.parse();
  REQUIRE(off.action == Parsed::Action::Run);
  CHECK(off.config.io.scheme == Scheme::Inherit);
  CHECK(env_of(off) == std::vector<std::string>{"KEEP=1"});
  // An error after parsing names what the user set: the variable, not a flag.
  CHECK(Args({"sh"}, {"DOCK_IO=tcp://log:514", "DOCK_LOG_MAX_SIZE=10m"}).parse().error ==
        "DOCK_LOG_MAX_SIZE: needs a file DOCK_IO (rotation is for a log file); DOCK_IO=tcp://log:514");
  CHECK(Args({"--io", "tcp://log:514", "sh"}, {"DOCK_LOG_MAX_SIZE=10m"}).parse().error ==
        "DOCK_LOG_MAX_SIZE: needs a file --io (rotation is for a log file)");
}

// The option table is the one list of options: --help is made from it, and
// README's table must name every row, flag and variable.
TEST_CASE("every option of the table is in --help and in README's table", "[options]") {
  const std::string help = usage();
  const std::string dir = std::string(__FILE__).substr(0, std::string(__FILE__).rfind('/') + 1);
  std::ifstream file(dir + "../README.md");
  REQUIRE(file);
  const std::string readme((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  for (const auto& o : kOptions) {
    const std::string flag = "--" + std::string(o.name);
    INFO(flag);
    const std::string shown = o.short_name != 0 ? std::string("-") + o.short_name + ", " + flag : flag;
    const std::string row = o.short_name != 0 ? std::string("-") + o.short_name + "`, `" + flag : flag;
    CHECK(help.find("\n  " + shown) != std::string::npos);
    CHECK(readme.find("\n| `" + row) != std::string::npos);
    if (o.takes == Takes::Meta) continue;
    std::string var = "DOCK_";
    for (char c : o.name) var += c == '-' ? '_' : ascii_upper(c);
    CHECK(readme.find("| `" + var + "` |") != std::string::npos);
    CHECK(env_names(var, o.name));
  }
}

TEST_CASE("--stop-delay, --exit-map and --pdeath-signal", "[options][stop]") {
  auto p = Args{"--stop-delay", "2s", "--exit-map", "143:0", "--exit-map=1:3", "--pdeath-signal", "KILL", "true"}.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK(p.config.stop_delay_ms == 2000);
  CHECK(p.config.exit_map[143] == 0);
  CHECK(p.config.exit_map[1] == 3);
  CHECK(p.config.exit_map[0] == -1);
  CHECK(p.config.pdeath_signal == SIGKILL);
  p = Args({"true"}, {"DOCK_EXIT_MAP=143:0 130:0,2:7", "DOCK_STOP_DELAY=500ms", "DOCK_PDEATH_SIGNAL=TERM"}).parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK(p.config.exit_map[143] == 0);
  CHECK(p.config.exit_map[130] == 0);
  CHECK(p.config.exit_map[2] == 7);
  CHECK(p.config.stop_delay_ms == 500);
  CHECK(p.config.pdeath_signal == SIGTERM);
  for (auto bad : {"143", ":0", "143:", "256:0", "0:256", "x:0", "1:2:3"}) {
    INFO(bad);
    auto b = Args{"--exit-map", bad, "true"}.parse();
    CHECK(b.action == Parsed::Action::Fail);
    CHECK(b.error.rfind("--exit-map: ", 0) == 0);
  }
  CHECK(Args{"--stop-delay", "3", "true"}.parse().action == Parsed::Action::Fail);
  CHECK(Args{"--pdeath-signal", "SIGNOPE", "true"}.parse().action == Parsed::Action::Fail);
}

TEST_CASE("--notify, --notify-access and NOTIFY_SOCKET", "[options][notify]") {
  Args own({"--notify", "true"}, {"NOTIFY_SOCKET=/run/systemd/notify", "A=1"});
  auto p = own.parse();
  REQUIRE(p.action == Parsed::Action::Run);
  CHECK(p.config.notify == NotifyMode::Own);
  CHECK(p.config.notify_up == "/run/systemd/notify");
  CHECK(env_of(p) == std::vector<std::string>{"A=1"});
  Args pass({"--notify=pass", "true"}, {"NOTIFY_SOCKET=@x"});
  p = pass.parse();
  CHECK(p.config.notify == NotifyMode::Pass);
  CHECK(env_of(p) == std::vector<std::string>{"NOTIFY_SOCKET=@x"});
  Args pass_env({"true"}, {"NOTIFY_SOCKET=@x", "DOCK_NOTIFY=pass"});
  p = pass_env.parse();
  CHECK(p.config.notify == NotifyMode::Pass);
  CHECK(env_of(p) == std::vector<std::string>{"NOTIFY_SOCKET=@x"});
  p = Args({"true"}, {"DOCK_NOTIFY=yes", "DOCK_NOTIFY_ACCESS=all"}).parse();
  CHECK(p.config.notify == NotifyMode::Own);
  CHECK(p.config.notify_all);
  Args off({"true"}, {"NOTIFY_SOCKET=@x"});
  p = off.parse();  // no --notify: not passed on, still dock's
  CHECK(p.config.notify == NotifyMode::Off);
  CHECK(p.config.notify_up == "@x");
  CHECK(env_of(p).empty());
  CHECK(Args{"--notify=", "true"}.parse().action == Parsed::Action::Fail);
  CHECK(Args{"--notify=all", "true"}.parse().action == Parsed::Action::Fail);
  CHECK(Args{"--notify-access", "exec", "true"}.parse().action == Parsed::Action::Fail);
  CHECK(Args({"true"}, {"DOCK_NOTIFY=maybe"}).parse().action == Parsed::Action::Fail);
  sockaddr_un a;
  socklen_t len = 0;
  CHECK(notify_address("/run/notify.sock", a, len));
  CHECK(len == offsetof(sockaddr_un, sun_path) + 17);
  CHECK(notify_address("@abc", a, len));
  CHECK(a.sun_path[0] == '\0');
  CHECK(len == offsetof(sockaddr_un, sun_path) + 4);
  CHECK_FALSE(notify_address("relative", a, len));
  CHECK_FALSE(notify_address(std::string(200, '/'), a, len));
}

TEST_CASE("dock --check [PATH]", "[options][check]") {
  auto p = Args{"--check", "/run/dock.ready"}.parse();
  CHECK(p.action == Parsed::Action::Check);
  CHECK(p.check_path == "/run/dock.ready");
  p = Args{"--check=/a"}.parse();
  CHECK(p.check_path == "/a");
  p = Args({"--check"}, {"DOCK_READY_FILE=/b"}).parse();
  CHECK(p.action == Parsed::Action::Check);
  CHECK(p.check_path == "/b");
  p = Args({"--check", "/c"}, {"DOCK_READY_FILE=/b"}).parse();
  CHECK(p.check_path == "/c");
  CHECK(Args{"--check"}.parse().action == Parsed::Action::Fail);
  CHECK(Args{"--check"}.parse().checking);  // its usage errors are exit 1
  CHECK(Args{"--check", "/a", "extra"}.parse().action == Parsed::Action::Fail);
  p = Args({"--check", "tcp://db:5432", "--check-timeout", "2s"}, {"DOCK_CHECK_TIMEOUT=5s"}).parse();
  CHECK(p.action == Parsed::Action::Check);
  CHECK(p.check_path == "tcp://db:5432");
  CHECK(p.config.check_timeout_ms == 2000);  // the flag beats the variable
  p = Args({"--check-timeout=300ms", "--check", "http://x/"}).parse();
  CHECK(p.config.check_timeout_ms == 300);
  p = Args({"--check", "unix:///run/app.sock"}, {"DOCK_CHECK_TIMEOUT=5s"}).parse();
  CHECK(p.config.check_timeout_ms == 5000);
  CHECK(Args{"--check", "tcp://x:1"}.parse().config.check_timeout_ms == 1000);
  CHECK(Args{"--check", "tcp://x:1", "--check-timeout", "0s"}.parse().action == Parsed::Action::Fail);
  CHECK(Args{"--check-timeout", "1s", "true"}.parse().error == "--check-timeout: only with --check (dock --check URL --check-timeout 2s)");
  CHECK(Args({"true"}, {"DOCK_CHECK_TIMEOUT=3s"}).parse().action == Parsed::Action::Run);  // the image's, for its probes
  CHECK(is_probe_url("tcp://db:5432"));
  CHECK(is_probe_url("HTTPS://h/"));
  CHECK_FALSE(is_probe_url("/run/ready"));
  CHECK_FALSE(is_probe_url("file:///run/ready"));
  CHECK(version_text().rfind("dock version " + std::string(kVersion) + "\n", 0) == 0);
}

TEST_CASE("the worst-case stop: unbounded without --stop-timeout; delay, stop timeout, kill timeout per program, the hook alongside", "[stop]") {
  Config c;
  c.kill_timeout_ms = 3000;
  c.stop_delay_ms = 2000;
  CHECK(worst_stop_ms(c, 0) == -1);  // the command takes as long as it needs, as under tini
  CHECK(worst_after_end_ms(c, 2) == 9000);
  REQUIRE_FALSE(parse_stop_timeout("20s", c));
  CHECK(worst_stop_ms(c, 0) == 2000 + 20000 + 3000);
  CHECK(worst_stop_ms(c, 2) == 2000 + 20000 + 9000);
  REQUIRE_FALSE(parse_web_hook("http://127.0.0.1:1/h", c));
  c.kill_timeout_ms = 1000;
  CHECK(worst_after_end_ms(c, 0) == 5000);  // the hook's last wait, at most 5 s
  const Error bare = parse_stop_timeout("5", c);
  REQUIRE(bare);
  CHECK(*bare == "5 needs a unit, e.g. 5s");
}

TEST_CASE("typos: the closest option, one dash, a DOCK_* variable no option has", "[options]") {
  CHECK(edit_distance("kill-timout", "kill-timeout") == 1);
  CHECK(edit_distance("kilL-timeout", "kill-timeout") == 1);
  CHECK(edit_distance("kill-tiemout", "kill-timeout") == 1);  // two neighbours swapped
  CHECK(edit_distance("", "io") == 2);
  CHECK(Args{"--kill-timout", "5s", "true"}.parse().error == "--kill-timout: unknown option; did you mean --kill-timeout?");
  CHECK(Args{"--stoptimeout", "5s", "true"}.parse().error == "--stoptimeout: unknown option; did you mean --stop-timeout?");
  CHECK(Args{"--bogus", "true"}.parse().error == "--bogus: unknown option (see dock --help)");
  CHECK(Args{"-kill-timeout", "5s", "true"}.parse().error == "-kill-timeout: long options take two dashes: --kill-timeout");
  CHECK(Args{"-io=x.log", "true"}.parse().error == "-io: long options take two dashes: --io");
  CHECK(Args{"-dV"}.parse().action == Parsed::Action::Version);  // short options still group
  auto p = Args({"true"}, {"DOCK_KILLTIMEOUT=5s", "DOCK_COLOUR=red", "DOCK_EXIT_STATUS=0", "DOCK_CPUS=2", "DOCK_MEMORY_MAX=1"}).parse();
  CHECK(p.action == Parsed::Action::Run);
  CHECK(p.warnings == std::vector<std::string>{"DOCK_KILLTIMEOUT: not a dock option; did you mean DOCK_KILL_TIMEOUT? (left to the command)",
                                               "DOCK_COLOUR: not a dock option (left to the command)"});
  CHECK(p.config.kill_timeout_ms == 5000);  // the default: the typo set nothing
}
