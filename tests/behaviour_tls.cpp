// --io tls:// through the real dock against real TLS servers on loopback
// (socat's OPENSSL-LISTEN, which is OpenSSL's server side), with a CA,
// server and client certificates made for this run by
// scripts/make-test-certs.sh.
#include "kit.hpp"

using namespace t;

namespace {

// A file of the certificate directory (made once per run: kit.hpp's certs()).
std::string cert(const std::string& name) { return certs() + "/" + name; }

// A TLS server on 127.0.0.1 (or ::1) presenting NAME.pem; with
// `client_ca`, it demands a client certificate signed by the test CA.
Proc tls_server(int port, const std::string& name = "server", bool client_ca = false, bool v6 = false) {
  std::string addr = "OPENSSL-LISTEN:" + std::to_string(port) + (v6 ? ",pf=ip6,bind=[::1]" : ",bind=127.0.0.1") +
                     ",cert=" + cert(name + ".pem") + ",key=" + cert(name + ".key");
  addr += client_ca ? ",verify=1,cafile=" + cert("ca.pem") : ",verify=0";
  return listen_with_socat(addr);
}

std::string tls_url(int port, const std::string& host = "localhost", const std::string& query = "") {
  return "tls://" + host + ":" + std::to_string(port) + query;
}

std::string with_ca(int port, const std::string& host = "localhost") {
  return tls_url(port, host, "?ca=" + cert("ca.pem"));
}


}  // namespace

TEST_CASE("--io tls: data both ways, no byte added, EOF on stdin at the server's close", "[tls]") {
  const int port = free_port();
  Proc peer = tls_server(port);
  Proc dock = start_dock({"--io", with_ca(port), "--", "sh", "-c",
                          "trap '' HUP; echo hello; echo to-stderr >&2; "
                          "while read l; do echo \"got $l\"; done; echo eof-seen"});
  REQUIRE(peer.wait_out("hello\n"));
  REQUIRE(peer.wait_out("to-stderr\n"));
  peer.send("one\r\ntwo\n");
  REQUIRE(peer.wait_out("got two\n"));
  peer.close_in();  // socat ends its side with close_notify: the child reads EOF
  CHECK(dock.exit_code() == 0);
  peer.drain();
  CHECK(peer.out_buf.find("got one\r\ngot two\neof-seen\n") != std::string::npos);
  CHECK(peer.out_buf.size() == std::string("hello\nto-stderr\ngot one\r\ngot two\neof-seen\n").size());
  CHECK(dock.out_buf.empty());
  CHECK(dock.err_buf.empty());
}

// SPEC §4 (revised): the server's close is EOF on stdin; the hang-up comes
// when the child's next write to the connection fails.
TEST_CASE("--io tls: the server going away sends SIGHUP, then SIGKILL after --kill-timeout", "[tls]") {
  const int port = free_port();
  Proc peer = tls_server(port);
  Proc dock = start_dock({"--io", with_ca(port), "--", "sh", "-c", "echo up; while :; do echo tick; sleep 0.05; done"});
  REQUIRE(peer.wait_out("up\n"));
  REQUIRE(signal_pid(peer.pid, SIGKILL));
  CHECK(dock.exit_code() == 128 + SIGHUP);

  const int port2 = free_port();
  Proc peer2 = tls_server(port2);
  Proc dock2 = start_dock({"--kill-timeout", "300ms", "--io", with_ca(port2), "--", "sh", "-c",
                           "trap '' HUP; echo up; while :; do echo tick; sleep 0.05; done"});
  REQUIRE(peer2.wait_out("up\n"));
  const int64_t t0 = now_ms();
  REQUIRE(signal_pid(peer2.pid, SIGKILL));
  CHECK(dock2.exit_code() == 128 + SIGKILL);
  CHECK(now_ms() - t0 >= 280);
}

