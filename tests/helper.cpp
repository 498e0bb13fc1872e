// A child for dock's behaviour tests. Every mode reports on stdout with one
// write per line, so lines from several processes never mix.
//
//   helper record [--grandchild] [--no-stdin]
//                                  print "ready <role> <pid>", then "<role> got N"
//                                  for every signal; "exit N" on stdin ends it
//   helper leftovers               start three leftovers (polite, setsid'ed,
//                                  stubborn) that report SIGTERM, then wait
//                                  for "exit N" on stdin
//   helper orphans N               make N orphans by double fork, print
//                                  "made N", wait for "exit N" on stdin
//   helper orphan-ppid             make an orphan that prints its new
//                                  parent's pid, then exit
//   helper interleave N            N lines each to stdout and stderr, alternating
//   helper write BYTES lines|blocks  100-byte lines, one write each or 64 KiB per write
//   helper state                   print pgrp/pid, foreground, SigBlk, SigIgn
//   helper count MS                print 1, 2, 3, ... one per line, through a 4 KiB
//                                  stdio buffer (so writes split lines), for MS ms
//   helper listen PORT MS [--grandchild]
//                                  after MS ms, listen on [::]:PORT (in a grandchild
//                                  with --grandchild) and print "listening T" (T:
//                                  CLOCK_MONOTONIC ms); "exit N" on stdin ends it
//   helper winch                   print "size ROWS COLS" of its terminal now and on
//                                  every SIGWINCH, until EOF on stdin
//   helper pid-reuse               (as PID 1's command) exit, leaving a leftover
//                                  that starts an impostor with this pid, leading
//                                  a group of its own (so with this group's number)
//   helper orphan-burst N          make N orphans, 1,000 at a time (a process
//                                  starts 1,000 children sharing its memory and
//                                  exits; each child dies with it by parent-death
//                                  signal, so the init reaps it), print "made N",
//                                  wait for "exit N" on stdin
//   helper notify                  print "ready notify <pid> NOTIFY_SOCKET=<value or unset>",
//                                  then per stdin line: "send TEXT" sends TEXT (\n for a
//                                  newline) to $NOTIFY_SOCKET, "child-send TEXT" from a
//                                  child it forks (which stays until the helper ends), "big N" N bytes, "flood N MS" N STATUS=
//                                  datagrams spread over MS ms; each prints "sent";
//                                  "listen PORT" listens on [::]:PORT ("listening");
//                                  "exit N" ends it (SIGTERM: "notify got 15", exit 143)
//   helper notify-listen PATH      bind a datagram socket at PATH (a supervisor's
//                                  NOTIFY_SOCKET), print "listening", then each
//                                  datagram as one line (its newlines as '|')

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

// Where reports go: stdout, or the file HELPER_OUT names (appended), for
// when stdout is a socket the test does not read.
int report_fd() {
  static int fd = [] {
    const char* path = std::getenv("HELPER_OUT");
    return path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : STDOUT_FILENO;
  }();
  return fd;
}

void line(const std::string& text) {
  std::string s = text + "\n";
  ssize_t n = write(report_fd(), s.data(), s.size());
  (void)n;
}

// A signalfd for every catchable signal except SIGCHLD, with all blocked.
int block_and_open_signals(bool include_chld = false) {
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, nullptr);
  if (!include_chld) sigdelset(&all, SIGCHLD);
  return signalfd(-1, &all, SFD_CLOEXEC);
}

// Reads "exit N" from stdin; returns N (EOF: 0).
int read_exit_command() {
  std::string buf;
  char c;
  while (read(STDIN_FILENO, &c, 1) == 1) {
    if (c == '\n') {
      if (buf.rfind("exit ", 0) == 0) return std::atoi(buf.c_str() + 5);
      buf.clear();
    } else {
      buf += c;
    }
  }
  return 0;
}

