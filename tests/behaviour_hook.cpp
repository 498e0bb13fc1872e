// --web-hook, --bind-port and --ready-file through the real dock, against a
// real HTTP server on loopback (tests/http_server.hpp) and, for https://,
// socat's OPENSSL-LISTEN in front of it with a CA made for this run.
#include "http_server.hpp"

#include <sys/stat.h>

using namespace t;

namespace {

Json ps_of(const HttpRequest& r) {
  auto j = Json::parse(r.body);
  INFO(r.body);
  REQUIRE(j);
  REQUIRE(j->kind == Json::Object);
  REQUIRE(j->members.size() == 1);
  const Json* ps = j->get("ps");
  REQUIRE(ps);
  return *ps;
}

std::string status_of(const HttpRequest& r) {
  Json ps = ps_of(r);
  const Json* s = ps.get("status");
  REQUIRE(s);
  return s->text;
}

std::vector<std::string> statuses(HttpServer& server) {
  std::vector<std::string> out;
  for (const auto& r : server.requests()) out.push_back(status_of(r));
  return out;
}

pid_t pid_from(const std::string& out, const std::string& role) {
  const size_t at = out.find("ready " + role + " ");
  REQUIRE(at != std::string::npos);
  return pid_t(std::atol(out.c_str() + at + 7 + role.size()));
}

int64_t listen_time(const std::string& out) {
  const size_t at = out.find("listening ");
  REQUIRE(at != std::string::npos);
  return std::atoll(out.c_str() + at + 10);
}

bool exists(const std::string& path) {
  struct stat sb;
  return stat(path.c_str(), &sb) == 0;
}

const std::string& certs() {
  static const std::string dir = [] {
    std::string d = temp_path("hook-certs");
    REQUIRE(std::system(("scripts/make-test-certs.sh " + d).c_str()) == 0);
    return d;
  }();
  return dir;
}

// socat on `port` ending TLS (the test server certificate) in front of
// the plain HTTP `server`.
Proc https_front(int port, const HttpServer& server) {
  Proc front = Proc::start({"socat", "-d", "-d", "OPENSSL-LISTEN:" + std::to_string(port) +
                            ",bind=127.0.0.1,reuseaddr,fork,verify=0,cert=" + certs() + "/server.pem,key=" +
                            certs() + "/server.key", "TCP:127.0.0.1:" + std::to_string(server.port)});
  REQUIRE(front.wait_err("listening on"));
  return front;
}

}  // namespace

TEST_CASE("--web-hook: starting, running, crashed in order, with the documented JSON", "[hook]") {
  const bool pid1 = each_mode();
  HttpServer server;
  Options o;
  o.pid1 = pid1;
  Proc dock = start_dock({"--web-hook", server.url("/hooks/dock?job=7"), "--", helper(), "record"}, o);
  REQUIRE(dock.wait_out("ready child"));
  REQUIRE(dock.wait_out("\n"));
  const pid_t child = pid_from(dock.out_buf, "child");
  REQUIRE(server.wait_requests(2));
  dock.send("exit 3\n");
  CHECK(dock.exit_code() == 3);
  REQUIRE(server.wait_requests(3));
  auto reqs = server.requests();
  REQUIRE(reqs.size() == 3);
  CHECK(statuses(server) == std::vector<std::string>{"starting", "running", "crashed"});
  for (const auto& r : reqs) {
    CHECK(r.line == "PUT /hooks/dock?job=7 HTTP/1.1");
    CHECK(r.header("Host") == "127.0.0.1:" + std::to_string(server.port));
    CHECK(r.header("Content-Type") == "application/json");
    CHECK(r.header("User-Agent").rfind("dock/", 0) == 0);
    CHECK(r.header("Connection") == "close");
    CHECK(r.header("Authorization").empty());
    CHECK(std::atol(r.header("Content-Length").c_str()) == long(r.body.size()));
    Json ps = ps_of(r);
    REQUIRE(ps.get("pid"));
    // The pid as dock sees it: in its own namespace when it is PID 1, as
    // the child, in the same namespace, reports its own.
    CHECK(ps.get("pid")->number == child);
    const Json* nets = ps.get("net_interfaces");
    REQUIRE(nets);
    REQUIRE(nets->kind == Json::Array);
    bool lo = false;
    for (const auto& n : nets->items) {
      REQUIRE(n.get("name"));
      // An address family the interface lacks has no key, never "" (SPEC §7).
      for (const char* family : {"ipv4", "ipv6"})
        if (const Json* a = n.get(family)) CHECK_FALSE(a->text.empty());
      if (n.get("name")->text == "lo") lo = n.get("ipv4") && n.get("ipv4")->text == "127.0.0.1";
    }
    CHECK(lo);
  }
  Json crashed = ps_of(reqs[2]);
  REQUIRE(crashed.get("exit_code"));
  CHECK(crashed.get("exit_code")->number == 3);
  CHECK_FALSE(crashed.get("signal"));
  CHECK_FALSE(ps_of(reqs[1]).get("exit_code"));
}

