// The measuring side of scripts/bench.sh: it starts an init (dock, tini,
// dumb-init, catatonit, or nothing) with a command, optionally as PID 1 of
// a new pid namespace, and measures one thing. Each run prints one line of
// "key=value" figures; bench.sh interleaves the inits and takes medians.
// It reports, it never asserts; every wait has a bound.
//
// Driver modes (WRAPPER... is the init and its arguments up to and
// including its "--", or nothing for the bare command):
//   benchkit spawn N [--pid1] WRAPPER... -- CMD...
//        run WRAPPER CMD N times; median and p90 wall time in µs
//   benchkit siglat N [--pid1] WRAPPER...
//        WRAPPER runs "benchkit sigrecv FIFO"; N SIGUSR1 are sent to the
//        init one at a time, each timed until the receiver has it
//   benchkit storm SECONDS WRAPPER...
//        WRAPPER as PID 1 runs "benchkit orphans SECONDS"; zombies are
//        counted among the init's children as fast as /proc allows
//   benchkit idle SECONDS WRAPPER...
//        WRAPPER as PID 1 supervises a sleeping child; VmHWM/VmRSS of the
//        init, then its CPU time and context switches over SECONDS
//   benchkit shutdown polite|stubborn LIMIT_S WRAPPER...
//        WRAPPER as PID 1 runs a child that exits on SIGTERM (polite) or
//        ignores it (stubborn); SIGTERM to the init, time until the
//        namespace is empty (or "hung" after LIMIT_S, then SIGKILL)
//   benchkit siglat N --stalled-stderr [--pid1] WRAPPER...
//        as siglat, with the init's stderr a pipe that is full and never
//        read (a stalled `docker logs`)
//   benchkit probecpu SECONDS CONNS DOCK
//        CONNS loopback TCP connections held open on the host; DOCK runs
//        with --bind-port on a port nobody binds: its CPU over SECONDS
//   benchkit readylat N notify|bind-port DOCK
//        DOCK runs "benchkit announcer notify|bind-port" with --notify (or
//        --bind-port) and --ready-file; the announcer says READY=1 (or
//        listens) and reports when; the time until the ready file appears
//        (seen by inotify), median and p90 over N runs, in µs
//   benchkit notifyflood SECONDS RATE DOCK
//        DOCK --notify runs "benchkit flooder RATE": RATE STATUS= datagrams
//        a second; dock's CPU over SECONDS
//   benchkit probes N DOCK
//        DOCK --health-port and --ready-file runs sleep; N probes of each
//        kind taking turns: the exec probes `DOCK --check FILE` and `DOCK
//        --check tcp://` (wall time, and CPU of the probe process and of
//        dock), and GET /ready on the health port (wall time, and CPU of
//        the client and of dock); medians, in µs
//   benchkit healthload SECONDS RATE DOCK
//        DOCK --health-port runs sleep; GET /ready RATE times a second;
//        dock's CPU over SECONDS
//   benchkit loglat N DOCK
//        DOCK --log-to tcp://127.0.0.1:PORT runs "benchkit ticker N", which
//        writes a line holding the time every millisecond; the time from
//        each write to its receipt here, median and p99 in µs
// Child modes: sigrecv FIFO, orphans SECONDS, sleeper polite|stubborn,
// announcer notify|bind-port, flooder RATE, ticker N; and, run by bench.sh
// in the background, collector PORT fast|stalled: a log collector on
// 127.0.0.1:PORT that reads everything (fast) or accepts and never reads.

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

std::string self_path;  // this program, for the child modes
int g_child_stderr = -1;  // the init's stderr (-1: /dev/null)

int64_t now_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "benchkit: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

// fork(), or a fork whose child is PID 1 of a new pid namespace.
pid_t spawn(bool pid1, const std::vector<std::string>& argv, int out_fd = -1) {
  pid_t pid = pid1 ? pid_t(syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0)) : fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR);
    dup2(null, 0);
    dup2(out_fd >= 0 ? out_fd : null, 1);
    dup2(g_child_stderr >= 0 ? g_child_stderr : null, 2);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  return pid;
}

