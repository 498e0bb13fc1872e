// Unit tests of section 5: every (phase, event) pair of the lifecycle
// against the transitions the SPEC describes, written out here
// independently of dock's table; the queue that keeps events in the order
// they happened; the process table; the exit status through --exit-map.
#define DOCK_NO_MAIN
#include "../dock.cpp"

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <utility>
#include <vector>

using namespace dock;

namespace {

using P = Phase;
using E = Event;

// What each event does in each phase: the phase after it. A pair not
// listed must change nothing.
const std::map<std::pair<P, E>, P> kExpected = {
    {{P::Waiting, E::WaitOver}, P::SettingUp},      // --wait-for answered
    {{P::Waiting, E::WaitFailed}, P::Done},         // --wait-timeout: exit 1, nothing runs
    {{P::Waiting, E::Interrupted}, P::Done},        // SIGTERM while waiting: 128+15 at once
    {{P::SettingUp, E::SetupDone}, P::Starting},
    {{P::SettingUp, E::SetupFailed}, P::Done},      // its status is dock's; no teardown
    {{P::SettingUp, E::Interrupted}, P::Done},
    {{P::Starting, E::Started}, P::Running},
    {{P::Starting, E::StartFailed}, P::Terminating},  // setup's leftovers end; teardown still runs
    {{P::Running, E::StopAsked}, P::Delaying},
    {{P::Running, E::ChildEnded}, P::Terminating},
    {{P::Delaying, E::DelayOver}, P::Stopping},
    {{P::Delaying, E::ChildEnded}, P::Terminating},
    {{P::Stopping, E::GraceOver}, P::Stopping},     // --stop-timeout: SIGKILL, then wait for its end
    {{P::Stopping, E::ChildEnded}, P::Terminating},
    {{P::Terminating, E::GraceOver}, P::Killing},
    {{P::Terminating, E::AllReaped}, P::Teardown},
    {{P::Killing, E::GraceOver}, P::Killing},       // look again
    {{P::Killing, E::AllReaped}, P::Teardown},
    {{P::Teardown, E::TeardownDone}, P::Draining},
    {{P::Draining, E::Settled}, P::Done},
};

struct Recorder {
  Init* init = nullptr;
  std::vector<std::string> heard;
  bool inside = false;
  bool reentered = false;
};

void hear(Recorder& r, Event e) {
  if (r.inside) r.reentered = true;
  r.inside = true;
  r.heard.push_back(std::to_string(int(e)) + "@" + std::to_string(int(r.init->phase)));
  // What a feature does when it hears an event: it posts the next one
  // (setup starting the command, the teardown finding nothing to run).
  if (e == E::WaitOver) {
    post(*r.init, E::SetupDone);
    post(*r.init, E::Started);
  }
  r.inside = false;
}

}  // namespace

TEST_CASE("the process table: ppid parsing and descendants", "[proc]") {
  CHECK(ppid_from_stat("42 (sleep) S 7 42 42 0 -1") == 7);
  CHECK(ppid_from_stat("42 (a) b) c) R 9 1 1") == 9);  // ')' and blanks in the name
  CHECK(ppid_from_stat("42 (x) Z 0 0") == 0);
  CHECK_FALSE(ppid_from_stat("garbage").has_value());
  CHECK_FALSE(ppid_from_stat("42 (x) S").has_value());

  // 10 is us; 11 and 12 our children; 13 under 11; 14 setsid'ed under 13;
  // 20 and 21 are someone else's.
  std::vector<ProcLink> links{{1, 0}, {10, 1}, {11, 10}, {12, 10}, {13, 11},
                              {14, 13}, {20, 1}, {21, 20}};
  auto d = descendants_in(links, 10);
  std::sort(d.begin(), d.end());
  CHECK(d == std::vector<pid_t>{11, 12, 13, 14});
  CHECK(descendants_in(links, 14).empty());
  CHECK(descendants_in({}, 10).empty());
}

TEST_CASE("the exit status: the command's through --exit-map, dock's own never", "[exit][stop]") {
  InitConfig c;
  REQUIRE_FALSE(add_exit_map("143:0", c));
  REQUIRE_FALSE(add_exit_map("1:9", c));
  Init in(c);
  in.status = W_EXITCODE(0, SIGTERM);  // killed by SIGTERM: 143
  in.command_status = true;
  CHECK(exit_status(in) == 0);
  in.status = W_EXITCODE(1, 0);
  CHECK(exit_status(in) == 9);
  in.status = W_EXITCODE(2, 0);
  CHECK(exit_status(in) == 2);
  in.command_status = false;  // dock's own 1 (a setup failure)
  in.status = W_EXITCODE(1, 0);
  CHECK(exit_status(in) == 1);
}

TEST_CASE("every phase and event: the transition, or none", "[lifecycle]") {
  size_t rows = 0;
  for (size_t p = 0; p < kPhases; ++p)
    for (size_t e = 0; e < kEvents; ++e) {
      const auto key = std::make_pair(P(p), E(e));
      const Transition* t = transition(P(p), E(e));
      const auto want = kExpected.find(key);
      INFO("phase " << p << ", event " << e);
      if (want == kExpected.end()) {
        CHECK(t == nullptr);
        continue;
      }
      ++rows;
      REQUIRE(t != nullptr);
      CHECK(t->to == want->second);
    }
  CHECK(rows == kExpected.size());
  CHECK(kLifecycle.size() == kExpected.size());  // no row twice
}

TEST_CASE("the lifecycle ends in Done from every phase", "[lifecycle]") {
  // Whatever phase dock is in, some chain of events reaches Done: no phase
  // is a trap the loop would spin in for ever.
  for (size_t start = 0; start < kPhases; ++start) {
    std::vector<bool> seen(kPhases, false);
    std::vector<P> todo{P(start)};
    seen[start] = true;
    while (!todo.empty()) {
      const P p = todo.back();
      todo.pop_back();
      for (const auto& t : kLifecycle)
        if (t.from == p && !seen[size_t(t.to)]) {
          seen[size_t(t.to)] = true;
          todo.push_back(t.to);
        }
    }
    INFO("from phase " << start);
    CHECK(seen[size_t(P::Done)]);
  }
  for (const auto& t : kLifecycle) CHECK(t.from != P::Done);  // Done is the end
}

TEST_CASE("events are queued: heard one at a time, in the order posted", "[lifecycle]") {
  InitConfig cfg;
  Loop loop;
  Init init(cfg);
  init.loop = &loop;
  Recorder r;
  r.init = &init;
  init.on_event = callback<hear, Event>(r);
  post(init, E::StopAsked);  // no row in Waiting: not heard, nothing changes
  CHECK(init.phase == P::Waiting);
  CHECK(r.heard.empty());
  post(init, E::WaitOver);
  CHECK_FALSE(r.reentered);
  // Each event heard after its transition, SetupDone after WaitOver's
  // handling was over, Started after SetupDone.
  CHECK(r.heard == std::vector<std::string>{
                       std::to_string(int(E::WaitOver)) + "@" + std::to_string(int(P::SettingUp)),
                       std::to_string(int(E::SetupDone)) + "@" + std::to_string(int(P::Starting)),
                       std::to_string(int(E::Started)) + "@" + std::to_string(int(P::Running)),
                   });
  CHECK(init.phase == P::Running);
  CHECK(init.queued == 0);
  CHECK_FALSE(init.dispatching);
}