TEST_CASE("--web-hook: a child killed by a signal: exit_code 128+N and the signal's name", "[hook]") {
  HttpServer server;
  Proc dock = run_dock({"--web-hook", server.url(), "--", "sh", "-c", "kill -KILL $$"});
  CHECK(dock.exit_code() == 137);
  REQUIRE(server.wait_requests(3));
  auto reqs = server.requests();
  Json ps = ps_of(reqs.back());
  CHECK(ps.get("status")->text == "crashed");
  REQUIRE(ps.get("exit_code"));
  CHECK(ps.get("exit_code")->number == 137);
  REQUIRE(ps.get("signal"));
  CHECK(ps.get("signal")->text == "SIGKILL");
}

TEST_CASE("--web-hook: a command that cannot be executed still gets starting and crashed", "[hook]") {
  HttpServer server;
  Proc dock = run_dock({"--web-hook", server.url(), "--", "/nonexistent/command"});
  CHECK(dock.exit_code() == 127);
  REQUIRE(server.wait_requests(2));
  CHECK(statuses(server) == std::vector<std::string>{"starting", "crashed"});
  CHECK(ps_of(server.requests()[1]).get("exit_code")->number == 127);
}

TEST_CASE("--web-hook: user info becomes Basic auth and never shows in messages", "[hook]") {
  HttpServer server;
  Proc dock = run_dock({"-d", "--web-hook", server.url("/x", "user:pa%20ss@"), "--", "true"});
  CHECK(dock.exit_code() == 0);
  REQUIRE(server.wait_requests(3));
  for (const auto& r : server.requests()) CHECK(r.header("Authorization") == "Basic dXNlcjpwYSBzcw==");  // user:pa ss
  CHECK(dock.err_buf.find("delivered") != std::string::npos);  // the debug lines name the hook...
  CHECK(dock.err_buf.find("user") == std::string::npos);       // ...without the user info
  CHECK(dock.err_buf.find("pa%20ss") == std::string::npos);
}

TEST_CASE("--web-hook: a 5xx is retried and then delivered", "[hook]") {
  HttpServer server({{503, 0}, {500, 0}, {200, 0}});
  Proc dock = start_dock({"--web-hook", server.url(), "--", helper(), "record"});
  REQUIRE(dock.wait_out("ready child"));
  REQUIRE(server.wait_requests(4));
  auto reqs = server.requests();
  CHECK(statuses(server) == std::vector<std::string>{"starting", "starting", "starting", "running"});
  CHECK(reqs[1].at_ms - reqs[0].at_ms >= 400);  // with a pause between attempts
  CHECK(reqs[2].at_ms - reqs[1].at_ms >= reqs[1].at_ms - reqs[0].at_ms);
  dock.send("exit 0\n");
  CHECK(dock.exit_code() == 0);
  REQUIRE(server.wait_requests(5));
  dock.drain();
  CHECK(dock.err_buf.find("not delivered") == std::string::npos);
  // A 4xx is not retried: one warning, and the next event goes.
  HttpServer refusing({{404, 0}});
  Proc again = run_dock({"--web-hook", refusing.url(), "--", "true"});
  CHECK(again.exit_code() == 0);
  REQUIRE(refusing.wait_requests(3));
  CHECK(statuses(refusing) == std::vector<std::string>{"starting", "running", "crashed"});
  CHECK(again.err_buf.find("dock: --web-hook " + refusing.url() + ": \"starting\" not delivered: HTTP status 404\n") !=
        std::string::npos);
}

TEST_CASE("--web-hook: server down: the child runs, dock's status is the child's, one warning per event", "[hook]") {
  const int port = free_port();  // nothing listens there
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/";
  const int64_t start = now_ms();
  Proc dock = run_dock({"--web-hook", url, "--", "sh", "-c", "echo child-ran; exit 7"});
  CHECK(dock.exit_code() == 7);
  CHECK(dock.out_buf == "child-ran\n");
  CHECK(now_ms() - start < 7000);  // at most 5 s of waiting for the hook at exit
  CHECK(dock.err_buf.find("dock: --web-hook " + url + ": \"starting\" not delivered: Connection refused (3 attempts)") !=
        std::string::npos);
  CHECK(dock.err_buf.find("giving up") != std::string::npos);
}