// waitpid with a bound, woken by a pidfd; false when it ran out (the
// process is left running).
bool wait_bounded(pid_t pid, int64_t limit_ms, int* status = nullptr) {
  int pfd = int(syscall(SYS_pidfd_open, pid, 0));
  if (pfd >= 0) {
    pollfd p{pfd, POLLIN, 0};
    int r = poll(&p, 1, int(limit_ms));
    close(pfd);
    if (r <= 0) return false;
  }
  int st = 0;
  if (waitpid(pid, &st, 0) != pid) return false;
  if (status) *status = st;
  return true;
}

int64_t percentile(std::vector<int64_t> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  size_t i = size_t(p * double(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// "Name:   123 kB" fields of /proc/PID/status, and fields of /proc/PID/stat.
long status_field(pid_t pid, const char* name) {
  std::string path = "/proc/" + std::to_string(pid) + "/status";
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return -1;
  char buf[256];
  long v = -1;
  size_t n = std::strlen(name);
  while (std::fgets(buf, sizeof buf, f))
    if (std::strncmp(buf, name, n) == 0 && buf[n] == ':') v = std::atol(buf + n + 1);
  std::fclose(f);
  return v;
}

// utime + stime in clock ticks.
long cpu_ticks(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return -1;
  char buf[1024];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');
  if (!p) return -1;
  long field[16] = {};
  // fields after ")": 3 state, 4 ppid, ... 14 utime, 15 stime
  p += 2;
  for (int i = 3; i <= 15 && *p; ++i) {
    if (i >= 14) field[i - 14] = std::atol(p);
    p = std::strchr(p, ' ');
    if (!p) break;
    ++p;
  }
  return field[0] + field[1];
}

std::vector<pid_t> children_of(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children";
  std::vector<pid_t> out;
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return out;
  long c;
  while (std::fscanf(f, "%ld", &c) == 1) out.push_back(pid_t(c));
  std::fclose(f);
  return out;
}

char state_of(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  int fd = open(path.c_str(), O_RDONLY);
  if (fd < 0) return '?';
  char buf[512];
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return '?';
  buf[n] = 0;
  const char* p = std::strrchr(buf, ')');
  return p && p[1] == ' ' ? p[2] : '?';
}

// Splits "WRAPPER... -- CMD..." (spawn) or takes WRAPPER... (the rest).
std::vector<std::string> args_from(char** argv, int from, int argc) {
  std::vector<std::string> v;
  for (int i = from; i < argc; ++i) v.push_back(argv[i]);
  return v;
}

std::vector<std::string> with(std::vector<std::string> wrapper, std::initializer_list<std::string> cmd) {
  for (auto& c : cmd) wrapper.push_back(c);
  return wrapper;
}

// --- driver modes -----------------------------------------------------------

int mode_spawn(long n, bool pid1, std::vector<std::string> argv) {
  std::vector<int64_t> us;
  for (long i = 0; i < n; ++i) {
    int64_t t0 = now_ns();
    pid_t pid = spawn(pid1, argv);
    int st;
    if (!wait_bounded(pid, 5000, &st)) { kill(pid, SIGKILL); waitpid(pid, nullptr, 0); std::puts("hung=1"); return 1; }
    us.push_back((now_ns() - t0) / 1000);
  }
  std::printf("median_us=%lld p90_us=%lld\n", (long long)percentile(us, 0.5), (long long)percentile(us, 0.9));
  return 0;
}

int mode_siglat(long n, bool pid1, std::vector<std::string> wrapper) {
  char fifo[] = "/tmp/benchkit-fifo-XXXXXX";
  if (!mkdtemp(fifo)) die("mkdtemp");
  std::string dir = fifo, path = dir + "/f";
  if (mkfifo(path.c_str(), 0600) != 0) die("mkfifo");
  int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK);
  if (fd < 0) die("open fifo");
  pid_t pid = spawn(pid1, with(wrapper, {self_path, "sigrecv", path}));
  auto get = [&](int64_t* v) {
    size_t got = 0;
    while (got < sizeof *v) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 2000) <= 0) return false;
      ssize_t r = read(fd, reinterpret_cast<char*>(v) + got, sizeof *v - got);
      if (r <= 0 && !(r < 0 && errno == EAGAIN)) return false;
      if (r > 0) got += size_t(r);
    }
    return true;
  };
  int64_t ready;
  std::vector<int64_t> ns;
  long lost = 0;
  if (get(&ready)) {
    for (long i = 0; i < n; ++i) {
      int64_t t0 = now_ns(), t1;
      kill(pid, SIGUSR1);
      if (!get(&t1)) { ++lost; break; }
      ns.push_back(t1 - t0);
    }
  } else {
    lost = n;
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  close(fd);
  unlink(path.c_str());
  rmdir(dir.c_str());
  std::printf("median_us=%.1f p99_us=%.1f received=%zu lost=%ld\n", double(percentile(ns, 0.5)) / 1000,
              double(percentile(ns, 0.99)) / 1000, ns.size(), lost);
  return 0;
}

