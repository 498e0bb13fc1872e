// --web-hook through the real dock, against a
// real HTTP server on loopback (tests/http_server.hpp) and, for https://,
// socat's OPENSSL-LISTEN in front of it with a CA made for this run.
#include "kit.hpp"

#include <sys/stat.h>

using namespace t;

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

TEST_CASE("review 4: a name lookup the web hook still needs is no leftover of the command", "[review][hook][pid1]") {
  // The command ends at once; the hook's first lookup (a name at the end of
  // a long /etc/hosts) is still running then. The SIGTERM that dock sends
  // what is left must not cut it: the events go out at their first try.
  const bool pid1 = each_mode();
  Dir dir(pid1 ? "hook-lookup-1" : "hook-lookup");
  std::string hosts;
  for (int i = 0; i < 200000; ++i) hosts += "10.9." + std::to_string(i / 250) + "." + std::to_string(i % 250) + " filler-" + std::to_string(i) + "\n";
  hosts += "127.0.0.1 hook-server\n";
  write(dir.path + "/hosts", hosts);
  HttpServer server;
  const std::string url = "http://hook-server:" + server.url().substr(server.url().rfind(':') + 1);
  Proc p = run_wrapped(with_file(dir.path + "/hosts", "/etc/hosts"), {"-d", "--web-hook", url, "--", "true"}, {.pid1 = pid1});
  CHECK(p.exit_code() == 0);
  CHECK(server.wait_requests(3));
  CHECK(p.err_buf.find("name resolution failed") == std::string::npos);
  CHECK(p.err_buf.find("trying again") == std::string::npos);
}
