// dock in the world containers run in (issue 15): a service that is not
// root owning the directories dock writes, readers that stall, peers that
// half-close, clocks that step back, an image's ENV switched off with an
// empty value. One case per defect found there; each failed on the binary
// before the fix.
#include "kit.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <glob.h>

using namespace t;

namespace {

// A directory owned by `nobody`: the service's log directory, which the
// service (and so an attacker in it) can write.
struct ServiceDir : Dir {
  explicit ServiceDir(const std::string& name) : Dir(name) { REQUIRE(chown(path.c_str(), kNobody, kNobody) == 0); }
};

// A file outside it that root must never touch: its bytes and mtime.
struct Victim {
  std::string path;
  timespec mtime{};
  explicit Victim(const std::string& name) : path(temp_path(name)) {
    std::ofstream(path) << "precious\n";
    struct stat sb;
    REQUIRE(stat(path.c_str(), &sb) == 0);
    mtime = sb.st_mtim;
  }
  ~Victim() { unlink(path.c_str()); }
  void check_untouched() const {
    CHECK(read_file(path) == "precious\n");
    struct stat sb;
    REQUIRE(stat(path.c_str(), &sb) == 0);
    CHECK(sb.st_mtim.tv_sec == mtime.tv_sec);
    CHECK(sb.st_mtim.tv_nsec == mtime.tv_nsec);
  }
};

// A symlink planted as `nobody` would: owned by nobody, in its directory.
void plant(const std::string& target, const std::string& at) {
  REQUIRE(symlink(target.c_str(), at.c_str()) == 0);
  REQUIRE(lchown(at.c_str(), kNobody, kNobody) == 0);
}

std::vector<std::string> glob_all(const std::string& pattern) {
  glob_t g{};
  std::vector<std::string> out;
  if (glob(pattern.c_str(), 0, nullptr, &g) == 0)
    for (size_t i = 0; i < g.gl_pathc; ++i) out.emplace_back(g.gl_pathv[i]);
  globfree(&g);
  return out;
}

// Waits, on inotify events of `dir`, until a name there matches `pattern`.
bool wait_for_file(const std::string& dir, const std::string& pattern, int timeout_ms = kTimeoutMs) {
  const int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (in < 0) return false;
  inotify_add_watch(in, dir.c_str(), IN_CREATE | IN_MOVED_TO);
  const int64_t deadline = now_ms() + timeout_ms;
  bool found = false;
  while (!(found = !glob_all(dir + "/" + pattern).empty()) && now_ms() < deadline) {
    pollfd p{in, POLLIN, 0};
    if (poll(&p, 1, int(std::max<int64_t>(1, deadline - now_ms()))) <= 0) continue;
    char events[4096];
    while (read(in, events, sizeof events) > 0) {}
  }
  close(in);
  return found;
}

// The bytes of an archive, compressed or not.
std::string archive_bytes(const std::string& path) {
  if (path.size() < 3 || path.substr(path.size() - 3) != ".gz") return read_file(path);
  const std::string out = path + ".txt";
  std::system(("zcat '" + path + "' > '" + out + "'").c_str());
  std::string bytes = read_file(out);
  unlink(out.c_str());
  return bytes;
}

}  // namespace