int mode_storm(long seconds, std::vector<std::string> wrapper) {
  int out[2];
  if (pipe(out) != 0) die("pipe");
  pid_t pid = spawn(true, with(wrapper, {self_path, "orphans", std::to_string(seconds)}), out[1]);
  close(out[1]);
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  int64_t start = now_ns(), storm_end = 0, limit = start + (seconds + 20) * 1000000000LL;
  size_t zombies_max = 0;
  long made = -1;
  std::string text;
  int st;
  bool exited = false;
  while (now_ns() < limit) {
    size_t z = 0;
    for (pid_t c : children_of(pid)) z += state_of(c) == 'Z';
    zombies_max = std::max(zombies_max, z);
    char buf[128];
    ssize_t r = read(out[0], buf, sizeof buf);
    if (r > 0) {
      text.append(buf, size_t(r));
      if (made < 0 && text.find('\n') != std::string::npos) { made = std::atol(text.c_str()); storm_end = now_ns(); }
    }
    if (waitpid(pid, &st, WNOHANG) == pid) { exited = true; break; }
  }
  int64_t end = now_ns();
  if (!exited) { kill(pid, SIGKILL); waitpid(pid, nullptr, 0); }
  std::printf("orphans_per_s=%.0f zombies_max=%zu drain_ms=%.1f%s\n", made > 0 ? double(made) / double(seconds) : 0.0,
              zombies_max, storm_end ? double(end - storm_end) / 1e6 : -1.0, exited ? "" : " hung=1");
  return 0;
}

int mode_idle(long seconds, std::vector<std::string> wrapper) {
  pid_t pid = spawn(true, with(wrapper, {"sleep", "1000"}));
  const int64_t limit = now_ns() + 5000000000LL;
  while (children_of(pid).empty() && now_ns() < limit) usleep(1000);
  if (children_of(pid).empty()) { kill(pid, SIGKILL); waitpid(pid, nullptr, 0); std::puts("nochild=1"); return 1; }
  usleep(100000);  // let the init settle after starting the child
  long hwm = status_field(pid, "VmHWM"), rss = status_field(pid, "VmRSS");
  long t0 = cpu_ticks(pid), v0 = status_field(pid, "voluntary_ctxt_switches"),
       n0 = status_field(pid, "nonvoluntary_ctxt_switches");
  sleep(unsigned(seconds));
  long t1 = cpu_ticks(pid), v1 = status_field(pid, "voluntary_ctxt_switches"),
       n1 = status_field(pid, "nonvoluntary_ctxt_switches");
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  std::printf("vmhwm_kb=%ld vmrss_kb=%ld cpu_ticks=%ld wakeups=%ld\n", hwm, rss, t1 - t0, (v1 - v0) + (n1 - n0));
  return 0;
}

