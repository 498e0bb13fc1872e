// Helpers for the behaviour tests: run ./dock for real (as a subreaper, or
// as PID 1 of a new pid namespace through unshare), talk to it through
// pipes or a pseudo-terminal, and wait for what it does -- every wait is for
// an event (a line, an exit, EOF) and has a deadline.
#pragma once

#include <catch2/catch.hpp>

#include <cerrno>
#include <cstdio>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <atomic>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace t {

constexpr int kTimeoutMs = 10'000;

inline int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// The test runner's own variables (DOCK_BIN, DOCK_FIELD, DOCK_EMULATED,
// DOCK_TEST_SKIPS), read once at start and then removed from the
// environment: they are not dock's, and a dock the tests start -- by Proc,
// Pty, a shell or std::system -- must not see them (it warns of a DOCK_*
// variable that no option has).
struct RunnerEnv {
  std::string bin = "./dock", field, emulated, skips;
  RunnerEnv() {
    for (auto [name, to] : {std::pair{"DOCK_BIN", &bin}, std::pair{"DOCK_FIELD", &field},
                            std::pair{"DOCK_EMULATED", &emulated}, std::pair{"DOCK_TEST_SKIPS", &skips}}) {
      if (const char* v = std::getenv(name)) *to = v;
      unsetenv(name);
    }
  }
};
inline const RunnerEnv& runner_env() {
  static const RunnerEnv env;
  return env;
}
inline const RunnerEnv& g_runner_env_read_at_start = runner_env();

inline const std::string& dock_path() { return runner_env().bin; }

// Field mode (DOCK_FIELD=1, run by make test): dock starts with Docker's
// default capability set as its bounding set -- no CAP_SYS_PTRACE, no
// CAP_SYS_ADMIN -- as it does in a container. The tests themselves keep
// theirs (they mount, make namespaces, plant files as other users);
// unshare, when a test makes dock PID 1, runs before the drop.
inline bool field_mode() {
  return runner_env().field == "1";
}

constexpr const char* kDockerCapabilities =
    "--bounding-set=-all,+chown,+dac_override,+fowner,+fsetid,+kill,+setgid,+setuid,+setpcap,"
    "+net_bind_service,+net_raw,+sys_chroot,+mknod,+audit_write,+setfcap";

// The command line that starts dock: ./dock, or in field mode setpriv
// dropping the capabilities first (setpriv execs dock: same pid).
inline std::vector<std::string> dock_command() {
  if (!field_mode()) return {dock_path()};
  // By its path: a test may give dock a PATH without setpriv's directory.
  static const std::string setpriv = access("/usr/bin/setpriv", X_OK) == 0 ? "/usr/bin/setpriv" : "/bin/setpriv";
  return {setpriv, kDockerCapabilities, "--inh-caps=-all", dock_path()};
}

// Emulation (DOCK_EMULATED=1, set by scripts/run-tests.sh): dock is a
// binary for another architecture run by qemu-user through binfmt_misc.
// qemu-user refuses PR_SET_CHILD_SUBREAPER (EINVAL), so dock cannot be a
// subreaper there: every dock these tests start is PID 1 of a new pid
// namespace, as in a container, and each_mode() has that mode only.
inline bool emulated() {
  return runner_env().emulated == "1";
}

// dock built with sanitizers (make check-sanitize): its resident set is the
// sanitizers' shadow memory more than its own, and it needs libasan.
inline bool sanitized() { return dock_path().find("sanitize") != std::string::npos; }

// Whether the build under test speaks TLS: not ./dock-static (musl), whose
// --version says "no TLS" (SPEC §18). The [tls] cases need it; make test
// runs them against ./dock and ./dock-static-tls.
// What a shell command writes, stdout and stderr together.
inline std::string output_of(const std::string& cmd) {
  std::string out;
  if (FILE* f = popen((cmd + " 2>&1").c_str(), "r")) {
    char buf[512];
    while (size_t n = fread(buf, 1, sizeof buf, f)) out.append(buf, n);
    pclose(f);
  }
  return out;
}

inline bool dock_has_tls() {
  static const bool has = output_of(dock_path() + " --version").find("no TLS") == std::string::npos;
  return has;
}

// Whether dock's resident set is dock's: not with sanitizers' shadow
// memory, not with qemu-user's translated code and its own heap.
inline bool memory_is_docks() { return !sanitized() && !emulated(); }

