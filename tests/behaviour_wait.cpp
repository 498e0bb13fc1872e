// --wait-for and --wait-timeout (SPEC §10) through the real ./dock: each
// target in turn, names resolved off the loop, a stop while waiting.
#include "kit.hpp"

using namespace t;

TEST_CASE("--wait-for: the command starts once the port listens, not before", "[before][wait-for][pid1]") {
  const bool pid1 = each_mode();
  const int port = free_port();
  Proc dock = start_dock({"-d", "--wait-for", "tcp://127.0.0.1:" + std::to_string(port), "--", "echo", "started"},
                         {.pid1 = pid1});
  REQUIRE(dock.wait_err("again in"));  // it tried, and waits
  CHECK(dock.out_buf.empty());
  const int listener = listen_on(port);
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

TEST_CASE("review 4: a name server that does not answer delays no signal and no deadline", "[review][wait-for][io][pid1]") {
  const bool pid1 = each_mode();
  SilentResolver dns;
  Options o{.pid1 = pid1};
  const auto in_ns = dns.run_in();

  int64_t start = now_ms();
  Proc wait = Proc::start(wrapped(in_ns, {"--wait-for", "tcp://db.example:5432", "--wait-timeout", "2s", "--", "echo", "ran"}), dock_options(o));
  wait.close_in();
  CHECK(wait.exit_code(15000) == 1);
  const int64_t took = now_ms() - start;
  CHECK(took < 7000);  // glibc alone waits 10 s; the message below says which bound held
  wait.drain();
  CHECK(wait.out_buf.empty());
  CHECK(wait.err_buf == "dock: waited 2s for tcp://db.example:5432: db.example: no answer from the name server\n");

  Proc stop = Proc::start(wrapped(in_ns, {"-d", "--wait-for", "tcp://db.example:5432", "--", "echo", "ran"}), dock_options(o));
  // Once dock has forked its resolver, the lookup is under way.
  pid_t dock = -1;
  const int64_t deadline = now_ms() + kTimeoutMs;
  for (;;) {
    dock = stop.dock_pid();
    if (dock > 1 && !children_of(dock).empty()) break;
    REQUIRE(now_ms() < deadline);
    pollfd none{-1, 0, 0};
    poll(&none, 1, 10);  // a fork has no event the test could wait on
  }
  const int64_t sent = now_ms();
  REQUIRE(signal_pid(dock, SIGTERM));
  CHECK(stop.exit_code(15000) == 143);
  CHECK(now_ms() - sent < 1000);

  start = now_ms();
  Proc io = Proc::start(wrapped(in_ns, {"--io", "tcp://logs.example:5000", "--", "echo", "ran"}), dock_options(o));
  io.close_in();
  CHECK(io.exit_code(15000) == 1);
  CHECK(now_ms() - start < 9000);  // the connect's 5 s (and a loaded machine's start-up), not glibc's 10
  io.drain();
  // dock's 5 s or the resolver's own (musl gives up after 5 s too: EAI_AGAIN)
  CHECK((io.err_buf == "dock: tcp://logs.example:5000: logs.example: no answer from the name server in time\n" ||
         io.err_buf == "dock: tcp://logs.example:5000: logs.example: the name server failed or did not answer in time\n"));
}

TEST_CASE("review 10: --wait-for tries a name's next address when the first is black-holed", "[review][wait-for]") {
  // twoaddr is ::1 (tried first) and 127.0.0.1. On ::1 the port's accept
  // queue is full, so a connect gets no answer at all; 127.0.0.1 accepts.
  Dir dir("review-10");
  const std::string hosts = dir.path + "/hosts";
  const int port = free_port();
  int full = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 a6{};
  a6.sin6_family = AF_INET6;
  a6.sin6_addr = in6addr_loopback;
  a6.sin6_port = htons(uint16_t(port));
  int one = 1;
  setsockopt(full, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  REQUIRE(bind(full, reinterpret_cast<sockaddr*>(&a6), sizeof a6) == 0);
  REQUIRE(listen(full, 0) == 0);
  std::vector<int> fillers;
  for (int i = 0; i < 2; ++i) {
    int c = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    connect(c, reinterpret_cast<sockaddr*>(&a6), sizeof a6);
    fillers.push_back(c);
  }
  int open4 = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a4{};
  a4.sin_family = AF_INET;
  a4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a4.sin_port = htons(uint16_t(port));
  REQUIRE(bind(open4, reinterpret_cast<sockaddr*>(&a4), sizeof a4) == 0);
  REQUIRE(listen(open4, 16) == 0);
  write(hosts, "::1 twoaddr\n127.0.0.1 twoaddr\n");
  const int64_t start = now_ms();
  Proc p = Proc::start(wrapped(with_file(hosts, "/etc/hosts"),
                               {"--wait-for", "tcp://twoaddr:" + std::to_string(port), "--wait-timeout", "8s", "--", "echo", "ran"}),
                       dock_options({}));
  p.close_in();
  CHECK(p.exit_code(15000) == 0);
  CHECK(now_ms() - start < 6000);
  p.drain();
  CHECK(p.out_buf == "ran\n");
  for (int fd : fillers) close(fd);
  close(full);
  close(open4);
}

TEST_CASE("review 11: relative --wait-for file:// and unix:// paths are the caller's", "[review][wait-for][pid1]") {
  const bool pid1 = each_mode();
  Dir dir(pid1 ? "review-11-1" : "review-11");
  write(dir.path + "/ready", "");
  Proc file = run_wrapped({}, {"--wait-for", "file://ready", "--wait-timeout", "2s", "--", "echo", "ran"}, {.pid1 = pid1, .cwd = dir.path});
  CHECK(file.exit_code() == 0);
  CHECK(file.out_buf == "ran\n");
  Proc sock = Proc::start({"socat", "-d", "-d", "UNIX-LISTEN:" + dir.path + "/sock,fork", "/dev/null"});
  REQUIRE(sock.wait_err("listening on"));
  Proc unix_ = run_wrapped({}, {"--wait-for", "unix://sock", "--wait-timeout", "2s", "--", "echo", "ran"}, {.pid1 = pid1, .cwd = dir.path});
  CHECK(unix_.exit_code() == 0);
  CHECK(unix_.out_buf == "ran\n");
}