TEST_CASE("--io tls: an untrusted or misnamed server is exit 1, named, and nothing starts", "[tls]") {
  const std::string marker = temp_path("tls-never");
  unlink(marker.c_str());
  const int port = free_port();
  {
    Proc peer = tls_server(port);  // signed by the test CA, which the system does not trust
    Proc p = run_dock({"--io", tls_url(port), "--", "touch", marker}, {.env = {"SSL_CERT_FILE=/nonexistent"}});
    CHECK(p.exit_code() == 1);
    CHECK(p.err_buf == "dock: " + tls_url(port) + ": certificate verify failed: unable to get local issuer certificate\n");
  }
  {
    Proc peer = tls_server(port, "wrongname");
    Proc p = run_dock({"--io", with_ca(port), "--", "touch", marker});
    CHECK(p.exit_code() == 1);
    CHECK(p.err_buf == "dock: " + with_ca(port) + ": certificate verify failed: hostname mismatch\n");
  }
  {
    Proc peer = tls_server(port, "wrongname");
    Proc p = run_dock({"--io", with_ca(port, "127.0.0.1"), "--", "touch", marker});
    CHECK(p.exit_code() == 1);
    CHECK(p.err_buf == "dock: " + with_ca(port, "127.0.0.1") + ": certificate verify failed: IP address mismatch\n");
  }
  CHECK(access(marker.c_str(), F_OK) != 0);

  // Bad local files are found before connecting.
  Proc p = run_dock({"--io", tls_url(port, "localhost", "?ca=" + cert("ca.pem") + "&cert=" + cert("client.pem") +
                                                            "&key=" + cert("server.key")),
                     "--", "touch", marker});
  CHECK(p.exit_code() == 1);
  CHECK(p.err_buf.find(": key=" + cert("server.key") + ": key values mismatch\n") != std::string::npos);
  Proc missing = run_dock({"--io", tls_url(port, "localhost", "?ca=/nonexistent/ca.pem"), "--", "true"});
  CHECK(missing.exit_code() == 2);
  CHECK(missing.err_buf.find("/nonexistent/ca.pem: No such file or directory") != std::string::npos);
}

TEST_CASE("--io tls: SSL_CERT_FILE, IPv4 and IPv6 addresses, prefixes", "[tls]") {
  const int port = free_port();
  Proc peer = tls_server(port);
  Proc dock = start_dock({"--io", tls_url(port, "127.0.0.1"), "--stdout-prefix", "P ", "--stderr-prefix", "E ",
                          "--", "sh", "-c", "echo a; echo b >&2"},
                         {.env = {"SSL_CERT_FILE=" + cert("ca.pem")}});
  CHECK(dock.exit_code() == 0);
  peer.drain();
  CHECK((peer.out_buf == "P a\nE b\n" || peer.out_buf == "E b\nP a\n"));
  CHECK(dock.err_buf.empty());

  const int port6 = free_port();
  Proc peer6 = tls_server(port6, "server", false, true);
  Proc dock6 = start_dock({"--io", with_ca(port6, "[::1]"), "--", "echo", "over-v6"});
  CHECK(dock6.exit_code() == 0);
  peer6.drain();
  CHECK(peer6.out_buf == "over-v6\n");
}

TEST_CASE("--io tls: a client certificate when the server asks for one", "[tls]") {
  const int port = free_port();
  {
    Proc peer = tls_server(port, "server", true);
    Proc dock = start_dock({"--io", with_ca(port) + "&cert=" + cert("client.pem") + "&key=" + cert("client.key"),
                            "--", "echo", "accepted"});
    CHECK(dock.exit_code() == 0);
    peer.drain();
    CHECK(peer.out_buf == "accepted\n");
  }
  {  // without one, TLS 1.3 refuses after the handshake: the connection drops
    Proc peer = tls_server(port, "server", true);
    Proc dock = start_dock({"--io", with_ca(port), "--", "sh", "-c", "sleep 100"});
    CHECK(dock.exit_code() == 128 + SIGHUP);
    dock.drain();
    CHECK(dock.err_buf == "dock: " + with_ca(port) + ": tlsv13 alert certificate required; SIGHUP to sh\n");
    peer.drain();
    CHECK(peer.out_buf.empty());
  }
}

TEST_CASE("--io tls: ?insecure=1 skips verification and says so", "[tls]") {
  const int port = free_port();
  Proc peer = tls_server(port, "wrongname");
  Proc dock = start_dock({"--io", tls_url(port, "127.0.0.1", "?insecure=1"), "--", "echo", "unverified"});
  CHECK(dock.exit_code() == 0);
  peer.drain();
  CHECK(peer.out_buf == "unverified\n");
  dock.drain();
  CHECK(dock.err_buf == "dock: " + tls_url(port, "127.0.0.1", "?insecure=1") +
                            ": insecure=1: the server's certificate and name are NOT verified\n");
}

