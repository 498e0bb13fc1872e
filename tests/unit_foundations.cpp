// Unit tests of sections 1 and 2: exit codes as a shell gives them,
// signal names and numbers, durations and sizes.
#define DOCK_NO_MAIN
#include "../dock.cpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace dock;

TEST_CASE("signal names and numbers", "[signals]") {
  CHECK(signal_from_name("15") == SIGTERM);
  CHECK(signal_from_name("TERM") == SIGTERM);
  CHECK(signal_from_name("SIGTERM") == SIGTERM);
  CHECK(signal_from_name("sigterm") == SIGTERM);
  CHECK(signal_from_name("Hup") == SIGHUP);
  CHECK(signal_from_name("CHLD") == SIGCHLD);
  CHECK(signal_from_name("WINCH") == SIGWINCH);
  CHECK(signal_from_name("RTMIN") == SIGRTMIN);
  CHECK(signal_from_name("SIGRTMIN+3") == SIGRTMIN + 3);
  CHECK(signal_from_name("RTMAX-2") == SIGRTMAX - 2);
  CHECK(signal_from_name("64") == 64);
  for (auto bad : {"", "0", "65", "-1", "SIG", "TERMX", "RTMIN-1", "RTMAX+1", "RTMIN+99", "1.5", " 1"})
    CHECK_FALSE(signal_from_name(bad).has_value());
  for (int s = 1; s <= 31; ++s) CHECK(signal_from_name(signal_name(s)) == s);
  for (int s = SIGRTMIN; s <= SIGRTMAX; ++s) CHECK(signal_from_name(signal_name(s)) == s);
  CHECK(signal_name(SIGUSR1) == "USR1");
  CHECK(signal_name(SIGRTMIN + 2) == "RTMIN+2");
}

TEST_CASE("durations", "[options]") {
  CHECK_FALSE(parse_duration("1").has_value());  // a bare integer needs a unit ...
  CHECK(parse_duration("1", true) == 3'600'000);  // ... but where it is hours (--log-rotate)
  CHECK(parse_duration("0") == 0);                // zero needs none
  CHECK(parse_duration("250ms") == 250);
  CHECK(parse_duration("10s") == 10'000);
  CHECK(parse_duration("1.5s") == 1'500);
  CHECK(parse_duration("2m") == 120'000);
  CHECK(parse_duration("3h") == 10'800'000);
  CHECK(parse_duration("1d") == 86'400'000);
  CHECK(parse_duration("0.25", true) == 900'000);
  CHECK_FALSE(parse_duration("0.25").has_value());
  for (auto bad : {"", "s", "ms", "-1s", "1.s", ".5s", "1e3s", "10 s", "1sec", "999999999999d", "1.1234567890s"})
    CHECK_FALSE(parse_duration(bad).has_value());
}

TEST_CASE("exit codes follow the shell", "[exit]") {
  CHECK(exit_code_of(0) == 0);
  CHECK(exit_code_of(3 << 8) == 3);
  CHECK(exit_code_of(255 << 8) == 255);
  CHECK(exit_code_of(SIGTERM) == 143);  // status of a process killed by SIGTERM
  CHECK(exit_code_of(SIGKILL) == 137);
  CHECK(exec_failure_code(ENOENT) == Exit::NotFound);
  CHECK(exec_failure_code(ENOTDIR) == Exit::NotFound);
  CHECK(exec_failure_code(EACCES) == Exit::NotExecutable);
  CHECK(exec_failure_code(ENOEXEC) == Exit::NotExecutable);
}

TEST_CASE("sizes", "[rotate]") {
  CHECK(parse_size("100") == 100);
  CHECK(parse_size("100b") == 100);
  CHECK(parse_size("64k") == 64 * 1024);
  CHECK(parse_size("64K") == 64 * 1024);
  CHECK(parse_size("64KiB") == 64 * 1024);
  CHECK(parse_size("10m") == 10 << 20);
  CHECK(parse_size("10MB") == 10 << 20);
  CHECK(parse_size("2g") == int64_t(2) << 30);
  for (auto bad : {"", "k", "1.5m", "-1", "10x", "m10", "1 m", "99999999999g"}) {
    INFO(bad);
    CHECK_FALSE(parse_size(bad).has_value());
  }
  CHECK(parse_duration("1s") == 1000);  // --log-rotate uses the durations of --kill-timeout
  CHECK(parse_duration("24", true) == 24 * 3'600'000);
}
