// Interactive use through a real pseudo-terminal: a shell under dock gets
// the terminal with job control; Ctrl-C reaches the foreground job straight
// from the terminal; Ctrl-Z stops dock's child and gives the user's shell
// its prompt back, and `fg` resumes it.
#include "kit.hpp"

#include <termios.h>

using namespace t;

namespace {

// A line the terminal shows only when the command runs (the typed echo of
// the command shows st""arted instead), followed by a process that waits
// in the foreground.
const std::string kForegroundJob = "sh -c 'echo st\"\"arted; exec sleep 100'\n";

void interactive_shell_under_dock(bool pid1, const std::vector<std::string>& options = {}) {
  std::vector<std::string> argv;
  if (pid1) argv = pid1_prefix();
  argv.push_back(dock_path());
  argv.push_back("-d");
  argv.insert(argv.end(), options.begin(), options.end());
  for (auto a : {std::string("--"), std::string("sh"), std::string("-i")}) argv.push_back(a);
  Pty term = Pty::start(argv, {"PS1=PROMPT$ ", "ENV="});
  REQUIRE(term.expect("PROMPT$ "));
  term.type("tty\n");
  CHECK(term.expect("/dev/pts/"));
  REQUIRE(term.expect("PROMPT$ "));
  term.type("echo uid-$(id -u)\n");
  CHECK(term.expect(options.empty() ? "uid-0" : "uid-65534"));
  REQUIRE(term.expect("PROMPT$ "));

  // Ctrl-C ends the shell's foreground job, not the shell, and it comes
  // from the terminal itself: dock has nothing to forward.
  term.type(kForegroundJob);
  REQUIRE(term.expect("started"));
  term.type("\x03");
  REQUIRE(term.expect("PROMPT$ "));
  term.type("echo alive-$?\n");
  CHECK(term.expect("alive-130"));

  term.type("exit 3\n");
  auto st = term.wait_exit();
  REQUIRE(st.has_value());
  CHECK(WIFEXITED(*st));
  CHECK(WEXITSTATUS(*st) == 3);
  read_to_eof(term.master, term.buf, now_ms() + 2000);
  INFO(term.buf);
  CHECK(term.buf.find("job control turned off") == std::string::npos);
  CHECK(term.buf.find("can't access tty") == std::string::npos);
  CHECK(term.buf.find("forwarding SIGINT") == std::string::npos);
}

}  // namespace

// ---- --tty: the child on a pseudo-terminal of its own ----

// Whether `text` at `at` is "/dev/pts/N\r\n"; moves `at` past it.
static bool pts_line(const std::string& text, size_t& at) {
  const std::string head = "/dev/pts/";
  if (text.compare(at, head.size(), head) != 0) return false;
  size_t i = at + head.size(), digits = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i, ++digits;
  if (digits == 0 || text.compare(i, 2, "\r\n") != 0) return false;
  at = i + 2;
  return true;
}

TEST_CASE("review 14: --tty --user: the command can open its own terminal again", "[review][tty][user][pid1]") {
  const bool pid1 = each_mode();
  Proc p = run_dock({"--tty", "--user", "nobody", "--", "sh", "-c", "exec 3<>\"$(tty)\" && echo reopened"}, {.pid1 = pid1});
  CHECK(p.exit_code() == 0);
  CHECK(p.out_buf.find("reopened") != std::string::npos);
}

TEST_CASE("a shell under dock gets the terminal and job control", "[tty]") {
  interactive_shell_under_dock(false);
}

TEST_CASE("as PID 1 with a terminal, Ctrl-C reaches the foreground job directly", "[tty][pid1]") {
  interactive_shell_under_dock(true);
}

TEST_CASE("a shell under --user nobody keeps the terminal and job control", "[tty][user][pid1]") {
  interactive_shell_under_dock(each_mode(), {"--user", "nobody"});
}

TEST_CASE("from an interactive bash: Ctrl-Z stops, fg resumes, Ctrl-C ends with 130", "[tty]") {
  if (!have("bash")) {
    skip("bash is not installed");
    return;
  }
  Pty term = Pty::start({"bash", "--norc", "--noprofile", "-i"}, {"PS1=PROMPT> "});
  REQUIRE(term.expect("PROMPT> "));
  term.type(dock_path() + " -d -- " + kForegroundJob);
  REQUIRE(term.expect("started"));

  term.type("\x1a");  // Ctrl-Z
  CHECK(term.expect("Stopped"));
  REQUIRE(term.expect("PROMPT> "));
  term.type("echo still-here\n");  // bash has its prompt and terminal back
  CHECK(term.expect("still-here"));
  REQUIRE(term.expect("PROMPT> "));

  term.type("fg\n");
  // dock was continued in the foreground: it hands the terminal to its
  // child, then forwards SIGCONT (logged after the hand-over).
  REQUIRE(term.expect("forwarding SIGCONT"));
  const size_t after_fg = term.cursor;
  term.type("\x03");  // Ctrl-C, to the child's group straight from the terminal
  REQUIRE(term.expect("PROMPT> "));
  term.type("echo rc-$?\n");
  CHECK(term.expect("rc-130"));
  CHECK(term.buf.find("forwarding SIGINT", after_fg) == std::string::npos);

  term.type("jobs; echo jobs-listed\n");  // nothing of dock's is left behind
  REQUIRE(term.expect("jobs-listed"));
  CHECK(term.buf.find("Stopped", after_fg) == std::string::npos);
  term.type("exit 0\n");
  CHECK(term.wait_exit().has_value());
}