// SPEC §18: ./dock-static (musl) has no TLS. Every option that takes a
// TLS URL refuses it as bad usage (exit 2) before anything starts, and
// names the build that has TLS; the same URL without TLS is accepted.
TEST_CASE("a build without TLS refuses each TLS URL with exit 2, naming dock-static-tls", "[no-tls]") {
  if (dock_has_tls()) {
    SUCCEED("this build has TLS: the [tls] cases are its tests");
    return;
  }
  const std::string marker = temp_path("no-tls-marker");
  const std::vector<std::vector<std::string>> refused = {
      {"--io", "tls://logs:6514"},
      {"--io", "ssl://127.0.0.1:1?insecure=1"},
      {"--log-to", "tls://logs:6514"},
      {"--log-to", "syslog+tls://logs"},
      {"--web-hook", "https://hooks.example/dock"},
      {"--wait-for", "https://db:8443/health"},
      {"--teardown", "https://hooks.example/down"},
  };
  for (const auto& args : refused) {
    INFO(args[0] << " " << args[1]);
    std::vector<std::string> argv = args;
    argv.insert(argv.end(), {"--", "touch", marker});
    Proc p = run_dock(argv);
    CHECK(p.exit_code() == 2);
    CHECK(p.err_buf == "dock: " + args[0] + ": '" + args[1] + "': this build has no TLS; use dock-static-tls\n");
    CHECK(access(marker.c_str(), F_OK) != 0);
  }
  // dock --check takes a probe URL the same way, and exits 0 or 1 only (a probe).
  Proc check = run_dock({"--check", "https://127.0.0.1:1/ready"});
  CHECK(check.exit_code() == 1);
  CHECK(check.err_buf.find("this build has no TLS; use dock-static-tls") != std::string::npos);
  // Without TLS the same targets are taken (here: a log file and plain syslog).
  Proc plain = run_dock({"--log-to", "syslog+udp://127.0.0.1:9", "--", "touch", marker});
  CHECK(plain.exit_code() == 0);
  CHECK(access(marker.c_str(), F_OK) == 0);
}

TEST_CASE("--io tls: without libssl.so.3, ./dock says so, connects nowhere, starts nothing", "[tls]") {
  if (!only_libc_applies("OpenSSL")) return;
  // A private mount namespace where the library directory holds only libc
  // and the loader: dock starts, libssl.so.3 is nowhere to be found.
  int port = 0;
  const int lfd = loopback_listener(4, port);
  const std::string marker = temp_path("no-libssl");
  const std::string url = "tls://127.0.0.1:" + std::to_string(port);
  Proc p = run_dock_with_only_libc({"--io", url, "--", "touch", marker});
  CHECK(p.exit_code() == 1);
  CHECK(p.err_buf == "dock: " + url +
                         ": TLS needs OpenSSL 3 (libssl.so.3: cannot open shared object file: No such file or "
                         "directory): install libssl3, or use dock-static-tls\n");
  CHECK(access(marker.c_str(), F_OK) != 0);
  pollfd pf{lfd, POLLIN, 0};
  CHECK(poll(&pf, 1, 0) == 0);  // no connection was made
  close(lfd);
}

TEST_CASE("--io tls: 100 MB to a slow reader arrive complete and in order; memory stays bounded", "[tls][slow]") {
  const int port = free_port();
  Proc peer = tls_server(port);
  const long lines = 12'000'000;  // "1\n" .. "12000000\n": about 93 MB
  Proc dock = start_dock({"--io", with_ca(port), "--", "seq", "1", std::to_string(lines)});
  long next = 1, bad = 0, reads = 0, worst_rss_kb = 0, worst_anon_kb = 0;
  std::string partial;
  std::vector<char> buf(64 * 1024);
  const int64_t deadline = now_ms() + 120'000;
  for (;;) {
    pollfd rp{peer.out, POLLIN, 0};
    if (poll(&rp, 1, int(std::max<int64_t>(1, deadline - now_ms()))) != 1) break;
    ssize_t n = read(peer.out, buf.data(), buf.size());
    if (n <= 0) break;
    partial.append(buf.data(), size_t(n));
    size_t at = 0;
    for (size_t nl; (nl = partial.find('\n', at)) != std::string::npos; at = nl + 1) {
      if (partial.compare(at, nl - at, std::to_string(next)) == 0) ++next;
      else ++bad;
    }
    partial.erase(0, at);
    if (++reads % 64 == 0) {
      worst_rss_kb = std::max(worst_rss_kb, proc_status_field(dock.dock_pid(), "VmRSS"));
      worst_anon_kb = std::max(worst_anon_kb, proc_status_field(dock.dock_pid(), "RssAnon"));
      usleep(2000);  // a slow reader: dock and the child must wait for it
    }
  }
  CHECK(bad == 0);
  CHECK(next == lines + 1);
  CHECK(partial.empty());
  CHECK(dock.exit_code() == 0);
  // Resident: with ./dock that includes the pages of libssl and libcrypto
  // it runs (shared with every other user of OpenSSL); dock's own memory is
  // the anonymous part, which would grow if dock buffered.
  INFO("dock's largest resident set over TLS: " << worst_rss_kb << " KiB, anonymous " << worst_anon_kb << " KiB");
  CHECK(worst_anon_kb > 0);
  if (memory_is_docks()) {
    CHECK(worst_anon_kb < 4 * 1024);
    CHECK(worst_rss_kb < 8 * 1024);
  }
}