int mode_shutdown(const std::string& kind, long limit_s, std::vector<std::string> wrapper) {
  int out[2];
  if (pipe(out) != 0) die("pipe");
  pid_t pid = spawn(true, with(wrapper, {self_path, "sleeper", kind}), out[1]);
  close(out[1]);
  pollfd p{out[0], POLLIN, 0};
  char c;
  if (poll(&p, 1, 5000) <= 0 || read(out[0], &c, 1) != 1) {
    kill(pid, SIGKILL); waitpid(pid, nullptr, 0); std::puts("nochild=1"); return 1;
  }
  int64_t t0 = now_ns();
  kill(pid, SIGTERM);
  bool ended = wait_bounded(pid, limit_s * 1000);
  int64_t t1 = now_ns();
  if (!ended) { kill(pid, SIGKILL); waitpid(pid, nullptr, 0); }
  std::printf("ms=%.1f%s\n", double(t1 - t0) / 1e6, ended ? "" : " hung=1");
  return 0;
}

// A pipe for the init's stderr, filled up and never read.
void stall_stderr() {
  int p[2];
  if (pipe2(p, O_NONBLOCK) != 0) die("pipe");
  char junk[4096] = {};
  while (write(p[1], junk, sizeof junk) > 0) {}
  fcntl(p[1], F_SETFL, 0);  // the init gets it as an ordinary (blocking) pipe
  g_child_stderr = p[1];    // p[0] stays open and unread
}

// A loopback listener and `conns` connections to it, all held open.
void hold_connections(long conns) {
  rlimit r{rlim_t(2 * conns + 64), rlim_t(2 * conns + 64)};
  setrlimit(RLIMIT_NOFILE, &r);
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(l, 4096) != 0) die("listen");
  getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
  for (long i = 0; i < conns; ++i) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c < 0 || connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("connect");
    if (accept4(l, nullptr, nullptr, SOCK_CLOEXEC) < 0) die("accept");
  }
}

// Nanoseconds on CPU of a single-threaded process (its schedstat).
int64_t cpu_ns(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/schedstat";
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) return -1;
  long long ns = -1;
  if (std::fscanf(f, "%lld", &ns) != 1) ns = -1;
  std::fclose(f);
  return ns;
}

// The CPU `pid` uses over `seconds` (percent of one core), once it has
// settled for 0.2 s; then it is killed and reaped.
double cpu_pct_until_killed(pid_t pid, long seconds) {
  usleep(200000);
  const int64_t c0 = cpu_ns(pid), t0 = now_ns();
  sleep(unsigned(seconds));
  const int64_t c1 = cpu_ns(pid), t1 = now_ns();
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return 100.0 * double(c1 - c0) / double(t1 - t0);
}