// Records signals until stdin says "exit N" (stdin < 0: forever, or until
// `stop_on` arrives when it is nonzero).
int record(const std::string& role, int stdin_fd, int stop_on = 0) {
  int sfd = block_and_open_signals();
  line("ready " + role + " " + std::to_string(getpid()));
  if (report_fd() != STDOUT_FILENO) {  // also tell whoever reads stdout
    std::string r = "ready " + role + "\n";
    ssize_t n = write(STDOUT_FILENO, r.data(), r.size());
    (void)n;
  }
  std::string pending;
  for (;;) {
    pollfd fds[2] = {{sfd, POLLIN, 0}, {stdin_fd, POLLIN, 0}};
    if (poll(fds, stdin_fd >= 0 ? 2 : 1, -1) < 0) continue;
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info;
      if (read(sfd, &info, sizeof info) == sizeof info) {
        line(role + " got " + std::to_string(info.ssi_signo));
        if (stop_on != 0 && int(info.ssi_signo) == stop_on) return 0;
      }
    }
    if (stdin_fd >= 0 && (fds[1].revents & (POLLIN | POLLHUP))) {
      char buf[64];
      ssize_t n = read(stdin_fd, buf, sizeof buf);
      if (n <= 0) return 0;
      pending.append(buf, size_t(n));
      size_t at = pending.find("exit ");
      if (at != std::string::npos && pending.find('\n', at) != std::string::npos)
        return std::atoi(pending.c_str() + at + 5);
    }
  }
}

int mode_record(bool grandchild, bool use_stdin) {
  if (grandchild && fork() == 0) {
    close(STDIN_FILENO);
    return record("grandchild", -1);
  }
  return record("child", use_stdin ? STDIN_FILENO : -1);
}

// One orphan-to-be: dies when the process that made it exits (after it
// has been reparented to the init), or at once if that already happened.
int orphan_main(void* maker) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != *static_cast<pid_t*>(maker)) _exit(0);
  for (;;) pause();
}

