// Unit tests of section 6: --io URLs (files, sockets, TLS parameters) and
// their edges.
#define DOCK_NO_MAIN
#include "../dock.cpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace dock;

namespace {
IoTarget io_ok(std::string_view url) {
  IoTarget t;
  auto err = parse_io_url(url, t);
  INFO(url << ": " << (err ? *err : ""));
  CHECK_FALSE(err);
  return t;
}
std::string io_err(std::string_view url) {
  IoTarget t;
  auto err = parse_io_url(url, t);
  return err ? *err : "(accepted)";
}
}  // namespace

TEST_CASE("--io URLs: files", "[io]") {
  auto t = io_ok("file:///var/log/app.log");
  CHECK(t.scheme == Scheme::File);
  CHECK(t.path == "/var/log/app.log");
  t = io_ok("file://logs/app.log");
  CHECK(t.path == "logs/app.log");
  t = io_ok("/abs/bare.log");
  CHECK(t.scheme == Scheme::File);
  CHECK(t.path == "/abs/bare.log");
  t = io_ok("rel.log");
  CHECK(t.path == "rel.log");
  CHECK_FALSE(t.is_socket());
  CHECK(io_err("") == "empty URL");
  CHECK(io_err("file://") == "missing path");
  CHECK(io_err("file:///x?ca=y") == "takes no parameters");
}

TEST_CASE("--io URLs: sockets", "[io]") {
  auto t = io_ok("tcp://example.org:8080");
  CHECK(t.scheme == Scheme::Tcp);
  CHECK(t.host == "example.org");
  CHECK(t.port == "8080");
  CHECK(t.is_socket());
  t = io_ok("tcp4://127.0.0.1:1");
  CHECK(t.scheme == Scheme::Tcp4);
  t = io_ok("tcp6://[::1]:65535");
  CHECK(t.scheme == Scheme::Tcp6);
  CHECK(t.host == "::1");
  CHECK(t.port == "65535");
  t = io_ok("TCP://[fe80::1%25eth0]:22/");  // scheme in any case, a trailing slash
  CHECK(t.host == "fe80::1%eth0");  // the zone id decoded (RFC 6874), as getaddrinfo takes it
  t = io_ok("unix:///run/app.sock");
  CHECK(t.scheme == Scheme::Unix);
  CHECK(t.path == "/run/app.sock");
  t = io_ok("tcp://h:007");
  CHECK(t.port == "7");

  CHECK(io_err("tcp://host") == "missing port (HOST:PORT)");
  CHECK(io_err("tcp://host:") == "port '' is not in 1..65535");
  CHECK(io_err("tcp://host:0") == "port '0' is not in 1..65535");
  CHECK(io_err("tcp://host:65536") == "port '65536' is not in 1..65535");
  CHECK(io_err("tcp://host:http") == "port 'http' is not in 1..65535");
  CHECK(io_err("tcp://:80") == "missing host (HOST:PORT)");
  CHECK(io_err("tcp://::1:80") == "an IPv6 address goes in brackets ([::1]:PORT)");
  CHECK(io_err("tcp://[::1]80") == "missing port (HOST:PORT)");
  CHECK(io_err("tcp://[::1:80") == "unclosed '[' in the host");
  CHECK(io_err("tcp://a/b:80") == "'a/b' is not a host name");
  CHECK(io_err("tcp://h:1?ca=x").rfind("takes no parameters", 0) == 0);
  CHECK(io_err("unix://") == "missing path");
  CHECK(io_err("http://h:80") == "unknown scheme 'http' (file, tcp, tcp4, tcp6, unix, tls, ssl)");
  CHECK(io_err("udp://h:80").rfind("unknown scheme 'udp'", 0) == 0);
}