TEST_CASE("--tty over TCP: the child has a terminal, input is echoed by it", "[tty][tcp]") {
  const int port = free_port();
  Proc peer = listen_with_socat("TCP-LISTEN:" + std::to_string(port) + ",bind=127.0.0.1");
  Proc dock = start_dock({"--tty", "--io", "tcp://127.0.0.1:" + std::to_string(port), "--", "sh", "-c",
                          "tty; stty size; test -t 0 && test -t 2 && echo all-on-the-tty; "
                          "read x; echo \"got $x\""});
  REQUIRE(peer.wait_out("all-on-the-tty\r\n"));
  size_t at = 0;
  CHECK(pts_line(peer.out_buf, at));
  CHECK(peer.out_buf.compare(at, 7, "24 80\r\n") == 0);  // dock has no terminal: 80x24
  peer.send("hello\n");
  REQUIRE(peer.wait_out("got hello\r\n"));
  CHECK(peer.out_buf.find("hello\r\ngot hello") != std::string::npos);  // the pty's own echo, then the answer
  CHECK(dock.exit_code() == 0);
  CHECK(dock.out_buf.empty());
}

TEST_CASE("--tty over TLS and into a file", "[tty][tls]") {
  const std::string dir = temp_path("tty-certs");
  REQUIRE(std::system(("scripts/make-test-certs.sh " + dir).c_str()) == 0);
  const int port = free_port();
  Proc peer = listen_with_socat("OPENSSL-LISTEN:" + std::to_string(port) + ",bind=127.0.0.1,cert=" + dir +
                                "/server.pem,key=" + dir + "/server.key,verify=0");
  Proc dock = start_dock({"--tty", "--io", "tls://localhost:" + std::to_string(port) + "?ca=" + dir + "/ca.pem",
                          "--", "sh", "-c", "tty; read x; echo \"got $x\""});
  REQUIRE(peer.wait_out("\r\n"));
  size_t at = 0;
  CHECK(pts_line(peer.out_buf, at));
  peer.send("secret\n");
  REQUIRE(peer.wait_out("got secret\r\n"));
  CHECK(dock.exit_code() == 0);

  // A file target: output to the file, input from dock's stdin (here none).
  const std::string path = temp_path("tty.log");
  unlink(path.c_str());
  Proc f = run_dock({"--tty", "--io", path, "--stdout-prefix", "T ", "--", "sh", "-c", "tty; echo two"});
  CHECK(f.exit_code() == 0);
  const std::string log = read_file(path);
  size_t pos = 2;
  CHECK(log.rfind("T ", 0) == 0);
  CHECK(pts_line(log, pos));
  CHECK(log.substr(pos) == "T two\r\n");
  unlink(path.c_str());
  std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("--tty on dock's own terminal: keys pass raw, window size follows, terminal restored", "[tty]") {
  Pty term = Pty::start({dock_path(), "--tty", "--", "bash", "--norc", "-c",
                         "read -n 3 x; echo \"got $x\"; " + helper() + " winch; echo bye; exit 5"});
  term.type("abc");  // no newline: only a raw outer terminal passes these on at once
  REQUIRE(term.expect("got abc"));
  REQUIRE(term.expect("size 40 120"));  // the size of the terminal dock runs on
  winsize ws{30, 100, 0, 0};
  REQUIRE(ioctl(term.master, TIOCSWINSZ, &ws) == 0);  // SIGWINCH to dock
  REQUIRE(term.expect("size 30 100"));
  term.type("\x04");  // ^D reaches the child's terminal: end of input
  REQUIRE(term.expect("bye"));
  auto st = term.wait_exit();
  REQUIRE(st.has_value());
  CHECK(WIFEXITED(*st));
  CHECK(WEXITSTATUS(*st) == 5);
  termios after{};
  REQUIRE(tcgetattr(term.master, &after) == 0);
  CHECK((after.c_lflag & ICANON) != 0);  // dock put its terminal back as it found it
  CHECK((after.c_lflag & ECHO) != 0);
}
