// Unit tests of section 10, the web hook's pure parts: hook URLs, the
// request and its JSON body, the answer's status line.
#define DOCK_NO_MAIN
#include "../dock.cpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

using namespace dock;

namespace {

HookUrl hook(std::string_view url) {
  HookUrl h;
  auto err = parse_hook_url(url, h);
  INFO(url << ": " << (err ? *err : ""));
  REQUIRE(!err);
  return h;
}

std::string hook_error(std::string_view url) {
  HookUrl h;
  auto err = parse_hook_url(url, h);
  INFO(url);
  REQUIRE(err);
  return *err;
}

// A strict little JSON reader for the body: returns the value of "key"
// (string or number) in `json`, and checks that every string is closed and
// every escape valid on the way.
std::string json_decode_string(std::string_view s, size_t& i) {
  REQUIRE(s[i] == '"');
  std::string out;
  for (++i; i < s.size() && s[i] != '"'; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    REQUIRE(c >= 0x20);  // raw control characters are not JSON
    if (c != '\\') {
      out += char(c);
      continue;
    }
    ++i;
    REQUIRE(i < s.size());
    switch (s[i]) {
      case '"': case '\\': case '/': out += s[i]; break;
      case 'u': {
        REQUIRE(i + 4 < s.size());
        const unsigned v = unsigned(std::stoul(std::string(s.substr(i + 1, 4)), nullptr, 16));
        if (v < 0x80) out += char(v);
        else if (v < 0x800) out += char(0xc0 | v >> 6), out += char(0x80 | (v & 63));
        else out += char(0xe0 | v >> 12), out += char(0x80 | ((v >> 6) & 63)), out += char(0x80 | (v & 63));
        i += 4;
        break;
      }
      default: FAIL("bad escape \\" << s[i]);
    }
  }
  REQUIRE(i < s.size());
  ++i;
  return out;
}

}  // namespace

TEST_CASE("hook URLs: host, port, path, authority", "[hook]") {
  auto h = hook("http://127.0.0.1:8080/hooks/dock?token=abc#frag");
  CHECK_FALSE(h.https);
  CHECK(h.host == "127.0.0.1");
  CHECK(h.port == "8080");
  CHECK(h.target == "/hooks/dock?token=abc");
  CHECK(h.authority == "127.0.0.1:8080");
  CHECK(h.shown == "http://127.0.0.1:8080/hooks/dock");  // no query in messages
  CHECK(h.auth.empty());

  h = hook("https://hooks.example");
  CHECK(h.https);
  CHECK(h.port == "443");
  CHECK(h.target == "/");
  CHECK(h.authority == "hooks.example");  // default port left out of Host

  h = hook("HTTP://example:80?x=1");
  CHECK(h.port == "80");
  CHECK(h.authority == "example");
  CHECK(h.target == "/?x=1");

  h = hook("http://[::1]:9000/x");
  CHECK(h.host == "::1");
  CHECK(h.authority == "[::1]:9000");
  h = hook("https://[fe80::1]/");
  CHECK(h.authority == "[fe80::1]");
  CHECK(h.port == "443");
}