TEST_CASE("field 3: root follows no symlink planted in the service's directory", "[field][files]") {
  ServiceDir dir("symlinks");
  Victim victim("victim");
  const std::string marker = dir.path + "/started";

  SECTION("the --io file") {
    plant(victim.path, dir.path + "/app.log");
    Proc p = run_dock({"--io", dir.path + "/app.log", "--", "sh", "-c", "echo owned; touch " + marker});
    CHECK(p.exit_code() == 1);
    CHECK(p.err_buf.find("a symlink in a directory others can write: not followed") != std::string::npos);
    CHECK(access(marker.c_str(), F_OK) != 0);
  }
  SECTION("the ready file") {
    plant(victim.path, dir.path + "/ready");
    Proc p = run_dock({"--ready-file", dir.path + "/ready", "--", "touch", marker});
    CHECK(p.exit_code() == 2);
    CHECK(access(marker.c_str(), F_OK) != 0);
  }
  SECTION("a FIFO at the ready file: exit 2 at once, not a hang") {
    REQUIRE(mkfifo((dir.path + "/ready").c_str(), 0666) == 0);
    REQUIRE(lchown((dir.path + "/ready").c_str(), kNobody, kNobody) == 0);
    const int64_t t0 = now_ms();
    Proc p = run_dock({"--ready-file", dir.path + "/ready", "--", "touch", marker});
    CHECK(p.exit_code() == 2);
    CHECK(now_ms() - t0 < 3000);
    CHECK(access(marker.c_str(), F_OK) != 0);
  }
  SECTION("the archive's temporary file") {
    // The old name was FILE_STAMP.gz.tmp: every stamp of the next seconds is planted.
    const time_t now = time(nullptr);
    for (time_t t = now; t < now + 20; ++t) {
      char stamp[32];
      tm local{};
      localtime_r(&t, &local);
      strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", &local);
      plant(victim.path, dir.path + "/app.log_" + stamp + ".gz.tmp");
    }
    // The command stays until told: archives are compressed only while it runs.
    Proc p = start_dock({"--io", dir.path + "/app.log", "--log-max-size", "1k", "--", "sh", "-c",
                         helper() + " write 4000 lines; read x"});
    CHECK(wait_for_file(dir.path, "app.log_*[0-9].gz"));
    p.send("x\n");
    CHECK(p.exit_code() == 0);
  }
  victim.check_untouched();
}