inline std::string helper() { return "./tests/helper"; }

// The two ways dock runs, for a case that must hold in both: as a child
// subreaper (false) and as PID 1 of a new pid namespace (true). Catch2
// runs the case once for each (GENERATE); the mode is named in its
// messages. Ask once per case, at its top.
inline bool each_mode() {
  const bool pid1 = emulated() ? true : GENERATE(false, true);
  UNSCOPED_INFO((pid1 ? "as PID 1" : "as subreaper"));
  return pid1;
}

// The command that makes what follows PID 1 of a new pid namespace (with a
// user namespace too when the tests do not run as root).
inline std::vector<std::string> pid1_prefix() {
  std::vector<std::string> p{"unshare"};
  if (geteuid() != 0) { p.push_back("--user"); p.push_back("--map-root-user"); }
  for (auto a : {"--pid", "--fork", "--mount-proc"}) p.push_back(a);
  return p;
}

// A path under /tmp that no other test run uses.
inline std::string temp_path(const std::string& name) {
  return "/tmp/dock-test-" + std::to_string(getpid()) + "-" + name;
}

// A fresh directory under /tmp for one test, removed with what it holds.
struct Dir {
  std::string path;
  explicit Dir(const std::string& name) : path(temp_path(name)) {
    std::system(("rm -rf " + path).c_str());
    REQUIRE(mkdir(path.c_str(), 0755) == 0);
  }
  ~Dir() { std::system(("rm -rf " + path).c_str()); }
};

// A tmpfs of `size` (mount's syntax: "64k") on a fresh directory, unmounted
// however the test ends. fill() takes all its space; free() gives it back.
struct SmallDisk {
  Dir dir;
  SmallDisk(const std::string& name, const std::string& size) : dir(name) {
    REQUIRE(mount("tmpfs", dir.path.c_str(), "tmpfs", 0, ("size=" + size).c_str()) == 0);
  }
  ~SmallDisk() { umount2(dir.path.c_str(), MNT_DETACH); }
  void fill() const { std::system(("dd if=/dev/zero of=" + filler() + " bs=1k 2>/dev/null").c_str()); }
  void free() const { unlink(filler().c_str()); }
  std::string filler() const { return dir.path + "/filler"; }
};