TEST_CASE("hook URLs: user info becomes Basic auth and is never shown", "[hook]") {
  auto h = hook("http://Aladdin:open%20sesame@127.0.0.1:1/x");
  CHECK(h.auth == "Basic " + base64("Aladdin:open sesame"));
  CHECK(h.auth == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");  // RFC 7617's example
  CHECK(h.shown.find("Aladdin") == std::string::npos);
  CHECK(h.shown.find("sesame") == std::string::npos);
  CHECK(h.host == "127.0.0.1");
  CHECK(hook("http://user@h/").auth == "Basic " + base64("user:"));
  CHECK(hook("http://u:p%40ss@h/").auth == "Basic " + base64("u:p@ss"));
  CHECK(hook("http://a:b@c@h/").host == "h");  // the last @ ends the user info
  CHECK(base64("") == "");
  CHECK(base64("f") == "Zg==");
  CHECK(base64("fo") == "Zm8=");
  CHECK(base64("foo") == "Zm9v");
  CHECK(base64("\xff\xfe\xfd") == "//79");
}

TEST_CASE("hook URLs: bad ones are refused", "[hook]") {
  CHECK(hook_error("ftp://h/").find("unknown scheme 'ftp'") != std::string::npos);
  CHECK(hook_error("127.0.0.1:8080").find("http://") != std::string::npos);
  CHECK(hook_error("http:///x").find("missing host") != std::string::npos);
  CHECK(hook_error("http://h:0/").find("port '0'") != std::string::npos);
  CHECK(hook_error("http://h:65536/").find("port") != std::string::npos);
  CHECK(hook_error("http://h:x/").find("port") != std::string::npos);
  CHECK(hook_error("http://::1:80/").find("brackets") != std::string::npos);
  CHECK(hook_error("http://[::1/").find("unclosed") != std::string::npos);
  CHECK(hook_error("http://[nothost]:80/").find("IPv6") != std::string::npos);
  CHECK(hook_error("http://[::1]x/").find("after ']'") != std::string::npos);
  CHECK(hook_error("http://h/a b").find("space") != std::string::npos);
  CHECK(hook_error("http://h/a\r\nX: y").find("control") != std::string::npos);
  CHECK(hook_error("http://u:%zz@h/").find("%-escape") != std::string::npos);
}

TEST_CASE("the hook request", "[hook]") {
  auto h = hook("http://me:secret@[::1]:8080/hook?x=1");
  const std::string body = R"({"ps":{}})";
  const std::string r = hook_request(h, body);
  CHECK(r == "PUT /hook?x=1 HTTP/1.1\r\n"
             "Host: [::1]:8080\r\n"
             "User-Agent: dock/" + std::string(kVersion) + "\r\n"
             "Content-Type: application/json\r\n"
             "Content-Length: 9\r\n"
             "Authorization: Basic " + base64("me:secret") + "\r\n"
             "Connection: close\r\n\r\n" + body);
  const std::string plain = hook_request(hook("https://h/"), "");
  CHECK(plain.find("Authorization") == std::string::npos);
  CHECK(plain.find("Content-Length: 0\r\n") != std::string::npos);
  CHECK(plain.find("Host: h\r\n") != std::string::npos);
}

TEST_CASE("the hook body: statuses, exit code and signal", "[hook]") {
  std::vector<NetInterface> none;
  CHECK(hook_body("starting", 42, std::nullopt, none) ==
        R"({"ps":{"status":"starting","pid":42,"net_interfaces":[]}})");
  CHECK(hook_body("crashed", 42, W_EXITCODE(3, 0), none) ==
        R"({"ps":{"status":"crashed","pid":42,"exit_code":3,"net_interfaces":[]}})");
  CHECK(hook_body("crashed", 7, SIGKILL, none) ==  // a wait status of "killed by SIGKILL"
        R"({"ps":{"status":"crashed","pid":7,"exit_code":137,"signal":"SIGKILL","net_interfaces":[]}})");
  CHECK(hook_body("crashed", 7, SIGKILL, none, true) ==  // the OOM killer's (section 13)
        R"({"ps":{"status":"crashed","pid":7,"exit_code":137,"signal":"SIGKILL","oom_kill":true,"net_interfaces":[]}})");
  std::vector<NetInterface> two{{"eth0", "172.17.0.2", "fe80::42:acff:fe11:2", true}, {"lo", "127.0.0.1", "", false}};
  CHECK(hook_body("running", 1, std::nullopt, two) ==
        R"({"ps":{"status":"running","pid":1,"net_interfaces":[{"name":"eth0","ipv4":"172.17.0.2","ipv6":"fe80::42:acff:fe11:2"},{"name":"lo","ipv4":"127.0.0.1"}]}})");
}

TEST_CASE("JSON strings: odd interface names stay valid JSON and round-trip", "[hook]") {
  struct Case {
    std::string raw, decoded;
  };
  const std::vector<Case> cases{
      {"eth0", "eth0"},
      {"we\"ird", "we\"ird"},
      {"back\\slash", "back\\slash"},
      {std::string("nl\nt\tz\x01", 7), std::string("nl\nt\tz\x01", 7)},
      {"del\x7f", "del\x7f"},
      {"caf\xc3\xa9", "caf\xc3\xa9"},              // valid UTF-8 kept
      {"\xe2\x82\xac", "\xe2\x82\xac"},            // euro sign
      {"bad\xff", "bad\xef\xbf\xbd"},              // invalid byte -> U+FFFD
      {"cut\xc3", "cut\xef\xbf\xbd"},              // truncated sequence
      {"over\xc0\xaf", "over\xef\xbf\xbd\xef\xbf\xbd"},  // overlong '/'
      {"sur\xed\xa0\x80", "sur\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},  // UTF-16 surrogate
  };
  for (const auto& c : cases) {
    std::string out;
    append_json_string(out, c.raw);
    INFO(out);
    size_t i = 0;
    CHECK(json_decode_string(out, i) == c.decoded);
    CHECK(i == out.size());
  }
  CHECK(utf8_length("\xf0\x9f\x98\x80") == 4);
  CHECK(utf8_length("\xf4\x90\x80\x80") == 0);  // above U+10FFFF
}

TEST_CASE("interfaces from a getifaddrs list", "[hook]") {
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  inet_pton(AF_INET, "10.0.0.7", &v4.sin_addr);
  sockaddr_in v4b = v4;
  inet_pton(AF_INET, "10.0.0.8", &v4b.sin_addr);
  sockaddr_in6 ll{}, global{};
  ll.sin6_family = global.sin6_family = AF_INET6;
  inet_pton(AF_INET6, "fe80::1", &ll.sin6_addr);
  inet_pton(AF_INET6, "2001:db8::7", &global.sin6_addr);
  char eth[] = "eth0", lo[] = "lo", bare[] = "dummy0";
  // eth0: v4, link-local v6, second v4, global v6; dummy0: no address.
  ifaddrs e5{nullptr, bare, 0, nullptr, nullptr, {nullptr}, nullptr};
  ifaddrs e4{&e5, eth, 0, reinterpret_cast<sockaddr*>(&global), nullptr, {nullptr}, nullptr};
  ifaddrs e3{&e4, eth, 0, reinterpret_cast<sockaddr*>(&v4b), nullptr, {nullptr}, nullptr};
  ifaddrs e2{&e3, lo, 0, nullptr, nullptr, {nullptr}, nullptr};
  ifaddrs e1{&e2, eth, 0, reinterpret_cast<sockaddr*>(&ll), nullptr, {nullptr}, nullptr};
  ifaddrs e0{&e1, eth, 0, reinterpret_cast<sockaddr*>(&v4), nullptr, {nullptr}, nullptr};
  auto list = gather_interfaces(&e0);
  REQUIRE(list.size() == 3);
  CHECK(list[0].name == "eth0");
  CHECK(list[0].ipv4 == "10.0.0.7");     // the first IPv4
  CHECK(list[0].ipv6 == "2001:db8::7");  // a global address before a link-local one
  CHECK(list[1].name == "lo");
  CHECK(list[1].ipv4.empty());
  CHECK(list[2].name == "dummy0");
  CHECK(list[2].ipv6.empty());
}

TEST_CASE("HTTP status lines", "[hook]") {
  CHECK(parse_http_status("") == 0);
  CHECK(parse_http_status("HTT") == 0);
  CHECK(parse_http_status("HTTP/1.1 200 OK") == 0);  // no end of line yet
  CHECK(parse_http_status("HTTP/1.1 200 OK\r\n") == 200);
  CHECK(parse_http_status("HTTP/1.0 204\r\n") == 204);
  CHECK(parse_http_status("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n") == 503);
  CHECK(parse_http_status("HTTP/1.1 404 Not Found\n") == 404);
  CHECK(parse_http_status("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n") == 201);
  CHECK(parse_http_status("HTTP/1.1 100 Continue\r\nX: y\r\n\r\nHTTP/1.1 2") == 0);
  CHECK(parse_http_status("HTTP/1.1 100 Continue\r\n") == 0);
  CHECK(parse_http_status("SSH-2.0-OpenSSH") == -1);
  CHECK(parse_http_status("<html>") == -1);
  CHECK(parse_http_status("HTTP/2 200\r\n") == -1);
  CHECK(parse_http_status("HTTP/1.1 20 OK\r\n") == -1);
  CHECK(parse_http_status("HTTP/1.1 2000 OK\r\n") == -1);
  CHECK(parse_http_status("HTTP/1.1 099 x\r\n") == -1);
  CHECK(parse_http_status("HTTP/1.1 600 x\r\n") == -1);
}