int mode_orphan_burst(long total) {
  constexpr long kBurst = 1000;
  constexpr size_t kStack = 16 * 1024;
  long made = 0;
  while (made < total) {
    const long n = std::min(kBurst, total - made);
    const pid_t maker = fork();
    if (maker < 0) return line(std::string("fork: ") + strerror(errno)), 1;
    if (maker == 0) {
      pid_t self = getpid();
      char* stacks = static_cast<char*>(mmap(nullptr, size_t(n) * kStack, PROT_READ | PROT_WRITE,
                                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
      if (stacks == MAP_FAILED) _exit(1);
      // Every pid taken (EAGAIN: pid_max is 32,768 on many machines) means
      // the init has not reaped the last orphans yet -- under qemu-user it
      // reaps slower than this native helper makes them. The burst waits
      // for pids as a real forking program would, up to 60 s in all.
      long waits = 0;
      for (long i = 0; i < n; ++i)
        while (clone(orphan_main, stacks + size_t(i + 1) * kStack, CLONE_VM | SIGCHLD, &self) < 0) {
          if (errno != EAGAIN || ++waits > 60000) _exit(1);
          usleep(1000);
        }
      _exit(0);  // the n children are orphans now
    }
    int st = 0;
    if (waitpid(maker, &st, 0) != maker || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
      return line("a burst failed"), 1;
    made += n;
  }
  line("made " + std::to_string(made));
  return read_exit_command();
}

// A listener on every address at `port`, left open; false (said) if not.
bool listen_on(int port) {
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_port = htons(uint16_t(port));
  a.sin6_addr = in6addr_any;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 4) != 0) {
    line(std::string("listen failed: ") + strerror(errno));
    return false;
  }
  return true;
}

int mode_listen(int port, long delay_ms, bool grandchild) {
  if (grandchild) {
    pid_t pid = fork();
    if (pid > 0) return read_exit_command();  // the child waits; its child listens
  }
  timespec d{delay_ms / 1000, (delay_ms % 1000) * 1000000L};
  nanosleep(&d, nullptr);  // the scenario: a server that takes a while to start
  if (!listen_on(port)) return 1;
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  line("listening " + std::to_string(int64_t(now.tv_sec) * 1000 + now.tv_nsec / 1000000));
  return grandchild ? (pause(), 0) : read_exit_command();
}

int mode_leftovers() {
  // polite: same group, exits on SIGTERM after saying so
  if (fork() == 0) {
    close(STDIN_FILENO);
    return record("polite", -1, SIGTERM);
  }
  // setsid'ed: its own session and group, exits on SIGTERM
  if (fork() == 0) {
    close(STDIN_FILENO);
    setsid();
    return record("setsid", -1, SIGTERM);
  }
  // stubborn: notes SIGTERM and stays until SIGKILL
  if (fork() == 0) {
    close(STDIN_FILENO);
    return record("stubborn", -1);
  }
  line("ready parent " + std::to_string(getpid()));
  return read_exit_command();
}

int mode_orphans(long count) {
  for (long i = 0; i < count; ++i) {
    pid_t mid = fork();
    if (mid == 0) {
      if (fork() == 0) _exit(0);  // the orphan: exits at once
      _exit(0);
    }
    if (mid > 0) waitpid(mid, nullptr, 0);
  }
  line("made " + std::to_string(count));
  return read_exit_command();
}

// top -> mid -> orphan. mid exits, so orphan is reparented (to dock, the
// subreaper); orphan reports its new parent and only then lets top exit,
// so the report comes before dock's shutdown starts.
int mode_orphan_ppid() {
  // The orphan asks for its parent once top has reaped mid: by then the
  // kernel has reparented it (mid's closed descriptors alone come before
  // that, and the orphan could still see mid).
  int mid_reaped[2], reported[2];
  if (pipe(mid_reaped) != 0 || pipe(reported) != 0) return 1;
  pid_t mid = fork();
  if (mid == 0) {
    if (fork() == 0) {  // the orphan
      close(mid_reaped[1]);
      close(reported[0]);
      char c;
      while (read(mid_reaped[0], &c, 1) > 0) {}  // EOF: top has reaped mid
      line("orphan ppid " + std::to_string(getppid()));
      _exit(0);  // closing reported[1] tells top
    }
    _exit(0);
  }
  close(reported[1]);
  waitpid(mid, nullptr, 0);
  close(mid_reaped[1]);
  char c;
  while (read(reported[0], &c, 1) > 0) {}
  return 0;
}

// N lines to stdout and N to stderr, alternating, one write(2) each.
int mode_interleave(long n) {
  for (long i = 0; i < n; ++i) {
    std::string o = "out " + std::to_string(i) + "\n", e = "err " + std::to_string(i) + "\n";
    if (write(STDOUT_FILENO, o.data(), o.size()) < 0 || write(STDERR_FILENO, e.data(), e.size()) < 0) return 1;
  }
  return 0;
}

// BYTES of 100-byte lines to stdout, one write(2) per line ("lines") or
// per 64 KiB ("blocks"). For the benchmarks; with HELPER_STALL_OUT=FILE it
// writes there the longest time one write took, in microseconds.
int mode_write(long long bytes, const std::string& how) {
  std::string block;
  while (block.size() < 65536) {
    std::string l = std::to_string(block.size());
    l.resize(99, '.');
    block += l + "\n";
  }
  block.resize(65536 - 65536 % 100);
  const size_t unit = how == "lines" ? 100 : block.size();
  const char* stall_out = std::getenv("HELPER_STALL_OUT");  // the longest write, in µs, goes there
  long long longest_us = 0;
  for (long long done = 0; done < bytes;) {
    size_t off = size_t(done % (long long)block.size());
    size_t n = std::min<long long>(std::min(unit, block.size() - off), bytes - done);
    timespec t0, t1;
    if (stall_out) clock_gettime(CLOCK_MONOTONIC, &t0);
    ssize_t w = write(STDOUT_FILENO, block.data() + off, n);
    if (w <= 0) return 1;
    if (stall_out) {
      clock_gettime(CLOCK_MONOTONIC, &t1);
      longest_us = std::max(longest_us, (long long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
    }
    done += w;
  }
  if (stall_out) {
    FILE* f = std::fopen(stall_out, "w");
    if (f) { std::fprintf(f, "%lld\n", longest_us); std::fclose(f); }
  }
  return 0;
}

int mode_state() {
  auto field = [](const char* name) {
    FILE* f = std::fopen("/proc/self/status", "r");
    char buf[256];
    std::string out = "?";
    while (f && std::fgets(buf, sizeof buf, f))
      if (std::strncmp(buf, name, std::strlen(name)) == 0) {
        out = buf + std::strlen(name);
        while (!out.empty() && (out.back() == '\n' || out.front() == '\t' || out.front() == ' ')) {
          if (out.back() == '\n') out.pop_back();
          else out.erase(0, 1);
        }
      }
    if (f) std::fclose(f);
    return out;
  };
  line(std::string("own-group ") + (getpgrp() == getpid() ? "yes" : "no"));
  pid_t fg = tcgetpgrp(STDIN_FILENO);
  line(std::string("foreground ") + (fg < 0 ? "none" : fg == getpgrp() ? "yes" : "no"));
  line("SigBlk " + field("SigBlk:"));
  line("SigIgn " + field("SigIgn:"));
  return 0;
}

}  // namespace

int mode_count(long ms) {
  static char buf[4096];
  setvbuf(stdout, buf, _IOFBF, sizeof buf);
  timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (long n = 1;; ++n) {
    printf("%ld\n", n);
    if (n % 1024 == 0) {
      clock_gettime(CLOCK_MONOTONIC, &now);
      if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 >= ms) break;
    }
  }
  return fflush(stdout) == 0 ? 0 : 1;
}

int mode_winch() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGWINCH);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC);
  auto show = [] {
    winsize ws{};
    ioctl(STDIN_FILENO, TIOCGWINSZ, &ws);
    line("size " + std::to_string(ws.ws_row) + " " + std::to_string(ws.ws_col));
  };
  show();
  for (;;) {
    pollfd p[2] = {{STDIN_FILENO, POLLIN, 0}, {sfd, POLLIN, 0}};
    if (poll(p, 2, -1) < 0) continue;
    if (p[1].revents & POLLIN) {
      signalfd_siginfo info;
      if (read(sfd, &info, sizeof info) > 0) show();
    }
    if (p[0].revents & (POLLIN | POLLHUP)) {
      char buf[256];
      if (read(STDIN_FILENO, buf, sizeof buf) <= 0) return 0;
    }
  }
}