// A TCP port on 127.0.0.1 the kernel chose, bound to `fd` (not listening).
int bound_loopback_port(int& fd) {
  fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

int mode_probecpu(long seconds, long conns, const std::string& dock) {
  hold_connections(conns);
  int held = -1;  // bound, never listening: a port nobody listens on
  const std::string port = std::to_string(bound_loopback_port(held));
  pid_t pid = spawn(false, {dock, "--bind-port", port, "--", "sleep", "1000"});
  std::printf("cpu_pct=%.3f conns=%ld\n", cpu_pct_until_killed(pid, seconds), conns);
  return 0;
}

// One ready-file latency: DOCK announces through `how`; the announcer
// writes the CLOCK_MONOTONIC ns of its READY=1 (or listen) to stdout.
int64_t ready_latency(const std::string& dock, const std::string& how) {
  const std::string dir = "/tmp/benchkit-ready-" + std::to_string(getpid());
  mkdir(dir.c_str(), 0755);
  const std::string file = dir + "/ready";
  unlink(file.c_str());
  int in = inotify_init1(IN_CLOEXEC);
  inotify_add_watch(in, dir.c_str(), IN_CREATE);
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) die("pipe");
  std::vector<std::string> argv{dock, "--ready-file", file};
  int port = 0;
  if (how == "notify") {
    argv.push_back("--notify");
  } else {
    int probe = -1;  // a free port, let go for the announcer to take
    port = bound_loopback_port(probe);
    close(probe);
    argv.insert(argv.end(), {"--bind-port", std::to_string(port)});
  }
  argv.insert(argv.end(), {"--", self_path, "announcer", how, std::to_string(port)});
  pid_t pid = spawn(false, argv, out[1]);
  close(out[1]);
  int64_t said = 0, seen = -1;
  pollfd p{in, POLLIN, 0};
  if (read(out[0], &said, sizeof said) == sizeof said && poll(&p, 1, 5000) == 1) {
    seen = now_ns();
    char events[4096];
    (void)!read(in, events, sizeof events);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  close(out[0]);
  close(in);
  unlink(file.c_str());
  rmdir(dir.c_str());
  return seen < 0 ? -1 : seen - said;
}

int mode_readylat(long n, const std::string& how, const std::string& dock) {
  std::vector<int64_t> us;
  long lost = 0;
  for (long i = 0; i < n; ++i) {
    const int64_t ns = ready_latency(dock, how);
    if (ns < 0) ++lost;
    else us.push_back(ns / 1000);
  }
  std::printf("median_us=%lld p90_us=%lld lost=%ld\n", (long long)percentile(us, 0.5), (long long)percentile(us, 0.9), lost);
  return 0;
}

// GET PATH from 127.0.0.1:PORT as the kubelet sends it, read to the
// close (at most 5 s); whether the answer was 200.
bool http_probe(int port, const char* path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(uint16_t(port));
  const std::string req = std::string("GET ") + path +
                          " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: kube-probe/1.29\r\nAccept: */*\r\n"
                          "Connection: close\r\n\r\n";
  std::string answer;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      write(fd, req.data(), req.size()) == ssize_t(req.size())) {
    char buf[1024];
    pollfd p{fd, POLLIN, 0};
    ssize_t n;
    while (poll(&p, 1, 5000) == 1 && (n = read(fd, buf, sizeof buf)) > 0) answer.append(buf, size_t(n));
  }
  close(fd);
  return answer.rfind("HTTP/1.1 200 ", 0) == 0;
}

int64_t thread_cpu_ns() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
}

int64_t children_cpu_us() {
  rusage r{};
  getrusage(RUSAGE_CHILDREN, &r);
  return (int64_t(r.ru_utime.tv_sec) + r.ru_stime.tv_sec) * 1000000 + r.ru_utime.tv_usec + r.ru_stime.tv_usec;
}

int64_t median_of(std::vector<int64_t> v) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[(v.size() - 1) / 2];
}

// DOCK --health-port 127.0.0.1:PORT [--ready-file FILE] -- sleep, once
// it answers /ready (within 5 s); -1 when it does not.
pid_t start_health_dock(const std::string& dock, int port, const std::string& file) {
  std::vector<std::string> argv{dock, "--health-port", "127.0.0.1:" + std::to_string(port)};
  if (!file.empty()) argv.insert(argv.end(), {"--ready-file", file});
  argv.insert(argv.end(), {"--", "sleep", "1000"});
  const pid_t pid = spawn(false, argv);
  for (const int64_t limit = now_ns() + 5000000000LL; now_ns() < limit; usleep(10000))
    if (http_probe(port, "/ready")) return pid;
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return -1;
}