TEST_CASE("--web-hook: a slow hook server delays no signal", "[hook]") {
  HttpServer server({{200, 3000}});  // "starting" is answered after 3 s
  Proc dock = start_dock({"--web-hook", server.url(), "--", helper(), "record"});
  REQUIRE(dock.wait_out("ready child"));
  REQUIRE(server.wait_requests(1));
  const int64_t sent = now_ms();
  REQUIRE(signal_pid(dock.dock_pid(), SIGUSR1));
  REQUIRE(dock.wait_out("child got 10\n", 2000));
  CHECK(now_ms() - sent < 500);            // forwarded at once,
  CHECK(server.requests().size() == 1);    // while the hook still waits for its answer
  REQUIRE(server.wait_requests(2));        // then "running" follows
  CHECK(statuses(server) == std::vector<std::string>{"starting", "running"});
  dock.send("exit 0\n");
  CHECK(dock.exit_code() == 0);
}

TEST_CASE("--web-hook https: verified like tls://, SSL_CERT_FILE honoured", "[hook][tls]") {
  if (!have("socat") || !have("openssl")) return skip("socat and openssl are needed for the HTTPS hook tests");
  HttpServer server;
  const int port = free_port();
  Proc front = https_front(port, server);
  const std::string url = "https://localhost:" + std::to_string(port) + "/secure";
  Options trusted;
  trusted.env = {"SSL_CERT_FILE=" + certs() + "/ca.pem"};
  Proc dock = run_dock({"--web-hook", url, "--", "true"}, trusted);
  CHECK(dock.exit_code() == 0);
  REQUIRE(server.wait_requests(3));
  CHECK(statuses(server) == std::vector<std::string>{"starting", "running", "crashed"});
  CHECK(server.requests()[0].header("Host") == "localhost:" + std::to_string(port));
  CHECK(dock.err_buf.empty());

  // Without the test CA the server is not trusted: nothing is sent, the
  // child is unaffected, and each event is one warning saying why.
  Options untrusted;
  untrusted.env = {"SSL_CERT_FILE=/nonexistent.pem"};
  Proc bad = run_dock({"--web-hook", url, "--", "sh", "-c", "exit 4"}, untrusted);
  CHECK(bad.exit_code() == 4);
  CHECK(bad.err_buf.find("\"starting\" not delivered: certificate verify failed") != std::string::npos);
  CHECK(server.requests().size() == 3);
}

TEST_CASE("--bind-port: running only after the child listens, within 0.5 s", "[hook][bind-port]") {
  const bool grandchild = GENERATE(false, true);
  INFO((grandchild ? "a grandchild listens" : "the child listens"));
  const bool pid1 = each_mode();
  HttpServer server;
  const int port = free_port();
  const std::string ready = temp_path("ready-" + std::to_string(port));
  Options o;
  o.pid1 = pid1;
  std::vector<std::string> args{"--web-hook", server.url(), "--bind-port", std::to_string(port),
                                "--ready-file", ready, "--", helper(), "listen", std::to_string(port), "1000"};
  if (grandchild) args.push_back("--grandchild");
  Proc dock = start_dock(args, o);
  REQUIRE(server.wait_requests(1));
  CHECK(!exists(ready));
  REQUIRE(dock.wait_out("\n", 5000));
  const int64_t listened = listen_time(dock.out_buf);
  REQUIRE(server.wait_requests(2, 3000));
  auto reqs = server.requests();
  CHECK(statuses(server) == std::vector<std::string>{"starting", "running"});
  CHECK(reqs[1].at_ms >= listened);
  CHECK(reqs[1].at_ms - listened <= 500);
  CHECK(exists(ready));
  dock.send("exit 0\n");
  CHECK(dock.exit_code() == 0);
  CHECK(!exists(ready));
  REQUIRE(server.wait_requests(3));
}

TEST_CASE("--bind-port: a port never bound, or bound by someone else, is never running", "[hook][bind-port]") {
  HttpServer server;
  int port = 0;
  const int other = loopback_listener(4, port);  // the tests listen on it, not the child
  const std::string ready = temp_path("ready-never");
  Proc dock = run_dock({"--web-hook", server.url(), "--bind-port", std::to_string(port), "--ready-file", ready,
                        "--", "sh", "-c", "sleep 1; exit 5"});
  close(other);
  CHECK(dock.exit_code() == 5);
  REQUIRE(server.wait_requests(2));
  CHECK(statuses(server) == std::vector<std::string>{"starting", "crashed"});
  CHECK(!exists(ready));
}