// The command of a dock that is PID 1 of a pid namespace of its own: it
// starts a leftover (a session of its own, SIGTERM ignored) and exits. The
// leftover waits until the command is reaped, makes the command's pid the
// next one (ns_last_pid) and starts an impostor with it, which prints
// "impostor PID" and then "impostor got N" for each signal it gets.
int mode_pid_reuse() {
  const pid_t command = getpid();
  signal(SIGTERM, SIG_IGN);   // before the fork: the init's SIGTERM may come at once
  if (fork() != 0) return 0;  // the command ends at once
  setsid();
  for (int i = 0; i < 500 && kill(command, 0) == 0; ++i) usleep(10'000);  // until reaped (5 s at most)
  const int ns = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
  const std::string last = std::to_string(command - 1);
  if (ns < 0 || write(ns, last.data(), last.size()) != ssize_t(last.size())) {
    line(std::string("cannot reuse the pid: ") + std::strerror(errno));
    return 1;
  }
  close(ns);
  const pid_t impostor = fork();
  if (impostor == 0) {
    // It leads a group of its own, whose number is the command's old pid
    // and group: a signal to that group number would reach it.
    setsid();
    const int sfd = block_and_open_signals();
    line("impostor " + std::to_string(getpid()) + " group " + std::to_string(getpgrp()));
    for (;;) {
      signalfd_siginfo info;
      if (read(sfd, &info, sizeof info) == ssize_t(sizeof info)) line("impostor got " + std::to_string(info.ssi_signo));
    }
  }
  waitpid(impostor, nullptr, 0);
  return 0;
}

// One datagram to $NOTIFY_SOCKET (a path or @abstract).
bool notify_send(const std::string& text) {
  const char* name = std::getenv("NOTIFY_SOCKET");
  if (name == nullptr || *name == '\0') return false;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  const size_t len = std::min(std::strlen(name), sizeof a.sun_path - 1);
  std::memcpy(a.sun_path, name, len);
  if (a.sun_path[0] == '@') a.sun_path[0] = '\0';
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const ssize_t n = sendto(fd, text.data(), text.size(), 0, reinterpret_cast<sockaddr*>(&a),
                           socklen_t(offsetof(sockaddr_un, sun_path) + len));
  close(fd);
  return n == ssize_t(text.size());
}

std::string unescape(const std::string& in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\\' && i + 1 < in.size() && in[i + 1] == 'n') {
      out += '\n';
      ++i;
    } else if (in[i] == '\\' && i + 1 < in.size() && in[i + 1] == '0') {
      out += '\0';
      ++i;
    } else {
      out += in[i];
    }
  }
  return out;
}

