// Interactive use through a real pseudo-terminal: a shell under dock gets
// the terminal with job control; Ctrl-C reaches the foreground job straight
// from the terminal; Ctrl-Z stops dock's child and gives the user's shell
// its prompt back, and `fg` resumes it.
#include "harness.hpp"

using namespace t;

namespace {

// A line the terminal shows only when the command runs (the typed echo of
// the command shows st""arted instead), followed by a process that waits
// in the foreground.
const std::string kForegroundJob = "sh -c 'echo st\"\"arted; exec sleep 100'\n";

void interactive_shell_under_dock(bool pid1) {
  std::vector<std::string> argv;
  if (pid1) argv = pid1_prefix();
  for (auto a : {dock_path(), std::string("-d"), std::string("--"), std::string("sh"), std::string("-i")})
    argv.push_back(a);
  Pty term = Pty::start(argv, {"PS1=PROMPT$ ", "ENV="});
  REQUIRE(term.expect("PROMPT$ "));
  term.type("tty\n");
  CHECK(term.expect("/dev/pts/"));
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

TEST_CASE("a shell under dock gets the terminal and job control", "[tty]") {
  interactive_shell_under_dock(false);
}

TEST_CASE("as PID 1 with a terminal, Ctrl-C reaches the foreground job directly", "[tty][pid1]") {
  interactive_shell_under_dock(true);
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
