// Unit tests of section 11: finding the listening socket of a descendant
// in a canned /proc, notify messages, the ready file's record.
#define DOCK_NO_MAIN
#include "../dock.cpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

using namespace dock;

TEST_CASE("notify messages: systemd's VAR=VALUE lines, anything else ignored whole", "[notify]") {
  auto m = parse_notify_message("READY=1\nSTATUS=serving 3 clients\n");
  REQUIRE(m);
  CHECK(m->ready);
  CHECK(m->status == "serving 3 clients");
  m = parse_notify_message("RELOADING=1\nMONOTONIC_USEC=123");
  REQUIRE(m);
  CHECK(m->reloading);
  CHECK_FALSE(m->ready);
  m = parse_notify_message("READY=0\nSTOPPING=1\nX_CUSTOM=whatever");
  REQUIRE(m);
  CHECK_FALSE(m->ready);
  CHECK(m->stopping);
  const std::vector<std::string_view> bad_ones{"", "\n\n", "READY", "=1", "ready=1", "READY=1\nnonsense",
                                               std::string_view("READY=1\0", 8), "READY =1"};
  for (std::string_view bad : bad_ones) {
    INFO(bad);
    CHECK_FALSE(parse_notify_message(bad));
  }
}

TEST_CASE("the ready file's record, and a port listened on in /proc/net/tcp", "[check]") {
  auto r = parse_ready_record("42\n");
  REQUIRE(r);
  CHECK(r->pid == 42);
  CHECK(r->port == 0);
  r = parse_ready_record("42\nport 8080\n");
  REQUIRE(r);
  CHECK(r->port == 8080);
  for (std::string_view bad : {"", "42", "0\n", "x\n", "42\nport 0\n", "42\nport 70000\n", "42\nhello\n", "42\nport 1\nport 2\n"})
    CHECK_FALSE(parse_ready_record(bad).has_value());
  // Real lines of /proc/net/tcp and tcp6 (a listener on 8080, a connection from 8080, one on 5432).
  const std::string tcp =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n"
      "   1: 0100007F:1F90 0100007F:D2A4 01 00000000:00000000 00:00000000 00000000     0        0 12346 1 0000000000000000 20 4 30 10 -1\n";
  const std::string tcp6 =
      "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 00000000000000000000000000000000:1538 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 23456 1 0000000000000000 100 0 0 10 0\n";
  CHECK(listens_in(tcp, 8080));
  CHECK_FALSE(listens_in(tcp, 53924));  // 0xD2A4 is a remote port, not a listener
  CHECK_FALSE(listens_in(tcp, 5432));
  CHECK(listens_in(tcp6, 5432));
  CHECK_FALSE(listens_in(tcp6, 8080));
  CHECK_FALSE(listens_in("", 8080));
}

TEST_CASE("socket links and the effective uid in /proc", "[bind-port]") {
  CHECK(socket_inode("socket:[4711]") == 4711);
  CHECK_FALSE(socket_inode("pipe:[4711]"));
  CHECK_FALSE(socket_inode("socket:[]"));
  CHECK_FALSE(socket_inode("/dev/null"));
  CHECK(effective_uid("Name:\tapp\nUid:\t1000\t65534\t65534\t65534\nGid:\t0\n") == 65534u);
  CHECK(effective_uid("Name:\tapp\nUid:\t0\t0\t0\t0\n") == 0u);
  CHECK_FALSE(effective_uid("Name:\tapp\nGid:\t0\n"));
  CHECK_FALSE(effective_uid("Name:\tapp\nUid:\t1000\n"));
}

TEST_CASE("the port's socket counts only when a descendant holds it", "[bind-port]") {
  char tmpl[] = "/tmp/dock-unit-proc-XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  const std::string proc = tmpl;
  auto write = [&](const std::string& rel, const std::string& text) {
    std::ofstream(proc + "/" + rel) << text;
  };
  // 10 is dock; 11 its child, 12 a grandchild (in a session of its own,
  // but still below dock); 20 is unrelated (a sibling of dock).
  auto process = [&](int pid, int ppid, std::vector<std::string> links) {
    const std::string dir = std::to_string(pid);
    REQUIRE(mkdir((proc + "/" + dir).c_str(), 0755) == 0);
    REQUIRE(mkdir((proc + "/" + dir + "/fd").c_str(), 0755) == 0);
    write(dir + "/stat", dir + " (some (odd) name) S " + std::to_string(ppid) + " 1 1 0 -1\n");
    for (size_t i = 0; i < links.size(); ++i)
      REQUIRE(symlink(links[i].c_str(), (proc + "/" + dir + "/fd/" + std::to_string(i)).c_str()) == 0);
  };
  process(10, 1, {"/dev/null", "socket:[1]"});
  process(11, 10, {"/dev/null", "pipe:[77]"});
  process(12, 11, {"/dev/null", "socket:[400]"});
  process(20, 1, {"socket:[500]"});

  const std::vector<Listener> on_8080{{500, 0}};
  CHECK(port_owner(proc, 10, on_8080) == Owner::NotOurs);  // only the unrelated 20 holds inode 500
  CHECK(port_owner(proc, 1, on_8080) == Owner::Ours);      // as PID 1, everyone is a descendant
  // Now the grandchild's socket 400 listens on 8080 too.
  const std::vector<Listener> both{{500, 0}, {400, 0}};
  CHECK(port_owner(proc, 10, both) == Owner::Ours);
  CHECK(port_owner(proc, 11, both) == Owner::Ours);
  CHECK(port_owner(proc, 12, both) == Owner::NotOurs);  // not its own descendant
  CHECK(port_owner(proc + "/nowhere", 10, both) == Owner::Unknown);
  std::system(("rm -rf " + proc).c_str());
}