int mode_probes(long n, const std::string& dock) {
  const std::string dir = "/tmp/benchkit-probes-" + std::to_string(getpid());
  mkdir(dir.c_str(), 0755);
  const std::string file = dir + "/ready";
  int held = -1;
  const int port = bound_loopback_port(held);
  close(held);
  const pid_t pid = start_health_dock(dock, port, file);
  if (pid < 0) { rmdir(dir.c_str()); std::puts("nodock=1"); return 1; }
  const std::string tcp = "tcp://127.0.0.1:" + std::to_string(port);
  std::vector<int64_t> wall[3], cpu[3];
  long failed = 0;
  for (long i = 0; i < n; ++i) {
    for (int kind = 0; kind < 3; ++kind) {
      const int64_t d0 = cpu_ns(pid), c0 = children_cpu_us(), s0 = thread_cpu_ns(), t0 = now_ns();
      bool ok;
      if (kind < 2) {
        const pid_t probe = spawn(false, {dock, "--check", kind == 0 ? file : tcp});
        int status = 0;
        waitpid(probe, &status, 0);
        ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      } else {
        ok = http_probe(port, "/ready");
      }
      const int64_t t1 = now_ns(), s1 = thread_cpu_ns(), c1 = children_cpu_us(), d1 = cpu_ns(pid);
      failed += ok ? 0 : 1;
      wall[kind].push_back((t1 - t0) / 1000);
      // The probe's CPU: its process's (exec) or the client's own (httpGet), and dock's.
      cpu[kind].push_back((kind < 2 ? c1 - c0 : (s1 - s0) / 1000) + (d1 - d0) / 1000);
    }
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  unlink(file.c_str());
  rmdir(dir.c_str());
  std::printf("exec_wall_us=%lld exec_cpu_us=%lld tcp_wall_us=%lld tcp_cpu_us=%lld http_wall_us=%lld http_cpu_us=%lld "
              "failed=%ld\n",
              (long long)median_of(wall[0]), (long long)median_of(cpu[0]), (long long)median_of(wall[1]),
              (long long)median_of(cpu[1]), (long long)median_of(wall[2]), (long long)median_of(cpu[2]), failed);
  return 0;
}

int mode_healthload(long seconds, long rate, const std::string& dock) {
  int held = -1;
  const int port = bound_loopback_port(held);
  close(held);
  const pid_t pid = start_health_dock(dock, port, "");
  if (pid < 0) { std::puts("nodock=1"); return 1; }
  const int64_t c0 = cpu_ns(pid), t0 = now_ns();
  long asked = 0, failed = 0;
  timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  for (; now_ns() - t0 < seconds * 1000000000LL; ++asked) {
    failed += http_probe(port, "/ready") ? 0 : 1;
    next.tv_nsec += 1000000000L / rate;
    if (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; ++next.tv_sec; }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
  }
  const int64_t c1 = cpu_ns(pid), t1 = now_ns();
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  std::printf("cpu_pct=%.3f asked=%ld failed=%ld\n", 100.0 * double(c1 - c0) / double(t1 - t0), asked, failed);
  return 0;
}

int mode_loglat(long n, const std::string& dock) {
  int listener = -1;
  const int port = bound_loopback_port(listener);
  if (listen(listener, 4) != 0) die("listen");
  const pid_t pid = spawn(false, {dock, "--log-to", "tcp://127.0.0.1:" + std::to_string(port), "--", self_path,
                                  "ticker", std::to_string(n)});
  pollfd p{listener, POLLIN, 0};
  const int conn = poll(&p, 1, 5000) == 1 ? accept(listener, nullptr, nullptr) : -1;
  std::vector<int64_t> us;
  std::string buf;
  char chunk[65536];
  for (const int64_t limit = now_ns() + n * 3000000LL + 5000000000LL; conn >= 0 && long(us.size()) < n;) {
    pollfd c{conn, POLLIN, 0};
    if (now_ns() > limit || poll(&c, 1, 1000) != 1) break;
    const ssize_t got = read(conn, chunk, sizeof chunk);
    if (got <= 0) break;
    const int64_t at = now_ns();
    buf.append(chunk, size_t(got));
    for (size_t nl; (nl = buf.find('\n')) != std::string::npos; buf.erase(0, nl + 1))
      if (buf.compare(0, 5, "tick ") == 0) us.push_back((at - std::atoll(buf.c_str() + 5)) / 1000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  std::printf("median_us=%lld p99_us=%lld got=%zu\n", (long long)percentile(us, 0.5), (long long)percentile(us, 0.99),
              us.size());
  return 0;
}

int mode_notifyflood(long seconds, long rate, const std::string& dock) {
  pid_t pid = spawn(false, {dock, "--notify", "--", self_path, "flooder", std::to_string(rate)});
  std::printf("cpu_pct=%.3f rate=%ld\n", cpu_pct_until_killed(pid, seconds), rate);
  return 0;
}

// --- child modes ------------------------------------------------------------

int notify_socket() {
  return socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

socklen_t notify_address(sockaddr_un& a) {
  const char* name = std::getenv("NOTIFY_SOCKET");
  a = {};
  a.sun_family = AF_UNIX;
  if (name == nullptr) return 0;
  const size_t len = std::min(std::strlen(name), sizeof a.sun_path - 1);
  std::memcpy(a.sun_path, name, len);
  if (a.sun_path[0] == '@') a.sun_path[0] = '\0';
  return socklen_t(offsetof(sockaddr_un, sun_path) + len);
}

// Says READY=1 (or listens on PORT) once dock has surely reached its loop,
// and writes when it did to stdout.
int mode_announcer(const std::string& how, int port) {
  usleep(50000);
  int64_t t = 0;
  if (how == "notify") {
    sockaddr_un a;
    const socklen_t len = notify_address(a);
    int fd = notify_socket();
    t = now_ns();
    sendto(fd, "READY=1", 7, 0, reinterpret_cast<sockaddr*>(&a), len);
  } else {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(uint16_t(port));
    bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a);
    t = now_ns();
    listen(l, 8);
  }
  if (write(STDOUT_FILENO, &t, sizeof t) != sizeof t) return 1;
  pause();
  return 0;
}

// RATE STATUS= datagrams a second, paced on an absolute clock.
int mode_flooder(long rate) {
  sockaddr_un a;
  const socklen_t len = notify_address(a);
  int fd = notify_socket();
  const int64_t step = 1000000000 / std::max(rate, 1L);
  timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  for (long i = 0;; ++i) {
    const std::string text = "STATUS=working on item " + std::to_string(i);
    sendto(fd, text.data(), text.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&a), len);
    next.tv_nsec += step;
    while (next.tv_nsec >= 1000000000) { next.tv_nsec -= 1000000000; ++next.tv_sec; }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
  }
}

// A line with the time every millisecond, N of them.
int mode_ticker(long n) {
  timespec next;
  clock_gettime(CLOCK_MONOTONIC, &next);
  for (long i = 0; i < n; ++i) {
    char line[64];
    const int len = std::snprintf(line, sizeof line, "tick %lld\n", (long long)now_ns());
    if (write(1, line, size_t(len)) != len) return 1;
    next.tv_nsec += 1000000;
    if (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; ++next.tv_sec; }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
  }
  return 0;
}

// A log collector on 127.0.0.1:PORT until killed: it reads and discards
// everything (fast), or accepts and never reads (stalled).
int mode_collector(int port, const std::string& how) {
  const int l = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(uint16_t(port));
  if (bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(l, 16) != 0) die("collector");
  std::vector<pollfd> fds{{l, POLLIN, 0}};
  char buf[65536];
  for (;;) {
    if (poll(fds.data(), fds.size(), -1) < 0) continue;
    if (fds[0].revents & POLLIN) {
      const int c = accept(l, nullptr, nullptr);
      if (c >= 0) fds.push_back({c, short(how == "fast" ? POLLIN : 0), 0});
    }
    for (size_t i = 1; i < fds.size(); ++i)
      if ((fds[i].revents & (POLLIN | POLLHUP)) && read(fds[i].fd, buf, sizeof buf) <= 0) {
        close(fds[i].fd);
        fds.erase(fds.begin() + long(i--));
      }
  }
}

int mode_sigrecv(const char* path) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  int fd = open(path, O_WRONLY);
  if (fd < 0) return 1;
  int64_t t = 0;
  if (write(fd, &t, sizeof t) != sizeof t) return 1;
  for (;;) {
    if (sigwaitinfo(&set, nullptr) != SIGUSR1) continue;
    t = now_ns();
    if (write(fd, &t, sizeof t) != sizeof t) return 1;
  }
}

int mode_orphans(long seconds) {
  const int64_t end = now_ns() + seconds * 1000000000LL;
  long made = 0;
  while (now_ns() < end) {
    pid_t mid = fork();
    if (mid == 0) {
      if (fork() == 0) _exit(0);  // the orphan
      _exit(0);
    }
    if (mid < 0) continue;
    waitpid(mid, nullptr, 0);
    ++made;
  }
  std::printf("%ld\n", made);
  std::fflush(stdout);
  return 0;
}

int mode_sleeper(const std::string& kind) {
  if (kind == "stubborn") signal(SIGTERM, SIG_IGN);
  if (write(1, "r", 1) != 1) return 1;
  for (;;) pause();
}

}  // namespace