TEST_CASE("--io URLs: TLS parameters", "[io]") {
  auto t = io_ok("tls://peer:443?ca=/etc/ca.pem&cert=/c.pem&key=/k.pem");
  CHECK(t.scheme == Scheme::Tls);
  CHECK(t.host == "peer");
  CHECK(t.ca == "/etc/ca.pem");
  CHECK(t.cert == "/c.pem");
  CHECK(t.key == "/k.pem");
  CHECK_FALSE(t.insecure);
  t = io_ok("ssl://[::1]:8443?insecure=1");
  CHECK(t.scheme == Scheme::Tls);
  CHECK(t.insecure);
  t = io_ok("tls://h:1?insecure");
  CHECK(t.insecure);
  t = io_ok("tls://h:1/?insecure=false");
  CHECK_FALSE(t.insecure);
  CHECK(io_err("tls://h:1?cert=/c.pem") == "cert= and key= go together");
  CHECK(io_err("tls://h:1?key=/k.pem") == "cert= and key= go together");
  CHECK(io_err("tls://h:1?ca=") == "ca= needs a file");
  CHECK(io_err("tls://h:1?verify=0") == "unknown parameter 'verify' (ca, cert, key, insecure)");
  CHECK(io_err("tls://h:1?insecure=maybe") == "insecure='maybe' is not a boolean");
}

TEST_CASE("URL edges: file://localhost, %-escapes in paths, brackets hold IPv6 only, a hook's zone id", "[io][hook]") {
  IoTarget t;
  REQUIRE_FALSE(parse_io_url("file://localhost/var/log/app.log", t));
  CHECK(t.path == "/var/log/app.log");
  REQUIRE_FALSE(parse_io_url("file:///var/log/my%20app.log", t));
  CHECK(t.path == "/var/log/my app.log");
  REQUIRE_FALSE(parse_io_url("unix:///run/a%25b.sock", t));
  CHECK(t.path == "/run/a%b.sock");
  CHECK(parse_io_url("file:///x%2", t) == "bad %-escape in the path");
  CHECK(parse_io_url("file:///x%00y", t) == "bad %-escape in the path");
  CHECK(parse_io_url("tcp://[foo]:80", t) == "'foo' is not an IPv6 address");
  CHECK(parse_io_url("tcp://[1.2.3.4]:80", t) == "'1.2.3.4' is not an IPv6 address");
  CHECK(parse_io_url("tcp://a%b:80", t) == "'a%b' is not a host name");
  HookUrl h;
  REQUIRE_FALSE(parse_hook_url("http://[fe80::1%25eth0]:8080/hook", h));
  CHECK(h.host == "fe80::1%eth0");
  CHECK(h.authority == "[fe80::1%25eth0]:8080");
  CHECK(parse_hook_url("http://[fe80::1%eth0]/", h) == "'fe80::1%eth0' is not an IPv6 address");
  // https: dock's own TLS parameters are used, not sent.
  REQUIRE_FALSE(parse_hook_url("https://h/x?token=1&ca=/etc/ca.pem&insecure=0&b=2", h));
  CHECK(h.target == "/x?token=1&b=2");
  CHECK(h.tls.ca == "/etc/ca.pem");
  CHECK_FALSE(h.tls.insecure);
  REQUIRE_FALSE(parse_hook_url("https://h/?insecure=1", h));
  CHECK(h.target == "/");
  CHECK(h.tls.insecure);
  REQUIRE_FALSE(parse_hook_url("http://h/?ca=x", h));  // plain http: the query is the server's
  CHECK(h.target == "/?ca=x");
}

TEST_CASE("a bracketed host is an IPv6 literal and nothing else (no NUL to stop inet_pton early)", "[io][hook]") {
  HookUrl h;
  const std::string nul("http://[::\0\r\nX: y]/", 19);
  auto err = parse_hook_url(nul, h);
  REQUIRE(err);
  CHECK(err->find("is not an IPv6 address") != std::string::npos);
  IoTarget t;
  CHECK(parse_io_url(std::string("tcp://[::1\0x]:80", 16), t));
}