TEST_CASE("--health-port: [ADDR:]PORT, a numeric address or every one", "[health-port]") {
  ReadyConfig c;
  REQUIRE_FALSE(parse_health_port("8081", c));
  CHECK(c.health_port == 8081);
  CHECK(c.health_addr.empty());
  REQUIRE_FALSE(parse_health_port("127.0.0.1:9000", c));
  CHECK((c.health_port == 9000 && c.health_addr == "127.0.0.1" && !c.health_v6));
  REQUIRE_FALSE(parse_health_port("[::1]:9001", c));
  CHECK((c.health_port == 9001 && c.health_addr == "::1" && c.health_v6));
  for (std::string_view bad : {"", "0", "65536", "http", ":8081", "::1:8081", "localhost:8081", "[127.0.0.1]:80",
                               "1.2.3:80", "8081:", "[::1]8081"}) {
    INFO(bad);
    CHECK(parse_health_port(bad, c));
  }
}

TEST_CASE("--health-port: the request head, as far as it came", "[health-port]") {
  using Kind = HealthRequest::Kind;
  auto kind = [](std::string_view text) { return parse_health_request(text).kind; };
  const auto r = parse_health_request("GET /ready?verbose=1 HTTP/1.1\r\nHost: 10.0.0.7:8081\r\nUser-Agent: kube-probe/1.29\r\n\r\n");
  CHECK(r.kind == Kind::Complete);
  CHECK(r.method == "GET");
  CHECK(r.path == "/ready");
  CHECK(parse_health_request("HEAD /live HTTP/1.0\n\n").path == "/live");
  CHECK(parse_health_request("GET http://pod:8081/live HTTP/1.1\r\n\r\n").path == "/live");
  CHECK(kind("GET /ready HTTP/1.1\r\n\r\n") == Kind::Complete);
  // Not there yet: no line, no blank line.
  for (std::string_view part : {"", "GET /re", "GET /ready HTTP/1.1\r\n", "GET /ready HTTP/1.1\r\nHost: x\r\n",
                                "GET /ready HTTP/1.1\r\nHost: x\r\n\r"}) {
    INFO(part);
    CHECK(kind(part) == Kind::Incomplete);
  }
  // Bad as soon as the request line is there.
  for (std::string_view bad : {"\r\n", "GET\r\n", "GET /ready\r\n", "get /ready HTTP/1.1\r\n", "GET /ready HTTP/2\r\n",
                               "GET ready HTTP/1.1\r\n", "GET  HTTP/1.1\r\n", " /ready HTTP/1.1\r\n", "\x16\x03\x01 hello\n",
                               "GET /a\x01 HTTP/1.1\r\n"}) {
    INFO(bad);
    CHECK(kind(bad) == Kind::Bad);
  }
  CHECK(kind(std::string_view("GET /ready HTTP/1.1\r\nX: \0\r\n\r\n", 28)) == Kind::Bad);
}

TEST_CASE("--health-port: what each request gets", "[health-port]") {
  auto ask = [](std::string_view head, const std::string& not_ready, bool live) {
    return health_answer(parse_health_request(head), not_ready, live).status;
  };
  CHECK(ask("GET /ready HTTP/1.1\r\n\r\n", "", true) == 200);
  CHECK(ask("GET /ready HTTP/1.1\r\n\r\n", "dock is stopping", false) == 503);
  CHECK(ask("GET /live HTTP/1.1\r\n\r\n", "anything", true) == 200);
  CHECK(ask("GET /live HTTP/1.1\r\n\r\n", "", false) == 503);
  CHECK(ask("HEAD /live HTTP/1.1\r\n\r\n", "", true) == 200);
  CHECK(ask("POST /ready HTTP/1.1\r\n\r\n", "", true) == 405);
  CHECK(ask("GET /healthz HTTP/1.1\r\n\r\n", "", true) == 404);
  CHECK(ask("DELETE / HTTP/1.1\r\n\r\n", "", true) == 404);
  CHECK(ask("nonsense\n", "", true) == 400);
  CHECK(ask(std::string(4096, 'a'), "", true) == 431);
  const std::string get = health_response({503, "not ready: dock is stopping"}, false);
  CHECK(get == "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 28\r\n"
               "Cache-Control: no-store\r\nConnection: close\r\n\r\nnot ready: dock is stopping\n");
  const std::string head = health_response({405, "only GET and HEAD"}, true);
  CHECK(head.find("\r\nAllow: GET, HEAD\r\n") != std::string::npos);
  CHECK(head.substr(head.size() - 4) == "\r\n\r\n");
}