TEST_CASE("--ready-file: made when running, removed at exit, also when dock is stopped by a signal", "[ready-file]") {
  const std::string ready = temp_path("ready-signal");
  { std::ofstream stale(ready); }  // left by an earlier run: removed before the child starts
  Proc dock = start_dock({"--ready-file", ready, "--", "sh", "-c", "echo ready child $$; exec sleep 60"});
  REQUIRE(dock.wait_out("ready child"));
  REQUIRE(wait_file_contains(ready, "\n"));
  REQUIRE(dock.wait_out("\n"));
  CHECK(read_file(ready) == std::to_string(pid_from(dock.out_buf, "child")) + "\n");
  REQUIRE(signal_pid(dock.dock_pid(), SIGTERM));  // forwarded: sleep dies of it
  CHECK(dock.exit_code() == 128 + SIGTERM);
  CHECK(!exists(ready));

  Proc fails = run_dock({"--ready-file", temp_path("no-such-dir") + "/ready", "--", "touch", temp_path("started")});
  CHECK(fails.exit_code() == 2);
  CHECK(fails.err_buf == "dock: --ready-file: directory " + temp_path("no-such-dir") + ": No such file or directory\n");
  CHECK(!exists(temp_path("started")));
  Proc bad_hook = run_dock({"--web-hook", "http://[::1/", "--", "true"});
  CHECK(bad_hook.exit_code() == 2);
  CHECK(bad_hook.err_buf == "dock: --web-hook: 'http://[::1/': unclosed '[' in the host\n");
}

// Issue 15, defect 15: the web hook in the field.
TEST_CASE("field 15: https ?ca= is dock's (used, not sent); a certificate failure is not retried", "[field][hook][tls]") {
  if (!have("socat") || !have("openssl")) return skip("socat and openssl are needed for the HTTPS hook tests");
  HttpServer server;
  const int port = free_port();
  Proc front = https_front(port, server);
  const std::string base = "https://localhost:" + std::to_string(port) + "/secure?token=abc";
  Options no_store;  // only ?ca= can make the server trusted
  no_store.env = {"SSL_CERT_FILE=/nonexistent.pem"};
  Proc dock = run_dock({"--web-hook", base + "&ca=" + certs() + "/ca.pem", "--", "true"}, no_store);
  CHECK(dock.exit_code() == 0);
  REQUIRE(server.wait_requests(3));
  CHECK(statuses(server) == std::vector<std::string>{"starting", "running", "crashed"});
  CHECK(server.requests()[0].line == "PUT /secure?token=abc HTTP/1.1");
  CHECK(dock.err_buf.empty());

  // Not trusted: each event fails once, at once -- it would fail the same way again.
  const int64_t t0 = now_ms();
  Proc bad = run_dock({"--web-hook", base, "--", "sh", "-c", "exit 4"}, no_store);
  CHECK(bad.exit_code() == 4);
  // Retries would take 2 s per event (6 s); three handshakes on a loaded
  // machine took 1.8 s once, so the bound sits between the two.
  CHECK(now_ms() - t0 < 4000);
  INFO(bad.err_buf);
  CHECK(count(bad.err_buf, "not delivered: certificate verify failed") == 3);
  CHECK(bad.err_buf.find("attempts") == std::string::npos);
}

TEST_CASE("field 15: a silent hook waits alongside the stop timeout, not after it", "[field][hook]") {
  HttpServer silent({{200, 20000}, {200, 20000}, {200, 20000}});
  Proc dock = start_dock({"--stop-timeout", "2s", "--web-hook", silent.url(), "--", "sh", "-c",
                          "trap '' TERM; echo up; while :; do sleep 0.1; done"});
  REQUIRE(dock.wait_out("up"));
  const int64_t t0 = now_ms();
  REQUIRE(signal_pid(dock.dock_pid(), SIGTERM));
  CHECK(dock.exit_code(15000) == 128 + SIGKILL);
  // The hook's 5 s count from the SIGTERM, as the stop timeout's 2 s do:
  // dock is done 5 s after the stop began, not 2 + 5.
  CHECK(now_ms() - t0 < 6000);
  dock.drain();
  CHECK(dock.err_buf.find("not delivered by the end of the stop: giving up") != std::string::npos);
}