int mode_notify() {
  const char* name = std::getenv("NOTIFY_SOCKET");
  int sfd = signalfd(-1, [] { static sigset_t s; sigemptyset(&s); sigaddset(&s, SIGTERM); sigprocmask(SIG_BLOCK, &s, nullptr); return &s; }(), SFD_CLOEXEC);
  line("ready notify " + std::to_string(getpid()) + " NOTIFY_SOCKET=" + (name ? name : "unset"));
  std::string pending;
  int listener = -1;
  for (;;) {
    pollfd fds[2] = {{sfd, POLLIN, 0}, {STDIN_FILENO, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) continue;
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info;
      if (read(sfd, &info, sizeof info) == sizeof info) line("notify got " + std::to_string(info.ssi_signo));
      return 143;
    }
    if (!(fds[1].revents & (POLLIN | POLLHUP))) continue;
    char buf[256];
    const ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) return 0;
    pending.append(buf, size_t(n));
    for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
      const std::string cmd = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      bool ok = true;
      if (cmd.rfind("exit ", 0) == 0) return std::atoi(cmd.c_str() + 5);
      if (cmd.rfind("send ", 0) == 0) ok = notify_send(unescape(cmd.substr(5)));
      else if (cmd.rfind("big ", 0) == 0) ok = notify_send("READY=1\n" + std::string(size_t(std::atol(cmd.c_str() + 4)), 'A'));
      else if (cmd.rfind("child-send ", 0) == 0) {
        // The child stays until the helper ends, so that who sent it can
        // still be looked up (as a worker of a real service would be).
        int done[2];
        ok = pipe2(done, O_CLOEXEC) == 0;
        pid_t kid = fork();
        if (kid == 0) {
          prctl(PR_SET_PDEATHSIG, SIGKILL);
          const char r = notify_send(unescape(cmd.substr(11))) ? 'y' : 'n';
          ssize_t w = write(done[1], &r, 1);
          (void)w;
          for (;;) pause();
        }
        close(done[1]);
        char r = 'n';
        ok = ok && read(done[0], &r, 1) == 1 && r == 'y';
        close(done[0]);
      } else if (cmd.rfind("flood ", 0) == 0) {
        long count = std::atol(cmd.c_str() + 6);
        const long ms = std::atol(cmd.c_str() + cmd.rfind(' ') + 1);
        for (long k = 0; k < count && ok; ++k) {
          ok = notify_send("STATUS=working on item " + std::to_string(k) + "\n");
          if (ms > 0) usleep(useconds_t(ms * 1000 / count));
        }
      } else if (cmd.rfind("listen ", 0) == 0) {
        listener = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int on = 1;
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
        sockaddr_in6 a{};
        a.sin6_family = AF_INET6;
        a.sin6_port = htons(uint16_t(std::atoi(cmd.c_str() + 7)));
        ok = bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(listener, 8) == 0;
        line(ok ? "listening" : "listen failed");
        continue;
      }
      line(ok ? "sent" : "send failed");
    }
  }
}

int mode_notify_listen(const char* path) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path, sizeof a.sun_path - 1);
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 1;
  line("listening");
  for (;;) {
    char buf[4096];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0) continue;
    std::string text(buf, size_t(n));
    std::replace(text.begin(), text.end(), '\n', '|');
    line(text);
  }
}

// Takes memory a MiB at a time, touching every page, until the kernel
// stops it (an OOM kill in a cgroup with a small memory limit).
int mode_hog() {
  line("hogging");
  for (;;) {
    char* block = static_cast<char*>(std::malloc(1 << 20));
    if (block == nullptr) return 3;
    std::memset(block, 1, 1 << 20);
  }
}

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "notify") return mode_notify();
  if (mode == "notify-listen" && argc > 2) return mode_notify_listen(argv[2]);
  if (mode == "record") {
    bool grandchild = false, use_stdin = true;
    for (int i = 2; i < argc; ++i) {
      grandchild |= std::string(argv[i]) == "--grandchild";
      use_stdin &= std::string(argv[i]) != "--no-stdin";
    }
    return mode_record(grandchild, use_stdin);
  }
  if (mode == "leftovers") return mode_leftovers();
  if (mode == "hog") return mode_hog();
  if (mode == "pid-reuse") return mode_pid_reuse();
  if (mode == "orphans") return mode_orphans(argc > 2 ? std::atol(argv[2]) : 1000);
  if (mode == "orphan-ppid") return mode_orphan_ppid();
  if (mode == "orphan-burst") return mode_orphan_burst(argc > 2 ? std::atol(argv[2]) : 1000);
  if (mode == "state") return mode_state();
  if (mode == "listen")
    return mode_listen(argc > 2 ? std::atoi(argv[2]) : 0, argc > 3 ? std::atol(argv[3]) : 0,
                       argc > 4 && std::string(argv[4]) == "--grandchild");
  if (mode == "--port" && argc > 2) {  // README's `my-server --port N`: serves until a signal ends it
    if (!listen_on(std::atoi(argv[2]))) return 1;
    for (;;) pause();
  }
  if (mode == "winch") return mode_winch();
  if (mode == "count") return mode_count(argc > 2 ? std::atol(argv[2]) : 1000);
  if (mode == "write") return mode_write(argc > 2 ? std::atoll(argv[2]) : 1 << 20, argc > 3 ? argv[3] : "blocks");
  if (mode == "interleave") return mode_interleave(argc > 2 ? std::atol(argv[2]) : 1000);
  std::fprintf(stderr, "helper: unknown mode '%s'\n", mode.c_str());
  return 64;
}