// A TCP listener on 127.0.0.1 with a port of the kernel's choice.
inline int loopback_listener(int backlog, int& port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(fd, backlog) == 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

// A TCP listener on 127.0.0.1 whose connections are handled one at a time
// by `serve` on a thread of its own; serve gets the connection and a
// descriptor that becomes readable when the test is over, and must return
// then. No Catch2 macro may run in serve (it is not the test's thread).
class LoopbackServer {
 public:
  explicit LoopbackServer(std::function<void(int conn, int stop)> serve) : serve_(std::move(serve)) {
    listener_ = loopback_listener(16, port);
    REQUIRE(pipe2(stop_, O_CLOEXEC) == 0);
    thread_ = std::thread([this] {
      for (;;) {
        pollfd p[2] = {{listener_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
        const int r = poll(p, 2, -1);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 || (p[1].revents & POLLIN)) break;
        const int conn = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
        if (conn < 0) continue;
        ++connections;
        serve_(conn, stop_[0]);
        close(conn);
      }
    });
  }
  ~LoopbackServer() {
    if (write(stop_[1], "x", 1) != 1) {}
    thread_.join();
    close(listener_);
    close(stop_[0]);
    close(stop_[1]);
  }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  int port = 0;
  std::atomic<int> connections{0};

 private:
  std::function<void(int, int)> serve_;
  int listener_ = -1;
  int stop_[2] = {-1, -1};
  std::thread thread_;
};

// A port nothing listens on right now.
inline int free_port() {
  int port = 0;
  close(loopback_listener(1, port));
  return port;
}

// Records a skipped case where the runner can count it (Catch2 v2 has no SKIP).
inline void skip(const std::string& why) {
  WARN("SKIPPED: " << why);
  if (!runner_env().skips.empty()) {
    std::ofstream out(runner_env().skips, std::ios::app);
    out << Catch::getResultCapture().getCurrentTestName() << ": " << why << "\n";
  }
}

inline bool have(const char* prog) {
  std::string cmd = std::string("command -v ") + prog + " >/dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

// Reads from fd into buf until buf holds `needle` after `from`, EOF, or the
// deadline. Returns the position of needle, or npos.
inline size_t read_until(int fd, std::string& buf, std::string_view needle, int64_t deadline,
                         size_t from = 0) {
  for (;;) {
    size_t at = buf.find(needle, from);
    if (at != std::string::npos) return at;
    int64_t left = deadline - now_ms();
    if (left <= 0 || fd < 0) return std::string::npos;
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, int(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return std::string::npos;
    char tmp[4096];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return buf.find(needle, from);  // EOF (EIO on a pty)
    buf.append(tmp, size_t(n));
  }
}

// Reads until EOF or the deadline; true on EOF.
inline bool read_to_eof(int fd, std::string& buf, int64_t deadline) {
  for (;;) {
    int64_t left = deadline - now_ms();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, int(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char tmp[4096];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return true;
    buf.append(tmp, size_t(n));
  }
}

inline size_t count(std::string_view hay, std::string_view needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string_view::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

// The text of a small /proc file, "" when the process is gone.
inline std::string read_proc(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  char buf[4096];
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  return n > 0 ? std::string(buf, size_t(n)) : std::string();
}

// A whole file, "" when it cannot be read.
inline std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

// State letter and parent from /proc/PID/stat; {'?', -1} when gone.
inline std::pair<char, pid_t> stat_of(pid_t pid) {
  std::string stat = read_proc("/proc/" + std::to_string(pid) + "/stat");
  size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 4 >= stat.size()) return {'?', -1};
  return {stat[close + 2], pid_t(std::atol(stat.c_str() + close + 4))};
}

// The processes whose parent is `ppid`, from /proc.
inline std::vector<pid_t> children_of(pid_t ppid) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  while (dirent* e = d ? readdir(d) : nullptr) {
    char* end;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    if (stat_of(pid_t(pid)).second == ppid) out.push_back(pid_t(pid));
  }
  if (d) closedir(d);
  return out;
}

// One letter: R, S, T, Z ... or '?' when the process is gone.
inline char proc_state(pid_t pid) { return stat_of(pid).first; }

inline long proc_status_field(pid_t pid, const std::string& name) {
  std::istringstream f(read_proc("/proc/" + std::to_string(pid) + "/status"));
  std::string l;
  while (std::getline(f, l))
    if (l.rfind(name + ":", 0) == 0) return std::atol(l.c_str() + name.size() + 1);
  return -1;
}

// Waits, on inotify events (`mask`) of the directory of `path`, until
// `done()` holds. No sleeping: every wake-up is a change.
template <typename Done>
inline bool wait_in_dir(const std::string& path, uint32_t mask, Done done, int timeout_ms) {
  const std::string dir = path.substr(0, path.rfind('/'));
  int in = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (in < 0) return false;
  inotify_add_watch(in, dir.c_str(), mask);
  const int64_t deadline = now_ms() + timeout_ms;
  bool reached = false;
  for (;;) {
    if (done()) { reached = true; break; }
    const int64_t left = deadline - now_ms();
    if (left <= 0) break;
    pollfd p{in, POLLIN, 0};
    if (poll(&p, 1, int(left)) <= 0) continue;
    char events[4096];
    while (read(in, events, sizeof events) > 0) {}
  }
  close(in);
  return reached;
}

// Until the file at `path` contains `needle`.
inline bool wait_file_contains(const std::string& path, std::string_view needle, int timeout_ms = kTimeoutMs) {
  return wait_in_dir(path, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE,
                     [&] { return read_file(path).find(needle) != std::string::npos; }, timeout_ms);
}

// Until something is at `path` (present), or nothing is (!present).
inline bool wait_file(const std::string& path, bool present, int timeout_ms = kTimeoutMs) {
  return wait_in_dir(path, IN_CREATE | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM, [&] {
    struct stat sb;
    return (lstat(path.c_str(), &sb) == 0) == present;
  }, timeout_ms);
}

// CPU time (user + system) a process has used, in clock ticks.
inline long cpu_ticks(pid_t pid) {
  std::string stat = read_proc("/proc/" + std::to_string(pid) + "/stat");
  size_t at = stat.rfind(')');
  if (at == std::string::npos) return -1;
  std::istringstream fields(stat.substr(at + 2));
  std::string f;
  long utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {  // field 3 is the state; 14 utime, 15 stime
    if (i == 14) utime = std::atol(f.c_str());
    if (i == 15) { stime = std::atol(f.c_str()); break; }
  }
  return utime + stime;
}

// kill() for tests, refusing the pids that mean "many processes" (0, -1,
// negative groups) or init: a test must never signal more than it means to.
inline bool signal_pid(pid_t pid, int sig) {
  if (pid <= 1) {
    FAIL_CHECK("refusing to signal pid " << pid);
    return false;
  }
  return kill(pid, sig) == 0;
}

inline bool alive(pid_t pid) {
  char s = proc_state(pid);
  return s != '?' && s != 'Z' && s != 'X';
}

// Waits for our child `pid` (through its pidfd) to exit, then reaps it:
// the raw wait status, or nullopt at the deadline.
inline std::optional<int> wait_pidfd(int pidfd, pid_t pid, int timeout_ms) {
  pollfd p{pidfd, POLLIN, 0};
  const int64_t deadline = now_ms() + timeout_ms;
  for (;;) {
    const int64_t left = deadline - now_ms();
    if (left < 0) return std::nullopt;
    const int r = poll(&p, 1, int(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return std::nullopt;
    break;
  }
  int st = 0;
  if (waitpid(pid, &st, 0) != pid) return std::nullopt;
  return st;
}

struct Options {
  bool pid1 = false;                  // run under unshare --pid --fork --mount-proc
  std::vector<std::string> env;       // NAME=VALUE added to (or replacing) ours
  std::vector<int> ignored;           // signals set to SIG_IGN before exec
  std::vector<int> blocked;           // signals blocked before exec
  bool stdin_pipe = true;
  std::string cwd;                    // the directory it starts in; "": ours
};

// A process started by the tests, with pipes on its stdio.
class Proc {
 public:
  pid_t pid = -1;  // ./dock, or unshare in PID 1 mode
  int in = -1, out = -1, err = -1;
  std::string out_buf, err_buf;
  std::optional<int> status;
  bool pid1 = false;

  Proc() = default;
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;
  Proc(Proc&& o) noexcept { *this = std::move(o); }
  Proc& operator=(Proc&& o) noexcept {
    std::swap(pid, o.pid); std::swap(in, o.in); std::swap(out, o.out); std::swap(err, o.err);
    std::swap(pidfd_, o.pidfd_); std::swap(out_buf, o.out_buf); std::swap(err_buf, o.err_buf);
    std::swap(status, o.status); std::swap(pid1, o.pid1);
    return *this;
  }
  ~Proc() {
    if (pid > 1 && !status) {
      if (pid1) {
        pid_t d = dock_pid();
        if (d > 1) kill(d, SIGKILL);
      }
      kill(pid, SIGKILL);
      wait_exit(5000);
    }
    for (int fd : {in, out, err, pidfd_}) if (fd >= 0) close(fd);
  }

  static Proc start(const std::vector<std::string>& args, const Options& o = {}) {
    std::vector<std::string> full;
    if (o.pid1) full = pid1_prefix();
    full.insert(full.end(), args.begin(), args.end());
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) {
      std::string_view v = *e;
      bool replaced = false;
      for (const auto& add : o.env)
        if (v.substr(0, v.find('=') + 1) == std::string_view(add).substr(0, add.find('=') + 1)) replaced = true;
      if (!replaced) envs.emplace_back(v);
    }
    envs.insert(envs.end(), o.env.begin(), o.env.end());

    int pin[2], pout[2], perr[2];
    REQUIRE(pipe2(pin, O_CLOEXEC) == 0);
    REQUIRE(pipe2(pout, O_CLOEXEC) == 0);
    REQUIRE(pipe2(perr, O_CLOEXEC) == 0);
    std::vector<char*> argv, envp;
    for (auto& a : full) argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);

    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      if (o.stdin_pipe) dup2(pin[0], 0);
      dup2(pout[1], 1);
      dup2(perr[1], 2);
      setpgid(0, 0);  // away from the test runner's group and terminal
      if (!o.cwd.empty() && chdir(o.cwd.c_str()) != 0) _exit(112);
      for (int s = 1; s < 65; ++s) signal(s, SIG_DFL);
      for (int s : o.ignored) signal(s, SIG_IGN);
      sigset_t mask;
      sigemptyset(&mask);
      for (int s : o.blocked) sigaddset(&mask, s);
      sigprocmask(SIG_SETMASK, &mask, nullptr);
      execvpe(argv[0], argv.data(), envp.data());
      _exit(111);
    }
    Proc p;
    p.pid = pid;
    p.pid1 = o.pid1;
    close(pin[0]); close(pout[1]); close(perr[1]);
    p.in = pin[1]; p.out = pout[0]; p.err = perr[0];
    p.pidfd_ = int(syscall(SYS_pidfd_open, pid, 0));
    REQUIRE(p.pidfd_ >= 0);
    return p;
  }

  // The pid of dock itself as seen from the tests: the process, or
  // unshare's child in PID 1 mode (find it once the child reported ready).
  pid_t dock_pid() const {
    if (!pid1) return pid;
    auto kids = children_of(pid);
    return kids.empty() ? -1 : kids.front();
  }

  bool wait_out(std::string_view needle, int timeout_ms = kTimeoutMs) {
    return read_until(out, out_buf, needle, now_ms() + timeout_ms) != std::string::npos;
  }
  bool wait_err(std::string_view needle, int timeout_ms = kTimeoutMs) {
    return read_until(err, err_buf, needle, now_ms() + timeout_ms) != std::string::npos;
  }
  void send(std::string_view text) {
    REQUIRE(write(in, text.data(), text.size()) == ssize_t(text.size()));
  }
  void close_in() { if (in >= 0) close(in); in = -1; }

  // The raw wait status, or nullopt at the deadline.
  std::optional<int> wait_exit(int timeout_ms = kTimeoutMs) {
    if (!status) status = wait_pidfd(pidfd_, pid, timeout_ms);
    return status;
  }

  // Exit code as a shell shows it (128+N for signals), -1 on timeout.
  int exit_code(int timeout_ms = kTimeoutMs) {
    auto st = wait_exit(timeout_ms);
    if (!st) return -1;
    if (WIFEXITED(*st)) return WEXITSTATUS(*st);
    return 128 + WTERMSIG(*st);
  }

  // Everything left on stdout and stderr, until both reach EOF.
  void drain(int timeout_ms = kTimeoutMs) {
    int64_t deadline = now_ms() + timeout_ms;
    read_to_eof(out, out_buf, deadline);
    read_to_eof(err, err_buf, deadline);
  }

 private:
  int pidfd_ = -1;
};

// The options dock starts with: as given, and PID 1 under emulation.
inline Options dock_options(Options o) {
  o.pid1 |= emulated();
  return o;
}

// Starts dock; the test talks to it through the returned Proc.
inline Proc start_dock(const std::vector<std::string>& args, const Options& o = {}) {
  std::vector<std::string> full = dock_command();
  full.insert(full.end(), args.begin(), args.end());
  return Proc::start(full, dock_options(o));
}

// Runs dock to the end with stdin closed; returns it, exited (or killed).
inline Proc run_dock(const std::vector<std::string>& args, const Options& o = {}) {
  Proc p = start_dock(args, o);
  p.close_in();
  p.drain();
  p.wait_exit();
  return p;
}

// A program on a new pseudo-terminal that is its controlling terminal, as a
// shell in a terminal window (or `docker run -it`) would have it.
class Pty {
 public:
  int master = -1;
  pid_t pid = -1;
  std::string buf;
  size_t cursor = 0;  // expect() searches from here and moves past a match

  static Pty start(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
    Pty t;
    t.master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    REQUIRE(t.master >= 0);
    REQUIRE(grantpt(t.master) == 0);
    REQUIRE(unlockpt(t.master) == 0);
    std::string slave = ptsname(t.master);
    winsize ws{40, 120, 0, 0};
    ioctl(t.master, TIOCSWINSZ, &ws);
    std::vector<std::string> envs;
    for (char** e = environ; *e; ++e) envs.emplace_back(*e);
    envs.insert(envs.end(), env.begin(), env.end());
    std::vector<char*> argv, envp;
    std::vector<std::string> a = args;
    for (auto& s : a) argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& e : envs) envp.push_back(e.data());
    envp.push_back(nullptr);
    t.pid = fork();
    REQUIRE(t.pid >= 0);
    if (t.pid == 0) {
      setsid();
      int s = open(slave.c_str(), O_RDWR);
      ioctl(s, TIOCSCTTY, 0);
      dup2(s, 0); dup2(s, 1); dup2(s, 2);
      if (s > 2) close(s);
      for (int sig = 1; sig < 65; ++sig) signal(sig, SIG_DFL);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execvpe(argv[0], argv.data(), envp.data());
      _exit(111);
    }
    t.pidfd_ = int(syscall(SYS_pidfd_open, t.pid, 0));
    return t;
  }
  Pty() = default;
  Pty(Pty&& o) noexcept { *this = std::move(o); }
  Pty& operator=(Pty&& o) noexcept {
    std::swap(master, o.master); std::swap(pid, o.pid); std::swap(buf, o.buf);
    std::swap(cursor, o.cursor); std::swap(pidfd_, o.pidfd_); std::swap(status_, o.status_);
    return *this;
  }
  ~Pty() {
    if (pid > 1 && !status_) { kill(pid, SIGKILL); wait_exit(5000); }
    if (master >= 0) close(master);
    if (pidfd_ >= 0) close(pidfd_);
  }

  // Waits for `needle` in the terminal's output after the cursor.
  bool expect(std::string_view needle, int timeout_ms = kTimeoutMs) {
    size_t at = read_until(master, buf, needle, now_ms() + timeout_ms, cursor);
    if (at == std::string::npos) return false;
    cursor = at + needle.size();
    return true;
  }
  void type(std::string_view keys) {
    REQUIRE(write(master, keys.data(), keys.size()) == ssize_t(keys.size()));
  }
  std::optional<int> wait_exit(int timeout_ms = kTimeoutMs) {
    if (!status_) status_ = wait_pidfd(pidfd_, pid, timeout_ms);
    return status_;
  }

 private:
  int pidfd_ = -1;
  std::optional<int> status_;
};

// socat listening on ADDRESS, its stdio the test's: what the child sends
// appears on peer.out, what the test writes to peer.in reaches the child.
inline Proc listen_with_socat(const std::string& address) {
  Proc peer = Proc::start({"socat", "-d", "-d", "-t", "5", address + ",reuseaddr", "STDIO"});
  REQUIRE(peer.wait_err("listening on"));
  return peer;
}

// Whether `bin` is dynamically linked (./dock, not ./dock-static).
inline bool is_dynamic(const std::string& bin) {
  return std::system(("ldd " + bin + " >/dev/null 2>&1").c_str()) == 0;
}

// The command that runs `bin ARGS...` in a private mount namespace whose
// library directory holds only libc and the loader: any other library
// (libssl.so.3, libz.so.1) is nowhere to be found by dlopen.
inline std::vector<std::string> with_only_libc(const std::string& bin) {
  const std::string script =
      "set -e; libc=$(readlink -f \"$(ldd \"$1\" | awk '/libc.so/ {print $3}')\"); libdir=$(dirname \"$libc\"); "
      "loader=$(readlink -f \"$(ldd \"$1\" | awk '/ld-linux/ {print $1}')\"); "
      "d=$(mktemp -d); cp \"$libc\" \"$loader\" \"$d\"/; mount --bind \"$d\" \"$libdir\"; "
      "exec \"$@\"";
  return {"unshare", "--mount", "sh", "-c", script, "sh", bin};
}

// Whether the binary under test can run with only libc (see above): not
// ./dock-static, which has `inside` linked in (nothing to test: it passes),
// and not the sanitized build, which needs libasan too (skipped).
inline bool only_libc_applies(const std::string& inside) {
  if (!is_dynamic(dock_path())) {
    SUCCEED("dock-static has " << inside << " linked in");
    return false;
  }
  if (sanitized()) {
    skip("dock built with sanitizers needs libasan, not only libc");
    return false;
  }
  return true;
}

// run_dock(), with only libc and the loader to be found (see above).
inline Proc run_dock_with_only_libc(const std::vector<std::string>& args) {
  std::vector<std::string> full = with_only_libc(dock_path());
  full.insert(full.end(), args.begin(), args.end());
  Proc p = Proc::start(full);
  p.close_in();
  p.drain();
  p.wait_exit();
  return p;
}

}  // namespace t