int main(int argc, char** argv) {
  self_path = argc > 0 && std::strchr(argv[0], '/') ? argv[0] : "benchkit";
  if (char* real = realpath(self_path.c_str(), nullptr)) { self_path = real; std::free(real); }
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "sigrecv" && argc > 2) return mode_sigrecv(argv[2]);
  if (mode == "orphans" && argc > 2) return mode_orphans(std::atol(argv[2]));
  if (mode == "sleeper" && argc > 2) return mode_sleeper(argv[2]);
  if (mode == "ticker" && argc > 2) return mode_ticker(std::atol(argv[2]));
  if (mode == "collector" && argc > 3) return mode_collector(std::atoi(argv[2]), argv[3]);
  if (argc < 3) { std::fprintf(stderr, "benchkit: see the comment at the top of tests/benchkit.cpp\n"); return 64; }
  long n = std::atol(argv[2]);
  int at = 3;
  bool pid1 = at < argc && std::strcmp(argv[at], "--pid1") == 0;
  if (pid1) ++at;
  if (mode == "spawn") return mode_spawn(n, pid1, args_from(argv, at, argc));
  if (mode == "siglat" && at < argc && std::strcmp(argv[at], "--stalled-stderr") == 0) {
    stall_stderr();
    pid1 = ++at < argc && std::strcmp(argv[at], "--pid1") == 0;
    if (pid1) ++at;
  }
  if (mode == "siglat") return mode_siglat(n, pid1, args_from(argv, at, argc));
  if (mode == "readylat" && argc > 4) return mode_readylat(n, argv[3], argv[4]);
  if (mode == "probes" && argc > 3) return mode_probes(n, argv[3]);
  if (mode == "loglat" && argc > 3) return mode_loglat(n, argv[3]);
  if (mode == "healthload" && argc > 4) return mode_healthload(n, std::atol(argv[3]), argv[4]);
  if (mode == "notifyflood" && argc > 4) return mode_notifyflood(n, std::atol(argv[3]), argv[4]);
  if (mode == "announcer" && argc > 3) return mode_announcer(argv[2], std::atoi(argv[3]));
  if (mode == "flooder" && argc > 2) return mode_flooder(std::atol(argv[2]));
  if (mode == "probecpu" && argc > 4) return mode_probecpu(n, std::atol(argv[3]), argv[4]);
  if (mode == "storm") return mode_storm(n, args_from(argv, 3, argc));
  if (mode == "idle") return mode_idle(n, args_from(argv, 3, argc));
  if (mode == "shutdown" && argc > 3) return mode_shutdown(argv[2], std::atol(argv[3]), args_from(argv, 4, argc));
  std::fprintf(stderr, "benchkit: unknown mode '%s'\n", mode.c_str());
  return 64;
}