TEST_CASE("field 4: rotation never renames a device, a FIFO or a symlink", "[field][files]") {
  Dir dir("devices");
  const std::string node = dir.path + "/null";
  REQUIRE(mknod(node.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0);  // a private /dev/null
  const std::string link = dir.path + "/stdout";
  REQUIRE(symlink(node.c_str(), link.c_str()) == 0);
  const std::string fifo = dir.path + "/fifo";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  for (const std::string& path : {node, link, fifo}) {
    INFO(path);
    Proc flag = run_dock({"--io", path, "--log-max-size", "1k", "--", "echo", "x"});
    CHECK(flag.exit_code() == 2);
    Options image;  // DOCK_LOG_MAX_SIZE from the image's ENV
    image.env = {"DOCK_LOG_MAX_SIZE=1k"};
    Proc env = run_dock({"--io", path, "--", "echo", "x"}, image);
    CHECK(env.exit_code() == 2);
    CHECK(env.err_buf.find("only a regular file is rotated") != std::string::npos);
  }
  struct stat sb;
  REQUIRE(lstat(node.c_str(), &sb) == 0);
  CHECK(S_ISCHR(sb.st_mode));
  REQUIRE(lstat(link.c_str(), &sb) == 0);
  CHECK(S_ISLNK(sb.st_mode));
  CHECK(glob_all(dir.path + "/*_*").empty());  // nothing was renamed
}

TEST_CASE("field 5: --ready-file never clobbers; an unwritable directory is exit 2 before start", "[field][files]") {
  Dir dir("ready");
  const std::string marker = dir.path + "/started";
  const std::string existing = dir.path + "/ready";
  std::ofstream(existing) << "keep me\n";
  Proc p = run_dock({"--ready-file", existing, "--", "touch", marker});
  CHECK(p.exit_code() == 2);
  CHECK(read_file(existing) == "keep me\n");
  CHECK(access(marker.c_str(), F_OK) != 0);

  // A stale ready file of an earlier run (one pid line) is dock's to replace.
  std::ofstream(existing, std::ios::trunc) << "4242\n";
  Proc again = run_dock({"--ready-file", existing, "--", "touch", marker});
  CHECK(again.exit_code() == 0);
  CHECK(access(existing.c_str(), F_OK) != 0);

  // A directory dock cannot write (a read-only mount): exit 2, nothing started.
  const std::string ro = dir.path + "/ro";
  REQUIRE(mkdir(ro.c_str(), 0755) == 0);
  REQUIRE(mount("tmpfs", ro.c_str(), "tmpfs", MS_RDONLY, "size=16k") == 0);
  unlink(marker.c_str());
  Proc denied = run_dock({"--ready-file", ro + "/ready", "--", "touch", marker});
  umount2(ro.c_str(), MNT_DETACH);
  CHECK(denied.exit_code() == 2);
  CHECK(denied.err_buf.find("Read-only file system") != std::string::npos);
  CHECK(access(marker.c_str(), F_OK) != 0);
}

TEST_CASE("field 6: a stalled stderr reader delays no signal; a FIFO without reader is no hang", "[field][block]") {
  SECTION("dock's stderr full") {
    Proc dock = start_dock({"-d", "--", helper(), "record"});
    REQUIRE(dock.wait_out("ready child"));
    // The reader of dock's stderr stops reading: its pipe fills up.
    const int fill = open(("/proc/" + std::to_string(dock.dock_pid()) + "/fd/2").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    REQUIRE(fill >= 0);
    const std::string block(4096, '.');
    while (write(fill, block.data(), block.size()) > 0) {}
    close(fill);
    const int64_t t0 = now_ms();
    REQUIRE(signal_pid(dock.dock_pid(), SIGUSR1));  // logged with -d: that write cannot go
    CHECK(dock.wait_out("child got 10", 2000));
    REQUIRE(signal_pid(dock.dock_pid(), SIGTERM));
    CHECK(dock.wait_out("child got 15", 2000));
    CHECK(now_ms() - t0 < 2000);
    dock.send("exit 0\n");
    // Once the reader reads again, dock says what it could not.
    read_to_eof(dock.err, dock.err_buf, now_ms() + kTimeoutMs);
    CHECK(dock.exit_code() == 0);
    CHECK(dock.err_buf.find("messages were dropped (stderr was not taking more)") != std::string::npos);
  }
  SECTION("--io FIFO nobody reads") {
    Dir dir("fifo");
    const std::string fifo = dir.path + "/log";
    REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
    const int64_t t0 = now_ms();
    Proc p = start_dock({"--io", fifo, "--", "echo", "x"});
    CHECK(p.exit_code(3000) == 1);
    CHECK(now_ms() - t0 < 3000);
    p.drain(1000);
    CHECK(p.err_buf == "dock: " + fifo + ": a FIFO that nobody reads\n");
  }
}

TEST_CASE("field 7: Ctrl-Z then bg: dock leaves the shell its terminal", "[field][tty]") {
  if (!have("bash")) return skip("bash is not installed");
  Pty term = Pty::start({"bash", "--norc", "--noprofile", "-i"}, {"PS1=PROMPT> "});
  REQUIRE(term.expect("PROMPT> "));
  term.type("set -b\n");  // job notices at once, not at the next prompt
  REQUIRE(term.expect("PROMPT> "));
  term.type(dock_path() + " -- sh -c 'echo st\"\"arted; exec sleep 2'\n");
  REQUIRE(term.expect("started"));
  term.type("\x1a");  // Ctrl-Z
  INFO(term.buf);
  REQUIRE(term.expect("Stopped"));
  REQUIRE(term.expect("PROMPT> "));
  term.type("bg\n");
  REQUIRE(term.expect("Done", 5000));  // the job ran on in the background and ended
  term.type("echo alive-$((40+2))\n");  // bash still has its terminal
  CHECK(term.expect("alive-42"));
  term.type("exit\n");
  CHECK(term.wait_exit());
}

TEST_CASE("field 9: a line that never ends (progress with \\r) still rotates", "[field][rotate]") {
  Dir dir("progress");
  const std::string log = dir.path + "/app.log";
  // --log-rotate 1s: 2.5 s of progress without a newline.
  Proc p = run_dock({"--io", log, "--log-rotate", "1s", "--stdout-prefix", "[app] ", "--", "sh", "-c",
                     "i=0; while [ $i -lt 25 ]; do printf '\\r%d%%' $i; sleep 0.1; i=$((i+1)); done; echo"});
  CHECK(p.exit_code() == 0);
  std::vector<std::string> archives = glob_all(log + "_*");
  CHECK(archives.size() >= 2);
  std::string all;
  for (const auto& a : archives) all += archive_bytes(a);
  all += read_file(log);
  CHECK(count(all, "[app] ") == 1);  // one line, one prefix, however it was cut
  CHECK(all.find("\r24%\n") != std::string::npos);

  // --log-max-size 10k: 200 KB of one line is cut into files near that size.
  Dir big("bigline");
  const std::string log2 = big.path + "/app.log";
  Proc q = run_dock({"--io", log2, "--log-max-size", "10k", "--", "sh", "-c",
                     "head -c 200000 /dev/zero | tr '\\0' 'x'; echo"});
  CHECK(q.exit_code() == 0);
  archives = glob_all(log2 + "_*");
  CHECK(archives.size() >= 2);
  size_t total = read_file(log2).size();
  for (const auto& a : archives) {
    const size_t n = archive_bytes(a).size();
    CHECK(n <= 10 * 1024 + 64 * 1024 + 256 * 1024);
    total += n;
  }
  CHECK(total == 200001);
}

TEST_CASE("field 10: an archive named before older ones (the clock stepped back) is kept", "[field][rotate]") {
  Dir dir("stepback");
  const std::string log = dir.path + "/app.log";
  // An archive of an earlier run with a name from "the future": by names
  // alone it is the newest, and --log-keep 1 would delete the new one.
  std::ofstream(log + "_29991231235959") << "from the future\n";
  Proc p = run_dock({"--io", log, "--log-max-size", "1k", "--log-keep", "1", "--", helper(), "write", "1500", "lines"});
  CHECK(p.exit_code() == 0);
  std::vector<std::string> archives = glob_all(log + "_*");
  REQUIRE(archives.size() == 1);
  CHECK(archives[0].find("_2999") == std::string::npos);
  CHECK(archive_bytes(archives[0]).size() + read_file(log).size() == 1500);
}

TEST_CASE("field 11: at exit dock waits for a slow reader as long as it keeps reading", "[field][drain]") {
  // 300 KB with a prefix, queued in dock when the command ends; the reader
  // then takes 64 KB every 3 s: more than the 5 s stall timeout in all,
  // never 5 s without progress.
  Proc dock = start_dock({"--stdout-prefix", "p ", "--", helper(), "write", "300000", "lines"});
  REQUIRE(dock.wait_out("p "));
  std::string got = dock.out_buf;
  for (int round = 0; round < 8; ++round) {
    pollfd none{-1, 0, 0};
    poll(&none, 0, 1500);  // the reader is slow: it reads again 1.5 s later
    char buf[65536];
    const ssize_t n = read(dock.out, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, size_t(n));
  }
  read_to_eof(dock.out, got, now_ms() + kTimeoutMs);
  CHECK(dock.exit_code() == 0);
  CHECK(got.size() == 300000 + 3000 * 2);
}

TEST_CASE("field 12: a peer that half-closes gets its answer; a reset is one hang-up line", "[field][tcp]") {
  Dir dir("halfclose");
  const std::string received = dir.path + "/received";
  LoopbackServer server([&](int conn, int) {
    const char request[] = "ping\n";
    if (write(conn, request, sizeof request - 1) < 0) return;
    shutdown(conn, SHUT_WR);  // the request is complete: FIN
    std::string answer;
    read_to_eof(conn, answer, now_ms() + kTimeoutMs);
    std::ofstream(received) << answer << "<end>";
  });
  Proc p = run_dock({"--io", "tcp://127.0.0.1:" + std::to_string(server.port), "--", "sh", "-c",
                     "read x; sleep 0.2; echo \"pong $x\"; exit 7"});
  CHECK(p.exit_code() == 7);  // no SIGHUP (129) at the FIN
  CHECK(p.err_buf.empty());
  CHECK(wait_file_contains(received, "<end>"));
  CHECK(read_file(received) == "pong ping\n<end>");

  // The connection reset while the command writes: one line, SIGHUP.
  // It resets only once the command's first line has arrived: a reset before
  // dock has the connection is a failed connect (exit 1), not this case.
  LoopbackServer resetting([](int conn, int stop) {
    pollfd p[2] = {{conn, POLLIN, 0}, {stop, POLLIN, 0}};
    if (poll(p, 2, kTimeoutMs) <= 0 || !(p[0].revents & POLLIN)) return;
    linger l{1, 0};
    setsockopt(conn, SOL_SOCKET, SO_LINGER, &l, sizeof l);  // close() sends RST
  });
  Proc q = run_dock({"--io", "tcp://127.0.0.1:" + std::to_string(resetting.port), "--", "sh", "-c",
                     "trap '' PIPE; while :; do echo x || :; sleep 0.05; done"});
  CHECK(q.exit_code() == 128 + SIGHUP);
  CHECK(q.err_buf == "dock: tcp://127.0.0.1:" + std::to_string(resetting.port) +
                         ": peer closed the connection; SIGHUP to sh\n");
}

TEST_CASE("field 13: signals 32 and 33 do not kill dock", "[field][signals]") {
  Dir dir("rt32");
  const std::string ready = dir.path + "/ready";
  Proc dock = start_dock({"--ready-file", ready, "--", "sh", "-c", "echo up; exec sleep 100"});
  REQUIRE(dock.wait_out("up"));
  REQUIRE(wait_file_contains(ready, "\n"));
  REQUIRE(signal_pid(dock.dock_pid(), 33));
  auto st = dock.wait_exit();
  REQUIRE(st);
  CHECK(WIFEXITED(*st));  // dock ended by itself: the signal was forwarded
  CHECK(WEXITSTATUS(*st) == 128 + 33);
  CHECK(access(ready.c_str(), F_OK) != 0);  // and it cleaned up
}

TEST_CASE("field 14: a file left mid-line by an earlier run gets no line with two prefixes", "[field][prefix]") {
  Dir dir("midline");
  const std::string log = dir.path + "/app.log";
  CHECK(run_dock({"--io", log, "--stdout-prefix", "[app] ", "--", "printf", "starting..."}).exit_code() == 0);
  CHECK(run_dock({"--io", log, "--stdout-prefix", "[app] ", "--", "echo", "second run line"}).exit_code() == 0);
  CHECK(read_file(log) == "[app] starting...\n[app] second run line\n");
}

TEST_CASE("field 16: usage traps: bare integers, option-looking values, empty variables", "[field][options]") {
  Proc bare = run_dock({"--kill-timeout", "5", "--", "true"});
  CHECK(bare.exit_code() == 2);
  CHECK(bare.err_buf == "dock: --kill-timeout: 5 needs a unit, e.g. 5s\n");
  // One rule: a bare SIZE is refused as a bare DURATION is (it was 10 bytes).
  Proc size = run_dock({"--io", temp_path("bare.log"), "--log-max-size", "10", "--", "true"});
  CHECK(size.exit_code() == 2);
  CHECK(size.err_buf == "dock: --log-max-size: 10 needs a unit, e.g. 10M\n");
  Proc sized = run_dock({"--io", temp_path("bare.log"), "--log-max-size", "10b", "--", "true"});  // bytes, said so
  CHECK(sized.exit_code() == 0);
  unlink(temp_path("bare.log").c_str());
  const std::string tty_file = temp_path("--tty");
  Proc opt = run_dock({"--io", "--tty", "true"});
  CHECK(opt.exit_code() == 2);
  Options off;  // -e DOCK_IO= over an image's DOCK_IO
  off.env = {"DOCK_IO=", "DOCK_LOG_MAX_SIZE="};
  Proc p = run_dock({"--", "echo", "to-stdout"}, off);
  CHECK(p.exit_code() == 0);
  CHECK(p.out_buf == "to-stdout\n");
  Options image;
  image.env = {"DOCK_IO=tcp://127.0.0.1:9", "DOCK_LOG_MAX_SIZE=10m"};
  Proc q = run_dock({"--", "true"}, image);
  CHECK(q.exit_code() == 2);
  CHECK(q.err_buf.rfind("dock: DOCK_LOG_MAX_SIZE: needs a file DOCK_IO", 0) == 0);
}

TEST_CASE("field 17: dock leaves the caller's directory; the command keeps it", "[field][cwd]") {
  Dir dir("cwd");
  Options here;
  here.cwd = dir.path;
  char dock[PATH_MAX];
  REQUIRE(realpath(dock_path().c_str(), dock) != nullptr);
  Proc p = Proc::start({dock, "--io", "rel.log", "--", "sh", "-c", "pwd; readlink /proc/$PPID/cwd"}, here);
  p.close_in();
  CHECK(p.exit_code() == 0);
  CHECK(read_file(dir.path + "/rel.log") == dir.path + "\n/\n");
}

TEST_CASE("field 18: file://localhost/ and %-escapes in a file URL", "[field][io]") {
  Dir dir("url");
  Proc p = run_dock({"--io", "file://localhost" + dir.path + "/my%20app.log", "--", "echo", "spaced"});
  CHECK(p.exit_code() == 0);
  CHECK(read_file(dir.path + "/my app.log") == "spaced\n");
}

TEST_CASE("field 1: --bind-port sees a service running as nobody, dock without CAP_SYS_PTRACE", "[field][bind-port]") {
  if (!have("setpriv")) return skip("setpriv (util-linux) is needed to drop CAP_SYS_PTRACE");
  const bool pid1 = each_mode();
  Dir dir(pid1 ? "bind-nobody-1" : "bind-nobody");
  REQUIRE(chmod(dir.path.c_str(), 0755) == 0);
  const std::string ready = dir.path + "/ready";
  const int port = free_port();
  // As in Docker: root, but CAP_SYS_PTRACE not in the bounding set, so
  // /proc/PID/fd of another user's process cannot be read.
  std::vector<std::string> args;
  if (pid1) args = pid1_prefix();
  for (const std::string& a : {std::string("setpriv"), std::string("--bounding-set=-sys_ptrace"), dock_path(),
                               std::string("--bind-port"), std::to_string(port), std::string("--ready-file"), ready,
                               std::string("--"), std::string("setpriv"), std::string("--reuid=65534"),
                               std::string("--regid=65534"), std::string("--clear-groups"), helper(),
                               std::string("listen"), std::to_string(port), std::string("200")})
    args.push_back(a);
  Proc dock = Proc::start(args);
  REQUIRE(dock.wait_out("listening"));
  CHECK(wait_file_contains(ready, "\n", 2000));
  dock.send("exit 0\n");
  CHECK(dock.exit_code() == 0);
  dock.drain();
  CHECK(dock.err_buf.empty());
}

TEST_CASE("field 8: once the command is reaped, its pid is never signalled (another process may have it)", "[field][signals][pid1]") {
  // dock is PID 1; its command (pid 2) exits at once, leaving a leftover
  // that ignores SIGTERM and starts an impostor that gets pid 2 again and
  // leads a group of its own: group 2.
  Proc dock = start_dock({"--kill-timeout", "4s", "--", helper(), "pid-reuse"}, {.pid1 = true});
  REQUIRE(read_until(dock.out, dock.out_buf, "\n", now_ms() + kTimeoutMs) != std::string::npos);
  if (dock.out_buf.find("cannot reuse the pid") != std::string::npos)
    return skip("no CAP_SYS_ADMIN for ns_last_pid: " + dock.out_buf.substr(0, dock.out_buf.find('\n')));
  REQUIRE(dock.out_buf == "impostor 2 group 2\n");
  // Forwarded to what was left in the command's group at its reap: nobody.
  // Group 2 has a new leader now, which must get nothing (SPEC §15).
  REQUIRE(signal_pid(dock.dock_pid(), SIGUSR1));
  CHECK(dock.exit_code() == 0);  // the kill timeout ends the leftover and the impostor
  dock.drain();
  CHECK(dock.out_buf.find("impostor got") == std::string::npos);
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
