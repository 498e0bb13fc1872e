// ==== 0. dock — a micro init for Linux containers ====
//
//   dock [OPTIONS] [--] COMMAND [ARG...]
//
// dock runs as PID 1 of a container (or as a child subreaper anywhere else),
// starts one command, forwards every signal it receives to that command's
// process group, reaps every process that exits, and when the command ends
// terminates whatever is left: SIGTERM, a grace period, SIGKILL, reap, exit
// with the command's status.
//
// The rules a PID 1 must keep, and how this file keeps them:
//  - The kernel drops default-disposition signals sent to an init, but never
//    blocked ones: every signal is blocked before anything else and read
//    from a signalfd. A real fault still crashes dock loudly: the kernel
//    force-delivers a synchronous SIGSEGV/SIGBUS/SIGILL/SIGFPE/SIGTRAP/SIGSYS
//    by unblocking it and resetting it to default (force_sig_info), and
//    abort() unblocks SIGABRT itself. So blocking them too loses nothing, and
//    a `kill -SEGV` from outside is forwarded like any other signal.
//  - One event loop (epoll over signalfd and timerfd) waits without a
//    timeout: a quiet child costs dock no wake-ups. It runs the whole
//    lifecycle, from waiting for dependencies to the exit: one table of
//    transitions (section 5), events handled one at a time.
//  - Bad input fails before anything starts (exit 2); once the command
//    runs, dock may only warn and go on, because if PID 1 dies the
//    container dies without an exit status.
//  - Errors are values (Error), reported once as `dock: <what>: <why>`.
//  - Memory is sized before the loop: buffers are fixed, whatever the child
//    writes; what the loop allocates is bounded (the web hook's queue of at
//    most four events, an archive's name).
//
// The map: each section and the options it owns (tests/unit_layout.cpp
// checks it against the banners below and the option table).
//
//  the small init
//   1. Includes, the three builds (glibc; musl without TLS; static glibc
//      with OpenSSL), the libraries dock may load or link, constants:
//      exit codes
//   2. Foundations: Fd, Error, text and numbers, durations and sizes, the
//      clock, dock's own messages, signal names
//   3. The loop: epoll, the deadline table behind one timerfd, Handlers
//      and Callbacks, blocking every signal
//   4. Spawn: clone(CLONE_VM | CLONE_VFORK), PATH lookup, the child's side
//   5. Signals, reaping and the lifecycle: forwarding, the process table,
//      the leftovers and the sweep, Phase and Event, kLifecycle, post()
//        --kill-timeout --stop-timeout --stop-delay --rewrite --exit-map
//        --single-child --pdeath-signal --debug
//  the features: each owns its config, parsers, state and handlers
//   6. Io targets and TLS: URLs, names resolved off the loop (Lookup),
//      each address in turn (Dial), TLS, the hang-up
//        --io
//   7. Lines: streams, sinks, emit(), pump(), the exit drain; the
//      collectors: their buffer of records, syslog framing, reconnecting
//        --stdout-prefix --stderr-prefix --timestamps --log-to --log-buffer
//        --log-tag
//   8. Input and terminal: the feed into the child's stdin, the pty
//        --tty
//   9. Rotation: archive names, rotate, compress, prune
//        --log-rotate --log-max-size --log-keep
//  10. The web hook: URL, JSON, http_request(), one HTTP exchange, delivery
//        --web-hook
//  11. Readiness: the port probe, the ready file, sd_notify both ways,
//      the probes over HTTP
//        --bind-port --ready-file --notify --notify-access --check
//        --check-timeout --health-port
//  12. Before and after the command: passwd and group, env files,
//      secrets, templates, the wait, setup and teardown programs, StrictModes
//        --env-file --file-env --chown --template --wait-for --wait-timeout
//        --setup --teardown --user --rlimit --no-new-privs
//  13. Cgroups: where this process's cgroup files are (v1 or v2), the
//      limits they set, the OOM killer's count
//        --cgroup-env --oom-stop
//  the wiring
//  14. Wiring: the option table (kOptions), parse_args, State, what the
//      lifecycle means to the features (on_lifecycle), the plan of the
//      child's descriptors, run()
//        --help --version
//  15. main

// ==== 1. Includes, the three builds ====

// The musl build (DOCK_MUSL, `make static`) compiles against musl's headers
// and uses libstdc++ for its headers only. Debian configured those headers
// for glibc: they test glibc's version, name glibc's locale type and ctype
// bits in declarations dock never instantiates, and expect three pthread
// calls musl lacks. Here they get what they test for, and are told that
// the three calls are missing.
#ifdef DOCK_MUSL
#define __GLIBC_PREREQ(major, minor) 0
#include <locale.h>
#include <bits/c++config.h>
#undef _GLIBCXX_USE_PTHREAD_COND_CLOCKWAIT
#undef _GLIBCXX_USE_PTHREAD_MUTEX_CLOCKLOCK
#undef _GLIBCXX_USE_PTHREAD_RWLOCK_CLOCKLOCK
typedef locale_t __locale_t;
enum {
  _ISupper = 1 << 0, _ISlower = 1 << 1, _ISalpha = 1 << 2, _ISdigit = 1 << 3,
  _ISxdigit = 1 << 4, _ISspace = 1 << 5, _ISprint = 1 << 6, _ISgraph = 1 << 7,
  _ISblank = 1 << 8, _IScntrl = 1 << 9, _ISpunct = 1 << 10, _ISalnum = 1 << 11,
};
#endif

#include <cctype>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <dirent.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <poll.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <grp.h>
#include <sched.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>

#ifndef W_EXITCODE  // glibc's; musl has no such macro
#define W_EXITCODE(ret, sig) ((ret) << 8 | (sig))
#endif

// The product is built without exceptions. libstdc++'s out-of-line helpers
// would still pull in the unwinder and the demangler (about half of the
// binary) just to report an impossible throw; in their place a failed
// allocation or a broken invariant ends the process at once.
#ifndef __cpp_exceptions
namespace dock_rt {
[[noreturn]] inline void die(const char* what) noexcept {
  static constexpr char prefix[] = "dock: fatal: ";
  [[maybe_unused]] ssize_t a = ::write(2, prefix, sizeof prefix - 1);
  [[maybe_unused]] ssize_t b = ::write(2, what, std::strlen(what));
  [[maybe_unused]] ssize_t c = ::write(2, "\n", 1);
  std::abort();
}
}  // namespace dock_rt
// libstdc++ declares these __attribute__((__noreturn__)); the definitions
// say it the same way (clang refuses [[noreturn]] after such a declaration).
#define DOCK_NORETURN __attribute__((__noreturn__))
namespace std {
DOCK_NORETURN void __throw_bad_alloc() { dock_rt::die("out of memory"); }
DOCK_NORETURN void __throw_bad_array_new_length() { dock_rt::die("bad array length"); }
DOCK_NORETURN void __throw_logic_error(const char* w) { dock_rt::die(w); }
DOCK_NORETURN void __throw_length_error(const char* w) { dock_rt::die(w); }
DOCK_NORETURN void __throw_out_of_range_fmt(const char* w, ...) { dock_rt::die(w); }
}  // namespace std
#undef DOCK_NORETURN
void* operator new(std::size_t n) {
  if (void* p = std::malloc(n ? n : 1)) return p;
  dock_rt::die("out of memory");
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif

// The three builds (make, make static, make static-tls):
//  - ./dock: glibc, dynamic; libssl.so.3 and libz.so.1 are loaded with
//    dlopen when a TLS URL or rotation asks for them.
//  - ./dock-static (DOCK_MUSL): musl, static, zlib linked in, no TLS: a TLS
//    URL is refused when parsed (kHaveTls), naming the build that has it.
//  - ./dock-static-tls (DOCK_STATIC_LIBS): glibc, static, OpenSSL and zlib
//    linked in.
#ifdef DOCK_MUSL
#define DOCK_NO_TLS
#elif !defined(DOCK_STATIC_LIBS)
#define DOCK_LOADS_LIBS  // ./dock
#endif

// OpenSSL, as far as dock uses it: opaque handles and the calls made, so no
// OpenSSL header is needed to build. ./dock looks these up in libssl.so.3;
// ./dock-static-tls links them. Each entry: name, return type, parameters.
struct ssl_st;
struct ssl_ctx_st;
struct ssl_method_st;
struct X509_VERIFY_PARAM_st;
#define DOCK_TLS_CALLS(X)                                                         \
  X(TLS_client_method, const ssl_method_st*, ())                                  \
  X(SSL_CTX_new, ssl_ctx_st*, (const ssl_method_st*))                             \
  X(SSL_CTX_free, void, (ssl_ctx_st*))                                            \
  X(SSL_CTX_ctrl, long, (ssl_ctx_st*, int, long, void*))                          \
  X(SSL_CTX_set_options, uint64_t, (ssl_ctx_st*, uint64_t))                       \
  X(SSL_CTX_set_verify, void, (ssl_ctx_st*, int, void*))                          \
  X(SSL_CTX_set_default_verify_paths, int, (ssl_ctx_st*))                         \
  X(SSL_CTX_load_verify_locations, int, (ssl_ctx_st*, const char*, const char*))  \
  X(SSL_CTX_use_certificate_chain_file, int, (ssl_ctx_st*, const char*))          \
  X(SSL_CTX_use_PrivateKey_file, int, (ssl_ctx_st*, const char*, int))            \
  X(SSL_CTX_check_private_key, int, (const ssl_ctx_st*))                          \
  X(SSL_new, ssl_st*, (ssl_ctx_st*))                                              \
  X(SSL_free, void, (ssl_st*))                                                    \
  X(SSL_set_fd, int, (ssl_st*, int))                                              \
  X(SSL_ctrl, long, (ssl_st*, int, long, void*))                                  \
  X(SSL_set1_host, int, (ssl_st*, const char*))                                   \
  X(SSL_get0_param, X509_VERIFY_PARAM_st*, (ssl_st*))                             \
  X(X509_VERIFY_PARAM_set1_ip_asc, int, (X509_VERIFY_PARAM_st*, const char*))     \
  X(SSL_connect, int, (ssl_st*))                                                  \
  X(SSL_read, int, (ssl_st*, void*, int))                                         \
  X(SSL_write, int, (ssl_st*, const void*, int))                                  \
  X(SSL_shutdown, int, (ssl_st*))                                                 \
  X(SSL_get_error, int, (const ssl_st*, int))                                     \
  X(SSL_get_verify_result, long, (const ssl_st*))                                 \
  X(X509_verify_cert_error_string, const char*, (long))                           \
  X(ERR_get_error, unsigned long, ())                                             \
  X(ERR_reason_error_string, const char*, (unsigned long))                        \
  X(ERR_clear_error, void, ())
// zlib, the same way: libz.so.1 is loaded when rotation is asked for.
struct gzFile_s;
#define DOCK_ZLIB_CALLS(X)                                 \
  X(gzdopen, gzFile_s*, (int, const char*))                \
  X(gzwrite, int, (gzFile_s*, const void*, unsigned))      \
  X(gzclose_w, int, (gzFile_s*))
extern "C" {
#define DOCK_DECLARE(name, ret, params) ret name params;
#ifdef DOCK_STATIC_LIBS
DOCK_TLS_CALLS(DOCK_DECLARE)
#endif
#ifndef DOCK_LOADS_LIBS
DOCK_ZLIB_CALLS(DOCK_DECLARE)
#endif
#undef DOCK_DECLARE
}
#ifdef DOCK_LOADS_LIBS
#include <dlfcn.h>
#endif

namespace dock {
namespace {

constexpr std::string_view kVersion = "0.1.0";

// The exit statuses dock gives itself; any other status is the child's.
enum class Exit : int {
  Ok = 0,
  Failure = 1,         // dock could not start the command: a wait, an io target, a kernel facility
  Usage = 2,           // bad command line or DOCK_* variable
  NotExecutable = 126, // the command exists but could not be executed
  NotFound = 127,      // the command does not exist
};

constexpr int code(Exit e) { return static_cast<int>(e); }

constexpr int kMaxSignal = 64;  // SIGRTMAX on Linux
// The first real-time signal as glibc numbers it (SIGRTMIN, 34), in every
// build: musl keeps one more for itself (its SIGRTMIN is 35), and
// RTMIN+2 must not name another signal in ./dock-static than in ./dock.
constexpr int kRtMin = 34;

// The shell's convention for a child's end: its exit code, or 128+N when
// signal N killed it.
constexpr int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return code(Exit::Failure);
}

// The shell's convention for a command that could not be executed.
constexpr Exit exec_failure_code(int err) {
  return err == ENOENT || err == ENOTDIR ? Exit::NotFound : Exit::NotExecutable;
}

// ==== 2. Foundations ====
//
// Fd owns a descriptor and closes it once. retry() repeats a call that was
// interrupted; with every signal blocked that is rare, but cheap to handle.
// Error is the one way a function says it failed.

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  [[nodiscard]] int get() const noexcept { return fd_; }
  explicit operator bool() const noexcept { return fd_ >= 0; }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

template <class F>
auto retry(F call) noexcept {
  decltype(call()) r;
  do r = call();
  while (r == -1 && errno == EINTR);
  return r;
}

// What a function that can fail returns: nothing when it worked, else why
// (without "dock: <what>: ", which the caller that knows <what> adds once).
// Values that may be missing are std::optional<T>; Error is never a value.
class [[nodiscard]] Error {
 public:
  Error() = default;
  Error(std::string why) : why_(std::move(why)) {}  // NOLINT: `return "why";` reads best
  Error(const char* why) : why_(why) {}
  explicit operator bool() const { return !why_.empty(); }
  const std::string& operator*() const { return why_; }
  const std::string* operator->() const { return &why_; }
  [[maybe_unused]] friend bool operator==(const Error& e, std::string_view why) { return e.why_ == why; }

 private:
  std::string why_;
};

// ---- text ----

constexpr char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? char(c - 'a' + 'A') : c; }

constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (ascii_upper(a[i]) != ascii_upper(b[i])) return false;
  return true;
}

// A non-negative decimal integer with nothing else around it; nullopt on
// junk, sign, empty input or overflow past `max`.
constexpr std::optional<int64_t> parse_uint(std::string_view s, int64_t max = INT64_MAX) {
  if (s.empty()) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    if (v > (max - (c - '0')) / 10) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Calls `each` with every non-empty item of `list` between the characters
// of `separators` (a variable that holds what a flag gives one at a time);
// stops at the first error.
template <class F>
Error each_item(std::string_view list, std::string_view separators, F each) {
  while (!list.empty()) {
    const size_t end = list.find_first_of(separators);
    if (end != 0)
      if (auto err = each(list.substr(0, end))) return err;
    list = end == std::string_view::npos ? std::string_view{} : list.substr(end + 1);
  }
  return {};
}

// Calls `each` with every line of `text` (no newline, no trailing \r).
template <class F>
void for_each_line(std::string_view text, F each) {
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    each(line);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
  }
}

constexpr int hex_digit(char c) {
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

// RFC 3986 percent-decoding: user info, paths, a zone id.
std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || hex_digit(s[i + 1]) < 0 || hex_digit(s[i + 2]) < 0) return std::nullopt;
    out += char(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
    i += 2;
  }
  return out;
}

// DURATION: a number, possibly with a fraction, followed by ms, s, m, h or
// d. Milliseconds out. A bare number is hours only where `bare_hours` says
// so (--log-rotate, the Go flag's unit); elsewhere only 0 needs no unit.
std::optional<int64_t> parse_duration(std::string_view s, bool bare_hours = false) {
  struct Unit {
    std::string_view suffix;
    int64_t ms;
  };
  constexpr std::array<Unit, 5> units{{{"ms", 1}, {"s", 1000}, {"m", 60'000},
                                       {"h", 3'600'000}, {"d", 86'400'000}}};
  int64_t scale = 0;
  for (const auto& u : units) {  // "ms" before "s" and "m": longest match first
    if (s.size() > u.suffix.size() && s.substr(s.size() - u.suffix.size()) == u.suffix) {
      scale = u.ms;
      s.remove_suffix(u.suffix.size());
      break;
    }
  }
  if (scale == 0) {
    if (!bare_hours) return s == "0" ? std::optional<int64_t>(0) : std::nullopt;
    scale = 3'600'000;
  }
  const size_t dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
  if (dot != std::string_view::npos && frac.empty()) return std::nullopt;
  if (frac.size() > 9) return std::nullopt;
  constexpr int64_t kMaxMs = int64_t(100) * 365 * 86'400'000;  // a century
  auto w = parse_uint(whole, kMaxMs);
  if (!w || *w > kMaxMs / scale) return std::nullopt;
  int64_t ms = *w * scale;
  if (!frac.empty()) {
    auto f = parse_uint(frac);
    if (!f) return std::nullopt;
    int64_t denom = 1;
    for (size_t i = 0; i < frac.size(); ++i) denom *= 10;
    ms += *f * scale / denom;  // scale <= 8.64e7 and f < 1e9: no overflow
  }
  if (ms > kMaxMs) return std::nullopt;
  return ms;
}

// A DURATION option's value into `ms`; a bare integer is told which unit
// it lacks, anything else is "not `what`".
Error parse_duration_option(std::string_view value, int64_t& ms, std::string_view what) {
  auto d = parse_duration(value);
  if (!d && parse_uint(value)) return std::string(value) + " needs a unit, e.g. " + std::string(value) + "s";
  if (!d) return "'" + std::string(value) + "' is not " + std::string(what);
  ms = *d;
  return {};
}

// ... a DURATION that must be above zero (a timeout of nothing is a mistake).
Error parse_timeout_option(std::string_view value, int64_t& ms, std::string_view what) {
  int64_t given = 0;
  if (auto err = parse_duration_option(value, given, what)) return err;
  if (given == 0) return "'" + std::string(value) + "' is not " + std::string(what);
  ms = given;
  return {};
}

// SIZE: bytes, or a number with k, m or g (KiB, MiB, GiB; also written
// kb, KiB, ...; any case).
std::optional<int64_t> parse_size(std::string_view s) {
  struct Unit {
    std::string_view suffix;
    int64_t bytes;
  };
  constexpr std::array<Unit, 10> units{{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
                                        {"kb", 1 << 10},  {"mb", 1 << 20},  {"gb", 1 << 30},
                                        {"k", 1 << 10},   {"m", 1 << 20},   {"g", 1 << 30}, {"b", 1}}};
  int64_t scale = 1;
  for (const auto& u : units) {
    if (s.size() > u.suffix.size() && iequals(s.substr(s.size() - u.suffix.size()), u.suffix)) {
      scale = u.bytes;
      s.remove_suffix(u.suffix.size());
      break;
    }
  }
  constexpr int64_t kMaxBytes = int64_t(1) << 50;  // a PiB
  auto n = parse_uint(s, kMaxBytes);
  if (!n || *n > kMaxBytes / scale) return std::nullopt;
  return *n * scale;
}

// "60s", "1500ms": a duration as the user would write it.
std::string duration_text(int64_t ms) {
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

// A size as limits are written: 256M, 1.5G, 512K, 900B.
std::string memory_text(uint64_t bytes) {
  constexpr std::string_view units = "KMGTP";
  if (bytes < 1024) return std::to_string(bytes) + "B";
  uint64_t whole = bytes, scale = 1;
  size_t u = 0;
  for (; whole >= 1024 * 1024 && u + 1 < units.size(); ++u) whole /= 1024, scale *= 1024;
  whole /= 1024;
  scale *= 1024;
  std::string text = std::to_string(whole);
  if (whole < 10 && bytes % scale != 0) text += "." + std::to_string(bytes % scale * 10 / scale);
  return text + units[u];
}

std::optional<bool> parse_bool(std::string_view s) {
  for (auto yes : {"1", "true", "yes", "on"}) if (iequals(s, yes)) return true;
  for (auto no : {"", "0", "false", "no", "off"}) if (iequals(s, no)) return false;
  return std::nullopt;
}

// ---- clock, descriptors, files ----

int64_t monotonic_ms() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// Writes all of `data` to a blocking descriptor; false on error.
bool write_all(int fd, std::string_view data) noexcept {
  while (!data.empty()) {
    ssize_t n = retry([&] { return ::write(fd, data.data(), data.size()); });
    if (n <= 0) return false;
    data.remove_prefix(size_t(n));
  }
  return true;
}

// A description of its own of a descriptor dock shares with others (its
// stdio), non-blocking: O_NONBLOCK on the shared one would change it for
// them too (a shell's terminal, say). `access`: O_RDONLY or O_WRONLY.
Fd reopen_nonblocking(int fd, int access) {
  // Built by hand: snprintf would fault libc's printf code into memory at
  // every start, for a path of one digit.
  char path[] = "/proc/self/fd/0";
  if (fd < 0 || fd > 9) return Fd();
  path[sizeof path - 2] = char('0' + fd);
  return Fd(::open(path, access | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
}

// The directory part of `path` ("." for a bare name).
std::string dir_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

// The last component of `path` (all of it for a bare name).
std::string base_of(const std::string& path) { return path.substr(path.rfind('/') + 1); }  // npos + 1 is 0

// Whether `url` starts with one of `schemes` and "://" (any case).
bool has_scheme(std::string_view url, std::initializer_list<std::string_view> schemes) {
  const std::string_view scheme = url.substr(0, url.find("://"));
  if (scheme.size() == url.size()) return false;
  for (std::string_view s : schemes)
    if (iequals(scheme, s)) return true;
  return false;
}

// A file is to be made at `path`: its directory must be there.
Error check_dir_of(const std::string& path) {
  struct stat sb;
  const std::string dir = dir_of(path);
  if (::stat(dir.c_str(), &sb) != 0) return "directory " + dir + ": " + std::strerror(errno);
  if (!S_ISDIR(sb.st_mode)) return dir + " is not a directory";
  if (::stat(path.c_str(), &sb) == 0 && S_ISDIR(sb.st_mode)) return path + " is a directory";
  return {};
}

// Whether only dock's own user can write the directory `dir` (or the one
// `fd` is open on), so that nobody else can have planted a symlink in it
// (/dev/stdout in /dev).
bool only_we_write(const struct stat& sb) { return sb.st_uid == ::geteuid() && (sb.st_mode & (S_IWGRP | S_IWOTH)) == 0; }
bool only_we_write(const std::string& dir) {
  struct stat sb;
  return ::stat(dir.c_str(), &sb) == 0 && only_we_write(sb);
}
bool only_we_write(int fd) {
  struct stat sb;
  return ::fstat(fd, &sb) == 0 && only_we_write(sb);
}

// The directory `dir`, opened one component at a time from / (or from
// where dock is, for a relative one) so that no symlink on the way is
// followed unless it sits in a directory only dock's user can write: a
// service cannot make `conf/` a link to a directory of root's and have
// root write there. An O_PATH descriptor, for the *at calls.
// With `create` (a mode), a missing directory on the way is made: 0755,
// the last one `create`.
Fd open_dir_safely(const std::string& dir, Error& err, mode_t create = 0) {
  Fd at(::open(dir.starts_with('/') ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  std::string_view rest = dir;
  while (at && !rest.empty()) {
    const size_t slash = rest.find('/');
    const std::string part(rest.substr(0, slash));
    rest = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1);
    if (part.empty() || part == ".") continue;
    const bool last = rest.find_first_not_of("/.") == std::string_view::npos;
    if (create != 0 && ::mkdirat(at.get(), part.c_str(), last ? create : 0755) != 0 && errno != EEXIST) {
      err = "directory " + dir + ": " + part + ": " + std::strerror(errno);
      return Fd();
    }
    Fd next(::openat(at.get(), part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat sb;
    if (!next && (errno == ENOTDIR || errno == ELOOP) && ::fstatat(at.get(), part.c_str(), &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISLNK(sb.st_mode)) {
      if (!only_we_write(at.get())) {
        err = "directory " + dir + ": " + part + " is a symlink in a directory others can write: not followed";
        return Fd();
      }
      next = Fd(::openat(at.get(), part.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    }
    if (!next) {
      err = "directory " + dir + ": " + std::strerror(errno);
      return Fd();
    }
    at = std::move(next);
  }
  if (!at) err = "directory " + dir + ": " + std::strerror(errno);
  return at;
}

// ---- logging ----
//
// Every line dock prints about itself starts with "dock: " and is written
// with one write(2) so that it is not interleaved with the child's output.
// Never a blocking one: dock writes through a non-blocking description of
// its stderr of its own (see open_diagnostics), and a line stderr cannot
// take at once is counted, not waited for -- a stalled reader of dock's
// stderr must not hold up signals or reaping. The count is said as soon
// as stderr takes lines again, and at exit.

constinit bool g_debug = false;
// Set when stderr's reader is gone (EPIPE): it cannot come back, and every
// further write would only raise another SIGPIPE in dock.
constinit bool g_stderr_gone = false;
constinit int g_stderr = STDERR_FILENO;   // where dock's own lines go
constinit bool g_stderr_socket = false;   // send(MSG_DONTWAIT) on the shared socket
constinit unsigned long g_stderr_dropped = 0;  // lines stderr could not take

// A control character is shown as \n, \r, \t or \xNN, so that a value a
// user gave (an argument with a newline in it, say) can neither split a
// message into two lines nor reach the terminal raw. Writes at most `room`
// bytes of `in`'s escaped form into `out`; returns how many it wrote.
size_t escape_controls(std::string_view in, char* out, size_t room) noexcept {
  constexpr char hex[] = "0123456789abcdef";
  size_t n = 0;
  for (unsigned char c : in) {
    char esc[4];
    size_t k = 0;
    if (c >= 0x20 && c != 0x7f) esc[k++] = char(c);
    else if (c == '\n') esc[0] = '\\', esc[1] = 'n', k = 2;
    else if (c == '\r') esc[0] = '\\', esc[1] = 'r', k = 2;
    else if (c == '\t') esc[0] = '\\', esc[1] = 't', k = 2;
    else esc[0] = '\\', esc[1] = 'x', esc[2] = hex[c >> 4], esc[3] = hex[c & 15], k = 4;
    if (n + k > room) break;
    std::memcpy(out + n, esc, k);
    n += k;
  }
  return n;
}

std::string escape_controls(std::string_view in) {
  std::string out(in.size() * 4, '\0');
  out.resize(escape_controls(in, out.data(), out.size()));
  return out;
}

// One write of dock's own to stderr, never waiting.
ssize_t stderr_write(const char* data, size_t len) noexcept {
  const ssize_t n = retry([&] {
    return g_stderr_socket ? ::send(g_stderr, data, len, MSG_DONTWAIT | MSG_NOSIGNAL) : ::write(g_stderr, data, len);
  });
  if (n < 0 && errno == EPIPE) g_stderr_gone = true;
  return n;
}

// Says how many lines were dropped, if any; false when stderr still takes nothing.
bool say_dropped() noexcept {
  if (g_stderr_dropped == 0) return true;
  char note[96];
  const int k = std::snprintf(note, sizeof note, "dock: %lu messages were dropped (stderr was not taking more)\n",
                              g_stderr_dropped);
  if (stderr_write(note, size_t(k)) <= 0) return false;
  g_stderr_dropped = 0;
  return true;
}

// At exit nothing is left to forward or reap: stderr gets at most 1 s to
// take the summary of what it could not, so that the summary is not
// dropped too (SPEC §15). A reader that is gone ends the wait at once.
void say_dropped_at_exit() noexcept {
  const int64_t deadline = monotonic_ms() + 1000;
  while (!g_stderr_gone && !say_dropped()) {
    const int64_t left = deadline - monotonic_ms();
    pollfd p{g_stderr, POLLOUT, 0};
    if (left <= 0 || ::poll(&p, 1, int(left)) == 0) return;
  }
}

void vsay(const char* prefix, const char* fmt, va_list ap) noexcept {
  if (g_stderr_gone) return;
  char text[1024];
  const int m = std::vsnprintf(text, sizeof text, fmt, ap);
  char line[1024];
  int n = std::snprintf(line, sizeof line, "dock: %s", prefix);
  size_t len = size_t(n) + escape_controls({text, m < 0 ? 0 : std::min(size_t(m), sizeof text - 1)},
                                           line + n, sizeof line - size_t(n) - 1);
  line[len++] = '\n';
  if (!say_dropped() || stderr_write(line, len) <= 0) ++g_stderr_dropped;
}

[[gnu::format(printf, 1, 2)]] void say(const char* fmt, ...) noexcept {
  va_list ap;
  va_start(ap, fmt);
  vsay("", fmt, ap);
  va_end(ap);
}

[[gnu::format(printf, 1, 2)]] void debug(const char* fmt, ...) noexcept {
  if (!g_debug) return;
  va_list ap;
  va_start(ap, fmt);
  vsay("debug: ", fmt, ap);
  va_end(ap);
}

// ---- signal names ----
//
// Without the SIG prefix. Real-time signals are spelled RTMIN, RTMIN+n,
// RTMAX-n and handled by signal_from_name directly.

struct SignalName {
  std::string_view name;
  int number;
};

constexpr std::array<SignalName, 31> kSignalNames{{
    {"HUP", SIGHUP},     {"INT", SIGINT},       {"QUIT", SIGQUIT},
    {"ILL", SIGILL},     {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},
    {"BUS", SIGBUS},     {"FPE", SIGFPE},       {"KILL", SIGKILL},
    {"USR1", SIGUSR1},   {"SEGV", SIGSEGV},     {"USR2", SIGUSR2},
    {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CONT", SIGCONT},
    {"STOP", SIGSTOP},   {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},
    {"TTOU", SIGTTOU},   {"URG", SIGURG},       {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ},   {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH}, {"IO", SIGIO},         {"PWR", SIGPWR},
    {"SYS", SIGSYS},
}};

constexpr bool signal_table_is_sound() {
  for (size_t i = 0; i < kSignalNames.size(); ++i) {
    if (kSignalNames[i].number < 1 || kSignalNames[i].number > 31) return false;
    for (size_t j = i + 1; j < kSignalNames.size(); ++j)
      if (kSignalNames[i].number == kSignalNames[j].number) return false;
  }
  return true;
}
static_assert(signal_table_is_sound(), "signal names must map 1:1 onto 1..31");


// "15", "TERM", "SIGTERM", "sigterm", "RTMIN+2", "SIGRTMAX-1".
std::optional<int> signal_from_name(std::string_view s) {
  if (auto n = parse_uint(s, kMaxSignal)) {
    if (*n >= 1) return int(*n);
    return std::nullopt;
  }
  if (s.size() > 3 && iequals(s.substr(0, 3), "SIG")) s.remove_prefix(3);
  for (const auto& entry : kSignalNames)
    if (iequals(entry.name, s)) return entry.number;
  const int rtmin = kRtMin, rtmax = kMaxSignal;
  auto relative = [&](std::string_view base, int origin, int dir) -> std::optional<int> {
    if (s.size() < base.size() || !iequals(s.substr(0, base.size()), base)) return std::nullopt;
    std::string_view rest = s.substr(base.size());
    if (rest.empty()) return origin;
    if (rest[0] != (dir > 0 ? '+' : '-')) return std::nullopt;
    auto off = parse_uint(rest.substr(1), rtmax - rtmin);
    if (!off) return std::nullopt;
    return origin + dir * int(*off);
  };
  if (auto n = relative("RTMIN", rtmin, +1)) return n;
  if (auto n = relative("RTMAX", rtmax, -1)) return n;
  return std::nullopt;
}

// A signal's name in a fixed buffer: "TERM", "USR1", "RTMIN+3", or the
// number when it has none. No allocation: it is built for every signal
// dock forwards, in the loop.
struct SignalText {
  char text[16];
  [[nodiscard]] const char* c_str() const { return text; }
  operator std::string_view() const { return text; }
  [[maybe_unused]] friend bool operator==(const SignalText& a, std::string_view b) { return std::string_view(a) == b; }
};

SignalText signal_name(int sig) {
  SignalText out{};
  for (const auto& entry : kSignalNames)
    if (entry.number == sig) {
      std::snprintf(out.text, sizeof out.text, "%.*s", int(entry.name.size()), entry.name.data());
      return out;
    }
  if (sig == kRtMin) std::snprintf(out.text, sizeof out.text, "RTMIN");
  else if (sig > kRtMin && sig <= kMaxSignal) std::snprintf(out.text, sizeof out.text, "RTMIN+%d", sig - kRtMin);
  else std::snprintf(out.text, sizeof out.text, "%d", sig);
  return out;
}

// ==== 3. The loop ====
//
// One epoll waits, with no timeout, for every descriptor dock watches, the
// signalfd and one timerfd among them. Timed work is a table of deadlines
// behind that one timerfd, armed for the earliest one set and disarmed when
// none is: nothing fires unless something is due. The loop knows nothing
// of what runs on it: each watched descriptor and each deadline has a
// Handler, a function and the struct it works on, registered at setup.

struct Handler {
  void (*fn)(void* ctx, size_t index) = nullptr;
  void* ctx = nullptr;
  size_t index = 0;  // which of its kind (a stream, a sink)
  void operator()() const {
    if (fn != nullptr) fn(ctx, index);
  }
};

using Slot = uint32_t;      // a watched descriptor's handler, epoll's data.u32
using TimerId = size_t;     // a deadline

struct Loop {
  Fd epoll, timer;
  std::vector<Handler> handlers;  // by Slot
  struct Deadline {
    int64_t at = 0;  // monotonic ms; 0: not set
    Handler due;
  };
  std::vector<Deadline> deadlines;  // by TimerId
};

// A Handler that calls F(obj, loop, index), F(obj, loop) or F(obj); a
// feature's struct knows its loop (`loop`).
template <auto F, class T>
Handler handler(T& obj, size_t index = 0) {
  return {[](void* ctx, size_t i) {
            T& o = *static_cast<T*>(ctx);
            if constexpr (std::is_invocable_v<decltype(F), T&, Loop&, size_t>) F(o, *o.loop, i);
            else if constexpr (std::is_invocable_v<decltype(F), T&, Loop&>) F(o, *o.loop);
            else F(o);
          },
          &obj, index};
}

// A function with the struct it works on and arguments of its own: how
// one part tells another of something (the lifecycle's events, a reaped
// helper, SIGWINCH, a lost peer) without knowing who listens.
template <class... A>
struct Callback {
  void (*fn)(void*, A...) = nullptr;
  void* ctx = nullptr;
  void operator()(A... a) const {
    if (fn != nullptr) fn(ctx, a...);
  }
};

template <auto F, class... A, class T>
Callback<A...> callback(T& obj) {
  return {[](void* ctx, A... a) {
            T& o = *static_cast<T*>(ctx);
            if constexpr (std::is_invocable_v<decltype(F), T&, Loop&, A...>) F(o, *o.loop, a...);
            else F(o, a...);
          },
          &obj};
}

Error open_loop(Loop& loop) {
  loop.epoll = Fd(::epoll_create1(EPOLL_CLOEXEC));
  loop.timer = Fd(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!loop.epoll || !loop.timer) return std::strerror(errno);
  loop.handlers.reserve(16);
  return {};
}

// A handler for descriptors to come; at setup.
Slot add_handler(Loop& loop, Handler h) {
  loop.handlers.push_back(h);
  return Slot(loop.handlers.size() - 1);
}

// A deadline, not set yet; at setup.
TimerId add_timer(Loop& loop, Handler h) {
  loop.deadlines.push_back({0, h});
  return loop.deadlines.size() - 1;
}

void rearm_timer(Loop& loop) {
  int64_t next = 0;
  for (const auto& d : loop.deadlines)
    if (d.at != 0 && (next == 0 || d.at < next)) next = d.at;
  itimerspec spec{};  // all zero: disarmed
  if (next != 0) {
    spec.it_value.tv_sec = next / 1000;
    spec.it_value.tv_nsec = (next % 1000) * 1'000'000;
  }
  if (::timerfd_settime(loop.timer.get(), TFD_TIMER_ABSTIME, &spec, nullptr) != 0)
    say("timerfd: %s", std::strerror(errno));
}

// Sets deadline `t` to the monotonic time `at` (0 clears it). The timerfd
// is touched only when something changed: pump() asks on every read.
void set_deadline_at(Loop& loop, TimerId t, int64_t at) {
  if (loop.deadlines[t].at == at) return;
  loop.deadlines[t].at = at;
  rearm_timer(loop);
}

void set_deadline(Loop& loop, TimerId t, int64_t in_ms) {
  set_deadline_at(loop, t, monotonic_ms() + std::max<int64_t>(in_ms, 1));
}

void clear_deadline(Loop& loop, TimerId t) { set_deadline_at(loop, t, 0); }

// The timerfd fired: runs every handler whose deadline has come.
void on_timer(Loop& loop) {
  uint64_t expirations;
  [[maybe_unused]] ssize_t n = ::read(loop.timer.get(), &expirations, sizeof expirations);
  const int64_t now = monotonic_ms();
  for (auto& d : loop.deadlines) {
    if (d.at == 0 || d.at > now) continue;
    d.at = 0;
    d.due();
  }
  rearm_timer(loop);
}

// Arms `want` on a descriptor whose armed events are `armed`. One with
// nothing armed is out of epoll altogether: a hung-up pipe or socket
// reports HUP and ERR even when nothing is asked, and would wake the loop
// for nothing while dock cannot act on it.
bool arm(Loop& loop, int fd, Slot slot, uint32_t& armed, uint32_t want) {
  if (want == armed) return true;
  if (want == 0) {
    ::epoll_ctl(loop.epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
  } else {
    epoll_event ev{};
    ev.events = want;
    ev.data.u32 = slot;
    if (::epoll_ctl(loop.epoll.get(), armed == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &ev) != 0) {
      if (errno != EPERM) say("epoll: %s", std::strerror(errno));  // EPERM: not pollable, the caller's call
      return false;
    }
  }
  armed = want;
  return true;
}

// Watches `fd` for good (the signalfd, the timerfd, a connection's hang-up).
bool watch(Loop& loop, int fd, Slot slot, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u32 = slot;
  if (::epoll_ctl(loop.epoll.get(), EPOLL_CTL_ADD, fd, &ev) == 0) return true;
  say("epoll: %s", std::strerror(errno));
  return false;
}

void unwatch(Loop& loop, int fd) { ::epoll_ctl(loop.epoll.get(), EPOLL_CTL_DEL, fd, nullptr); }

// Waits for what is ready and runs its handlers.
void run_once(Loop& loop) {
  epoll_event events[4];
  const int n = ::epoll_wait(loop.epoll.get(), events, 4, -1);
  if (n < 0 && errno != EINTR) say("epoll_wait: %s", std::strerror(errno));
  for (int i = 0; i < n; ++i) loop.handlers[events[i].data.u32]();
}

// ---- blocking every signal ----
//
// Done first thing in run(): every signal is blocked (SIGKILL and SIGSTOP
// cannot be), so none is lost or acted on by default before the loop reads
// it. See the header for faults.


// sigfillset leaves out the libc's own real-time signals (glibc: 32 and
// 33; musl: 32 to 34), and glibc's sigprocmask refuses them; left
// unblocked, each kills dock when sent from outside. So the set is filled
// bit by bit (bit N-1 is signal N) and the mask set through the system
// call itself.
sigset_t all_signals() {
  sigset_t set;
  ::sigfillset(&set);
  for (int sig = 32; sig <= 34; ++sig) {
    auto* words = reinterpret_cast<unsigned long*>(&set);
    words[(sig - 1) / (8 * sizeof(unsigned long))] |= 1ul << ((sig - 1) % (8 * sizeof(unsigned long)));
  }
  return set;
}

// rt_sigprocmask without libc's filter; the kernel's sigset is 64 bits.
int set_signal_mask(int how, const sigset_t* set, sigset_t* old) {
  return int(::syscall(SYS_rt_sigprocmask, how, set, old, kMaxSignal / 8));
}

// ==== 4. Spawn ====
//
// The child gets a process group of its own (so a signal to the group
// reaches everything it starts, and nothing of dock's), the terminal's
// foreground when dock holds it, its stdio from the io target, dock's
// original signal mask and dispositions (dock changes only SIGCHLD's, see
// run(); what dock inherited as ignored stays ignored for the child), and
// SIGKILL as parent-death signal when dock is not PID 1 -- set after the
// switch to --user, since the kernel clears it on a change of credentials.
//
// It is started with clone(CLONE_VM | CLONE_VFORK), as posix_spawn does:
// until it execs, the child runs on a stack of its own inside dock's
// memory while dock waits. Nothing is copied (fork copied dock's page
// tables and then every page dock wrote on, a good part of dock's
// start-up). An exec failure comes back as an errno over a close-on-exec
// pipe rather than through the shared memory, so that it also arrives where
// CLONE_VM is not honoured (valgrind runs the child as a fork).
// Every signal is still blocked in the child until just before execve, so
// none can run in dock's memory; the child calls only async-signal-safe
// functions and leaves by execve or _exit.

// The descriptors that become the child's 0, 1, 2; -1 keeps dock's own.
// With --tty all three are the pty's slave, which also becomes the
// controlling terminal of the child's new session.
struct ChildStdio {
  int in = -1, out = -1, err = -1;
  int ctty = -1;
};

// Who the child becomes before exec: --user (dock is root and switches
// ids) and --no-new-privs.
// One --rlimit: which limit, and its soft and hard values.
struct Limit {
  decltype(RLIMIT_NOFILE) resource = RLIMIT_NOFILE;  // glibc's enum in C++, musl's int
  rlimit value{};
};

struct Credentials {
  bool change = false;  // setgroups, setgid, setuid
  uid_t uid = 0;
  gid_t gid = 0;
  std::span<const gid_t> groups;
  bool no_new_privs = false;
  std::span<const Limit> limits;  // --rlimit, set while still root
};

// Where the child stopped when it could not exec.
enum class Stage : int { Exec, Terminal, Directory, User, Limits };

struct Spawned {
  pid_t pid = -1;
  int exec_errno = 0;  // nonzero: the command could not be executed
  Stage stage = Stage::Exec;
  int which = 0;       // Stage::Limits: the index of the --rlimit that failed
};

// What the child needs; it reads it in dock's memory.
struct SpawnPlan {
  char* const* command;  // null-terminated
  char* const* env;      // null-terminated
  const sigset_t& original_mask;
  const ChildStdio& stdio;
  int tty_fd;
  bool pid1;
  pid_t parent;
  int report;  // the pipe's write end: an errno when the child cannot go on
  int cwd;     // the directory dock was started in: the child's (-1: dock's own)
  const Credentials& creds;
  bool sigchld_ignored = false;  // dock was started with SIGCHLD ignored: so is the child
};

// The child runs on a stack ASan does not know; its noreturn calls would
// make ASan try to clean a "stack" it cannot find (and warn). Built without
// sanitizers, this changes nothing.
#define DOCK_CHILD_STACK __attribute__((no_sanitize_address))

[[noreturn]] DOCK_CHILD_STACK void child_fails(const SpawnPlan& p, int err, int status, Stage stage, int which = 0) {
  const int report[3] = {err, int(stage), which};
  [[maybe_unused]] ssize_t w = ::write(p.report, report, sizeof report);
  ::_exit(status);
}

// --user and --no-new-privs in the child: groups first, then the group,
// then the user (after setuid nothing else could be changed).
DOCK_CHILD_STACK int become(const Credentials& c) {
  if (c.change && (::setgroups(c.groups.size(), c.groups.data()) != 0 || ::setgid(c.gid) != 0 || ::setuid(c.uid) != 0))
    return errno;
  if (c.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  return 0;
}

// The value of PATH in `envp`, or nullptr.
const char* path_in(char* const envp[]) {
  for (char* const* e = envp; *e != nullptr; ++e)
    if (std::strncmp(*e, "PATH=", 5) == 0) return *e + 5;
  return nullptr;
}

// Runs the command as execvpe would, and returns why it could not. A name
// with a slash is run as it is; any other is looked up in the directories
// of the PATH of the command's own environment (an env file may set it; an
// empty entry is the current directory; no PATH: /bin:/usr/bin).
// A file that exists but may not be run (EACCES) is remembered and the
// search goes on; a file the kernel cannot run (ENOEXEC) is given to
// /bin/sh. This is dock's own loop, not libc's, because the child runs in
// dock's memory: every page of libc it touches stays resident in dock, and
// execvpe's error dispatch reads large tables of libc's.
int exec_command(char* const argv[], char* const envp[]) {
  const char* file = argv[0];
  const size_t file_len = std::strlen(file);
  if (file_len == 0) return ENOENT;
  auto run = [&](const char* path) {
    ::execve(path, argv, envp);
    if (errno != ENOEXEC) return errno;
    size_t argc = 0;
    while (argv[argc] != nullptr) ++argc;
    auto** sh = static_cast<const char**>(__builtin_alloca((argc + 2) * sizeof(char*)));
    sh[0] = "/bin/sh";
    sh[1] = path;
    for (size_t i = 1; i <= argc; ++i) sh[i + 1] = argv[i];  // argv[argc] is the null
    ::execve(sh[0], const_cast<char* const*>(sh), envp);
    return ENOEXEC;
  };
  if (std::memchr(file, '/', file_len) != nullptr) return run(file);
  if (file_len > NAME_MAX) return ENAMETOOLONG;

  const char* dirs = path_in(envp);
  if (dirs == nullptr) dirs = "/bin:/usr/bin";
  char path[PATH_MAX + 1];
  bool denied = false;
  int err = ENOENT;
  for (const char* dir = dirs;; ++dir) {
    const char* end = std::strchr(dir, ':');
    const size_t dir_len = end != nullptr ? size_t(end - dir) : std::strlen(dir);
    if (dir_len + 1 + file_len < sizeof path) {
      size_t n = 0;
      if (dir_len > 0) {  // an empty entry: the current directory
        std::memcpy(path, dir, dir_len);
        n = dir_len;
        path[n++] = '/';
      }
      std::memcpy(path + n, file, file_len + 1);
      err = run(path);
      if (err == EACCES) denied = true;
      else if (err != ENOENT && err != ENOTDIR && err != ESTALE && err != ENODEV && err != ETIMEDOUT)
        return err;  // found, but it cannot run: say why
    }
    if (end == nullptr) break;
    dir = end;
  }
  return denied ? EACCES : err;
}

DOCK_CHILD_STACK int start_child(void* arg) {
  const SpawnPlan& p = *static_cast<const SpawnPlan*>(arg);
  if (p.stdio.ctty >= 0) {  // a session of its own, on its own terminal
    if (::setsid() < 0 || ::ioctl(p.stdio.ctty, TIOCSCTTY, 0) != 0) child_fails(p, errno, code(Exit::Failure), Stage::Terminal);
  } else {
    ::setpgid(0, 0);
    if (p.tty_fd >= 0) ::tcsetpgrp(p.tty_fd, ::getpid());  // SIGTTOU still blocked
  }
  if (p.cwd >= 0 && ::fchdir(p.cwd) != 0) child_fails(p, errno, code(Exit::Failure), Stage::Directory);
  // dup2 clears close-on-exec on the copies; dock's originals stay closed.
  if (p.stdio.in >= 0) ::dup2(p.stdio.in, STDIN_FILENO);
  if (p.stdio.out >= 0) ::dup2(p.stdio.out, STDOUT_FILENO);
  if (p.stdio.err >= 0) ::dup2(p.stdio.err, STDERR_FILENO);
  for (size_t i = 0; i < p.creds.limits.size(); ++i)  // before setuid: raising a hard limit needs root
    if (::setrlimit(p.creds.limits[i].resource, &p.creds.limits[i].value) != 0)
      child_fails(p, errno, code(Exit::Failure), Stage::Limits, int(i));
  if (const int err = become(p.creds)) child_fails(p, err, code(Exit::Failure), Stage::User);
  // After setuid: a change of credentials clears the parent-death signal.
  if (!p.pid1) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != p.parent) ::_exit(code(Exit::Failure));  // dock already gone
  }
  if (p.sigchld_ignored) {
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGCHLD, &ign, nullptr);  // the child's own table: clone without CLONE_SIGHAND
  }
  set_signal_mask(SIG_SETMASK, &p.original_mask, nullptr);
  const int err = exec_command(p.command, p.env);
  child_fails(p, err, code(exec_failure_code(err)), Stage::Exec);
}

// The child's stack: room for exec_command's path (PATH_MAX) and, for a
// script without #!, its copy of argv, above a guard page (PROT_NONE) so
// that an overflow faults instead of writing over dock's memory. Only the
// pages the child touches become resident.
size_t child_stack_size(char* const* command, size_t page) {
  size_t args = 0;
  while (command[args] != nullptr) ++args;
  const size_t need = 32 * 1024 + PATH_MAX + (args + 2) * sizeof(char*);
  return (need + page - 1) / page * page + page;
}

Spawned spawn(SpawnPlan plan) {
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return {-1, errno, Stage::Exec};
  Fd rd(report[0]), wr(report[1]);
  const size_t page = size_t(::getpagesize()), size = child_stack_size(plan.command, page);
  void* stack = ::mmap(nullptr, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
  if (stack == MAP_FAILED) return {-1, errno, Stage::Exec};
  plan.parent = ::getpid();
  plan.report = wr.get();
  pid_t pid = -1;
  if (::mprotect(static_cast<char*>(stack) + page, size - page, PROT_READ | PROT_WRITE) == 0)
    // The stack grows down from its top; clone wants the top.
    pid = ::clone(start_child, static_cast<char*>(stack) + size, CLONE_VM | CLONE_VFORK | SIGCHLD, &plan);
  const int err_start = errno;
  ::munmap(stack, size);
  if (pid < 0) return {-1, err_start, Stage::Exec};
  // Also from the parent (a no-op by now: the child did it before exec).
  if (plan.stdio.ctty < 0) ::setpgid(pid, pid);
  if (plan.tty_fd >= 0) ::tcsetpgrp(plan.tty_fd, pid);
  wr.reset();
  int failed[3] = {0, 0, 0};  // errno, Stage, which
  const ssize_t n = retry([&] { return ::read(rd.get(), failed, sizeof failed); });
  if (n != ssize_t(sizeof failed)) return {pid, 0, Stage::Exec, 0};
  return {pid, failed[0], Stage(failed[1]), failed[2]};
}

// ==== 5. Signals, reaping and the lifecycle ====
//
// A signal dock receives goes, after --rewrite, to the child's process
// group (the child alone with --single-child, or when the child left its
// group). Signals dock caused itself (SIGPIPE from its own writes) are
// dropped. Every wake-up reaps until nothing is left to reap, so a
// coalesced SIGCHLD never leaves a zombie. The child's end starts the
// shutdown: SIGTERM (and SIGCONT, so stopped processes can act on it) to
// every remaining process, the kill timer, then SIGKILL to survivors until
// none is left. Where the run stands, from waiting for dependencies to the
// exit, is one Phase, changed only through one table of transitions
// (kLifecycle) by the events post() queues.

constexpr int64_t kDefaultKillTimeoutMs = 5000;
constexpr int64_t kKillLookAgainMs = 100;  // the last phase looks for stragglers this often

// The small init's options: --kill-timeout, --stop-timeout, --stop-delay,
// --rewrite, --exit-map, --single-child, --pdeath-signal, --debug, and the
// command.
struct InitConfig {
  int64_t kill_timeout_ms = kDefaultKillTimeoutMs;  // the leftovers' grace, once the command ended
  // The command's own grace after a forwarded stop; -1: none, as tini and
  // dumb-init give (the orchestrator's grace period is the bound).
  int64_t stop_timeout_ms = -1;
  int64_t stop_delay_ms = 0;  // the first SIGTERM is held back this long
  // rewrite[from] is the signal delivered when `from` arrives; 0 drops it.
  std::array<int, kMaxSignal + 1> rewrite{};
  // exit_map[status] is what dock exits with when the command's status is
  // `status`; -1: itself.
  std::array<int16_t, 256> exit_map{};
  bool single_child = false;
  bool debug = false;
  int pdeath_signal = 0;           // dock's own parent-death signal; 0: none
  char* const* command = nullptr;  // null-terminated, points into argv
  std::vector<char*> child_env;    // null-terminated, points into envp

  InitConfig() {
    for (int s = 0; s <= kMaxSignal; ++s) rewrite[size_t(s)] = s;
    exit_map.fill(-1);
  }
};

// --kill-timeout DURATION
Error parse_kill_timeout(std::string_view value, InitConfig& c) {
  return parse_duration_option(value, c.kill_timeout_ms, "a duration (e.g. 500ms, 10s, 2m)");
}

// --stop-timeout DURATION
Error parse_stop_timeout(std::string_view value, InitConfig& c) {
  return parse_duration_option(value, c.stop_timeout_ms, "a duration (e.g. 25s, 1m)");
}

// --stop-delay DURATION
Error parse_stop_delay(std::string_view value, InitConfig& c) {
  return parse_duration_option(value, c.stop_delay_ms, "a duration (e.g. 5s, 500ms; 0 for none)");
}

// --exit-map FROM:TO: the command's status FROM becomes dock's TO.
Error add_exit_map(std::string_view spec, InitConfig& c) {
  const size_t colon = spec.find(':');
  if (colon == std::string_view::npos) return "'" + std::string(spec) + "' is not FROM:TO (e.g. 143:0)";
  auto from = parse_uint(spec.substr(0, colon), 255), to = parse_uint(spec.substr(colon + 1), 255);
  if (!from || !to) return "'" + std::string(spec) + "' is not FROM:TO with two statuses from 0 to 255 (e.g. 143:0)";
  c.exit_map[size_t(*from)] = int16_t(*to);
  return {};
}

// --pdeath-signal SIG
Error parse_pdeath_signal(std::string_view value, InitConfig& c) {
  auto sig = signal_from_name(value);
  if (!sig) return "'" + std::string(value) + "' is not a signal (e.g. TERM, KILL, 15)";
  c.pdeath_signal = *sig;
  return {};
}

// --rewrite FROM:TO: one rule into the table.
Error add_rewrite(std::string_view spec, InitConfig& c) {
  const size_t colon = spec.find(':');
  if (colon == std::string_view::npos)
    return "'" + std::string(spec) + "' is not FROM:TO (e.g. TERM:QUIT, or USR1:0 to drop)";
  std::string_view from_s = spec.substr(0, colon), to_s = spec.substr(colon + 1);
  auto from = signal_from_name(from_s);
  if (!from) return "'" + std::string(from_s) + "' is not a signal";
  if (*from == SIGKILL || *from == SIGSTOP)
    return std::string("SIG") + signal_name(*from).c_str() + " cannot be caught, so it cannot be rewritten";
  if (*from == SIGCHLD) return "SIGCHLD is dock's own (it reaps with it), so it cannot be rewritten";
  std::optional<int> to = to_s == "0" ? std::optional<int>(0) : signal_from_name(to_s);
  if (!to) return "'" + std::string(to_s) + "' is not a signal or 0";
  c.rewrite[size_t(*from)] = *to;
  return {};
}

// ---- the lifecycle ----
//
// Where the run stands is one Phase. It changes only through the table
// kLifecycle (below, after the actions it names): an Event in a phase
// with no row changes nothing. Events are queued and handled one at a
// time, in the order they happened, each by its row's action and then by
// the features (Init::on_event); whatever either posts meanwhile waits
// its turn, so nothing is heard out of order.

enum class Phase {
  Waiting,      // --wait-for: dock waits for what the command needs
  SettingUp,    // the --setup programs run, one after another
  Starting,     // the command is being started
  Running,      // the command runs
  Delaying,     // SIGTERM came: dock is no longer ready; --stop-delay holds it back
  Stopping,     // SIGTERM went to the command: it ends when it likes (or at --stop-timeout)
  Terminating,  // the command ended; the leftovers got SIGTERM
  Killing,      // time is up: SIGKILL to whatever is left, until nothing is
  Teardown,     // everything is reaped; the --teardown programs run
  Draining,     // output and the web hook drain
  Done,         // dock exits with the command's status (or its own)
};

enum class Event {
  WaitOver,      // every --wait-for target answered (or none was given)
  WaitFailed,    // --wait-timeout ran out (the status is set)
  Interrupted,   // SIGTERM, SIGINT, SIGQUIT or SIGHUP before the command (the status is set)
  SetupDone,     // every --setup program succeeded (or none was given)
  SetupFailed,   // a --setup program failed: nothing else runs (the status is set)
  Started,       // the command runs
  StartFailed,   // it could not be started or executed (the status is set)
  StopAsked,     // the first SIGTERM from outside
  DelayOver,     // the --stop-delay ran out (at once without one), or a second SIGTERM came
  ChildEnded,    // the command was reaped
  GraceOver,     // --stop-timeout or the kill timeout ran out (in the last phase: look again)
  AllReaped,     // no process is left
  TeardownDone,  // the --teardown programs ran
  Settled,       // nothing is left to write or to send
};

constexpr size_t kPhases = size_t(Phase::Done) + 1;
constexpr size_t kEvents = size_t(Event::Settled) + 1;

// The small init's state: the child, where the run stands, and what it
// tells the features.
struct Init {
  const InitConfig& cfg;
  sigset_t original_mask{};
  bool sigchld_ignored = false;  // as dock was started: the child gets it back
  pid_t self = ::getpid();
  bool pid1 = false;
  Loop* loop = nullptr;
  Fd signals;
  Fd cwd;  // the directory dock was started in, for the child (dock's own is /)
  Fd tty;  // dock's controlling terminal, held only while dock is its foreground
  pid_t child = -1;
  pid_t program = -1;  // a --setup or --teardown program while it runs (its own group)
  int program_status = 0;  // its wait status, once it ended
  int stop_in_setup = 0;   // a stop signal that came during --setup: nothing after that program starts
  // Once the command is reaped, the processes that were in its group then,
  // as pidfds: a forwarded signal goes to these only, never to the group's
  // number, which a new process may lead by now (SPEC §15).
  std::vector<Fd> group_left;
  bool sweeping = false;        // ending what a setup or teardown program left behind
  bool sweep_killing = false;   // ... and its --kill-timeout is over
  TimerId sweep_timer = 0;
  Callback<> on_swept;          // nothing is left
  int status = 0;      // the child's wait status, once `ended` (or dock's own)
  bool ended = false;  // the child was reaped
  bool command_status = false;  // `status` is the command's, from its reaping (--exit-map)
  Phase phase = Phase::Waiting;
  // The events posted and not handled yet, oldest first. An event's
  // handling posts at most a few more (a reap: ChildEnded and AllReaped),
  // so a small ring always has room.
  std::array<Event, 16> queue{};
  size_t queue_head = 0, queued = 0;
  bool dispatching = false;
  int64_t stop_began = 0;  // monotonic ms of the SIGTERM forwarded, or of the child's end
  TimerId grace = 0;       // --stop-timeout, the kill timeout; in the last phase, the next look
  TimerId delay = 0;       // the --stop-delay
  Callback<Event> on_event;        // after each event: the features react
  Callback<pid_t, int> on_reaped;  // a process other than the child ended
  Callback<> on_program_end;       // the --setup or --teardown program ended
  Callback<> on_winch;             // SIGWINCH came
  bool peek_kills = false;         // a process SIGKILL ended is looked at before it is reaped ...
  Callback<pid_t> on_killed;       // ... by this (the OOM killer's count, section 13)

  explicit Init(const InitConfig& c) : cfg(c) {}
};

void post(Init& init, Event e);

bool is_stop_request(int sig) { return sig == SIGTERM || sig == SIGINT || sig == SIGQUIT || sig == SIGHUP; }

// Once the child is reaped its pid, and its group's number once the group
// is empty, may belong to another process: then only the processes that
// were in its group at the reap get the signal, through their pidfds (with
// --single-child, nobody).
void deliver(const Init& init, int sig) {
  if (init.program > 0) {  // a setup or teardown program runs: it gets the signals
    if (::kill(-init.program, sig) != 0 && errno != ESRCH) say("kill -%s group %d: %s", signal_name(sig).c_str(), init.program, std::strerror(errno));
    // A stopped program (Ctrl-Z, or it read the terminal) must be able to act on a stop.
    else if (is_stop_request(sig)) ::kill(-init.program, SIGCONT);
    return;
  }
  if (init.child <= 0) return;
  if (init.ended) {
    for (const Fd& p : init.group_left)
      if (::syscall(SYS_pidfd_send_signal, p.get(), sig, nullptr, 0) != 0 && errno != ESRCH)
        say("pidfd_send_signal SIG%s: %s", signal_name(sig).c_str(), std::strerror(errno));
    return;
  }
  if (!init.cfg.single_child) {
    if (::kill(-init.child, sig) == 0) return;
    if (errno != ESRCH) say("kill -%s group %d: %s", signal_name(sig).c_str(), init.child, std::strerror(errno));
  }
  if (::kill(init.child, sig) != 0 && errno != ESRCH)
    say("kill -%s %d: %s", signal_name(sig).c_str(), init.child, std::strerror(errno));
}

// Who has the terminal's foreground while it runs: a setup or teardown
// program, else the command.
pid_t terminal_holder(const Init& init) { return init.program > 0 ? init.program : init.child; }

// dock takes its terminal back from the child -- only while the child's
// group has it: after Ctrl-Z and `bg` the user's shell holds it, and taking
// it would leave the shell reading EIO.
void take_terminal_back(const Init& init) {
  if (init.tty && !init.pid1 && ::tcgetpgrp(init.tty.get()) == terminal_holder(init)) ::tcsetpgrp(init.tty.get(), ::getpgrp());
}

// "forwarding SIGTERM to group 42": what -d says of a signal delivered.
void debug_forwarding(const Init& init, int sig, int to, const char* held = "") {
  if (!g_debug) return;  // the names are built only when they are printed
  const char* whom = init.program > 0        ? "the program's group"
                     : init.ended            ? "what was left of the command's group:"
                     : init.cfg.single_child ? "child"
                                           : "group";
  debug("forwarding %sSIG%s%s%s to %s %d", held, signal_name(sig).c_str(), to != sig ? " as SIG" : "",
        to != sig ? signal_name(to).c_str() : "", whom,
        init.program > 0 ? int(init.program) : init.ended ? int(init.group_left.size()) : int(init.child));
}

// SIGCONT also gives the terminal back to the child when dock was resumed
// in the foreground (the shell's `fg`).
void forward(Init& init, const signalfd_siginfo& info) {
  const int sig = int(info.ssi_signo);
  if (pid_t(info.ssi_pid) == init.self) return;  // not logged: logging could cause another
  const int to = sig <= kMaxSignal ? init.cfg.rewrite[size_t(sig)] : sig;
  if (to == 0) {
    debug("dropping SIG%s (--rewrite)", signal_name(sig).c_str());
    return;
  }
  // Before the command, while nothing runs (--wait-for): a stop request
  // ends dock at once, 128+N. While a setup program runs (or what it left
  // is ended), it is forwarded and remembered: nothing after that program
  // starts.
  if (is_stop_request(sig) && (init.phase == Phase::Waiting || init.phase == Phase::SettingUp)) {
    if (init.program <= 0 && !init.sweeping) {
      debug("SIG%s before the command: stopping", signal_name(sig).c_str());
      init.status = sig;  // a wait status: killed by `sig`
      return post(init, Event::Interrupted);
    }
    if (init.stop_in_setup == 0) init.stop_in_setup = sig;
  }
  if (to == SIGCONT && init.tty && (init.program > 0 || !init.ended) && ::tcgetpgrp(init.tty.get()) == ::getpgrp())
    ::tcsetpgrp(init.tty.get(), terminal_holder(init));
  if (to == SIGWINCH) init.on_winch();
  // The first SIGTERM is the lifecycle's: it goes to the command when the
  // --stop-delay is over; a second one while it is held ends the delay.
  if (sig == SIGTERM && init.phase == Phase::Running) return post(init, Event::StopAsked);
  if (sig == SIGTERM && init.phase == Phase::Delaying) return post(init, Event::DelayOver);
  debug_forwarding(init, sig, to);
  deliver(init, to);
}

// Job control without PID 1: the child (or a setup program) was stopped
// from the terminal, so dock takes the terminal back and stops itself; the
// user's shell sees its job stop and gets its prompt back. `fg` sends
// SIGCONT, see forward().
void on_child_stopped(const Init& init, int sig) {
  debug("%s stopped by SIG%s", init.program > 0 ? "program" : "child", signal_name(sig).c_str());
  if (init.pid1 || !init.tty || (sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU)) return;
  take_terminal_back(init);
  ::kill(init.self, SIGSTOP);
}

// ---- the process table ----
//
// As a subreaper dock must find every remaining descendant at shutdown,
// including those that moved to a group or session of their own. The
// parent links come from /proc/PID/stat; deciding who descends from whom is
// a pure function over them.

struct ProcLink {
  pid_t pid;
  pid_t ppid;
  pid_t pgrp = 0;
};

// A numeric field of a /proc/PID/stat line after the state: 1 is the
// ppid, 2 the process group. The command name in parentheses may itself
// hold ')' and spaces, so parsing starts after the last ')'.
std::optional<pid_t> stat_number(std::string_view stat, int field) {
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos || close + 4 > stat.size()) return std::nullopt;
  std::string_view rest = stat.substr(close + 1);  // " S 123 ..."
  if (rest.size() < 4 || rest[0] != ' ' || rest[2] != ' ') return std::nullopt;
  rest.remove_prefix(3);
  for (int i = 1; i < field; ++i) {
    const size_t blank = rest.find(' ');
    if (blank == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(blank + 1);
  }
  auto n = parse_uint(rest.substr(0, rest.find(' ')), INT_MAX);
  if (!n) return std::nullopt;
  return pid_t(*n);
}

std::optional<pid_t> ppid_from_stat(std::string_view stat) { return stat_number(stat, 1); }
std::optional<pid_t> pgrp_from_stat(std::string_view stat) { return stat_number(stat, 2); }

// Every process below `root` in the tree the links describe.
std::vector<pid_t> descendants_in(std::span<const ProcLink> links, pid_t root) {
  std::vector<pid_t> found{root};
  for (size_t next = 0; next < found.size(); ++next)
    for (const auto& link : links)
      if (link.ppid == found[next] && link.pid != root) found.push_back(link.pid);
  found.erase(found.begin());
  return found;
}

// The start of PID/stat under /proc, or under the directory `proc` is open
// on (the fields dock reads are in its first 512 bytes), in `buf`; empty
// when the process is gone or /proc is not there.
std::string_view read_stat(pid_t pid, std::array<char, 512>& buf, int proc = AT_FDCWD) {
  char path[32];
  std::snprintf(path, sizeof path, "%s%d/stat", proc == AT_FDCWD ? "/proc/" : "", int(pid));
  Fd fd(retry([&] { return ::openat(proc, path, O_RDONLY | O_CLOEXEC); }));
  const ssize_t n = fd ? retry([&] { return ::read(fd.get(), buf.data(), buf.size()); }) : -1;
  return n > 0 ? std::string_view(buf.data(), size_t(n)) : std::string_view();
}

// Every process's parent, from PROC/PID/stat; nullopt if PROC cannot be read.
std::optional<std::vector<ProcLink>> read_process_table(const std::string& proc) {
  std::vector<ProcLink> links;
  DIR* dir = ::opendir(proc.c_str());
  if (dir == nullptr) return std::nullopt;
  std::array<char, 512> buf;
  while (dirent* e = ::readdir(dir)) {
    auto pid = parse_uint(e->d_name, INT_MAX);
    if (!pid) continue;
    const std::string_view stat = read_stat(pid_t(*pid), buf, ::dirfd(dir));
    if (stat.empty()) continue;  // it exited meanwhile
    auto ppid = ppid_from_stat(stat);
    auto pgrp = pgrp_from_stat(stat);
    if (ppid && pgrp) links.push_back({pid_t(*pid), *ppid, *pgrp});
  }
  ::closedir(dir);
  return links;
}

// Whether dock has a child left, running or not yet reaped. None means
// no descendant either (orphans come to dock).
bool any_child() {
  siginfo_t info{};
  return !(::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 && errno == ECHILD);
}

// Every process left that is dock's: the whole namespace as PID 1, else
// every descendant. nullopt (reported) when /proc cannot be read.
std::optional<std::vector<ProcLink>> leftovers(const Init& init) {
  auto table = read_process_table("/proc");
  if (!table) {
    say("/proc: %s (cannot find leftover processes)", std::strerror(errno));
    return std::nullopt;
  }
  if (init.pid1) {
    std::erase_if(*table, [](const ProcLink& l) { return l.pid == 1; });
    return table;
  }
  std::vector<ProcLink> mine;
  for (pid_t pid : descendants_in(*table, init.self))
    for (const auto& l : *table)
      if (l.pid == pid) mine.push_back(l);
  return mine;
}

// The command was reaped: a pidfd for each process still in its group, the
// only ones later signals are forwarded to (see deliver). A pid is checked
// again once its pidfd is open, so the pidfd is of the process seen.
void remember_group(Init& init) {
  if (init.cfg.single_child || init.child <= 0 || !any_child()) return;
  auto left = leftovers(init);
  if (!left) return;
  std::array<char, 512> buf;
  for (const auto& l : *left) {
    if (l.pgrp != init.child) continue;
    Fd fd(int(::syscall(SYS_pidfd_open, l.pid, 0)));
    if (fd && pgrp_from_stat(read_stat(l.pid, buf)) == init.child) init.group_left.push_back(std::move(fd));
  }
  debug("%zu processes left in the command's group", init.group_left.size());
}

// `sig` to every process left: the whole namespace as PID 1, else every
// descendant (SIGCONT after it, so a stopped one can act on it).
void signal_leftovers(const Init& init, int sig) {
  if (init.pid1) {
    // As PID 1 every process of the namespace is ours; kill(-1) skips us.
    if (::kill(-1, sig) == 0 && sig != SIGKILL) ::kill(-1, SIGCONT);
    return;
  }
  // Skip reading the whole process table in the common case of a clean exit.
  if (!any_child()) return;
  auto table = read_process_table("/proc");
  if (!table) {
    say("/proc: %s (cannot find leftover processes)", std::strerror(errno));
    return;
  }
  for (pid_t pid : descendants_in(*table, init.self)) {
    debug("sending SIG%s to leftover %d", signal_name(sig).c_str(), pid);
    if (::kill(pid, sig) == 0 && sig != SIGKILL) ::kill(pid, SIGCONT);
  }
}

void reap(Init& init, Loop& loop);

// ---- what a setup or teardown program left behind ----
//
// Ended as the command's leftovers are (SPEC §10): SIGTERM and SIGCONT to
// every process left, SIGKILL after --kill-timeout, again until none is
// left; then on_swept.

void end_sweep(Init& init, Loop& loop) {
  if (!init.sweeping) return;
  init.sweeping = init.sweep_killing = false;
  clear_deadline(loop, init.sweep_timer);
  init.on_swept();
}

void start_sweep(Init& init, Loop& loop) {
  init.sweeping = true;
  init.sweep_killing = false;
  if (!any_child()) return end_sweep(init, loop);
  debug("ending what the program left behind");
  signal_leftovers(init, SIGTERM);
  set_deadline(loop, init.sweep_timer, init.cfg.kill_timeout_ms);
  reap(init, loop);  // those that were already gone
}

void on_sweep_deadline(Init& init, Loop& loop) {
  if (!init.sweeping) return;
  if (!init.sweep_killing) debug("kill timeout over: SIGKILL to what the program left behind");
  init.sweep_killing = true;
  signal_leftovers(init, SIGKILL);
  set_deadline(loop, init.sweep_timer, kKillLookAgainMs);  // a fork just before the kill
  reap(init, loop);
}

// The command ended (or never started): SIGTERM to the leftovers and
// --kill-timeout from now, or SIGKILL at once with --kill-timeout 0.
void end_leftovers(Init& init, Loop& loop) {
  take_terminal_back(init);
  clear_deadline(loop, init.delay);  // it ended during --stop-delay: nothing is forwarded
  if (init.stop_began == 0) init.stop_began = monotonic_ms();
  if (init.cfg.kill_timeout_ms == 0) return post(init, Event::GraceOver);
  signal_leftovers(init, SIGTERM);
  set_deadline(loop, init.grace, init.cfg.kill_timeout_ms);  // a --stop-timeout still set is replaced
}

void command_ended(Init& init, Loop& loop) {
  debug("child %d exited with status %d", init.child, exit_code_of(init.status));
  remember_group(init);
  end_leftovers(init, loop);
}

// The first SIGTERM: held back by --stop-delay, or on at once.
void hold_stop(Init& init, Loop& loop) {
  if (init.cfg.stop_delay_ms == 0) return post(init, Event::DelayOver);
  debug("SIGTERM: not ready; forwarding it in %lld ms (--stop-delay)", (long long)init.cfg.stop_delay_ms);
  set_deadline(loop, init.delay, init.cfg.stop_delay_ms);
}

// SIGTERM reaches the command (through --rewrite): it takes the time it
// needs, as under tini and dumb-init (the orchestrator's grace period is
// the bound), or --stop-timeout from now.
void forward_stop(Init& init, Loop& loop) {
  clear_deadline(loop, init.delay);
  if (init.cfg.stop_timeout_ms >= 0) {
    debug("SIGTERM: the command gets SIGKILL in %lld ms if still running (--stop-timeout)", (long long)init.cfg.stop_timeout_ms);
    set_deadline(loop, init.grace, init.cfg.stop_timeout_ms);
  } else {
    debug("SIGTERM: the command has as long as it needs (no --stop-timeout)");
  }
  init.stop_began = monotonic_ms();
  const int to = init.cfg.rewrite[SIGTERM];
  debug_forwarding(init, SIGTERM, to, init.cfg.stop_delay_ms > 0 ? "the held " : "");
  deliver(init, to);
}

// --stop-timeout is over: SIGKILL to the command's group (the command
// alone with --single-child); its end then starts the leftovers' grace as
// any end does.
void kill_command(Init& init, Loop&) {
  debug("still running %lld ms after the stop (--stop-timeout): SIGKILL to the %s", (long long)init.cfg.stop_timeout_ms,
        init.cfg.single_child ? "command" : "command's group");
  deliver(init, SIGKILL);
}

// SIGKILL to everything left; again while anything is, because a process
// may have forked just before it was killed and its child comes to dock
// without a SIGCHLD.
void look_again(Init& init, Loop& loop) {
  signal_leftovers(init, SIGKILL);
  set_deadline(loop, init.grace, kKillLookAgainMs);  // cleared once all is reaped
  reap(init, loop);
}

void kill_leftovers(Init& init, Loop& loop) {
  if (init.cfg.kill_timeout_ms > 0) debug("kill timeout over: SIGKILL to what is left");
  look_again(init, loop);
}

void forget_group(Init& init, Loop& loop) {
  clear_deadline(loop, init.grace);
  init.group_left.clear();
}

// The transitions, with the small init's action for each; the features
// hear the event after it (on_lifecycle in section 14).
//
//  Waiting --WaitOver--> SettingUp --SetupDone--> Starting --Started--> Running
//     |                     |                        |                     |
//     | WaitFailed          | SetupFailed            | StartFailed         | StopAsked
//     | Interrupted         | Interrupted            |                     v
//     v                     v                        |                  Delaying --DelayOver--> Stopping
//    Done                  Done                      |                     |                    |   ^
//                                                    |      ChildEnded     |     ChildEnded     |   | GraceOver:
//                                                    |   (also from        |     from Running,  |   | SIGKILL to the
//                                                    |    Running)         |     Delaying,      +---+ command
//                                                    v                     v     Stopping
//                                              Terminating <---------------+--------------------+
//                                                 |     \ GraceOver
//                                       AllReaped |      v
//                                                 |    Killing --+ GraceOver: look again
//                                                 |      |   ^---+
//                                                 v      | AllReaped
//                                              Teardown <+
//                                                 | TeardownDone
//                                                 v
//                                              Draining --Settled--> Done
using Action = void (*)(Init&, Loop&);

struct Transition {
  Phase from;
  Event event;
  Phase to;
  Action act;  // null: the phase alone changes
};

constexpr std::array kLifecycle{
    Transition{Phase::Waiting, Event::WaitOver, Phase::SettingUp, nullptr},
    Transition{Phase::Waiting, Event::WaitFailed, Phase::Done, nullptr},
    Transition{Phase::Waiting, Event::Interrupted, Phase::Done, nullptr},
    Transition{Phase::SettingUp, Event::SetupDone, Phase::Starting, nullptr},
    Transition{Phase::SettingUp, Event::SetupFailed, Phase::Done, nullptr},
    Transition{Phase::SettingUp, Event::Interrupted, Phase::Done, nullptr},
    Transition{Phase::Starting, Event::Started, Phase::Running, nullptr},
    Transition{Phase::Starting, Event::StartFailed, Phase::Terminating, end_leftovers},  // what setup left, too
    Transition{Phase::Running, Event::StopAsked, Phase::Delaying, hold_stop},
    Transition{Phase::Running, Event::ChildEnded, Phase::Terminating, command_ended},
    Transition{Phase::Delaying, Event::DelayOver, Phase::Stopping, forward_stop},
    Transition{Phase::Delaying, Event::ChildEnded, Phase::Terminating, command_ended},
    Transition{Phase::Stopping, Event::GraceOver, Phase::Stopping, kill_command},
    Transition{Phase::Stopping, Event::ChildEnded, Phase::Terminating, command_ended},
    Transition{Phase::Terminating, Event::GraceOver, Phase::Killing, kill_leftovers},
    Transition{Phase::Terminating, Event::AllReaped, Phase::Teardown, forget_group},
    Transition{Phase::Killing, Event::GraceOver, Phase::Killing, look_again},
    Transition{Phase::Killing, Event::AllReaped, Phase::Teardown, forget_group},
    Transition{Phase::Teardown, Event::TeardownDone, Phase::Draining, nullptr},
    Transition{Phase::Draining, Event::Settled, Phase::Done, nullptr},
};

// At most one row for each phase and event: checked when dock is built.
constexpr bool one_row_each() {
  for (size_t i = 0; i < kLifecycle.size(); ++i)
    for (size_t j = i + 1; j < kLifecycle.size(); ++j)
      if (kLifecycle[i].from == kLifecycle[j].from && kLifecycle[i].event == kLifecycle[j].event) return false;
  return true;
}
static_assert(one_row_each(), "kLifecycle has two rows for one phase and event");

// kLifecycle by phase and event: a row's index, or -1.
constexpr auto kRowOf = [] {
  std::array<std::array<int8_t, kEvents>, kPhases> rows{};
  for (auto& r : rows) r.fill(-1);
  for (size_t i = 0; i < kLifecycle.size(); ++i) rows[size_t(kLifecycle[i].from)][size_t(kLifecycle[i].event)] = int8_t(i);
  return rows;
}();

// The row for `e` in phase `p`; null: the event changes nothing there.
constexpr const Transition* transition(Phase p, Event e) {
  const int8_t row = kRowOf[size_t(p)][size_t(e)];
  return row < 0 ? nullptr : &kLifecycle[size_t(row)];
}

// Queues `e`; unless an event is being handled already (which then goes
// on to this one), handles the queue until it is empty.
void post(Init& init, Event e) {
  if (init.queued == init.queue.size()) std::abort();  // cannot happen: see Init::queue
  init.queue[(init.queue_head + init.queued++) % init.queue.size()] = e;
  if (init.dispatching) return;
  init.dispatching = true;
  while (init.queued > 0) {
    const Event next = init.queue[init.queue_head];
    init.queue_head = (init.queue_head + 1) % init.queue.size();
    --init.queued;
    const Transition* t = transition(init.phase, next);
    if (t == nullptr) continue;
    init.phase = t->to;
    if (t->act != nullptr) t->act(init, *init.loop);
    init.on_event(next);
  }
  init.dispatching = false;
}

void reap(Init& init, Loop& loop) {
  for (;;) {
    int status = 0;
    pid_t next = -1;  // any
    siginfo_t info{};
    if (init.peek_kills && ::waitid(P_ALL, 0, &info, WEXITED | WSTOPPED | WNOHANG | WNOWAIT) == 0) {
      if (info.si_pid == 0) return;  // nothing has ended
      next = info.si_pid;            // a zombie still: its /proc is there
      if (info.si_code == CLD_KILLED && info.si_status == SIGKILL) init.on_killed(next);
    }
    const pid_t pid = ::waitpid(next, &status, WNOHANG | WUNTRACED);
    if (pid == 0) return;
    if (pid < 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD && init.sweeping) end_sweep(init, loop);
      if (errno == ECHILD && init.ended) post(init, Event::AllReaped);
      return;
    }
    if (pid == init.program) {
      if (WIFSTOPPED(status)) {
        on_child_stopped(init, WSTOPSIG(status));
        continue;
      }
      take_terminal_back(init);
      init.program = -1;
      init.program_status = status;
      init.on_program_end();
      continue;
    }
    if (pid != init.child || init.ended) {
      if (!WIFSTOPPED(status)) debug("reaped %d", pid);
      init.on_reaped(pid, status);
      continue;
    }
    if (WIFSTOPPED(status)) {
      on_child_stopped(init, WSTOPSIG(status));
      continue;
    }
    init.status = status;
    init.ended = true;
    init.command_status = true;
    post(init, Event::ChildEnded);
  }
}

void on_signals(Init& init, Loop& loop) {
  // Up to 16 signals per read; a short read means none is left, so the
  // common case (one signal) costs one read, one kill and no waitpid.
  bool child_event = false;
  for (;;) {
    signalfd_siginfo info[16];
    ssize_t n = retry([&] { return ::read(init.signals.get(), info, sizeof info); });
    if (n <= 0) break;  // EAGAIN: all read
    const size_t count = size_t(n) / sizeof info[0];
    for (size_t i = 0; i < count; ++i) {
      if (info[i].ssi_signo == SIGCHLD) child_event = true;
      else forward(init, info[i]);
    }
    if (count < std::size(info)) break;
  }
  if (child_event) reap(init, loop);
  // In the last phase a process may have forked just before it was killed;
  // its child is reparented to us without a SIGCHLD, so look again on every
  // reap while anything is left.
  if (init.phase == Phase::Killing && init.ended) signal_leftovers(init, SIGKILL);
}

// The grace deadline.
void on_grace_deadline(Init& init) { post(init, Event::GraceOver); }

// The --stop-delay deadline.
void on_delay_deadline(Init& init) { post(init, Event::DelayOver); }

// What dock exits with: the command's status through --exit-map, or
// dock's own (1, 2, 126, 127, a setup's status, 128+N before the command).
int exit_status(const Init& init) {
  const int s = exit_code_of(init.status);
  if (!init.command_status || s < 0 || s > 255 || init.cfg.exit_map[size_t(s)] < 0) return s;
  return init.cfg.exit_map[size_t(s)];
}

// ==== 6. Io targets and TLS ====
//
// --io names where the child's stdio goes. Parsing is pure: a malformed URL
// is a usage error (exit 2) found before anything starts; a target that
// cannot be opened or reached is found later, when dock opens it (exit 1).
// A file is opened for appending (created 0600); a socket is connected
// with one 5 s budget for all the addresses of the host, tried in turn
// (a Dial, as the web hook's and --wait-for's are). When nothing has
// to touch the bytes, the child gets the descriptor itself: its writes go
// straight to the file or the peer, and routing costs dock nothing.

enum class Scheme { Inherit, File, Tcp, Tcp4, Tcp6, Unix, Tls };

// Whether this build speaks TLS (section 1); without it, every TLS URL is
// bad usage, with this for its reason.
#ifdef DOCK_NO_TLS
constexpr bool kHaveTls = false;
#else
constexpr bool kHaveTls = true;
#endif
constexpr std::string_view kNoTls = "this build has no TLS; use dock-static-tls";

struct IoTarget {
  Scheme scheme = Scheme::Inherit;
  std::string url;            // as given, for messages
  std::string path;           // File, Unix
  std::string host;           // Tcp*, Tls; an IPv6 literal without brackets
  std::string port;           // Tcp*, Tls: 1..65535
  std::string ca, cert, key;  // Tls: ?ca=FILE&cert=FILE&key=FILE
  bool insecure = false;      // Tls: ?insecure=1

  [[nodiscard]] bool is_socket() const { return scheme != Scheme::Inherit && scheme != Scheme::File; }
};

// --io, and --tty (section 8 runs the terminal).
struct IoConfig {
  IoTarget io;
  bool tty = false;
};


// The inside of "[...]" in a URL's host: an IPv6 literal, with an
// optional zone id ("fe80::1%25eth0", RFC 6874), as getaddrinfo takes it
// ("fe80::1%eth0"); nullopt when it is not one.
std::optional<std::string> bracketed_ipv6(std::string_view inside) {
  const size_t pct = inside.find('%');
  for (char c : inside.substr(0, pct))  // inet_pton would stop at a NUL
    if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return std::nullopt;
  in6_addr a;
  if (::inet_pton(AF_INET6, std::string(inside.substr(0, pct)).c_str(), &a) != 1) return std::nullopt;
  if (pct == std::string_view::npos) return std::string(inside);
  if (inside.substr(pct, 3) != "%25" || inside.size() == pct + 3) return std::nullopt;
  auto zone = percent_decode(inside.substr(pct + 3));
  if (!zone) return std::nullopt;
  for (char c : *zone)  // an interface name or number
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) return std::nullopt;
  return std::string(inside.substr(0, pct)) + "%" + *zone;
}


// "[V6]" at the front of a URL's authority: the literal (its zone id
// decoded) into `host`, and `hp` left with what follows the ']'.
Error take_bracketed(std::string_view& hp, std::string& host) {
  const size_t close = hp.find(']');
  if (close == std::string_view::npos) return "unclosed '[' in the host";
  auto v6 = bracketed_ipv6(hp.substr(1, close - 1));
  if (!v6) return "'" + std::string(hp.substr(1, close - 1)) + "' is not an IPv6 address";
  host = std::move(*v6);
  hp.remove_prefix(close + 1);
  return {};
}

// A port: 1..65535, in decimal.
Error parse_port(std::string_view text, std::string& port) {
  auto n = parse_uint(text, 65535);
  if (!n || *n < 1) return "port '" + std::string(text) + "' is not in 1..65535";
  port = std::to_string(*n);
  return {};
}

// "HOST:PORT" or "[V6]:PORT" into t.host and t.port.
Error parse_host_port(std::string_view hp, IoTarget& t) {
  std::string_view host, port;
  const bool bracketed = !hp.empty() && hp[0] == '[';
  if (bracketed) {
    if (auto err = take_bracketed(hp, t.host)) return err;
    if (hp.empty() || hp[0] != ':') return "missing port (HOST:PORT)";
    port = hp.substr(1);
    host = t.host;
  } else {
    const size_t colon = hp.rfind(':');
    if (colon == std::string_view::npos) return "missing port (HOST:PORT)";
    host = hp.substr(0, colon);
    port = hp.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return "an IPv6 address goes in brackets ([::1]:PORT)";
  }
  if (host.empty()) return "missing host (HOST:PORT)";
  if (!bracketed && host.find_first_of("/?#@ %[]") != std::string_view::npos)
    return "'" + std::string(host) + "' is not a host name";
  t.host = std::string(host);
  return parse_port(port, t.port);
}

// tls:// parameters: ca=FILE, cert=FILE, key=FILE, insecure=BOOL.
Error parse_tls_query(std::string_view query, IoTarget& t) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const size_t eq = item.find('=');
    std::string_view name = item.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
    if (name == "insecure") {
      auto b = parse_bool(value.empty() && eq == std::string_view::npos ? "1" : value);
      if (!b) return "insecure='" + std::string(value) + "' is not a boolean";
      t.insecure = *b;
      continue;
    }
    std::string* field = name == "ca" ? &t.ca : name == "cert" ? &t.cert : name == "key" ? &t.key : nullptr;
    if (field == nullptr) return "unknown parameter '" + std::string(name) + "' (ca, cert, key, insecure)";
    if (value.empty()) return std::string(name) + "= needs a file";
    *field = std::string(value);
  }
  if (t.cert.empty() != t.key.empty()) return std::string("cert= and key= go together");
  return {};
}

Error parse_io_url(std::string_view url, IoTarget& t) {
  t = IoTarget{};
  t.url = std::string(url);
  if (url.empty()) return std::string("empty URL");
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) {  // a bare path
    t.scheme = Scheme::File;
    t.path = std::string(url);
    return {};
  }
  std::string_view scheme = url.substr(0, sep), rest = url.substr(sep + 3);
  struct Known {
    std::string_view name;
    Scheme scheme;
  };
  constexpr std::array<Known, 8> known{{{"file", Scheme::File}, {"tcp", Scheme::Tcp},
                                        {"tcp4", Scheme::Tcp4}, {"tcp6", Scheme::Tcp6},
                                        {"unix", Scheme::Unix}, {"tls", Scheme::Tls},
                                        {"ssl", Scheme::Tls}, {"", Scheme::Inherit}}};
  for (const auto& k : known)
    if (!k.name.empty() && iequals(k.name, scheme)) t.scheme = k.scheme;
  if (t.scheme == Scheme::Inherit)
    return "unknown scheme '" + std::string(scheme) + "' (file, tcp, tcp4, tcp6, unix, tls, ssl)";

  switch (t.scheme) {
    case Scheme::File:
    case Scheme::Unix: {
      if (rest.empty()) return std::string("missing path");
      if (rest.find('?') != std::string_view::npos) return std::string("takes no parameters");
      // file:///abs -> /abs, file://localhost/abs -> /abs, file://rel -> rel
      if (rest.substr(0, 10) == "localhost/") rest.remove_prefix(9);
      auto path = percent_decode(rest);  // file:///var/log/my%20app.log
      if (!path || path->empty() || path->find('\0') != std::string::npos)
        return std::string("bad %-escape in the path");
      t.path = std::move(*path);
      return {};
    }
    case Scheme::Tcp:
    case Scheme::Tcp4:
    case Scheme::Tcp6: {
      if (rest.find('?') != std::string_view::npos)
        return std::string("takes no parameters (ca=, cert=, key=, insecure= are for tls://)");
      if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
      return parse_host_port(rest, t);
    }
    case Scheme::Tls: {
      const size_t q = rest.find('?');
      std::string_view hp = rest.substr(0, q);
      if (!hp.empty() && hp.back() == '/') hp.remove_suffix(1);
      if (auto err = parse_host_port(hp, t)) return err;
      if (q != std::string_view::npos)
        if (auto err = parse_tls_query(rest.substr(q + 1), t)) return err;
      if (!kHaveTls) return std::string(kNoTls);
      return {};
    }
    case Scheme::Inherit:
      break;
  }
  return {};
}

Error parse_io(std::string_view value, IoConfig& c) {
  if (auto err = parse_io_url(value, c.io)) return "'" + std::string(value) + "': " + *err;
  return {};
}

// Inputs that are bad before anything is tried (exit 2).

// The --io file, opened for appending without ever blocking (a FIFO with
// no reader is ENXIO, not a hang) and without following a symlink that
// someone else could have planted: a symlink is followed only in a
// directory only dock's user can write. A new file is created 0600.
Fd open_log_file(const std::string& path, int& err) {
  constexpr int kFlags = O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  Fd fd(retry([&] { return ::open(path.c_str(), kFlags | O_NOFOLLOW, 0600); }));
  if (!fd && errno == ELOOP && only_we_write(dir_of(path)))
    fd = Fd(retry([&] { return ::open(path.c_str(), kFlags, 0600); }));
  err = errno;
  return fd;
}

// What a file --io names must be before anything starts: rotation renames
// and replaces it, so it must be a regular file (or not exist yet), never
// a symlink, a device or a FIFO.
Error check_log_file(const IoTarget& t, bool rotating) {
  if (auto err = check_dir_of(t.path)) return err;
  struct stat sb;
  if (!rotating || ::lstat(t.path.c_str(), &sb) != 0) return {};
  if (S_ISLNK(sb.st_mode)) return t.path + " is a symlink: only a regular file is rotated";
  if (!S_ISREG(sb.st_mode)) return t.path + " is not a regular file: only a regular file is rotated";
  return {};
}

Error check_paths(const IoTarget& t, bool rotating) {
  struct stat sb;
  if (t.scheme == Scheme::File)
    if (auto err = check_log_file(t, rotating)) return "'" + t.url + "': " + *err;
  for (const std::string* f : {&t.ca, &t.cert, &t.key})
    if (!f->empty() && ::stat(f->c_str(), &sb) != 0) return "'" + t.url + "': " + *f + ": " + std::strerror(errno);
  return {};
}

// Waits until `fd` has one of `events` or the deadline passes. errno-style.
int wait_until(int fd, short events, int64_t deadline) {
  for (;;) {
    const int64_t left = deadline - monotonic_ms();
    if (left <= 0) return ETIMEDOUT;
    pollfd p{fd, events, 0};
    const int r = ::poll(&p, 1, int(left));
    if (r > 0) return 0;
    if (r == 0) return ETIMEDOUT;
    if (errno != EINTR) return errno;
  }
}


// ---- addresses ----

struct Address {
  sockaddr_storage addr;
  socklen_t len;
};

// ---- names, resolved off the loop ----
//
// glibc's resolver waits 5 s per try per server when a name server does
// not answer, and nothing may hold dock's loop that long (SPEC §15). So a
// host name is resolved by a helper process forked for it: it writes the
// addresses to a pipe in one write and exits. dock watches the pipe like
// any other descriptor (or, before the command, waits on it within the
// step's own deadline); a lookup that outlives its step is given up, the
// helper killed and reaped like any other process. An IP literal needs
// no helper.

constexpr size_t kMaxAddresses = 16;

// What the helper writes: one write of at most PIPE_BUF bytes, so it
// arrives whole or not at all.
struct LookupReply {
  int rc = 0;         // getaddrinfo's
  int err = 0;        // errno, for EAI_SYSTEM
  uint32_t count = 0;
  std::array<Address, kMaxAddresses> found{};
};
static_assert(sizeof(LookupReply) <= PIPE_BUF);

struct Lookup {
  pid_t pid = -1;  // the helper, while it runs
  Fd answer;       // the pipe's read end
  std::string host;
};

// getaddrinfo of HOST:PORT (a numeric port) of `family` (AF_UNSPEC: any),
// the addresses in its order.
LookupReply get_addresses(const std::string& host, const std::string& port, int family, int flags) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | flags;
  addrinfo* list = nullptr;
  LookupReply r;
  r.rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &list);
  r.err = errno;
  if (r.rc != 0) return r;
  for (addrinfo* ai = list; ai != nullptr && r.count < kMaxAddresses; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof(sockaddr_storage)) continue;
    Address& a = r.found[r.count++];
    std::memcpy(&a.addr, ai->ai_addr, ai->ai_addrlen);
    a.len = ai->ai_addrlen;
  }
  ::freeaddrinfo(list);
  return r;
}

Error take_reply(const LookupReply& r, const std::string& host, std::vector<Address>& out) {
  if (r.rc == EAI_SYSTEM) return host + ": " + std::strerror(r.err);
  // EAI_AGAIN: every query timed out, or the server said SERVFAIL. musl's
  // words for it are "Try again"; these say the same in every build.
  if (r.rc == EAI_AGAIN) return host + ": the name server failed or did not answer in time";
  if (r.rc != 0) return host + ": " + ::gai_strerror(r.rc);
  out.insert(out.end(), r.found.begin(), r.found.begin() + r.count);
  return {};
}

void lookup_cancel(Lookup& l) {
  if (l.pid > 0) ::kill(l.pid, SIGKILL);  // reaped by the loop, as any process
  l.pid = -1;
  l.answer.reset();
}

// Starts resolving HOST:PORT. true: done at once (an IP literal, or an
// error in `err`); false: a helper runs and l.answer becomes readable
// when it is done (lookup_finish).
bool lookup_start(Lookup& l, const std::string& host, const std::string& port, int family, std::vector<Address>& out,
                  Error& err) {
  lookup_cancel(l);
  l.host = host;
  const LookupReply literal = get_addresses(host, port, family, AI_NUMERICHOST);
  if (literal.rc != EAI_NONAME) {
    err = take_reply(literal, host, out);
    return true;
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    err = host + ": " + std::strerror(errno);
    return true;
  }
  Fd rd(fds[0]), wr(fds[1]);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {  // the helper: its answer, and nothing of dock's held open
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    // Every signal stays blocked, as in dock: the SIGTERM dock sends its
    // leftovers when the command ends must not cut a lookup the web hook
    // still needs. SIGKILL ends it: a lookup given up, the leftovers' kill
    // timeout, or dock's own end (the parent-death signal).
    const LookupReply r = get_addresses(host, port, family, 0);
    [[maybe_unused]] ssize_t n = ::write(wr.get(), &r, sizeof r);
    ::_exit(0);
  }
  if (pid < 0) {
    err = host + ": cannot resolve: fork: " + std::strerror(errno);
    return true;
  }
  l.pid = pid;
  l.answer = std::move(rd);
  return false;
}

// The helper's answer, once l.answer is readable.
Error lookup_finish(Lookup& l, std::vector<Address>& out) {
  LookupReply r;
  const ssize_t n = retry([&] { return ::read(l.answer.get(), &r, sizeof r); });
  l.pid = -1;  // it has written, or died: it exits by itself
  l.answer.reset();
  if (n != ssize_t(sizeof r)) return l.host + ": name resolution failed";
  return take_reply(r, l.host, out);
}

// Resolves HOST:PORT while the command is being started (--io's target),
// waiting until `deadline` at most: nothing else is due then, and signals
// wait in the signalfd.
Error resolve_by(const std::string& host, const std::string& port, int family, int64_t deadline,
                 std::vector<Address>& out) {
  Lookup l;
  Error err;
  if (lookup_start(l, host, port, family, out, err)) return err;
  if (wait_until(l.answer.get(), POLLIN, deadline) != 0) {
    lookup_cancel(l);
    return host + ": no answer from the name server in time";
  }
  return lookup_finish(l, out);
}

// A non-blocking socket whose connect() to `a` has started (or is done);
// an empty Fd and `err` when it could not start.
Fd start_connect(const Address& a, int& err, int type = SOCK_STREAM) {
  Fd fd(::socket(a.addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  err = fd ? 0 : errno;
  if (fd && ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&a.addr), a.len) != 0 && errno != EINPROGRESS &&
      errno != EAGAIN) {
    err = errno;
    fd.reset();
  }
  return fd;
}

// ---- connecting to each address in turn ----
//
// A name may stand for several addresses (IPv6 and IPv4, several hosts):
// each is tried in turn until one takes the connection. The connection is
// started without blocking and judged once its socket is writable. Three
// callers wait for that differently -- opening --io while the command is
// being started (connect_first, with poll), the HTTP exchange and
// --wait-for (the loop) -- and try, judge and move on through these alone.

struct Dial {
  std::vector<Address> addresses;
  size_t next = 0;  // the address being tried, or to be tried next
  std::string why;  // why the last one could not be reached
  int type = SOCK_STREAM;  // SOCK_DGRAM: a connected UDP socket
};

void dial_start(Dial& d) {
  d.next = 0;
  d.why = "no address";
}

// A connection started to the next address that takes a connect(); an
// empty Fd when none is left (`why` says why the last one failed).
Fd dial_next(Dial& d) {
  for (; d.next < d.addresses.size(); ++d.next) {
    int err = 0;
    Fd fd = start_connect(d.addresses[d.next], err, d.type);
    if (fd) return fd;
    d.why = std::strerror(err);
  }
  return Fd();
}

// The current address is given up (`why`): the next one is tried.
void dial_skip(Dial& d, std::string why) {
  d.why = std::move(why);
  ++d.next;
}

// The connection on `fd` settled (its socket is writable): true when it
// is up; else the next address is tried next.
bool dial_settled(Dial& d, int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err == 0) return true;
  dial_skip(d, std::strerror(err));
  return false;
}

// While the command is being started: the first address that takes a
// connection, all within one deadline; else an empty Fd and `why`.
Fd connect_first(Dial& d, int64_t deadline, const char* timed_out) {
  dial_start(d);
  while (Fd fd = dial_next(d)) {
    const int err = wait_until(fd.get(), POLLOUT, deadline);
    if (err == ETIMEDOUT) {  // the budget is spent
      d.why = timed_out;
      break;
    }
    if (err != 0) dial_skip(d, std::strerror(err));
    else if (dial_settled(d, fd.get())) return fd;
  }
  return Fd();
}

// Before dock closes a connection it has written to: a socket closed with
// bytes in it that nobody read is reset, not ended, and the reset throws
// away what the kernel still held back of dock's last writes (Nagle keeps
// a small one while the one before is unacknowledged: a close_notify, the
// last line). What the peer sent (TLS 1.3's session tickets, mostly) is
// read and dropped first; a peer that keeps sending is read 16 times.
void discard_unread(int fd) {
  char ignored[4096];
  for (int reads = 0; reads < 16; ++reads) {
    const ssize_t n = ::recv(fd, ignored, sizeof ignored, MSG_DONTWAIT);
    if (n <= 0 && !(n < 0 && errno == EINTR)) return;
  }
}

// ---- TLS ----
//
// dock is a TLS client: TLS 1.2 or later, the server's chain verified
// against the system store (OpenSSL's default paths, so SSL_CERT_FILE and
// SSL_CERT_DIR work) or against ?ca=FILE alone, and its name -- or its IP
// address, for a literal -- checked. The handshake happens before the child
// starts, within the same 5 s budget as the connection.

constexpr int kSslErrorWantRead = 2, kSslErrorWantWrite = 3, kSslErrorSyscall = 5, kSslErrorZeroReturn = 6;
constexpr int kSslCtrlMode = 33, kSslCtrlSetTlsextHostname = 55, kSslCtrlSetMinProtoVersion = 123;
constexpr long kSslModePartialWrite = 1, kSslModeMovingWriteBuffer = 2;  // ring runs move and grow
constexpr long kTls12Version = 0x0303;
constexpr int kSslVerifyNone = 0, kSslVerifyPeer = 1, kSslFiletypePem = 1;
constexpr uint64_t kSslOpIgnoreUnexpectedEof = 1u << 7;  // a peer closing without close_notify just ends

struct TlsApi {
#define DOCK_TLS_POINTER(name, ret, params) ret(*name) params = nullptr;
  DOCK_TLS_CALLS(DOCK_TLS_POINTER)
#undef DOCK_TLS_POINTER
};
TlsApi g_ssl;
bool g_ssl_loaded = false;

#ifdef DOCK_LOADS_LIBS
// Points `slot` at the function `name` of the library `lib`.
template <class F>
bool bind_symbol(void* lib, const char* name, F& slot) {
  void* sym = ::dlsym(lib, name);
  std::memcpy(&slot, &sym, sizeof sym);
  return sym != nullptr;
}
#endif

// Fills g_ssl; nullopt when it is ready, else why it cannot be.
Error load_ssl() {
  if (g_ssl_loaded) return {};
#if defined(DOCK_NO_TLS)
  return std::string(kNoTls);  // not reached: the URL was refused when parsed
#elif defined(DOCK_STATIC_LIBS)
#define DOCK_TLS_BIND(name, ret, params) g_ssl.name = ::name;
  DOCK_TLS_CALLS(DOCK_TLS_BIND)
#undef DOCK_TLS_BIND
#else
  void* lib = ::dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr)
    return std::string("TLS needs OpenSSL 3 (") + ::dlerror() + "): install libssl3, or use dock-static-tls";
  // dlsym on libssl's handle also searches libcrypto, which it depends on.
#define DOCK_TLS_BIND(name, ret, params) \
  if (!bind_symbol(lib, #name, g_ssl.name)) return std::string("libssl.so.3 has no " #name ": OpenSSL 3 is needed");
  DOCK_TLS_CALLS(DOCK_TLS_BIND)
#undef DOCK_TLS_BIND
#endif
  g_ssl_loaded = true;
  return {};
}

// The oldest queued OpenSSL error, as its reason ("certificate verify
// failed"); the queue is emptied.
std::string ssl_reason(std::string_view fallback) {
  const unsigned long e = g_ssl.ERR_get_error();
  g_ssl.ERR_clear_error();
  const char* reason = e != 0 ? g_ssl.ERR_reason_error_string(e) : nullptr;
  return reason != nullptr ? std::string(reason) : std::string(fallback);
}

// One TLS connection: its context and session, freed together.
class Tls {
 public:
  Tls() = default;
  Tls(Tls&& o) noexcept : ctx_(std::exchange(o.ctx_, nullptr)), ssl_(std::exchange(o.ssl_, nullptr)) {}
  Tls& operator=(Tls&& o) noexcept {
    std::swap(ctx_, o.ctx_);
    std::swap(ssl_, o.ssl_);
    return *this;
  }
  ~Tls() {
    if (ssl_ != nullptr) g_ssl.SSL_free(ssl_);
    if (ctx_ != nullptr) g_ssl.SSL_CTX_free(ctx_);
  }
  [[nodiscard]] ssl_st* ssl() const { return ssl_; }
  explicit operator bool() const { return ssl_ != nullptr; }

  // The context: protocol, trust, client certificate. Before connecting.
  Error prepare(const IoTarget& t);
  // The session on the connected socket `fd`, with the name to check.
  Error attach(const IoTarget& t, int fd);
  // One step of the handshake on the non-blocking socket: an error, or
  // nothing with `want` set to the poll event it waits for (0: done).
  Error connect_step(short& want);
  // The last handshake failed verification: trying again fails the same way.
  [[nodiscard]] bool verify_failed() const { return verify_failed_; }
  // Runs the handshake on the non-blocking socket until the deadline.
  Error handshake(int fd, int64_t deadline);
  // Frees the session, keeping the context for the next connection.
  void end_session() {
    if (ssl_ != nullptr) g_ssl.SSL_free(ssl_);
    ssl_ = nullptr;
  }

 private:
  ssl_ctx_st* ctx_ = nullptr;
  ssl_st* ssl_ = nullptr;
  bool verify_failed_ = false;
};

Error Tls::prepare(const IoTarget& t) {
  if (auto err = load_ssl()) return err;
  g_ssl.ERR_clear_error();
  ctx_ = g_ssl.SSL_CTX_new(g_ssl.TLS_client_method());
  if (ctx_ == nullptr) return ssl_reason("cannot create a TLS context");
  g_ssl.SSL_CTX_ctrl(ctx_, kSslCtrlSetMinProtoVersion, kTls12Version, nullptr);
  g_ssl.SSL_CTX_ctrl(ctx_, kSslCtrlMode, kSslModePartialWrite | kSslModeMovingWriteBuffer, nullptr);
  g_ssl.SSL_CTX_set_options(ctx_, kSslOpIgnoreUnexpectedEof);
  if (t.insecure) {
    g_ssl.SSL_CTX_set_verify(ctx_, kSslVerifyNone, nullptr);
    say("%s: insecure=1: the server's certificate and name are NOT verified", t.url.c_str());
  } else {
    g_ssl.SSL_CTX_set_verify(ctx_, kSslVerifyPeer, nullptr);
    const bool trusted = t.ca.empty() ? g_ssl.SSL_CTX_set_default_verify_paths(ctx_) == 1
                                      : g_ssl.SSL_CTX_load_verify_locations(ctx_, t.ca.c_str(), nullptr) == 1;
    if (!trusted)
      return (t.ca.empty() ? std::string("the system trust store") : "ca=" + t.ca) + ": " +
             ssl_reason("cannot be loaded");
  }
  if (!t.cert.empty()) {
    if (g_ssl.SSL_CTX_use_certificate_chain_file(ctx_, t.cert.c_str()) != 1)
      return "cert=" + t.cert + ": " + ssl_reason("cannot be loaded");
    if (g_ssl.SSL_CTX_use_PrivateKey_file(ctx_, t.key.c_str(), kSslFiletypePem) != 1)
      return "key=" + t.key + ": " + ssl_reason("cannot be loaded");
    if (g_ssl.SSL_CTX_check_private_key(ctx_) != 1)
      return "key=" + t.key + ": " + ssl_reason("does not match cert=" + t.cert);
  }
  return {};
}

Error Tls::attach(const IoTarget& t, int fd) {
  ssl_ = g_ssl.SSL_new(ctx_);
  if (ssl_ == nullptr || g_ssl.SSL_set_fd(ssl_, fd) != 1) return ssl_reason("cannot create a TLS session");
  in6_addr any;
  const bool literal = ::inet_pton(AF_INET, t.host.c_str(), &any) == 1 || ::inet_pton(AF_INET6, t.host.c_str(), &any) == 1;
  if (literal) {  // an address is checked against the certificate's IP entries; no SNI
    if (!t.insecure && g_ssl.X509_VERIFY_PARAM_set1_ip_asc(g_ssl.SSL_get0_param(ssl_), t.host.c_str()) != 1)
      return ssl_reason("cannot check the address");
  } else {
    g_ssl.SSL_ctrl(ssl_, kSslCtrlSetTlsextHostname, 0, const_cast<char*>(t.host.c_str()));
    if (!t.insecure && g_ssl.SSL_set1_host(ssl_, t.host.c_str()) != 1) return ssl_reason("cannot check the name");
  }
  return {};
}

Error Tls::connect_step(short& want) {
  g_ssl.ERR_clear_error();
  errno = 0;
  want = 0;
  const int r = g_ssl.SSL_connect(ssl_);
  if (r == 1) return {};
  const int e = g_ssl.SSL_get_error(ssl_, r);
  if (e == kSslErrorWantRead || e == kSslErrorWantWrite) {
    want = e == kSslErrorWantRead ? POLLIN : POLLOUT;
    return {};
  }
  const long verdict = g_ssl.SSL_get_verify_result(ssl_);
  verify_failed_ = verdict != 0;
  if (verify_failed_) return std::string("certificate verify failed: ") + g_ssl.X509_verify_cert_error_string(verdict);
  if (e == kSslErrorSyscall && errno != 0) return std::string("TLS handshake: ") + std::strerror(errno);
  return "TLS handshake: " + ssl_reason("the server closed the connection");
}

Error Tls::handshake(int fd, int64_t deadline) {
  for (;;) {
    short want = 0;
    if (auto err = connect_step(want)) return err;
    if (want == 0) return {};
    const int err = wait_until(fd, want, deadline);
    if (err == ETIMEDOUT) return std::string("TLS handshake timed out (5 s for connecting and handshake)");
    if (err != 0) return std::string(std::strerror(err));
  }
}

// One SSL_read or SSL_write, its result as read(2) and write(2) give
// theirs: the bytes moved; 0 when the peer closed (reading); -1 with errno
// EAGAIN when TLS must wait for `wait` (EPOLLIN or EPOLLOUT); else -1 with
// errno, and why in `why`. The one mapping of OpenSSL's outcomes.
ssize_t tls_io(ssl_st* ssl, bool writing, void* buf, size_t len, uint32_t& wait, std::string& why) {
  g_ssl.ERR_clear_error();
  errno = 0;
  const int chunk = int(std::min<size_t>(len, INT_MAX));
  const int n = writing ? g_ssl.SSL_write(ssl, buf, chunk) : g_ssl.SSL_read(ssl, buf, chunk);
  if (n > 0) return n;
  const int e = g_ssl.SSL_get_error(ssl, n);
  if (e == kSslErrorWantRead || e == kSslErrorWantWrite) {
    wait = e == kSslErrorWantRead ? EPOLLIN : EPOLLOUT;
    errno = EAGAIN;
    return -1;
  }
  if (!writing && e == kSslErrorZeroReturn) return 0;  // close_notify
  if (e == kSslErrorSyscall && errno != 0) {           // a plain socket error
    why = std::strerror(errno);
    return -1;
  }
  why = ssl_reason(writing ? "TLS write failed" : "connection lost");  // an alert, a reset
  errno = writing ? EPIPE : EPROTO;
  return -1;
}

struct Opened {
  Fd fd;
  Tls tls;            // tls:// only
  std::string error;  // why it failed, when fd is empty
};


constexpr int64_t kConnectTimeoutMs = 5000;

// A socket the child gets is blocking again, as a child expects.
void make_blocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK); }

Opened open_file_target(const IoTarget& t) {
  int err = 0;
  Fd fd = open_log_file(t.path, err);
  if (!fd && err == ENXIO) return {Fd(), Tls(), "a FIFO that nobody reads"};
  if (!fd && err == ELOOP) return {Fd(), Tls(), "a symlink in a directory others can write: not followed"};
  if (!fd) return {Fd(), Tls(), std::strerror(err)};
  return {std::move(fd), Tls(), {}};
}

int family_of(const IoTarget& t) {
  return t.scheme == Scheme::Tcp4 ? AF_INET : t.scheme == Scheme::Tcp6 ? AF_INET6 : AF_UNSPEC;
}

// The address of a unix:// target.
Error unix_address(const IoTarget& t, std::vector<Address>& out) {
  Address a{};
  auto* un = reinterpret_cast<sockaddr_un*>(&a.addr);
  un->sun_family = AF_UNIX;
  if (t.path.size() >= sizeof un->sun_path) return "socket path too long";
  std::memcpy(un->sun_path, t.path.data(), t.path.size());
  a.len = sizeof *un;
  out.push_back(a);
  return {};
}

Opened open_target(const IoTarget& t) {
  const int64_t deadline = monotonic_ms() + kConnectTimeoutMs;
  if (t.scheme == Scheme::Inherit) return {};
  if (t.scheme == Scheme::File) return open_file_target(t);
  Opened result;
  if (t.scheme == Scheme::Tls)  // before connecting: no library or bad key, no connection
    if (auto err = result.tls.prepare(t)) return {Fd(), Tls(), *err};
  Dial dial;
  if (auto err = t.scheme == Scheme::Unix ? unix_address(t, dial.addresses)
                                          : resolve_by(t.host, t.port, family_of(t), deadline, dial.addresses))
    return {Fd(), Tls(), *err};
  result.fd = connect_first(dial, deadline, "connection timed out after 5 s");
  if (!result.fd) return {Fd(), Tls(), dial.why};
  if (t.scheme != Scheme::Tls) {
    make_blocking(result.fd.get());
    return result;
  }
  // dock keeps the TLS socket to itself, non-blocking, for the loop.
  auto bad = result.tls.attach(t, result.fd.get());
  if (!bad) bad = result.tls.handshake(result.fd.get(), deadline);
  if (bad) return {Fd(), Tls(), *bad};
  return result;
}

// ---- the connection at run time ----
//
// The connection of a socket target is gone for good when a write to it
// fails, or it is reset or closed both ways (with --tty: the peer's FIN).
// A peer that only stopped sending is not this: the child reads EOF and
// may still answer. Like a terminal hang-up, the child's group gets
// SIGHUP, and SIGKILL after the kill timeout if it is still there.

struct Link {
  Loop* loop = nullptr;
  Init* init = nullptr;         // whom a hang-up signals
  const IoTarget* io = nullptr;
  Fd target;                    // the io target dock opened (the child has its own copies)
  Tls tls;                      // tls://: the session on `target`, which only dock uses
  bool hung_up = false;         // the connection is gone and the child got SIGHUP
  TimerId hangup_timer = 0;     // then SIGKILL, if the child is still there
};

void hang_up(Link& l, Loop& loop, const char* why) {
  const Init& init = *l.init;
  if (init.ended || l.hung_up) return;
  l.hung_up = true;
  say("%s: %s; SIGHUP to %s", l.io->url.c_str(), why, init.cfg.command[0]);
  deliver(init, SIGHUP);
  set_deadline(loop, l.hangup_timer, init.cfg.kill_timeout_ms);
}

void on_hangup_deadline(Link& l) {
  if (l.init->ended) return;
  debug("still running %lld ms after the hang-up: SIGKILL", (long long)l.init->cfg.kill_timeout_ms);
  deliver(*l.init, SIGKILL);
}

// ==== 7. Lines: streams, sinks and the prefixer ====
//
// With a prefix, the child's stdout and stderr are pipes that dock reads.
// Each pipe is a Stream with a fixed line buffer; each place lines go is a
// Sink with a fixed ring. emit() moves whole units -- prefix and line --
// from a stream into its sink's ring, and only when the unit fits: a full
// ring stops dock reading the pipe, and the child blocks on its next write.
// Memory stays fixed whatever the child writes.
//
// Both streams may share one sink. A line is never mixed between them: a
// partial line written early (after 100 ms, at 64 KiB or at EOF) stays
// open on the sink until its newline, and its continuation gets no second
// prefix. When the other stream has something to write meanwhile, dock
// ends the open line with a newline first; the interrupted stream's
// continuation then starts a line of its own, with its prefix. So neither
// stream ever waits for the other, and a command that never ends a stdout
// line (a progress bar) cannot hold its stderr back.

// A collector --log-to names.
struct LogTarget {
  IoTarget at;            // where: Tcp*, Tls or Unix; `url` as given
  bool syslog = false;    // RFC 5424 messages, octet-counted on a stream (RFC 6587)
  bool datagram = false;  // syslog+udp: one datagram a message (RFC 5426)
};

// --stdout-prefix, --stderr-prefix, --timestamps; --log-to, --log-buffer,
// --log-tag.
struct LinesConfig {
  std::string stdout_prefix;                 // rendered; empty: none
  std::optional<std::string> stderr_prefix;  // rendered; unset: stdout's
  bool timestamps = false;
  std::vector<LogTarget> log_to;
  size_t log_buffer = 1 << 20;
  std::string log_tag;  // syslog's APP-NAME; empty: the command's base name
  [[nodiscard]] bool prefixing() const { return !stdout_prefix.empty() || stderr_prefix.has_value(); }
};

// Prefix colours: bold ANSI foreground, reset after the prefix.
struct Colour {
  std::string_view name;
  std::string_view code;
};

constexpr std::array<Colour, 7> kColours{{
    {"red", "\x1b[31;1m"}, {"green", "\x1b[32;1m"}, {"yellow", "\x1b[33;1m"},
    {"blue", "\x1b[34;1m"}, {"magenta", "\x1b[35;1m"}, {"cyan", "\x1b[36;1m"},
    {"white", "\x1b[37;1m"},
}};
constexpr std::string_view kColourReset = "\x1b[0m";
constexpr size_t kMaxPrefix = 4096;  // a line and its prefix must fit a sink's ring

// "TEXT[:COLOR]" as the bytes put before each line. Only a known colour
// name after the last ':' is a colour: "a:b:c" is the prefix "a:b:c".
Error render_prefix(std::string_view spec, std::string& out) {
  std::string_view text = spec, colour;
  if (const size_t colon = spec.rfind(':'); colon != std::string_view::npos) {
    for (const auto& c : kColours)
      if (iequals(c.name, spec.substr(colon + 1))) {
        text = spec.substr(0, colon);
        colour = c.code;
      }
  }
  if (text.empty()) return "empty prefix";
  if (text.find_first_of("\r\n") != std::string_view::npos)
    return "a prefix is put at the start of one line and cannot hold a line break";
  if (text.size() > kMaxPrefix) return "longer than " + std::to_string(kMaxPrefix) + " bytes";
  out = colour.empty() ? std::string(text) : std::string(colour) + std::string(text) + std::string(kColourReset);
  return {};
}

// --stdout-prefix, --stderr-prefix
Error parse_prefix(std::string_view value, std::string& out) {
  std::string rendered;
  if (auto err = render_prefix(value, rendered)) return "'" + std::string(value) + "': " + *err;
  out = std::move(rendered);
  return {};
}

Error parse_stdout_prefix(std::string_view value, LinesConfig& c) { return parse_prefix(value, c.stdout_prefix); }
Error parse_stderr_prefix(std::string_view value, LinesConfig& c) {
  std::string rendered;
  if (auto err = parse_prefix(value, rendered)) return err;
  c.stderr_prefix = std::move(rendered);
  return {};
}

// The prefix as a collector gets it: without its colour's escapes.
std::string plain_prefix(std::string_view rendered) {
  std::string plain;
  for (size_t i = 0; i < rendered.size(); ++i) {
    if (rendered.substr(i, 2) == "\x1b[") {
      const size_t m = rendered.find('m', i);
      if (m != std::string_view::npos) {
        i = m;
        continue;
      }
    }
    plain += rendered[i];
  }
  return plain;
}

constexpr size_t kMaxCollectors = 4;

// The well-known ports: syslog over TCP and UDP 514 (RFC 5426, and what
// rsyslog and syslog-ng listen on), over TLS 6514 (RFC 5425).
constexpr std::string_view kSyslogPort = "514", kSyslogTlsPort = "6514";

// --log-to URL: tcp://, tls://, unix:// (the lines as they are), or
// syslog+tcp://, syslog+tls://, syslog+udp:// (RFC 5424 messages; the port
// may be left out).
Error parse_log_to_url(std::string_view url, LogTarget& t) {
  t = LogTarget{};
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos)
    return std::string("not a URL (tcp://HOST:PORT, tls://, unix:///PATH, syslog+tcp://HOST[:PORT], syslog+tls://, "
                       "syslog+udp://)");
  const std::string_view scheme = url.substr(0, sep);
  std::string carrier(scheme);
  if (scheme.size() > 7 && iequals(scheme.substr(0, 7), "syslog+")) {
    t.syslog = true;
    carrier = std::string(scheme.substr(7));
    t.datagram = iequals(carrier, "udp");
    if (t.datagram) carrier = "tcp";
    else if (!iequals(carrier, "tcp") && !iequals(carrier, "tls"))
      return "unknown scheme '" + std::string(scheme) + "' (syslog+tcp, syslog+tls, syslog+udp)";
  } else if (iequals(scheme, "file") || iequals(scheme, "udp")) {
    return "unknown scheme '" + std::string(scheme) +
           "' (tcp, tls, unix, syslog+tcp, syslog+tls, syslog+udp; a file is --io's)";
  }
  std::string rest(url.substr(sep + 3));
  Error err = parse_io_url(carrier + "://" + rest, t.at);
  if (err && t.syslog && *err == "missing port (HOST:PORT)") {  // the well-known port
    const size_t q = rest.find('?');
    std::string hp = rest.substr(0, q);
    if (!hp.empty() && hp.back() == '/') hp.pop_back();
    const std::string query = q == std::string::npos ? "" : rest.substr(q);
    const std::string_view port = t.at.scheme == Scheme::Tls ? kSyslogTlsPort : kSyslogPort;
    err = parse_io_url(carrier + "://" + hp + ":" + std::string(port) + query, t.at);
  }
  if (err) return err;
  if (t.at.scheme == Scheme::File) return std::string("a file is --io's: --log-to sends to a collector");
  t.at.url = std::string(url);
  return {};
}

Error parse_log_to(std::string_view value, LinesConfig& c) {
  if (c.log_to.size() == kMaxCollectors) return "at most " + std::to_string(kMaxCollectors) + " collectors";
  LogTarget t;
  if (auto err = parse_log_to_url(value, t)) return "'" + std::string(value) + "': " + *err;
  c.log_to.push_back(std::move(t));
  return {};
}

constexpr size_t kMinLogBuffer = 4096, kMaxLogBuffer = size_t(1) << 30;

Error parse_log_buffer(std::string_view value, LinesConfig& c) {
  if (parse_uint(value)) return std::string(value) + " needs a unit, e.g. " + std::string(value) + "K";
  auto n = parse_size(value);
  if (!n || *n < int64_t(kMinLogBuffer) || *n > int64_t(kMaxLogBuffer))
    return "'" + std::string(value) + "' is not a size from 4k to 1g (e.g. 1m, 256k)";
  c.log_buffer = size_t(*n);
  return {};
}

// RFC 5424's APP-NAME: 1 to 48 printable US-ASCII characters, no space.
constexpr size_t kMaxTag = 48;

Error parse_log_tag(std::string_view value, LinesConfig& c) {
  if (value.empty() || value.size() > kMaxTag) return "'" + std::string(value) + "' is not 1 to 48 characters";
  for (char ch : value)
    if (ch <= ' ' || ch > '~') return "'" + std::string(value) + "': printable ASCII without spaces only (RFC 5424)";
  c.log_tag = std::string(value);
  return {};
}

// The default tag: the command's base name, made a valid APP-NAME.
std::string default_tag(std::string_view command) {
  if (const size_t slash = command.rfind('/'); slash != std::string_view::npos) command.remove_prefix(slash + 1);
  std::string tag(command.substr(0, kMaxTag));
  for (char& ch : tag)
    if (ch <= ' ' || ch > '~') ch = '_';
  return tag.empty() ? std::string("-") : tag;
}

constexpr size_t kLineMax = 64 * 1024;        // a partial line goes out at this size
constexpr size_t kSinkCapacity = 256 * 1024;  // bytes waiting for a slow target
constexpr int64_t kPartialLineMs = 100;       // a partial line goes out after this
constexpr int64_t kDrainTimeoutMs = 5000;     // at exit, a target that takes nothing this long is given up
// A whole unit (a 64 KiB line, its prefix and colour) always fits an empty
// ring, so emit() can always make progress once the ring drains.
static_assert(kSinkCapacity >= kLineMax + kMaxPrefix + 32);

// A fixed ring of bytes. Its memory is asked for once and left untouched
// until bytes wait in it: an idle ring costs address space, not memory.
class Ring {
 public:
  explicit Ring(size_t capacity) : buf_(new char[capacity]), cap_(capacity) {}
  [[nodiscard]] size_t size() const { return size_; }
  [[nodiscard]] size_t capacity() const { return cap_; }
  [[nodiscard]] size_t free() const { return cap_ - size_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }

  void push(std::string_view data) {  // the caller checked free()
    size_t tail = (head_ + size_) % cap_;
    for (size_t done = 0; done < data.size();) {
      const size_t run = std::min(data.size() - done, cap_ - tail);
      std::memcpy(buf_.get() + tail, data.data() + done, run);
      done += run;
      tail = (tail + run) % cap_;
    }
    size_ += data.size();
  }
  // The queued bytes as at most two runs, oldest first.
  [[nodiscard]] std::array<iovec, 2> runs() {
    const size_t first = std::min(size_, cap_ - head_);
    return {{{buf_.get() + head_, first}, {buf_.get(), size_ - first}}};
  }
  // Copies `n` queued bytes from `offset` on (the caller checked size()).
  void copy_out(size_t offset, size_t n, char* to) const {
    size_t at = (head_ + offset) % cap_;
    for (size_t done = 0; done < n;) {
      const size_t run = std::min(n - done, cap_ - at);
      std::memcpy(to + done, buf_.get() + at, run);
      done += run;
      at = (at + run) % cap_;
    }
  }
  void consume(size_t n) {
    head_ = (head_ + n) % cap_;
    size_ -= n;
    if (size_ == 0) head_ = 0;
  }
  void clear() { head_ = size_ = 0; }

 private:
  std::unique_ptr<char[]> buf_;
  size_t cap_;
  size_t head_ = 0, size_ = 0;
};

// ---- collectors: what --log-to keeps and frames ----
//
// Each collector keeps the lines it has not taken in a ring of
// --log-buffer bytes, a record per line: its length, the time it was
// read, whether stdout or stderr wrote it, and the line without its
// newline. A line that does not fit drops the oldest whole records, which
// are counted with the times of the first and the last dropped; so memory
// stays put however long the collector is away, and the command never
// waits for it. Records are framed only on their way out, into a stage of
// fixed size: a line as it is (with --timestamps' time), or an RFC 5424
// message (octet-counted on a stream, one datagram each over UDP). When
// the connection is lost, the framed records wholly written are the
// collector's; the one it was in the middle of is sent again whole on the
// next connection, so no line reaches it split or twice. Before the first
// line after a gap, one line says how many were dropped and between when.

enum class LineKind : uint8_t { Out, Err, Dock };

constexpr size_t kRecordHead = 4 + 8 + 1;  // a record: its text's length, read time (µs), kind
constexpr size_t kMaxLineText = kLineMax + kMaxPrefix;  // a line as a collector gets it, at most
constexpr size_t kMaxFrameHead = 400;  // "LEN <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID - - ", at most
constexpr size_t kStageCapacity = 64 * 1024 + kMaxLineText + kMaxFrameHead + 1;
constexpr size_t kMaxStaged = 1024;    // framed records in the stage, at most
constexpr size_t kDatagramMax = 65507;  // the largest UDP payload (IPv4)

// RFC 3339 in UTC with `digits` (3 or 6) of the second: 2026-12-03T17:46:31.123Z.
constexpr size_t kLineStampLen = 24;  // with milliseconds
size_t rfc3339(int64_t us, int digits, char* out) {
  const time_t secs = time_t(us / 1'000'000);
  tm t{};
  ::gmtime_r(&secs, &t);
  const int frac = digits == 3 ? int(us % 1'000'000 / 1000) : int(us % 1'000'000);
  const int n = std::snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%0*dZ", t.tm_year + 1900, t.tm_mon + 1,
                              t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, digits, frac);
  return n > 0 ? size_t(n) : 0;
}

std::string rfc3339_text(int64_t us, int digits) {
  char buf[32];
  return std::string(buf, rfc3339(us, digits, buf));
}

int64_t realtime_us() {
  timespec ts;
  ::clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

enum class CollectorStep { Waiting, Resolving, Connecting, Handshaking, Up, Closed };
constexpr int64_t kRetryFirstMs = 100, kRetryMaxMs = 30'000;

// What a collector's lines are made of, where they wait, and the
// connection that takes them.
struct Collector {
  const LogTarget* to = nullptr;
  std::string host, tag;          // syslog's HOSTNAME and APP-NAME
  const pid_t* procid = nullptr;  // syslog's PROCID: the command's pid
  bool stamps = false;            // --timestamps, on a raw stream
  Ring ring{kMinLogBuffer};       // records not framed yet
  size_t waiting = 0;             // how many
  std::unique_ptr<char[]> stage{new char[kStageCapacity]};  // framed records on their way
  size_t staged = 0, sent = 0;    // bytes framed in the stage; written of them
  std::array<uint32_t, kMaxStaged> ends{};  // where each framed record ends in the stage
  size_t framed = 0;              // how many
  uint64_t dropped = 0;           // since the last notice...
  int64_t first_drop_us = 0, last_drop_us = 0;  // ... read between these
  uint64_t dropped_total = 0;
  // The connection, at run time.
  CollectorStep step = CollectorStep::Waiting;
  Dial dial;
  Lookup lookup;
  Fd fd;
  Tls tls;                  // tls://, syslog+tls://: the context, prepared before anything starts
  Slot slot = 0;            // its handler, for the lookup's pipe or the socket
  int watched = -1;         // the descriptor armed in epoll
  uint32_t armed = 0;
  TimerId timer = 0;        // the next try, or the 5 s a try may take
  int64_t backoff_ms = kRetryFirstMs;
  bool said_away = false;   // a line said it is away; one more says when it is back
  bool last_try = false;    // dock is exiting: one more try at most
};

void note_drop(Collector& c, int64_t us) {
  if (c.dropped++ == 0) c.first_drop_us = us;
  c.last_drop_us = std::max(c.last_drop_us, us);
  ++c.dropped_total;
}

struct RecordHead {
  uint32_t len = 0;
  int64_t us = 0;
  LineKind kind = LineKind::Out;
};

RecordHead head_of(const Collector& c) {
  char raw[kRecordHead];
  c.ring.copy_out(0, kRecordHead, raw);
  RecordHead h;
  std::memcpy(&h.len, raw, 4);
  std::memcpy(&h.us, raw + 4, 8);
  h.kind = LineKind(raw[12]);
  return h;
}

void drop_oldest(Collector& c) {
  const RecordHead h = head_of(c);
  c.ring.consume(kRecordHead + h.len);
  --c.waiting;
  note_drop(c, h.us);
}

// A line for the collector (without its newline), read at `us`.
void collect(Collector& c, LineKind kind, int64_t us, std::string_view text) {
  text = text.substr(0, kMaxLineText);
  const size_t need = kRecordHead + text.size();
  if (need > c.ring.capacity()) return note_drop(c, us);
  while (c.ring.free() < need) drop_oldest(c);
  char raw[kRecordHead];
  const auto len = uint32_t(text.size());
  std::memcpy(raw, &len, 4);
  std::memcpy(raw + 4, &us, 8);
  raw[12] = char(kind);
  c.ring.push({raw, kRecordHead});
  c.ring.push(text);
  ++c.waiting;
}

// The frame around a record's text: `head` before it (its size returned),
// and how much of the text goes (all but what a datagram cannot hold).
size_t frame_head(const Collector& c, const RecordHead& h, char* head, size_t& text_len) {
  text_len = h.len;
  if (!c.to->syslog) {
    if (!c.stamps) return 0;
    const size_t n = rfc3339(h.us, 3, head);
    head[n] = ' ';
    return n + 1;
  }
  // PRI: facility user (1); severity info (6) for stdout, err (3) for
  // stderr, warning (4) for dock's own line.
  const int pri = 8 + (h.kind == LineKind::Out ? 6 : h.kind == LineKind::Err ? 3 : 4);
  char stamp[32];
  rfc3339(h.us, 6, stamp);
  const pid_t pid = c.procid != nullptr && *c.procid > 0 ? *c.procid : ::getpid();
  char msg[kMaxFrameHead];
  const int m = std::snprintf(msg, sizeof msg, "<%d>1 %s %s %s %d - - ", pri, stamp, c.host.c_str(), c.tag.c_str(),
                              int(pid));
  const size_t mlen = m > 0 ? std::min(size_t(m), sizeof msg - 1) : 0;
  if (c.to->datagram) {
    text_len = std::min<size_t>(text_len, kDatagramMax - mlen);
    std::memcpy(head, msg, mlen);
    return mlen;
  }
  const int n = std::snprintf(head, 16, "%zu ", mlen + text_len);  // RFC 6587 octet counting
  std::memcpy(head + n, msg, mlen);
  return size_t(n) + mlen;
}

// Frames one record into the stage; its text comes from `text` or, when
// that is null, from the ring behind the record's head.
void stage_one(Collector& c, const RecordHead& h, const char* text) {
  size_t text_len = 0;
  char* at = c.stage.get() + c.staged;
  const size_t head = frame_head(c, h, at, text_len);
  if (text != nullptr) std::memcpy(at + head, text, text_len);
  else c.ring.copy_out(kRecordHead, text_len, at + head);
  size_t n = head + text_len;
  if (!c.to->syslog) at[n++] = '\n';
  c.staged += n;
  c.ends[c.framed++] = uint32_t(c.staged);
}

// Fills the stage once everything framed before is written: first the
// line about dropped lines, if any were, then the oldest records.
void stage_lines(Collector& c) {
  if (c.sent < c.staged) return;
  c.staged = c.sent = c.framed = 0;
  if (c.dropped > 0) {
    const std::string text = "dock: " + std::to_string(c.dropped) + (c.dropped == 1 ? " line" : " lines") +
                             " dropped between " + rfc3339_text(c.first_drop_us, 3) + " and " +
                             rfc3339_text(c.last_drop_us, 3) + " (collector too slow or away)";
    stage_one(c, {uint32_t(text.size()), realtime_us(), LineKind::Dock}, text.data());
    c.dropped = 0;
    c.last_drop_us = 0;
  }
  while (c.waiting > 0 && c.framed < kMaxStaged) {
    const RecordHead h = head_of(c);
    if (c.framed > 0 && c.staged + kMaxFrameHead + h.len + 1 > kStageCapacity) break;
    stage_one(c, h, nullptr);
    c.ring.consume(kRecordHead + h.len);
    --c.waiting;
  }
}

// `n` more bytes of the stage are written.
void stage_sent(Collector& c, size_t n) {
  c.sent += n;
  if (c.sent == c.staged) c.staged = c.sent = c.framed = 0;
}

// The connection is lost: the records wholly written are the collector's;
// the rest, from the one it was in the middle of, go again whole.
void stage_rewind(Collector& c) {
  size_t done = 0;
  while (done < c.framed && c.ends[done] <= c.sent) ++done;
  const size_t from = done == 0 ? 0 : c.ends[done - 1];
  std::memmove(c.stage.get(), c.stage.get() + from, c.staged - from);
  for (size_t i = done; i < c.framed; ++i) c.ends[i - done] = uint32_t(c.ends[i] - from);
  c.framed -= done;
  c.staged -= from;
  c.sent = 0;
}

// Lines the collector has not taken (a record it has in part counts).
uint64_t lines_untaken(const Collector& c) {
  uint64_t n = c.waiting;
  for (size_t i = 0; i < c.framed; ++i) n += c.ends[i] > c.sent ? 1 : 0;
  return n;
}

class Stream;

// Where a sink's last line stands: `open` while the last byte written to
// it is not a newline; `by` is the stream that may still continue that
// line (none once that stream has ended).
struct OpenLine {
  Stream* by = nullptr;
  bool open = false;
};

// What a target may still take before it is rotated (--log-max-size).
struct Budget {
  size_t left = SIZE_MAX;
  size_t over = 0;     // how far the file is past its size already
  bool fresh = false;  // the file is empty: its first line goes, however long
  bool full = false;   // a line did not fit: rotate before it
};

// Where a sink's last line stands: `open` while the last byte written to

// One output of the child's: the bytes read and not yet emitted, in a
// fixed buffer, and where its current line stands.
class Stream {
 public:
  bool lines = true;   // false: bytes pass as they come (no prefix anywhere)
  std::string prefix;  // rendered; empty: none
  bool stamps = false;  // --timestamps: each line starts with the time it was read
  LineKind kind = LineKind::Out;  // stdout's or stderr's (a terminal's: stdout's)
  // --log-to: the collectors every whole line is copied to, and the line
  // being put together for them (the prefix without its colour first).
  std::vector<Collector>* taps = nullptr;
  std::string plain;
  std::string whole;
  int64_t whole_us = 0;
  // The loop's side: the pipe's read end, the sink it feeds, its handler,
  // the events armed, and since when a partial line waits.
  Fd pipe;
  size_t sink = 0;
  Slot slot = 0;
  uint32_t armed = 0;
  int64_t partial_since = 0;

  // Room for reading at the end of the buffer (pending bytes move to the
  // front); filled(n) says n bytes were read into it.
  std::span<char> space() {
    if (start_ > 0) {
      std::memmove(buf_.data(), buf_.data() + start_, len_);
      start_ = 0;
    }
    return {buf_.data() + len_, buf_.size() - len_};
  }
  void filled(size_t n) { len_ += n; }
  // When the last `n` bytes filled were read (µs since the epoch): a
  // line's time is the time its first bytes were read. Under
  // backpressure, with more reads waiting than marks, the oldest marks
  // merge into the next (a later time).
  void read_at(size_t n, int64_t us) {
    got_ += n;
    if (marks_n_ == marks_.size()) {
      std::move(marks_.begin() + 1, marks_.end(), marks_.begin());
      --marks_n_;
    }
    marks_[marks_n_++] = {got_, us};
  }
  [[nodiscard]] bool timed() const { return stamps || taps != nullptr; }
  // A partial line's time is up: it goes out as it is.
  void flush_now() { flush_partial_ = true; }
  // Every writer is gone: what is left goes out as it is.
  void end() { eof_ = flush_partial_ = true; }
  // Nobody will take the rest (the drain is over).
  void discard() {
    eof_ = true;
    start_ = len_ = 0;
  }
  [[nodiscard]] std::string_view pending() const { return {buf_.data() + start_, len_}; }
  [[nodiscard]] size_t size() const { return len_; }
  [[nodiscard]] bool ended() const { return eof_; }
  [[nodiscard]] bool flushing() const { return flush_partial_; }
  [[nodiscard]] bool line_open() const { return line_open_; }

  friend size_t emit(Stream& s, Ring& out, OpenLine& line, Budget& budget);

 private:
  void consume(size_t n) {
    start_ += n;
    len_ -= n;
    if (len_ == 0) start_ = 0;
    taken_ += n;
    size_t gone = 0;
    while (gone < marks_n_ && marks_[gone].end <= taken_) ++gone;
    if (gone > 0) {
      std::move(marks_.begin() + long(gone), marks_.begin() + long(marks_n_), marks_.begin());
      marks_n_ -= gone;
    }
  }
  // The read time of the next pending byte.
  [[nodiscard]] int64_t next_read_us() const { return marks_n_ > 0 ? marks_[0].us : realtime_us(); }
  struct Mark {
    uint64_t end;  // the bytes read up to this read's last
    int64_t us;
  };
  std::array<Mark, 16> marks_{};
  size_t marks_n_ = 0;
  uint64_t got_ = 0, taken_ = 0;  // bytes read, bytes consumed
  std::vector<char> buf_ = std::vector<char>(kLineMax);
  size_t start_ = 0, len_ = 0;  // pending bytes: buf_[start_, start_ + len_)
  bool line_open_ = false;      // the current line's prefix is already out
  bool flush_partial_ = false;  // write a partial line now (100 ms, EOF)
  bool eof_ = false;
};

// The line put together for the collectors is whole (or as long as a
// line gets, or its stream ended): each collector gets a copy.
void tap_line(Stream& s) {
  std::string_view text = s.whole;
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  for (auto& c : *s.taps) collect(c, s.kind, s.whole_us, text);
  s.whole.clear();
}

// A unit emit() wrote, for the collectors; `us`: when its line was read.
void tap_unit(Stream& s, std::string_view unit, int64_t us) {
  if (s.whole.size() + unit.size() > kMaxLineText && s.whole.size() > s.plain.size()) tap_line(s);
  if (s.whole.empty()) {
    s.whole = s.plain;
    s.whole_us = us;
  }
  s.whole.append(unit.substr(0, kMaxLineText - std::min(kMaxLineText, s.whole.size())));
  if (unit.back() == '\n') tap_line(s);
}

// Moves what can go from `s` into `out`, whose last line stands at `line`.
// Another stream's open line is ended first (one newline). A new line that
// does not fit the budget waits, and marks it full; the continuation of an
// open line always goes. Returns the bytes consumed from `s`.
size_t emit(Stream& s, Ring& out, OpenLine& line, Budget& budget) {
  if (!s.lines) {  // no lines to keep whole: what fits goes
    const size_t n = std::min(s.len_, out.free());
    out.push(s.pending().substr(0, n));
    s.consume(n);
    return n;
  }
  size_t consumed = 0;
  while (s.len_ > 0) {
    std::string_view data = s.pending();
    const size_t nl = data.find('\n');
    const bool whole = nl != std::string_view::npos;
    if (!whole && !s.flush_partial_ && s.len_ < kLineMax) break;  // wait for more
    const std::string_view unit = whole ? data.substr(0, nl + 1) : data;
    const bool cut = line.open && line.by != &s;  // another stream's line is open: end it
    const size_t head = s.line_open_ ? 0 : (s.stamps ? kLineStampLen + 1 : 0) + s.prefix.size();
    const size_t need = unit.size() + head + (cut ? 1 : 0);
    if (out.free() < need) break;  // backpressure
    if (!s.line_open_ && need > budget.left && !budget.fresh) {  // the file is full: rotate first
      budget.full = true;
      break;
    }
    // A line that does not end may take the file past its size by at most
    // a partial line's worth; then it is cut by the rotation.
    if (s.line_open_ && budget.left == 0 && budget.over + need > kLineMax) {
      budget.full = true;
      break;
    }
    budget.fresh = false;
    budget.left -= std::min(budget.left, need);
    if (cut) {
      out.push("\n");
      if (line.by != nullptr) line.by->line_open_ = false;  // its next bytes start a line
    }
    const int64_t us = s.timed() ? s.next_read_us() : 0;
    if (!s.line_open_ && s.stamps) {
      char stamp[32];
      const size_t n = rfc3339(us, 3, stamp);
      stamp[n] = ' ';
      out.push({stamp, n + 1});
    }
    if (!s.line_open_) out.push(s.prefix);
    out.push(unit);
    if (s.taps != nullptr) tap_unit(s, unit, us);
    s.consume(unit.size());
    consumed += unit.size();
    s.line_open_ = !whole;
    line = {whole ? nullptr : &s, !whole};
    if (!whole) s.flush_partial_ = false;
  }
  if (s.len_ == 0 && s.eof_ && line.by == &s) line.by = nullptr;  // ended mid-line: nobody continues it
  if (s.len_ == 0 && s.eof_ && s.taps != nullptr && !s.whole.empty()) tap_line(s);
  return consumed;
}

struct Rotation;

// A place lines go, written without ever blocking the loop.
struct Sink {
  std::string name;       // for messages
  int fd = -1;
  Fd owned;               // a private description of the target, when dock made one
  bool socket = false;    // sendmsg(MSG_DONTWAIT): the shared description is untouched
  bool pollable = false;  // epoll can wait for it to take more (not a regular file)
  ssl_st* tls = nullptr;  // written through TLS (fd: a copy of the socket, for epoll)
  bool wants_read = false;  // TLS can write only after reading (the feed's reads retry)
  Ring ring{kSinkCapacity};
  OpenLine line;          // the last line written: ended, or open (and by whom)
  int64_t line_since = 0;  // monotonic ms when that line was opened
  uint32_t armed = 0;     // EPOLLOUT when waiting for room
  Slot slot = 0;          // its handler
  Rotation* rot = nullptr;  // --log-rotate, --log-max-size: the log file this sink writes is rotated
  bool gone = false;      // its reader went away: output is discarded
  bool peer = false;      // the connection --io names: its loss is a hang-up
  bool failing = false;   // the last write failed (reported once per streak)
  uint64_t lost = 0;      // bytes that could not be written
  uint64_t lost_before_streak = 0;  // `lost` when the current failure streak began
  uint64_t written = 0;   // bytes written
};

// A sink on a descriptor dock shares with others (its own stdout or
// stderr). O_NONBLOCK on it would also change it for them -- a shell's
// terminal, say -- so dock writes through a description of its own,
// opened anew through /proc, or uses MSG_DONTWAIT on a socket.
Sink shared_sink(int fd, const char* name) {
  Sink k;
  k.name = name;
  k.fd = fd;
  struct stat sb;
  if (::fstat(fd, &sb) != 0) return k;
  if (S_ISSOCK(sb.st_mode)) {
    k.socket = k.pollable = true;
  } else if (S_ISFIFO(sb.st_mode) || S_ISCHR(sb.st_mode)) {
    k.owned = reopen_nonblocking(fd, O_WRONLY);
    if (k.owned) {
      k.fd = k.owned.get();
      k.pollable = true;
    } else {
      debug("%s: cannot reopen it (%s): writes to it may block", name, std::strerror(errno));
    }
  }
  return k;
}

// Writes queued bytes until the ring is empty or the target would block.
void flush_sink(Sink& k) {
  while (!k.ring.empty() && !k.gone) {
    auto runs = k.ring.runs();
    const int count = runs[1].iov_len > 0 ? 2 : 1;
    ssize_t n;
    if (k.tls != nullptr) {
      uint32_t wait = 0;
      std::string why;
      n = tls_io(k.tls, true, runs[0].iov_base, runs[0].iov_len, wait, why);
      k.wants_read = n < 0 && errno == EAGAIN && wait == EPOLLIN;
      if (n < 0 && errno == EPIPE) debug("%s: %s", k.name.c_str(), why.c_str());
    } else if (k.socket) {
      msghdr msg{};
      msg.msg_iov = runs.data();
      msg.msg_iovlen = decltype(msg.msg_iovlen)(count);  // an int in musl
      n = ::sendmsg(k.fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    } else {
      n = ::writev(k.fd, runs.data(), count);
    }
    if (n > 0) {
      k.ring.consume(size_t(n));
      k.written += uint64_t(n);
      if (k.failing) {  // the streak is over: one line for what it cost
        k.failing = false;
        say("%s: writing again; %llu bytes could not be written", k.name.c_str(),
            (unsigned long long)(k.lost - k.lost_before_streak));
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // EPOLLOUT will say
    const int err = n < 0 ? errno : EIO;
    const uint64_t dropped = k.ring.size();
    k.lost += dropped;
    k.ring.clear();
    if (err == EPIPE || err == ECONNRESET || err == ENOTCONN || err == EBADF) {
      k.gone = true;  // the connection's loss is said by the hang-up
      if (!k.peer) say("%s: %s (output to it is discarded from now on)", k.name.c_str(), std::strerror(err));
    } else if (!k.failing) {
      k.failing = true;
      k.lost_before_streak = k.lost - dropped;
      say("%s: %s (output is lost until writing works again)", k.name.c_str(), std::strerror(err));
    }
  }
}

// ---- the lines at run time ----
//
// pump() runs after anything that can let bytes move: a pipe became
// readable, a sink took more, a partial line's time came. It emits what
// fits, writes what it can, then arms exactly the events and the deadline
// that can move the rest. A sink whose file is rotated asks its Rotation
// (section 9) how much the file may still take, and lets it rotate at a
// line boundary.

// What the rotation says (section 9).
Budget rotation_budget(const Rotation& r, const Sink& k);
void rotation_full(Rotation& r);
void rotation_wrote(Rotation& r, uint64_t bytes);
bool rotate_if_due(Rotation& r, Sink& k, Loop& loop);

struct Lines {
  Loop* loop = nullptr;
  std::vector<Stream> streams;  // the child's outputs dock reads (none: the child writes the target itself)
  std::vector<Sink> sinks;      // where their lines go (one, or dock's stdout and stderr)
  TimerId flush_timer = 0;      // a partial line has waited 100 ms
  TimerId drain_timer = 0;      // at exit, a target that takes nothing is given up
  bool draining = false;        // everything is reaped; the drain timer runs
  bool stamps = false;          // --timestamps
  std::vector<Collector> collectors;  // --log-to
  Callback<const char*> on_peer_lost;  // the connection --io names broke
  Callback<> on_quiet;                 // while draining: the output may all be out
};

// ---- collectors at run time ----
//
// A collector is reached without holding the loop: its name resolved by a
// helper, each address tried without blocking, TLS's handshake step by
// step, the whole try within 5 s (its timer). Lost, or never reached, it
// is tried again after 100 ms, then twice as long each time up to 30 s,
// each wait shortened at random by up to half so that containers that lost
// one collector do not all come back at the same instant. Connected, it
// is watched for input (a collector sends nothing: readable means closed
// or reset) and, while the kernel holds back what dock writes, for room:
// idle and connected, it has no timer and wakes nothing.

void collector_watch(Collector& c, Loop& loop, int fd, uint32_t events) {
  if (c.watched >= 0 && c.watched != fd) arm(loop, c.watched, c.slot, c.armed, 0);
  c.watched = events != 0 ? fd : -1;
  arm(loop, fd, c.slot, c.armed, events);
}

void collector_close(Collector& c, Loop& loop) {
  if (c.watched >= 0) arm(loop, c.watched, c.slot, c.armed, 0);
  c.watched = -1;
  lookup_cancel(c.lookup);
  c.tls.end_session();
  c.fd.reset();
  clear_deadline(loop, c.timer);
}

// A wait of between half of `ms` and all of it.
int64_t jittered(int64_t ms) {
  uint32_t r = 0;
  if (::getrandom(&r, sizeof r, GRND_NONBLOCK) != ssize_t(sizeof r)) r = uint32_t(monotonic_ms());
  return ms / 2 + int64_t(r % uint32_t(ms / 2 + 1));
}

void collector_lost(Collector& c, Loop& loop, const std::string& why) {
  const bool was_up = c.step == CollectorStep::Up;
  collector_close(c, loop);
  stage_rewind(c);
  if (c.last_try) {  // dock is exiting: what is left is counted at the end
    c.step = CollectorStep::Closed;
    if (was_up || !c.said_away) say("%s: %s", c.to->at.url.c_str(), why.c_str());
    else debug("%s: %s; not tried again (exiting)", c.to->at.url.c_str(), why.c_str());
    return;  // the caller pumps, which tells whether the drain is over
  }
  if (was_up || !c.said_away)
    say("%s: %s; lines wait in its buffer (%s) and dock tries again", c.to->at.url.c_str(), why.c_str(),
        memory_text(c.ring.capacity()).c_str());
  c.said_away = true;
  c.step = CollectorStep::Waiting;
  set_deadline(loop, c.timer, jittered(c.backoff_ms));
  c.backoff_ms = std::min(c.backoff_ms * 2, kRetryMaxMs);
}

void collector_dial(Collector& c, Loop& loop) {
  c.fd = dial_next(c.dial);
  if (!c.fd) return collector_lost(c, loop, c.dial.why);
  c.step = CollectorStep::Connecting;
  collector_watch(c, loop, c.fd.get(), EPOLLOUT);  // writable once settled, connected or not
}

void collector_try(Collector& c, Loop& loop) {
  const IoTarget& t = c.to->at;
  c.dial.addresses.clear();
  dial_start(c.dial);
  set_deadline(loop, c.timer, kConnectTimeoutMs);
  Error err;
  if (t.scheme == Scheme::Unix) {
    err = unix_address(t, c.dial.addresses);
  } else if (!lookup_start(c.lookup, t.host, t.port, family_of(t), c.dial.addresses, err)) {
    c.step = CollectorStep::Resolving;
    return collector_watch(c, loop, c.lookup.answer.get(), EPOLLIN);
  }
  if (err) return collector_lost(c, loop, *err);
  collector_dial(c, loop);
}

// Writes what is staged until the collector takes no more; then waits
// for its end, and for room when the kernel holds writes back. (At exit a
// collector's progress does not extend the drain, as a sink's does: one
// that takes a byte now and then cannot hold dock's exit.)
void collector_write(Collector& c, Loop& loop) {
  uint32_t wait = EPOLLOUT;
  for (;;) {
    stage_lines(c);
    if (c.sent == c.staged) break;
    size_t len = c.staged - c.sent;
    if (c.to->datagram) {  // one message a datagram
      size_t i = 0;
      while (c.ends[i] <= c.sent) ++i;
      len = c.ends[i] - c.sent;
    }
    std::string why;
    ssize_t n;
    if (c.tls) {
      n = tls_io(c.tls.ssl(), true, c.stage.get() + c.sent, len, wait, why);
    } else {
      n = ::send(c.fd.get(), c.stage.get() + c.sent, len, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0) why = std::strerror(errno);
    }
    if (n > 0) {
      stage_sent(c, size_t(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EMSGSIZE && c.to->datagram) {  // no datagram can carry it
      note_drop(c, realtime_us());
      stage_sent(c, len);
      continue;
    }
    return collector_lost(c, loop, why.empty() ? std::string("the connection is lost") : why);
  }
  const bool more = c.sent < c.staged;
  collector_watch(c, loop, c.fd.get(), EPOLLIN | EPOLLRDHUP | (more && wait == EPOLLOUT ? EPOLLOUT : 0u));
}

// Up: what the collector sends is read and ignored (TLS's own messages
// among it); its end is a loss. A peer that floods dock gets 16 reads a
// turn of the loop.
void collector_serve(Collector& c, Loop& loop) {
  char ignored[4096];
  for (int reads = 0; reads < 16; ++reads) {
    uint32_t wait = 0;
    std::string why;
    ssize_t n;
    if (c.tls) {
      n = tls_io(c.tls.ssl(), false, ignored, sizeof ignored, wait, why);
    } else {
      n = ::recv(c.fd.get(), ignored, sizeof ignored, MSG_DONTWAIT);
      if (n < 0) why = std::strerror(errno);
    }
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return collector_lost(c, loop, n == 0 ? std::string("the collector closed the connection") : why);
  }
  collector_write(c, loop);
}

void collector_up(Collector& c, Loop& loop) {
  clear_deadline(loop, c.timer);
  c.step = CollectorStep::Up;
  c.backoff_ms = kRetryFirstMs;
  if (c.said_away) {
    const std::string dropped =
        c.dropped > 0 ? "; " + std::to_string(c.dropped) + " lines were dropped meanwhile" : std::string();
    say("%s: connected%s", c.to->at.url.c_str(), dropped.c_str());
  } else {
    debug("%s: connected", c.to->at.url.c_str());
  }
  c.said_away = false;
  collector_serve(c, loop);
}

void pump(Lines& ls, Loop& loop);

// The collector's descriptor is ready: the step it is at goes on.
void on_collector(Lines& ls, Loop& loop, size_t i) {
  Collector& c = ls.collectors[i];
  switch (c.step) {
    case CollectorStep::Resolving:
      collector_watch(c, loop, c.lookup.answer.get(), 0);
      if (auto err = lookup_finish(c.lookup, c.dial.addresses)) return collector_lost(c, loop, *err);
      collector_dial(c, loop);
      break;
    case CollectorStep::Connecting:
      if (!dial_settled(c.dial, c.fd.get())) {
        collector_watch(c, loop, c.fd.get(), 0);
        c.fd.reset();
        return collector_dial(c, loop);
      }
      if (c.to->at.scheme != Scheme::Tls) return collector_up(c, loop);
      if (auto err = c.tls.attach(c.to->at, c.fd.get())) return collector_lost(c, loop, *err);
      c.step = CollectorStep::Handshaking;
      [[fallthrough]];
    case CollectorStep::Handshaking: {
      short want = 0;
      if (auto err = c.tls.connect_step(want)) return collector_lost(c, loop, *err);
      if (want != 0) return collector_watch(c, loop, c.fd.get(), want == POLLIN ? EPOLLIN : EPOLLOUT);
      collector_up(c, loop);
      break;
    }
    case CollectorStep::Up:
      collector_serve(c, loop);
      break;
    case CollectorStep::Waiting:
    case CollectorStep::Closed:
      return;
  }
  pump(ls, loop);  // the drain may be over
}

// The collector's timer: the wait before the next try is over, or a try
// took too long.
void on_collector_deadline(Lines& ls, Loop& loop, size_t i) {
  Collector& c = ls.collectors[i];
  if (c.step == CollectorStep::Waiting) collector_try(c, loop);
  else if (c.step != CollectorStep::Up && c.step != CollectorStep::Closed)
    collector_lost(c, loop, "no connection within " + duration_text(kConnectTimeoutMs));
  pump(ls, loop);  // the drain may be over
}

bool output_pending(const Lines& ls) {
  for (const auto& s : ls.streams)
    if (!s.ended() || s.size() > 0) return true;
  for (const auto& c : ls.collectors)
    if (c.step != CollectorStep::Waiting && c.step != CollectorStep::Closed && lines_untaken(c) > 0) return true;
  for (const auto& k : ls.sinks)
    if (!k.ring.empty() && !k.gone) return true;
  return false;
}

// Emits and writes until nothing moves; true when a sink took bytes.
bool move_lines(Lines& ls, Loop& loop) {
  bool wrote = false;
  for (bool moved = true; moved;) {
    moved = false;
    for (auto& s : ls.streams) {
      Sink& k = ls.sinks[s.sink];
      Budget budget = k.rot != nullptr ? rotation_budget(*k.rot, k) : Budget{};
      const bool was_open = k.line.by != nullptr;
      if (emit(s, k.ring, k.line, budget) > 0) moved = true;
      if (!was_open && k.line.by != nullptr) k.line_since = monotonic_ms();
      if (budget.full && k.rot != nullptr) rotation_full(*k.rot);
      if (k.gone) {  // nothing reads it: keep the child unblocked, count the loss
        k.lost += k.ring.size();
        k.ring.clear();
      }
    }
    for (auto& k : ls.sinks) {
      const size_t before = k.ring.size();
      const uint64_t written = k.written;
      flush_sink(k);
      if (k.ring.size() < before && !k.gone) moved = wrote = true;
      if (k.gone && k.peer) ls.on_peer_lost("peer closed the connection");
      if (k.rot != nullptr) {
        rotation_wrote(*k.rot, k.written - written);
        // At a line boundary (or cutting a line that will not end), with
        // everything written to the old file.
        if (rotate_if_due(*k.rot, k, loop)) moved = true;
      }
    }
  }
  return wrote;
}

void pump(Lines& ls, Loop& loop) {
  const bool wrote = move_lines(ls, loop);
  const int64_t now = monotonic_ms();
  int64_t flush_at = 0;
  for (auto& s : ls.streams) {
    if (s.pipe) arm(loop, s.pipe.get(), s.slot, s.armed, s.size() < kLineMax ? uint32_t(EPOLLIN) : 0u);
    const bool partial = s.size() > 0 && !s.flushing() && s.pending().find('\n') == std::string_view::npos;
    if (!partial) {
      s.partial_since = 0;
      continue;
    }
    if (s.partial_since == 0) s.partial_since = now;
    const int64_t at = s.partial_since + kPartialLineMs;
    if (flush_at == 0 || at < flush_at) flush_at = at;
  }
  for (auto& k : ls.sinks) {
    const bool want = k.pollable && !k.gone && !k.ring.empty() && !k.wants_read;
    arm(loop, k.fd, k.slot, k.armed, want ? uint32_t(EPOLLOUT) : 0u);
  }
  for (auto& c : ls.collectors)  // new lines for a connected collector that has room
    if (c.step == CollectorStep::Up && (c.armed & EPOLLOUT) == 0 && c.waiting > 0) collector_write(c, loop);
  set_deadline_at(loop, ls.flush_timer, flush_at == 0 ? 0 : std::max(flush_at, now + 1));
  // At exit a slow reader is waited for as long as it keeps taking bytes.
  if (ls.draining && wrote) set_deadline(loop, ls.drain_timer, kDrainTimeoutMs);
  if (ls.draining && !output_pending(ls)) ls.on_quiet();
}

void on_stream_readable(Lines& ls, Loop& loop, size_t i) {
  Stream& s = ls.streams[i];
  std::span<char> room = s.space();
  if (room.empty() || !s.pipe) return;
  const ssize_t n = retry([&] { return ::read(s.pipe.get(), room.data(), room.size()); });
  if (n > 0) {
    s.filled(size_t(n));
    if (s.timed()) s.read_at(size_t(n), realtime_us());
  } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
    s.end();  // every writer is gone (or the pty's slave): what is left goes out as it is
    arm(loop, s.pipe.get(), s.slot, s.armed, 0);
    s.pipe.reset();
  }
  pump(ls, loop);
}

void on_flush_deadline(Lines& ls, Loop& loop) {
  const int64_t now = monotonic_ms();
  for (auto& s : ls.streams)
    if (s.partial_since != 0 && s.partial_since + kPartialLineMs <= now) s.flush_now();
  pump(ls, loop);
}

// Everything is reaped: what is queued gets a bounded wait.
// A collector that is away gets one more try now, and none after it.
void start_drain(Lines& ls, Loop& loop) {
  ls.draining = true;
  set_deadline(loop, ls.drain_timer, kDrainTimeoutMs);
  for (auto& c : ls.collectors) {
    c.last_try = true;
    if (c.step != CollectorStep::Waiting) continue;
    clear_deadline(loop, c.timer);
    if (lines_untaken(c) > 0) collector_try(c, loop);
    else c.step = CollectorStep::Closed;
  }
}

// Everything is reaped, yet output is still queued for a target that has
// taken nothing for kDrainTimeoutMs: count it lost and let dock exit.
void on_drain_deadline(Lines& ls) {
  for (auto& k : ls.sinks) {
    k.lost += k.ring.size();
    k.ring.clear();
    k.gone = true;
  }
  for (auto& s : ls.streams) s.discard();
  for (auto& c : ls.collectors) {
    collector_close(c, *ls.loop);
    c.step = CollectorStep::Closed;
  }
  ls.on_quiet();
}

void report_losses(const Lines& ls) {
  for (const auto& k : ls.sinks)
    if (k.lost > 0) say("%s: %llu bytes of output could not be written", k.name.c_str(), (unsigned long long)k.lost);
  for (const auto& c : ls.collectors) {
    if (c.dropped_total > 0)
      say("%s: %llu %s dropped (collector too slow or away)", c.to->at.url.c_str(),
          (unsigned long long)c.dropped_total, c.dropped_total == 1 ? "line was" : "lines were");
    if (const uint64_t left = lines_untaken(c); left > 0)
      say("%s: %llu %s not be delivered before exit", c.to->at.url.c_str(), (unsigned long long)left,
          left == 1 ? "line could" : "lines could");
  }
}

// At exit: a TLS collector gets close_notify; each connection is ended
// (not reset: see discard_unread) and closed.
void close_collectors(Lines& ls) {
  for (auto& c : ls.collectors) {
    if (c.step == CollectorStep::Up) {
      if (c.tls) g_ssl.SSL_shutdown(c.tls.ssl());
      discard_unread(c.fd.get());
    }
    collector_close(c, *ls.loop);
  }
}

// ---- preparing the lines ----

// A sink, with its handler: the loop pumps when it takes more.
Sink& add_sink(Lines& ls, Sink k) {
  Sink& added = ls.sinks.emplace_back(std::move(k));
  added.slot = add_handler(*ls.loop, handler<pump>(ls));
  return added;
}

// The sink for the target dock opened: its own descriptor for a socket,
// so that it has an epoll entry of its own (pump() arms a sink when it has
// to wait for room).
bool add_target_sink(Lines& ls, const Link& link) {
  Sink k;
  k.name = link.io->url;
  k.fd = link.target.get();
  if (link.io->is_socket()) {
    k.owned = Fd(::fcntl(link.target.get(), F_DUPFD_CLOEXEC, 3));
    if (!k.owned) {
      say("dup: %s", std::strerror(errno));
      return false;
    }
    k.fd = k.owned.get();
    k.socket = k.pollable = k.peer = true;
    k.tls = link.tls.ssl();
  } else {  // a file, or a FIFO: written like a pipe (opened non-blocking)
    struct stat sb;
    k.pollable = ::fstat(k.fd, &sb) == 0 && !S_ISREG(sb.st_mode);
    // A file an earlier run left mid-line (the command died mid-line, the
    // container restarted): that line is ended before the first new one,
    // so no line holds two prefixes.
    char last = '\n';
    if (!k.pollable && sb.st_size > 0)
      if (Fd rd = reopen_nonblocking(k.fd, O_RDONLY); !rd || ::pread(rd.get(), &last, 1, sb.st_size - 1) != 1)
        last = '\n';
    k.line.open = last != '\n';
  }
  add_sink(ls, std::move(k));
  return true;
}

// syslog's HOSTNAME: this host's name, printable US-ASCII (RFC 5424).
std::string syslog_host() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "-";
  std::string host(name);
  for (char& ch : host)
    if (ch <= ' ' || ch > '~') ch = '_';
  return host;
}

// The collectors --log-to names, each with its handler and timer, and its
// TLS context ready. false: reported (exit 1).
bool add_collectors(Lines& ls, const LinesConfig& cfg, const std::string& tag, const pid_t* procid) {
  ls.collectors.reserve(cfg.log_to.size());  // streams point at the vector; handlers at its items
  const std::string host = syslog_host();
  for (const LogTarget& t : cfg.log_to) {
    Collector& c = ls.collectors.emplace_back();
    const size_t i = ls.collectors.size() - 1;
    c.to = &t;
    c.host = host;
    c.tag = tag;
    c.procid = procid;
    c.stamps = cfg.timestamps && !t.syslog;
    c.ring = Ring(cfg.log_buffer);
    c.dial.type = t.datagram ? SOCK_DGRAM : SOCK_STREAM;
    c.slot = add_handler(*ls.loop, handler<on_collector>(ls, i));
    c.timer = add_timer(*ls.loop, handler<on_collector_deadline>(ls, i));
    if (t.at.scheme == Scheme::Tls)
      if (auto err = c.tls.prepare(t.at)) {
        say("%s: %s", t.at.url.c_str(), err->c_str());
        return false;
      }
  }
  return true;
}

// Every collector is tried when the command starts (not before: --wait-for
// may be waiting for one of them); the command does not wait for them.
void start_collectors(Lines& ls) {
  for (auto& c : ls.collectors) collector_try(c, *ls.loop);
}

// dock's own stdout, and its stderr when the child's stderr has a stream
// of its own and stderr is not the same file (one sink: no mixed lines).
void add_inherited_sinks(Lines& ls, bool with_stderr) {
  add_sink(ls, shared_sink(STDOUT_FILENO, "stdout"));
  struct stat out, err;
  const bool same = ::fstat(STDOUT_FILENO, &out) == 0 && ::fstat(STDERR_FILENO, &err) == 0 &&
                    out.st_dev == err.st_dev && out.st_ino == err.st_ino;
  if (with_stderr && !same) add_sink(ls, shared_sink(STDERR_FILENO, "stderr"));
}

// A stream dock reads from `from` (non-blocking) into sink `sink`; `lines`:
// kept whole (a prefix, or rotation between lines).
bool add_stream(Lines& ls, Fd from, const std::string& prefix, size_t sink, bool lines) {
  Stream& s = ls.streams.emplace_back();
  s.lines = lines;
  s.prefix = prefix;
  s.kind = ls.streams.size() == 1 ? LineKind::Out : LineKind::Err;
  s.stamps = ls.stamps;
  if (!ls.collectors.empty()) {
    s.taps = &ls.collectors;
    s.plain = plain_prefix(prefix);
    s.whole.reserve(kMaxLineText);
  }
  s.sink = sink;
  s.pipe = std::move(from);
  s.slot = add_handler(*ls.loop, handler<on_stream_readable>(ls, ls.streams.size() - 1));
  ::fcntl(s.pipe.get(), F_SETFL, O_NONBLOCK);
  arm(*ls.loop, s.pipe.get(), s.slot, s.armed, EPOLLIN);
  return s.armed != 0;
}

// ==== 8. Input and terminal ====
//
// With TLS, or with --tty, the child's stdin is not the target itself: dock
// reads the peer (or, with --tty and no socket, its own stdin) into a fixed
// buffer and writes that to the child's stdin pipe or terminal. A full
// buffer stops the reading: a child that does not read holds the peer
// back, not dock's memory.

constexpr size_t kFeedCapacity = 64 * 1024;

struct Feed {
  bool active = false;
  int from = -1;              // read here: the socket, or dock's stdin
  Fd own_from;                // a private non-blocking description of dock's stdin
  ssl_st* tls = nullptr;      // read `from` through TLS
  bool from_socket = false;   // recv(MSG_DONTWAIT): the description is shared
  bool from_peer = false;     // its end is the peer closing the connection
  const char* name = "stdin"; // for messages
  bool pollable = true;       // false: a regular file, read whenever there is room
  Fd to;                      // the child's stdin pipe, or the pty master
  bool close_at_end = false;  // a pipe: closing it is the child's EOF
  std::vector<char> buf;      // kFeedCapacity, sized by the first move_input (none without a feed)
  size_t len = 0;             // bytes waiting at the front of buf
  bool eof = false;           // nothing more comes from `from`
  bool to_gone = false;       // the child closed its stdin: input is discarded
  bool wants_write = false;   // TLS can read only after writing
  std::string broken;         // why the connection broke (not a close), for the hang-up
  uint32_t armed = 0;         // events armed on `from`
  uint32_t armed_to = 0;      // EPOLLOUT on `to` when waiting for room
  Slot from_slot = 0, to_slot = 0;     // their handlers
  bool fin_is_hangup = false;          // --tty: a terminal has no half-close
  Loop* loop = nullptr;
  Callback<const char*> on_peer_lost;  // the peer's end: a hang-up
};

// Reads what `from` has, as read(2) reports it: TLS's WANT_* as EAGAIN,
// the peer's close_notify or a broken connection as 0 (the end).
ssize_t feed_read(Feed& f, char* into, size_t room) {
  if (f.tls == nullptr) {
    if (f.from_socket) return retry([&] { return ::recv(f.from, into, room, MSG_DONTWAIT); });
    return retry([&] { return ::read(f.from, into, room); });
  }
  uint32_t wait = 0;
  std::string why;
  const ssize_t n = tls_io(f.tls, false, into, room, wait, why);
  f.wants_write = n < 0 && errno == EAGAIN && wait == EPOLLOUT;
  if (n >= 0 || errno == EAGAIN) return n;
  f.broken = why;  // not a close: an alert, a reset -- the connection is broken
  if (!f.from_peer) say("%s: %s", f.name, f.broken.c_str());
  return 0;
}

// Moves bytes from `from` through the buffer to `to` until neither can go
// on. Returns true when `from` reached its end in this call.
bool move_input(Feed& f) {
  if (f.buf.empty()) f.buf.resize(kFeedCapacity);  // first use: see Feed::buf
  bool ended = false;
  for (bool moved = true; moved;) {
    moved = false;
    size_t done = 0;
    while (done < f.len && !f.to_gone) {
      const ssize_t n = retry([&] { return ::write(f.to.get(), f.buf.data() + done, f.len - done); });
      if (n > 0) {
        done += size_t(n);
        moved = true;
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {  // EPIPE: nobody reads the child's stdin any more; EIO: its terminal is gone
        debug("the child's input: %s (what comes is discarded)", std::strerror(n < 0 ? errno : EIO));
        f.to_gone = true;
      }
    }
    if (f.to_gone) done = f.len;
    if (done > 0) {  // the rest to the front: room for the next read
      std::memmove(f.buf.data(), f.buf.data() + done, f.len - done);
      f.len -= done;
    }
    if (f.eof || f.len == f.buf.size()) continue;
    const ssize_t n = feed_read(f, f.buf.data() + f.len, f.buf.size() - f.len);
    if (n > 0) {
      f.len += size_t(n);
      moved = true;
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
      if (n < 0) debug("reading input: %s", std::strerror(errno));
      f.eof = ended = true;
    }
  }
  return ended;
}

// pump_input() runs when the connection (or dock's stdin) is readable or
// the child's input can take more: it moves what it can, then arms only
// what can move the rest. The end of the peer's data is the peer closing.
void pump_input(Feed& f, Loop& loop) {
  const bool ended = move_input(f);
  if (f.pollable) {
    const uint32_t want = f.eof || f.len == kFeedCapacity ? 0u : f.wants_write ? uint32_t(EPOLLOUT) : uint32_t(EPOLLIN);
    arm(loop, f.from, f.from_slot, f.armed, want);
  }
  if (f.to) {
    arm(loop, f.to.get(), f.to_slot, f.armed_to, !f.to_gone && f.len > 0 ? uint32_t(EPOLLOUT) : 0u);
    if (f.close_at_end && f.eof && f.len == 0) f.to.reset();  // the child reads EOF
  }
  // The peer stopped sending: the child reads EOF (a pipe is closed above)
  // and may still answer. A terminal has no half-close: that is a hang-up.
  if (ended && f.from_peer && !f.broken.empty()) f.on_peer_lost(f.broken.c_str());
  else if (ended && f.from_peer && f.fin_is_hangup) f.on_peer_lost("peer closed the connection");
}

// Arms the feed: reads from f.from (the connection, or dock's stdin),
// writes to `to`.
bool start_feed(Feed& f, Loop& loop, Fd to) {
  f.active = true;
  f.to = std::move(to);
  f.to_slot = add_handler(loop, handler<pump_input>(f));
  ::fcntl(f.to.get(), F_SETFL, O_NONBLOCK);  // armed by pump_input() when it must wait
  if (!f.pollable || arm(loop, f.from, f.from_slot, f.armed, EPOLLIN)) return true;
  if (errno != EPERM) return false;
  f.pollable = false;  // /dev/null, say: read whenever there is room
  return true;
}

// ---- the terminal ----

// Dock's own terminal in raw mode, so that with --tty every key reaches the
// child's terminal untouched (^C included); restored when dock is done.
struct RawTerminal {
  int fd = -1;
  termios saved{};
  RawTerminal() = default;
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;
  ~RawTerminal() {
    if (fd >= 0) ::tcsetattr(fd, TCSADRAIN, &saved);
  }
  void enter(int term) {
    termios raw;
    if (::tcgetattr(term, &saved) != 0) return;
    raw = saved;
    ::cfmakeraw(&raw);
    if (::tcsetattr(term, TCSADRAIN, &raw) == 0) fd = term;
  }
};

// --tty: the master side of the child's terminal, and dock's own terminal
// raw while it feeds the child.
struct Terminal {
  Fd pty;
  RawTerminal raw;
};

// The pty's window size: dock's own terminal's, when it has one.
void copy_window_size(Terminal& t) {
  winsize ws{};
  bool known = false;
  for (int fd = 0; fd <= 2 && !known; ++fd) known = ::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0;
  if (!known) {
    ws.ws_row = 24;  // what a terminal without a size is taken to be
    ws.ws_col = 80;
  }
  if (::ioctl(t.pty.get(), TIOCSWINSZ, &ws) != 0) debug("pty window size: %s", std::strerror(errno));
}

// A new pseudo-terminal: the master in t.pty, the slave (the child's) out.
Fd open_pty(Terminal& t) {
  t.pty = Fd(::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC));
  char name[64];
  if (!t.pty || ::grantpt(t.pty.get()) != 0 || ::unlockpt(t.pty.get()) != 0 ||
      ::ptsname_r(t.pty.get(), name, sizeof name) != 0) {
    say("--tty: cannot open a pseudo-terminal: %s", std::strerror(errno));
    return Fd();
  }
  Fd slave(::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) say("--tty: %s: %s", name, std::strerror(errno));
  else copy_window_size(t);
  return slave;
}

// dock's own stdin as the source of the child's terminal input, read
// without blocking and without changing the description others share.
void feed_from_stdin(Feed& f, Terminal& t) {
  struct stat sb;
  if (::fstat(STDIN_FILENO, &sb) != 0) return;
  f.from = STDIN_FILENO;
  if (S_ISSOCK(sb.st_mode)) {
    f.from_socket = true;
  } else if (S_ISFIFO(sb.st_mode) || S_ISCHR(sb.st_mode)) {
    f.own_from = reopen_nonblocking(STDIN_FILENO, O_RDONLY);
    if (!f.own_from) {
      say("--tty: stdin: cannot reopen it (%s): the child gets no input", std::strerror(errno));
      f.eof = true;
      f.pollable = false;
      return;
    }
    f.from = f.own_from.get();
  } else {
    f.pollable = false;  // a regular file: a read never blocks
  }
  if (::isatty(STDIN_FILENO)) t.raw.enter(STDIN_FILENO);
}

// The controlling terminal, if dock has one and is in its foreground group;
// a dock started in the background never takes the terminal.
Fd foreground_tty() {
  Fd tty(::open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (tty && ::tcgetpgrp(tty.get()) != ::getpgrp()) tty.reset();
  return tty;
}

// ==== 9. Rotation: --log-rotate, --log-max-size, --log-keep ====
//
// FILE is renamed to FILE_YYYYmmddHHMMSS (local time; -1, -2, ... when that
// name, or its .gz, is taken), FILE is opened anew, and the archive is
// compressed to FILE_YYYYmmddHHMMSS.gz by a forked process. Only names of
// exactly that pattern for that FILE count as archives: nothing else in the
// directory is ever removed.
//
// rotate_log() runs from pump() when rotation is due and the live file is
// at a line boundary with nothing queued for it: rename, reopen, queue the
// archive for compression. A failure is reported once, writing goes on to
// the live file, and the rotation is tried again 5 s later.

struct RotationConfig {
  int64_t log_rotate_ms = 0;  // 0: no rotation by age
  int64_t log_max_size = 0;   // bytes; 0: no rotation by size
  int64_t log_keep = 5;       // archives kept
  bool log_keep_set = false;
  [[nodiscard]] bool rotating() const { return log_rotate_ms != 0 || log_max_size != 0; }
};

Error parse_log_rotate(std::string_view value, RotationConfig& c) {
  auto ms = parse_duration(value, true);
  if (!ms || *ms == 0) return "'" + std::string(value) + "' is not a duration above zero (e.g. 1h, 30m, 1d; a bare integer is hours)";
  c.log_rotate_ms = *ms;
  return {};
}

Error parse_log_max_size(std::string_view value, RotationConfig& c) {
  // One rule for bare numbers (SPEC §2): a SIZE needs its unit, as a DURATION does.
  if (parse_uint(value)) return std::string(value) + " needs a unit, e.g. " + std::string(value) + "M";
  auto n = parse_size(value);
  if (!n || *n == 0) return "'" + std::string(value) + "' is not a size above zero (e.g. 10m, 512k, 1g)";
  c.log_max_size = *n;
  return {};
}

Error parse_log_keep(std::string_view value, RotationConfig& c) {
  auto n = parse_uint(value, 100000);
  if (!n || *n == 0) return "'" + std::string(value) + "' is not a count from 1 to 100000";
  c.log_keep = *n;
  c.log_keep_set = true;
  return {};
}

// zlib, loaded when rotation is asked for (see section 1).
struct ZlibApi {
#define DOCK_ZLIB_POINTER(name, ret, params) ret(*name) params = nullptr;
  DOCK_ZLIB_CALLS(DOCK_ZLIB_POINTER)
#undef DOCK_ZLIB_POINTER
};
ZlibApi g_zlib;

// Fills g_zlib; nullopt when it is ready, else why it cannot be.
Error load_zlib() {
#ifndef DOCK_LOADS_LIBS
#define DOCK_ZLIB_BIND(name, ret, params) g_zlib.name = ::name;
  DOCK_ZLIB_CALLS(DOCK_ZLIB_BIND)
#undef DOCK_ZLIB_BIND
#else
  void* lib = ::dlopen("libz.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return std::string(::dlerror());
#define DOCK_ZLIB_BIND(name, ret, params) \
  if (!bind_symbol(lib, #name, g_zlib.name)) return std::string("libz.so.1 has no " #name);
  DOCK_ZLIB_CALLS(DOCK_ZLIB_BIND)
#undef DOCK_ZLIB_BIND
#endif
  return {};
}

// ---- archive names, selection, compression ----

constexpr size_t kStampLen = 14;  // YYYYmmddHHMMSS

struct ArchiveName {
  std::string stamp;  // YYYYmmddHHMMSS
  int64_t clash = 0;  // the -N suffix; 0: none
  bool gz = false;
  [[nodiscard]] bool newer_than(const ArchiveName& o) const {
    return stamp != o.stamp ? stamp > o.stamp : clash > o.clash;
  }
};

// `name` as an archive of the log file named `base`, if it is one.
std::optional<ArchiveName> parse_archive_name(std::string_view base, std::string_view name) {
  if (name.size() < base.size() + 1 + kStampLen || name.substr(0, base.size()) != base || name[base.size()] != '_')
    return std::nullopt;
  name.remove_prefix(base.size() + 1);
  ArchiveName a;
  for (size_t i = 0; i < kStampLen; ++i)
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
  a.stamp = std::string(name.substr(0, kStampLen));
  name.remove_prefix(kStampLen);
  if (name.size() >= 3 && name.substr(name.size() - 3) == ".gz") {
    a.gz = true;
    name.remove_suffix(3);
  }
  if (!name.empty()) {
    if (name[0] != '-' || name.size() < 2 || name[1] == '0') return std::nullopt;
    auto n = parse_uint(name.substr(1), 1'000'000);
    if (!n) return std::nullopt;
    a.clash = *n;
  }
  return a;
}

// The name of archive `a` of `base`, without ".gz".
std::string archive_name(std::string_view base, const ArchiveName& a) {
  std::string n = std::string(base) + "_" + a.stamp;
  if (a.clash > 0) n += "-" + std::to_string(a.clash);
  return n;
}

// Of the entries of a directory, the archives of `base` beyond the `keep`
// newest, as the names to remove (an archive and its .gz both go). Newest
// are those this dock made (`made`: their names without .gz, oldest
// first), in the order it made them; then the others, by the time in
// their names. So a clock that steps back (DST ends, NTP) never makes the
// archive just made look old.
std::vector<std::string> archives_to_remove(std::string_view base, const std::vector<std::string>& entries,
                                            size_t keep, std::span<const std::string> made = {}) {
  std::vector<ArchiveName> archives;
  for (const auto& e : entries) {
    auto a = parse_archive_name(base, e);
    if (!a) continue;
    a->gz = false;  // FILE_x and FILE_x.gz are one archive
    bool seen = false;
    for (const auto& b : archives) seen = seen || (b.stamp == a->stamp && b.clash == a->clash);
    if (!seen) archives.push_back(*a);
  }
  // Each archive with its rank among those made (0: not made by this dock).
  std::vector<std::pair<size_t, ArchiveName>> ranked;
  for (auto& a : archives) {
    const auto it = std::find(made.begin(), made.end(), archive_name(base, a));
    ranked.emplace_back(it == made.end() ? 0 : size_t(it - made.begin()) + 1, std::move(a));
  }
  std::sort(ranked.begin(), ranked.end(), [](const auto& x, const auto& y) {
    return x.first != y.first ? x.first > y.first : x.second.newer_than(y.second);
  });
  std::vector<std::string> remove;
  for (size_t i = keep; i < ranked.size(); ++i) {
    const std::string n = archive_name(base, ranked[i].second);
    for (const auto& e : entries)
      if (e == n || e == n + ".gz") remove.push_back(e);
  }
  return remove;
}

// The local time `t` as YYYYmmddHHMMSS.
std::string stamp_of(time_t t) {
  tm local{};
  ::localtime_r(&t, &local);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &local);
  return buf;
}

// The archive name for `path` at time `t`: newer than `last` (the previous
// one, which may have been removed since), and free (neither it nor its
// .gz exists). `last` becomes it.
std::string next_archive_path(const std::string& path, time_t t, ArchiveName& last) {
  ArchiveName a;
  a.stamp = stamp_of(t);
  if (a.stamp == last.stamp) a.clash = last.clash + 1;
  for (;; ++a.clash) {
    const std::string candidate = archive_name(path, a);
    struct stat sb;
    if (::lstat(candidate.c_str(), &sb) != 0 && ::lstat((candidate + ".gz").c_str(), &sb) != 0) {
      last = a;
      return candidate;
    }
  }
}

// Renames `from` to `to`, which must not exist (never replaces a file);
// where the file system cannot promise that, a plain rename of a name
// next_archive_path found free.
bool rename_new(const std::string& from, const std::string& to) {
  constexpr unsigned kNoReplace = 1;  // RENAME_NOREPLACE (musl 1.2.3 has no renameat2())
  if (::syscall(SYS_renameat2, AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), kNoReplace) == 0) return true;
  if (errno != EINVAL && errno != ENOSYS) return false;
  return ::rename(from.c_str(), to.c_str()) == 0;
}

// A name for a temporary file nobody can guess, so that no symlink can
// wait there: BASE, a dot and 12 random letters (the compressor's
// ARCHIVE.gz.*, a template's DST.dock.*).
std::string temporary_name(const std::string& base) {
  unsigned char bytes[12];
  if (::getrandom(bytes, sizeof bytes, GRND_NONBLOCK) != ssize_t(sizeof bytes)) {
    const uint64_t mix = uint64_t(monotonic_ms()) * 0x9e3779b97f4a7c15u ^ uint64_t(::getpid());
    for (size_t i = 0; i < sizeof bytes; ++i) bytes[i] = uint8_t(mix >> (8 * (i % 8))) ^ uint8_t(i * 37);
  }
  std::string name = base + ".";
  for (unsigned char b : bytes) name += "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[b % 62];
  return name;
}

// A file dock made in place of `was` gets its owner, group and permission
// bits (a 0644 log a non-root shipper reads stays so after a rotation;
// never setuid, setgid or sticky). Best effort: a failure leaves 0600 root.
void keep_owner_and_mode(int fd, const struct stat& was) {
  if (::fchown(fd, was.st_uid, was.st_gid) != 0) debug("rotation: chown: %s", std::strerror(errno));
  if (::fchmod(fd, was.st_mode & 0777) != 0) debug("rotation: chmod: %s", std::strerror(errno));
}

// The compressor: a process of its own (forked by dock, at low priority),
// so that compressing a big archive never holds up the loop. It writes
// `tmp` (a new file: O_EXCL, no symlink followed), renames it to
// ARCHIVE.gz and only then removes ARCHIVE, if it is still the file it
// read: whenever it stops, one complete copy exists. Exit status: 0, or
// an errno; dock removes `tmp` when it failed.
[[noreturn]] void compress_archive(const std::string& archive, const std::string& tmp) {
  bool made = false;
  auto fail = [&](int err) {
    if (made) ::unlink(tmp.c_str());
    ::_exit(err > 0 && err < 256 ? err : EIO);
  };
  Fd in(::open(archive.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat was;
  if (!in || ::fstat(in.get(), &was) != 0) fail(errno);
  if (!S_ISREG(was.st_mode)) fail(EINVAL);
  Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out) fail(errno);
  made = true;
  keep_owner_and_mode(out.get(), was);  // a log shipper that could read the log reads its archives
  gzFile_s* gz = g_zlib.gzdopen(out.get(), "wb6");
  if (gz == nullptr) fail(ENOMEM);
  std::vector<char> buf(256 * 1024);
  for (;;) {
    const ssize_t n = retry([&] { return ::read(in.get(), buf.data(), buf.size()); });
    if (n < 0) fail(errno);
    if (n == 0) break;
    errno = 0;
    if (g_zlib.gzwrite(gz, buf.data(), unsigned(n)) != int(n)) fail(errno != 0 ? errno : EIO);
  }
  errno = 0;
  const int closed = g_zlib.gzclose_w(gz);  // closes `out` too
  static_cast<void>(out.release());
  if (closed != 0) fail(errno != 0 ? errno : EIO);
  if (::rename(tmp.c_str(), (archive + ".gz").c_str()) != 0) fail(errno);
  struct stat now;
  if (::lstat(archive.c_str(), &now) == 0 && now.st_dev == was.st_dev && now.st_ino == was.st_ino)
    ::unlink(archive.c_str());
  ::_exit(0);
}

// ---- rotating the live file ----

constexpr int64_t kRotateRetryMs = 5000;  // after a failed rotation

struct Rotation {
  const RotationConfig* cfg = nullptr;
  Loop* loop = nullptr;
  TimerId timer = 0;                 // the period is over, or a failed rotation is due again
  pid_t parent = -1;                 // dock: the compressor dies with it
  std::string path, dir, base;       // FILE, its directory and its name in it
  int64_t size = 0;                  // bytes in the live file
  bool due = false;                  // rotate at the next line boundary
  bool failing = false;              // the last attempt failed: write on, retry later
  bool zlib = false;                 // archives are compressed
  bool stopping = false;             // the command ended: the queue stays uncompressed
  ArchiveName last;                  // the newest archive's name
  std::vector<std::string> made;     // the names of the archives made, oldest first (--log-keep at most)
  pid_t compressor = -1;             // compressing `compressing`
  std::string compressing;
  std::string compressing_tmp;       // its temporary file
  std::vector<std::string> queue;    // archives waiting for the compressor
};

// What the live log file may still take before it is rotated for size.
Budget rotation_budget(const Rotation& r, const Sink& k) {
  Budget b;
  const int64_t max = r.cfg->log_max_size;
  if (max == 0 || r.failing) return b;
  const int64_t used = r.size + int64_t(k.ring.size());
  b.fresh = used == 0;
  b.left = used >= max ? 0 : size_t(max - used);
  b.over = used > max ? size_t(used - max) : 0;
  return b;
}

void rotation_full(Rotation& r) { r.due = true; }

void rotation_wrote(Rotation& r, uint64_t bytes) { r.size += int64_t(bytes); }

// Whether the log can be rotated now: due, and everything written to the
// old file, at a line boundary -- or inside a line that does not end
// (a progress bar drawn with \r): one open for a whole --log-rotate
// period, or one that would take the file past --log-max-size by more
// than a partial line's worth (emit() stops it there). Such a line is
// cut: its continuation starts the next file without a second prefix. A
// due rotation waiting for an open line wakes when the line's period is
// over.
bool rotation_point(Rotation& r, const Sink& k, Loop& loop) {
  const int64_t period = r.cfg->log_rotate_ms, max = r.cfg->log_max_size;
  const bool open = k.line.by != nullptr;
  if (!r.due || r.failing || !k.ring.empty()) return false;
  if (!open || (max != 0 && r.size >= max)) return true;
  if (period != 0 && monotonic_ms() - k.line_since >= period) return true;
  if (period != 0) set_deadline_at(loop, r.timer, k.line_since + period);
  return false;
}

void start_compressor(Rotation& r);
void prune_archives(Rotation& r);

void rotation_failed(Rotation& r, Loop& loop, const std::string& what, const char* why) {
  if (!r.failing) say("%s: %s: %s (still writing to %s; trying again every 5 s)", r.path.c_str(), what.c_str(),
                      why, r.path.c_str());
  r.failing = true;
  r.due = false;
  set_deadline(loop, r.timer, kRotateRetryMs);
}

// The live file under a new name; a new file, which `k` writes from now on.
bool rotate_log(Rotation& r, Sink& k, Loop& loop) {
  r.due = false;
  if (r.size == 0) {  // nothing to archive: the period starts again
    if (r.cfg->log_rotate_ms != 0) set_deadline(loop, r.timer, r.cfg->log_rotate_ms);
    return false;
  }
  // Only the file dock writes is renamed: not what someone put in its place.
  struct stat ours, there;
  if (::fstat(k.fd, &ours) != 0 || ::lstat(r.path.c_str(), &there) != 0 || ours.st_dev != there.st_dev ||
      ours.st_ino != there.st_ino) {
    rotation_failed(r, loop, "rotate", "it is no longer the file dock writes");
    return false;
  }
  ArchiveName named = r.last;
  const std::string archive = next_archive_path(r.path, ::time(nullptr), named);
  if (!rename_new(r.path, archive)) {
    rotation_failed(r, loop, "rotate", std::strerror(errno));
    return false;
  }
  // A new file: nothing that appeared at the name meanwhile is followed.
  constexpr int kFresh = O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  Fd fresh(retry([&] { return ::open(r.path.c_str(), kFresh, 0600); }));
  if (fresh) keep_owner_and_mode(fresh.get(), ours);  // the log shipper keeps reading it
  if (!fresh) {
    const int err = errno;
    ::rename(archive.c_str(), r.path.c_str());  // back: keep writing where we were
    rotation_failed(r, loop, "reopen", std::strerror(err));
    return false;
  }
  r.last = named;
  r.made.push_back(archive.substr(archive.rfind('/') + 1));
  if (r.made.size() > size_t(r.cfg->log_keep)) r.made.erase(r.made.begin());
  if (r.failing) say("%s: rotating works again", r.path.c_str());
  r.failing = false;
  k.owned = std::move(fresh);
  k.fd = k.owned.get();
  // A line its stream ended without a newline stays in the archive; a line
  // cut goes on in the new file.
  k.line.open = k.line.by != nullptr;
  k.line_since = monotonic_ms();
  r.size = 0;
  debug("%s: rotated to %s", r.path.c_str(), archive.c_str());
  if (r.cfg->log_rotate_ms != 0) set_deadline(loop, r.timer, r.cfg->log_rotate_ms);
  else clear_deadline(loop, r.timer);
  if (r.zlib) r.queue.push_back(archive);
  prune_archives(r);  // before compressing: no work on what goes anyway
  start_compressor(r);
  return true;
}

bool rotate_if_due(Rotation& r, Sink& k, Loop& loop) { return rotation_point(r, k, loop) && rotate_log(r, k, loop); }

// The period is over, or a failed rotation is due again.
void on_rotate_deadline(Lines& ls, Loop& loop) {
  for (auto& k : ls.sinks)
    if (k.rot != nullptr) {
      k.rot->failing = false;
      k.rot->due = true;
    }
  pump(ls, loop);
}

// Forks the compressor for the oldest queued archive, if none is running.
void start_compressor(Rotation& r) {
  // At shutdown the queue stays uncompressed: dock's exit waits for no backlog.
  if (r.compressor > 0 || r.queue.empty() || r.stopping) return;
  const std::string archive = r.queue.front();
  const std::string tmp = temporary_name(archive + ".gz");
  const pid_t pid = ::fork();
  if (pid < 0) {
    say("%s: cannot compress it: fork: %s (left as it is)", archive.c_str(), std::strerror(errno));
    r.queue.erase(r.queue.begin());
    return;
  }
  if (pid == 0) {
    // Signals stay blocked, so SIGTERM at shutdown lets it finish within
    // the kill timeout; SIGKILL ends it then. It dies with dock.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != r.parent) ::_exit(EIO);
    [[maybe_unused]] int nice = ::nice(10);
    compress_archive(archive, tmp);
  }
  r.queue.erase(r.queue.begin());
  r.compressor = pid;
  r.compressing = archive;
  r.compressing_tmp = tmp;
  debug("compressing %s (pid %d)", archive.c_str(), pid);
}

// A process was reaped: when it is the compressor, report a failure, keep
// at most --log-keep archives, start the next one.
void on_reaped(Rotation& r, pid_t pid, int status) {
  if (pid != r.compressor || WIFSTOPPED(status)) return;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    debug("%s.gz written", r.compressing.c_str());
  } else {
    // Its temporary file, if it is still the regular file of dock's that
    // the compressor made (killed at shutdown, say).
    struct stat sb;
    if (::lstat(r.compressing_tmp.c_str(), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_uid == ::geteuid())
      ::unlink(r.compressing_tmp.c_str());
    if (WIFEXITED(status))
      say("%s: compression failed: %s (left uncompressed)", r.compressing.c_str(), std::strerror(WEXITSTATUS(status)));
    else
      say("%s: compression stopped by SIG%s (left uncompressed)", r.compressing.c_str(),
          signal_name(WTERMSIG(status)).c_str());
  }
  r.compressor = -1;
  r.compressing.clear();
  prune_archives(r);
  start_compressor(r);
}

// Removes the archives beyond --log-keep, never the one being compressed.
void prune_archives(Rotation& r) {
  DIR* d = ::opendir(r.dir.c_str());
  if (d == nullptr) {
    say("%s: %s (old archives not removed)", r.dir.c_str(), std::strerror(errno));
    return;
  }
  std::vector<std::string> entries;
  while (dirent* e = ::readdir(d)) entries.emplace_back(e->d_name);
  for (const auto& name : archives_to_remove(r.base, entries, size_t(r.cfg->log_keep), r.made)) {
    const std::string path = r.dir + "/" + name;
    if (path == r.compressing || path == r.compressing + ".gz") continue;
    struct stat sb;  // only a regular file: never a symlink or a node someone put there
    if (::fstatat(::dirfd(d), name.c_str(), &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode)) continue;
    std::erase(r.queue, path);
    if (::unlinkat(::dirfd(d), name.c_str(), 0) != 0 && errno != ENOENT)
      say("%s: cannot remove it: %s", path.c_str(), std::strerror(errno));
    else
      debug("removed %s (--log-keep %lld)", path.c_str(), (long long)r.cfg->log_keep);
  }
  ::closedir(d);
}

// Rotation of the file `k` writes: dock writes the file itself (the child
// gets pipes), knows its size, and compresses archives when zlib is there.
void prepare_rotation(Rotation& r, Loop& loop, Sink& k, const std::string& path) {
  r.loop = &loop;
  r.parent = ::getpid();
  r.path = path;
  r.dir = dir_of(r.path);
  r.base = r.path.substr(r.path.rfind('/') + 1);  // npos + 1: the whole name
  struct stat sb;
  if (::fstat(k.fd, &sb) == 0) r.size = sb.st_size;
  if (auto err = load_zlib())
    say("%s: archives stay uncompressed: %s", r.path.c_str(), err->c_str());
  else
    r.zlib = true;
  k.rot = &r;
  if (r.cfg->log_rotate_ms != 0) set_deadline(loop, r.timer, r.cfg->log_rotate_ms);
}

// ==== 10. The web hook: --web-hook ====
//
// http://[USER[:PASSWORD]@]HOST[:PORT][/PATH][?QUERY], or https://. The
// user info becomes a Basic Authorization header and never appears in a
// message: messages name the hook by `shown`, which has neither the user
// info nor the query (where tokens also tend to live).

struct HookUrl {
  bool https = false;
  std::string shown;      // scheme://HOST[:PORT]/PATH, for messages
  std::string host;       // an IPv6 literal without brackets
  std::string port;       // as given, or 80 / 443
  std::string target;     // PATH?QUERY for the request line; "/" at least
  std::string authority;  // the Host header: HOST, [V6], with :PORT unless the default
  std::string auth;       // "Basic BASE64(user:password)", or empty
  IoTarget tls;           // https: ?ca=, ?cert=&key=, ?insecure= (dock's own, not sent)
};

struct HookConfig {
  std::optional<HookUrl> web_hook;
};

// Takes dock's own TLS parameters (ca, cert, key, insecure) out of an
// https URL's query into `tls`; the rest of the query is the server's.
Error take_tls_query(std::string& target, IoTarget& tls) {
  const size_t q = target.find('?');
  if (q == std::string::npos) return {};
  std::string kept, ours;
  std::string_view query = std::string_view(target).substr(q + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const std::string_view name = item.substr(0, item.find('='));
    std::string& to = name == "ca" || name == "cert" || name == "key" || name == "insecure" ? ours : kept;
    if (!to.empty()) to += '&';
    to += item;
  }
  if (auto err = parse_tls_query(ours, tls)) return err;
  for (std::string* f : {&tls.ca, &tls.cert, &tls.key})
    if (auto path = percent_decode(*f)) *f = std::move(*path);
  target = target.substr(0, q) + (kept.empty() ? "" : "?" + kept);
  return {};
}

std::string base64(std::string_view in) {
  constexpr std::string_view digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < in.size(); i += 3) {
    const size_t n = std::min<size_t>(3, in.size() - i);
    uint32_t v = 0;
    for (size_t k = 0; k < 3; ++k) v = v << 8 | (k < n ? uint8_t(in[i + k]) : 0);
    for (size_t k = 0; k < 4; ++k) out += k <= n ? digits[(v >> (18 - 6 * k)) & 63] : '=';
  }
  return out;
}

Error parse_hook_url(std::string_view url, HookUrl& h) {
  h = HookUrl{};
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return std::string("not an http:// or https:// URL");
  const std::string_view scheme = url.substr(0, sep);
  if (iequals(scheme, "https") && !kHaveTls) return std::string(kNoTls);
  if (iequals(scheme, "https")) h.https = true;
  else if (!iequals(scheme, "http")) return "unknown scheme '" + std::string(scheme) + "' (http, https)";
  std::string_view rest = url.substr(sep + 3);
  rest = rest.substr(0, rest.find('#'));  // a fragment is never sent
  const size_t end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end);
  std::string_view target = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  for (char c : target)
    if (uint8_t(c) <= ' ' || c == 0x7f) return std::string("the path holds a space or a control character (write %20)");

  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view info = authority.substr(0, at);
    authority = authority.substr(at + 1);
    const size_t colon = info.find(':');
    auto user = percent_decode(info.substr(0, colon));
    auto password = percent_decode(colon == std::string_view::npos ? std::string_view{} : info.substr(colon + 1));
    if (!user || !password) return std::string("bad %-escape in the user info");
    h.auth = "Basic " + base64(*user + ":" + *password);
  }
  std::string_view host, port;
  bool v6 = false;  // a bracketed literal: h.host has it, its zone id decoded
  if (!authority.empty() && authority[0] == '[') {
    std::string_view after = authority;
    if (auto err = take_bracketed(after, h.host)) return err;
    if (!after.empty() && after[0] != ':') return "junk after ']' in the host";
    if (!after.empty()) port = after.substr(1);
    host = authority.substr(1, authority.find(']') - 1);  // as written, for the Host header
    v6 = true;
  } else {
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    if (port.find(':') != std::string_view::npos) return "an IPv6 address goes in brackets (http://[::1]:8080/)";
    if (host.empty()) return "missing host";
    for (char c : host)
      if (uint8_t(c) <= ' ' || c == 0x7f || c == '%' || c == '\\') return "'" + std::string(host) + "' is not a host name";
    h.host = std::string(host);
  }
  const char* fallback = h.https ? "443" : "80";
  if (port.empty()) h.port = fallback;
  else if (auto err = parse_port(port, h.port)) return err;
  const std::string bracketed = v6 ? "[" + std::string(host) + "]" : h.host;
  h.authority = h.port == fallback ? bracketed : bracketed + ":" + h.port;
  h.target = target.empty() ? "/" : target[0] == '?' ? "/" + std::string(target) : std::string(target);
  if (h.https)
    if (auto err = take_tls_query(h.target, h.tls)) return err;
  h.shown = (h.https ? "https://" : "http://") + h.authority + h.target.substr(0, h.target.find('?'));
  return {};
}

Error parse_web_hook(std::string_view value, HookConfig& c) {
  HookUrl h;
  if (auto err = parse_hook_url(value, h)) return "'" + std::string(value) + "': " + *err;
  c.web_hook = std::move(h);
  return {};
}

// ---- the messages ----
//
// Pure builders and parsers: the JSON body (SPEC §7), the HTTP/1.1 request
// around it, and the status of the server's answer.

// The length of the valid UTF-8 sequence `s` starts with, or 0.
size_t utf8_length(std::string_view s) {
  const auto b = [&](size_t i) -> uint8_t { return i < s.size() ? uint8_t(s[i]) : uint8_t(0); };
  const uint8_t c = b(0);
  size_t n;
  uint8_t lo = 0x80, hi = 0xbf;  // the range of the second byte
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c >= 0xe0 && c <= 0xef) n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
  else if (c >= 0xf0 && c <= 0xf4) n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
  else return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (size_t i = 2; i < n; ++i)
    if (b(i) < 0x80 || b(i) > 0xbf) return 0;
  return n;
}

// `s` as a JSON string: quotes, backslashes and control characters escaped,
// valid UTF-8 kept, any other byte replaced by U+FFFD.
void append_json_string(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const uint8_t c = uint8_t(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
      ++i;
    } else if (c < 0x80) {
      out += char(c);
      ++i;
    } else if (const size_t n = utf8_length(s.substr(i)); n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\\ufffd";
      ++i;
    }
  }
  out += '"';
}

// One network interface as the hook reports it: its first IPv4 address and
// its first IPv6 address, a global one before a link-local one; "" if none
// (and then no key in the JSON).
struct NetInterface {
  std::string name, ipv4, ipv6;
  bool ipv6_link_local = false;
};

// The interfaces of a getifaddrs() list, in the order they first appear.
std::vector<NetInterface> gather_interfaces(const ifaddrs* list) {
  std::vector<NetInterface> out;
  for (const ifaddrs* p = list; p != nullptr; p = p->ifa_next) {
    if (p->ifa_name == nullptr) continue;
    auto it = std::find_if(out.begin(), out.end(), [&](const NetInterface& i) { return i.name == p->ifa_name; });
    if (it == out.end()) it = out.insert(out.end(), NetInterface{p->ifa_name, {}, {}, false});
    if (p->ifa_addr == nullptr) continue;
    char text[INET6_ADDRSTRLEN];
    if (p->ifa_addr->sa_family == AF_INET && it->ipv4.empty()) {
      const auto* a = reinterpret_cast<const sockaddr_in*>(p->ifa_addr);
      if (::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text)) it->ipv4 = text;
    } else if (p->ifa_addr->sa_family == AF_INET6) {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(p->ifa_addr);
      const bool link_local = IN6_IS_ADDR_LINKLOCAL(&a->sin6_addr);
      if ((it->ipv6.empty() || (it->ipv6_link_local && !link_local)) &&
          ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text)) {
        it->ipv6 = text;
        it->ipv6_link_local = link_local;
      }
    }
  }
  return out;
}

// {"ps":{"status":...,"pid":...[,"exit_code":N[,"signal":"SIGX"][,"oom_kill":true]],"net_interfaces":[...]}}
// `ended` is the child's wait status, for "crashed"; `oom_kill`: the OOM
// killer killed a process of the container meanwhile (section 13).
std::string hook_body(std::string_view status, pid_t pid, std::optional<int> ended,
                      std::span<const NetInterface> interfaces, bool oom_kill = false) {
  std::string out = "{\"ps\":{\"status\":";
  append_json_string(out, status);
  out += ",\"pid\":" + std::to_string(pid);
  if (ended) {
    out += ",\"exit_code\":" + std::to_string(exit_code_of(*ended));
    if (WIFSIGNALED(*ended)) {
      out += ",\"signal\":";
      append_json_string(out, "SIG" + std::string(signal_name(WTERMSIG(*ended))));
    }
    if (oom_kill) out += ",\"oom_kill\":true";
  }
  out += ",\"net_interfaces\":[";
  for (size_t i = 0; i < interfaces.size(); ++i) {
    if (i > 0) out += ',';
    out += "{\"name\":";
    append_json_string(out, interfaces[i].name);
    if (!interfaces[i].ipv4.empty()) {  // no address, no key (never "")
      out += ",\"ipv4\":";
      append_json_string(out, interfaces[i].ipv4);
    }
    if (!interfaces[i].ipv6.empty()) {
      out += ",\"ipv6\":";
      append_json_string(out, interfaces[i].ipv6);
    }
    out += '}';
  }
  out += "]}}";
  return out;
}

// An HTTP/1.1 request to `u`, whole: the hook's PUT, --wait-for's GET,
// --teardown's POST. A body (even empty) is announced for all but a GET;
// the connection is closed after the answer.
std::string http_request(std::string_view method, const HookUrl& u, std::string_view content_type, std::string_view body) {
  std::string r = std::string(method) + " " + u.target + " HTTP/1.1\r\nHost: " + u.authority + "\r\nUser-Agent: dock/" +
                  std::string(kVersion) + "\r\n";
  if (!content_type.empty()) r += "Content-Type: " + std::string(content_type) + "\r\n";
  if (method != "GET") r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (!u.auth.empty()) r += "Authorization: " + u.auth + "\r\n";
  r += "Connection: close\r\n\r\n";
  r += body;
  return r;
}

std::string hook_request(const HookUrl& h, std::string_view body) { return http_request("PUT", h, "application/json", body); }

// The final status of an HTTP/1.x answer from its first bytes: 0 while
// more bytes are needed, -1 when this is not HTTP; interim 1xx
// answers (and their headers) are skipped. Only the status matters to
// dock, so the rest -- however long -- is never read.
int parse_http_status(std::string_view r) {
  constexpr std::string_view kProto = "HTTP/1.";
  size_t start = 0;
  for (;;) {
    std::string_view rest = r.substr(start);
    const size_t eol = rest.find('\n');
    if (eol == std::string_view::npos) {
      const size_t n = std::min(rest.size(), kProto.size());
      return rest.substr(0, n) == kProto.substr(0, n) ? 0 : -1;
    }
    std::string_view line = rest.substr(0, eol);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto digit = [&](size_t i) { return line[i] >= '0' && line[i] <= '9'; };
    if (line.size() < 12 || line.substr(0, kProto.size()) != kProto || !digit(7) || line[8] != ' ' ||
        !digit(9) || !digit(10) || !digit(11) || (line.size() > 12 && line[12] != ' '))
      return -1;
    const int status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (status < 100 || status > 599) return -1;
    if (status >= 200) return status;
    // An interim answer: its headers end at an empty line.
    start += eol + 1;
    for (;;) {
      rest = r.substr(start);
      const size_t next = rest.find('\n');
      if (next == std::string_view::npos) return 0;
      start += next + 1;
      if (next == 0 || (next == 1 && rest[0] == '\r')) break;
    }
  }
}

// ---- one HTTP exchange ----
//
// Resolve the host (off the loop, when the addresses are not known yet),
// connect to each address in turn, shake hands (https), write the
// request, read up to the status line: non-blocking, driven by the loop.
// The web hook delivers its events through it; --wait-for asks with a GET.
// Only the status matters, so the rest of the answer is never read.

enum class ExchangeStep { Idle, Resolving, Connecting, Handshaking, Sending, Receiving };

struct Exchange {
  Loop* loop = nullptr;
  IoTarget peer;                   // host, port, scheme (Tls: https) and TLS files; url for messages
  Dial dial;                       // its addresses resolved at the start when empty; kept until the user clears them
  Lookup lookup;                   // the name being resolved
  Tls tls;                         // https: the context (prepared once), and a session
  std::string request;             // the whole HTTP request
  ExchangeStep step = ExchangeStep::Idle;
  Fd fd;
  Slot slot = 0;
  uint32_t armed = 0;
  size_t sent = 0;                 // bytes of the request written
  std::array<char, 1024> reply{};  // the answer's first bytes, for its status line
  size_t reply_len = 0;
  // The end: the HTTP status (0: none), why not, and whether trying again may help.
  Callback<int, const std::string&, bool> on_end;
};

void exchange_close(Exchange& x, Loop& loop) {
  if (x.lookup.answer) arm(loop, x.lookup.answer.get(), x.slot, x.armed, 0);
  lookup_cancel(x.lookup);
  if (x.fd) arm(loop, x.fd.get(), x.slot, x.armed, 0);
  x.tls.end_session();
  x.fd.reset();
  x.step = ExchangeStep::Idle;
}

// Ends the exchange; the caller returns at once (on_end may start another).
void exchange_end(Exchange& x, Loop& loop, int status, const std::string& why, bool again) {
  exchange_close(x, loop);
  x.on_end(status, why, again);
}

// Connects to the next address that takes a connect().
void exchange_connect(Exchange& x, Loop& loop) {
  x.fd = dial_next(x.dial);
  if (!x.fd) return exchange_end(x, loop, 0, x.dial.why, true);
  x.step = ExchangeStep::Connecting;
  // Connected or not, the socket is writable when it is settled.
  if (!arm(loop, x.fd.get(), x.slot, x.armed, EPOLLOUT)) exchange_end(x, loop, 0, "epoll", false);
}

void exchange_start(Exchange& x, Loop& loop) {
  dial_start(x.dial);
  x.sent = 0;
  x.reply_len = 0;
  if (!x.dial.addresses.empty()) return exchange_connect(x, loop);
  Error err;
  if (lookup_start(x.lookup, x.peer.host, x.peer.port, AF_UNSPEC, x.dial.addresses, err)) {
    if (err) return exchange_end(x, loop, 0, *err, true);
    return exchange_connect(x, loop);
  }
  x.step = ExchangeStep::Resolving;
  if (!arm(loop, x.lookup.answer.get(), x.slot, x.armed, EPOLLIN)) exchange_end(x, loop, 0, "epoll", false);
}

// The name is resolved (or not): on to connecting.
bool exchange_resolved(Exchange& x, Loop& loop) {
  arm(loop, x.lookup.answer.get(), x.slot, x.armed, 0);
  if (auto err = lookup_finish(x.lookup, x.dial.addresses)) {
    exchange_end(x, loop, 0, *err, true);
    return false;
  }
  exchange_connect(x, loop);
  return false;  // connecting waits for the socket
}

// A read or a write on the connection, TLS or not, as read(2) and
// write(2) give theirs; -1 with errno EAGAIN means wait for `wait`.
ssize_t exchange_io(Exchange& x, bool writing, char* buf, size_t len, uint32_t& wait, std::string& why) {
  wait = writing ? EPOLLOUT : EPOLLIN;
  if (x.tls) return tls_io(x.tls.ssl(), writing, buf, len, wait, why);
  const ssize_t n = writing ? ::send(x.fd.get(), buf, len, MSG_NOSIGNAL | MSG_DONTWAIT)
                            : ::recv(x.fd.get(), buf, len, MSG_DONTWAIT);
  if (n < 0 && errno == EWOULDBLOCK) errno = EAGAIN;
  if (n < 0) why = std::strerror(errno);
  return n;
}

// The connection settled: on to the handshake (https) or the request;
// refused, the next address.
bool exchange_connected(Exchange& x, Loop& loop) {
  if (!dial_settled(x.dial, x.fd.get())) {
    exchange_close(x, loop);
    exchange_connect(x, loop);
    return false;
  }
  if (x.peer.scheme != Scheme::Tls) {
    x.step = ExchangeStep::Sending;
    return true;
  }
  if (auto e = x.tls.attach(x.peer, x.fd.get())) {
    exchange_end(x, loop, 0, *e, false);
    return false;
  }
  x.step = ExchangeStep::Handshaking;
  return true;
}

bool exchange_handshake(Exchange& x, Loop& loop) {
  short want = 0;
  if (auto e = x.tls.connect_step(want)) {
    exchange_end(x, loop, 0, *e, !x.tls.verify_failed());
    return false;
  }
  if (want != 0) {
    arm(loop, x.fd.get(), x.slot, x.armed, want == POLLIN ? EPOLLIN : EPOLLOUT);
    return false;
  }
  x.step = ExchangeStep::Sending;
  return true;
}

bool exchange_write(Exchange& x, Loop& loop) {
  uint32_t wait = 0;
  std::string why;
  while (x.sent < x.request.size()) {
    const ssize_t n = exchange_io(x, true, x.request.data() + x.sent, x.request.size() - x.sent, wait, why);
    if (n > 0) {
      x.sent += size_t(n);
    } else if (n < 0 && errno == EAGAIN) {
      arm(loop, x.fd.get(), x.slot, x.armed, wait);
      return false;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      exchange_end(x, loop, 0, n == 0 ? "the server closed the connection" : why, true);
      return false;
    }
  }
  x.step = ExchangeStep::Receiving;
  return true;
}

// Reads the answer up to its status line.
void exchange_read_status(Exchange& x, Loop& loop) {
  uint32_t wait = 0;
  std::string why;
  for (;;) {
    if (x.reply_len == x.reply.size()) return exchange_end(x, loop, 0, "the answer is not HTTP", false);
    const ssize_t n = exchange_io(x, false, x.reply.data() + x.reply_len, x.reply.size() - x.reply_len, wait, why);
    if (n < 0 && errno == EAGAIN) {
      arm(loop, x.fd.get(), x.slot, x.armed, wait);
      return;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return exchange_end(x, loop, 0, why, true);
    if (n == 0) return exchange_end(x, loop, 0, "the server closed the connection without an answer", true);
    x.reply_len += size_t(n);
    const int status = parse_http_status({x.reply.data(), x.reply_len});
    if (status == 0) continue;
    if (status < 0) return exchange_end(x, loop, 0, "the answer is not HTTP", false);
    return exchange_end(x, loop, status, "", false);
  }
}

// The connection can move on: the exchange goes as far as it can without
// waiting.
void exchange_progress(Exchange& x, Loop& loop) {
  bool going = true;
  while (going) {
    switch (x.step) {
      case ExchangeStep::Idle: return;
      case ExchangeStep::Resolving: going = exchange_resolved(x, loop); break;
      case ExchangeStep::Connecting: going = exchange_connected(x, loop); break;
      case ExchangeStep::Handshaking: going = exchange_handshake(x, loop); break;
      case ExchangeStep::Sending: going = exchange_write(x, loop); break;
      case ExchangeStep::Receiving: return exchange_read_status(x, loop);
    }
  }
}

// The exchange's peer for an http:// or https:// URL: its host and port,
// dock's TLS parameters, the name shown in messages.
void exchange_peer(Exchange& x, const HookUrl& url) {
  x.peer = url.tls;
  x.peer.scheme = url.https ? Scheme::Tls : Scheme::Tcp;
  x.peer.url = url.shown;
  x.peer.host = url.host;
  x.peer.port = url.port;
}

// ---- delivering ----
//
// Each event becomes a whole HTTP request when it happens (the interfaces
// as they are then) and waits its turn: events are delivered in order. An
// attempt is one exchange within 5 s; a failed connection, a timeout or a
// 5xx is tried again after 0.5 s and 1.5 s; anything else, or a third
// failure, is one warning and the next event goes. A slow or dead hook
// server delays nothing but the next hook.

constexpr int64_t kHookAttemptMs = 5000;   // connect, handshake, request, status line
// The hook's last wait runs alongside the kill timeout: it ends 5 s after
// the stop began (SIGTERM to dock, or the child's own end), but gives
// "crashed" at least 1 s of its own.
constexpr int64_t kHookExitWaitMs = 5000;
constexpr int64_t kHookLastEventMs = 1000;
constexpr std::array<int64_t, 2> kHookBackoffMs{500, 1500};  // before the 2nd and the 3rd attempt

struct HookEvent {
  std::string status;   // for messages
  std::string request;  // the whole HTTP request
};

struct Hook {
  Loop* loop = nullptr;
  bool on = false;
  const HookUrl* url = nullptr;
  Exchange x;                    // the attempt in flight; its addresses resolved at the first, and kept
  std::vector<HookEvent> queue;  // queue[0] is being delivered
  bool pausing = false;          // between two attempts
  TimerId attempt_timer = 0;     // an attempt's 5 s, or its pause
  TimerId exit_timer = 0;        // dock is done but for the hook
  int attempt = 0;               // of queue[0], from 1
  bool abandoned = false;        // the exit wait is over
  Callback<> on_quiet;           // nothing may be left to send
};

bool hook_pending(const Hook& h) { return h.on && !h.queue.empty() && !h.abandoned; }

void hook_next(Hook& h, Loop& loop);

// The attempt failed. `again`: a connection failure, a timeout or a 5xx,
// which may pass, so it is tried again after a pause (twice at most).
void hook_failed(Hook& h, Loop& loop, const std::string& why, bool again) {
  exchange_close(h.x, loop);
  if (again && size_t(h.attempt) <= kHookBackoffMs.size()) {
    debug("--web-hook %s: %s: %s; trying again in %lld ms", h.x.peer.url.c_str(), h.queue[0].status.c_str(),
          why.c_str(), (long long)kHookBackoffMs[size_t(h.attempt) - 1]);
    h.pausing = true;
    set_deadline(loop, h.attempt_timer, kHookBackoffMs[size_t(h.attempt) - 1]);
    return;
  }
  say("--web-hook %s: \"%s\" not delivered: %s%s", h.x.peer.url.c_str(), h.queue[0].status.c_str(), why.c_str(),
      h.attempt > 1 ? (" (" + std::to_string(h.attempt) + " attempts)").c_str() : "");
  h.queue.erase(h.queue.begin());
  hook_next(h, loop);
}

void hook_start_attempt(Hook& h, Loop& loop) {
  ++h.attempt;
  h.pausing = false;
  h.x.request = h.queue[0].request;
  set_deadline(loop, h.attempt_timer, kHookAttemptMs);
  exchange_start(h.x, loop);
}

// Starts on the oldest event, if any.
void hook_next(Hook& h, Loop& loop) {
  h.attempt = 0;
  h.pausing = false;
  if (h.queue.empty() || h.abandoned) {
    clear_deadline(loop, h.attempt_timer);
    return h.on_quiet();
  }
  hook_start_attempt(h, loop);
}

// The exchange ended: delivered (2xx), or failed.
void on_hook_answer(Hook& h, Loop& loop, int status, const std::string& why, bool again) {
  if (status == 0) return hook_failed(h, loop, why, again);
  if (status >= 300) return hook_failed(h, loop, "HTTP status " + std::to_string(status), status >= 500);
  debug("--web-hook %s: \"%s\" delivered (HTTP %d)", h.x.peer.url.c_str(), h.queue[0].status.c_str(), status);
  h.queue.erase(h.queue.begin());
  hook_next(h, loop);
}

// A pause is over, or an attempt took its whole 5 s.
void on_hook_deadline(Hook& h, Loop& loop) {
  if (h.pausing) hook_start_attempt(h, loop);
  else if (h.x.step != ExchangeStep::Idle) hook_failed(h, loop, "no answer within 5 s", true);
}

// Dock is done but for the hook; it waits no longer.
void on_hook_exit_deadline(Hook& h, Loop& loop) {
  if (!hook_pending(h)) return;
  say("--web-hook %s: \"%s\" not delivered by the end of the stop: giving up", h.x.peer.url.c_str(),
      h.queue[0].status.c_str());
  exchange_close(h.x, loop);
  h.abandoned = true;
  clear_deadline(loop, h.attempt_timer);
  h.on_quiet();
}

// Queues the event `status` ("starting", "running", "stopping", "crashed") of the
// child `pid`; `ended`: its wait status, for "crashed".
void hook_send(Hook& h, Loop& loop, std::string_view status, pid_t pid, std::optional<int> ended = std::nullopt,
               bool oom_kill = false) {
  if (!h.on) return;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) debug("getifaddrs: %s", std::strerror(errno));
  const std::string body = hook_body(status, pid, ended, gather_interfaces(list), oom_kill);
  if (list != nullptr) ::freeifaddrs(list);
  debug("--web-hook %s: queued %s", h.x.peer.url.c_str(), body.c_str());
  h.queue.push_back({std::string(status), hook_request(*h.url, body)});
  if (h.x.step == ExchangeStep::Idle && !h.pausing) hook_next(h, loop);
}

// The child ended: the hook's last wait starts, alongside the kill
// timeout (see kHookExitWaitMs).
void start_hook_last_wait(Hook& h, Loop& loop, int64_t stop_began) {
  if (!h.on) return;
  const int64_t now = monotonic_ms();
  set_deadline_at(loop, h.exit_timer, std::max(stop_began + kHookExitWaitMs, now + kHookLastEventMs));
}

// The TLS context, ready before the child starts. The name is resolved
// off the loop by the first attempt (within its 5 s), and its addresses
// kept for the next ones. A hook that cannot be set up is a warning: dock
// runs the child without it.
void prepare_hook(Hook& h, const HookUrl& url) {
  h.url = &url;
  exchange_peer(h.x, url);
  if (url.https)
    if (auto err = h.x.tls.prepare(h.x.peer)) {
      say("--web-hook %s: %s (no hook will be sent)", url.shown.c_str(), err->c_str());
      return;
    }
  h.on = true;
}

// ==== 11. Readiness: --bind-port, --ready-file, --notify, dock --check ====
//
// Dock is ready once every condition asked for holds: the command listens
// on --bind-port, and it said READY=1 on the --notify socket. Ready, the
// ready file exists, holding the command's pid; the first time, the hook
// hears "running". The command's RELOADING=1 makes dock not ready until
// its next READY=1, and the first SIGTERM makes it not ready for good.
// Upward, to the NOTIFY_SOCKET dock itself was given (systemd, Podman),
// dock says READY=1 when it becomes ready and STOPPING=1 when it stops.

enum class NotifyMode {
  Off,   // no socket for the command; dock's own NOTIFY_SOCKET is not passed on
  Own,   // --notify: the command gets dock's socket
  Pass,  // --notify=pass: the command gets dock's NOTIFY_SOCKET; dock says nothing
};

struct ReadyConfig {
  uint16_t bind_port = 0;  // 0: running at once
  int64_t check_timeout_ms = 1000;  // dock --check URL: Kubernetes' default probe timeout
  std::string ready_file;  // empty: none
  NotifyMode notify = NotifyMode::Off;
  bool notify_all = false;  // --notify-access all: any descendant may say READY=1
  std::string notify_up;    // NOTIFY_SOCKET as dock got it; empty: none
  uint16_t health_port = 0;  // --health-port; 0: no server
  std::string health_addr;   // ... on this address; empty: every address
  bool health_v6 = false;    // ... an IPv6 one
};

// --check-timeout DURATION
Error parse_check_timeout(std::string_view value, ReadyConfig& c) {
  return parse_timeout_option(value, c.check_timeout_ms, "a duration above zero (e.g. 1s, 500ms)");
}

// --notify, --notify=pass (DOCK_NOTIFY: a boolean, or pass)
Error parse_notify(std::string_view value, ReadyConfig& c) {
  if (value == "1") c.notify = NotifyMode::Own;
  else if (value == "0") c.notify = NotifyMode::Off;
  else if (value == "pass") c.notify = NotifyMode::Pass;
  else return "'" + std::string(value) + "' is not pass (--notify alone makes dock's own socket)";
  return {};
}

// --notify-access main|all
Error parse_notify_access(std::string_view value, ReadyConfig& c) {
  if (value != "main" && value != "all") return "'" + std::string(value) + "' is not main or all";
  c.notify_all = value == "all";
  return {};
}

Error parse_bind_port(std::string_view value, ReadyConfig& c) {
  auto n = parse_uint(value, 65535);
  if (!n || *n < 1) return "'" + std::string(value) + "' is not a port in 1..65535";
  c.bind_port = uint16_t(*n);
  return {};
}

Error parse_ready_file(std::string_view value, ReadyConfig& c) {
  if (value.empty() || value.back() == '/') return "'" + std::string(value) + "' is not a file name";
  c.ready_file = std::string(value);
  return {};
}

// ---- who listens: --bind-port ----
//
// Nothing tells a process when another starts listening, so while dock
// waits for --bind-port it looks every 20 ms, and stops once it has seen
// the port (or the child has ended). A look asks the kernel's socket
// diagnostics (NETLINK_SOCK_DIAG) for the TCP sockets listening on PORT in
// dock's network namespace -- filtered in the kernel, so the cost does not
// grow with the host's connections; usually there are none, and that is
// all. A socket found counts when a descendant of dock holds it (its
// /proc/PID/fd). Where that cannot be read -- another user's process, and
// dock without CAP_SYS_PTRACE, as in Docker -- a socket owned by the uid
// of such a descendant counts.

constexpr int64_t kProbeMs = 20;
constexpr int64_t kProbeRecheckMs = 500;

struct Listener {
  uint64_t inode;
  uid_t uid;
};

// The TCP sockets listening on `port` (IPv4 and IPv6), or the errno of
// the kernel's refusal.
struct Listeners {
  std::vector<Listener> found;
  int err = 0;
};

// `nl`: the netlink socket, made on first use and kept for the next looks.
Listeners listeners_on(Fd& nl, uint16_t port) {
  Listeners out;
  if (!nl) nl = Fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!nl) {
    out.err = errno;
    return out;
  }
  for (uint8_t family : {uint8_t(AF_INET), uint8_t(AF_INET6)}) {
    // The filter the kernel runs on each listening socket: sport >= PORT
    // and sport <= PORT. An op that fails jumps past the end (reject).
    struct {
      nlmsghdr head;
      inet_diag_req_v2 req;
      nlattr attr;
      inet_diag_bc_op ops[4];
    } msg{};
    msg.head.nlmsg_len = sizeof msg;
    msg.head.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    msg.head.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    msg.req.sdiag_family = family;
    msg.req.sdiag_protocol = IPPROTO_TCP;
    msg.req.idiag_states = 1u << 10;  // TCP_LISTEN
    msg.attr.nla_len = uint16_t(sizeof msg.attr + sizeof msg.ops);
    msg.attr.nla_type = INET_DIAG_REQ_BYTECODE;
    msg.ops[0] = {INET_DIAG_BC_S_GE, 8, 20};
    msg.ops[1] = {0, 0, port};
    msg.ops[2] = {INET_DIAG_BC_S_LE, 8, 12};
    msg.ops[3] = {0, 0, port};
    if (retry([&] { return ::send(nl.get(), &msg, sizeof msg, 0); }) < 0) {
      out.err = errno;
      return out;
    }
    alignas(nlmsghdr) char buf[8192];
    for (bool done = false; !done;) {
      const ssize_t n = retry([&] { return ::recv(nl.get(), buf, sizeof buf, 0); });
      if (n <= 0) {
        out.err = n < 0 ? errno : EIO;
        return out;
      }
      size_t left = size_t(n);
      for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
        if (h->nlmsg_type == NLMSG_DONE) {
          done = true;
          break;
        }
        if (h->nlmsg_type == NLMSG_ERROR) {
          const auto* e = static_cast<const nlmsgerr*>(NLMSG_DATA(h));
          out.err = e->error < 0 ? -e->error : EIO;
          return out;
        }
        const auto* m = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
        if (m->idiag_inode != 0) out.found.push_back({m->idiag_inode, m->idiag_uid});
      }
    }
  }
  return out;
}

// "socket:[4711]" -> 4711
std::optional<uint64_t> socket_inode(std::string_view link) {
  constexpr std::string_view kHead = "socket:[";
  if (link.size() < kHead.size() + 2 || link.substr(0, kHead.size()) != kHead || link.back() != ']')
    return std::nullopt;
  return parse_uint(link.substr(kHead.size(), link.size() - kHead.size() - 1));
}

// The effective uid in a PROC/PID/status text ("Uid:\treal\teffective...").
std::optional<uid_t> effective_uid(std::string_view status) {
  const size_t at = status.find("\nUid:");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = status.substr(at + 5);
  for (int field = 0; field < 2; ++field) {
    const size_t start = rest.find_first_not_of(" \t");
    if (start == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(start);
    const size_t end = rest.find_first_of(" \t\n");
    if (field == 1) {
      auto uid = parse_uint(rest.substr(0, end), UINT32_MAX);
      return uid ? std::optional<uid_t>(uid_t(*uid)) : std::nullopt;
    }
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  }
  return std::nullopt;
}

enum class Owner { Ours, NotOurs, Unknown };

// Whom the `listeners` belong to: a descendant of `root` holding one
// (Ours); else, where a descendant's descriptors cannot be read, one of
// the same uid as a listener (Ours, by uid); else NotOurs -- or Unknown
// when a descendant could not be read at all, nor its uid.
Owner port_owner(const std::string& proc, pid_t root, std::span<const Listener> listeners) {
  auto table = read_process_table(proc);
  if (!table) return Owner::Unknown;
  bool unknown = false;
  std::vector<uid_t> unread;  // the uids of descendants whose descriptors are closed to dock
  for (pid_t pid : descendants_in(*table, root)) {
    const std::string dir = proc + "/" + std::to_string(pid);
    // The directory may open and list while its links stay closed to dock.
    bool found = false, denied = false;
    if (DIR* d = ::opendir((dir + "/fd").c_str())) {
      while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] == '.') continue;
        char link[64];
        const ssize_t n = ::readlinkat(::dirfd(d), e->d_name, link, sizeof link);
        denied = denied || (n < 0 && (errno == EACCES || errno == EPERM));
        auto inode = n > 0 ? socket_inode({link, size_t(n)}) : std::nullopt;
        for (const auto& l : listeners) found = found || (inode && *inode == l.inode);
        if (found) break;
      }
      ::closedir(d);
    } else {
      denied = errno != ENOENT;  // ENOENT: gone meanwhile
    }
    if (found) return Owner::Ours;
    if (denied) {
      char status[2048];
      Fd fd(::open((dir + "/status").c_str(), O_RDONLY | O_CLOEXEC));
      const ssize_t n = fd ? retry([&] { return ::read(fd.get(), status, sizeof status); }) : -1;
      auto uid = n > 0 ? effective_uid({status, size_t(n)}) : std::nullopt;
      if (uid) unread.push_back(*uid);
      else unknown = true;
    }
  }
  for (const auto& l : listeners)
    if (std::find(unread.begin(), unread.end(), l.uid) != unread.end()) return Owner::Ours;
  return unknown ? Owner::Unknown : Owner::NotOurs;
}

struct Readiness {
  const ReadyConfig* cfg = nullptr;
  Loop* loop = nullptr;
  pid_t root = -1;                 // dock: the command and its descendants are below it
  pid_t child = -1;                // the command, once it runs
  bool pid1 = false;               // every process of the namespace descends from dock
  TimerId probe_timer = 0;         // look for the port again
  bool port_seen = false;          // --bind-port listens (or none was asked)
  bool notified = false;           // the command's READY=1, not taken back (or no --notify)
  bool ready = false;              // all of it holds: the ready file exists
  bool announced = false;          // "running" was said
  bool stopping = false;           // the first SIGTERM came: never ready again
  bool stopped = false;            // the command ended
  bool unsure = false;             // "cannot tell whose" was said
  std::vector<uint64_t> judged;    // the listening sockets last judged (not the command's)
  int64_t checked_at = 0;          // ... when
  std::vector<uint64_t> foreign_said;  // the sockets -d last said are someone else's
  Fd probe_socket;                 // the socket diagnostics' netlink socket
  bool file_made = false;          // --ready-file exists, made by dock
  struct stat file_id {};          // ... this one (device and inode)
  Fd notify;                       // --notify: the command's socket
  Fd up;                           // NOTIFY_SOCKET dock was given: where dock says READY=1
  sockaddr_un up_addr{};
  socklen_t up_len = 0;
  uint64_t ignored = 0;            // datagrams on --notify ignored (malformed, oversized, not allowed)
  Callback<> on_ready;             // ready for the first time: "running"
};

void update_readiness(Readiness& r, Loop& loop);

// Looks for the port; looks again later if it is not there.
void on_probe_deadline(Readiness& r, Loop& loop) {
  if (r.port_seen || r.stopped) return;
  const unsigned port = r.cfg->bind_port;
  const Listeners l = listeners_on(r.probe_socket, r.cfg->bind_port);
  if (l.err != 0) {  // it will not get better: say so, stop looking
    say("--bind-port %u: the kernel's socket diagnostics: %s: \"running\" will not be reported", port,
        std::strerror(l.err));
    return;
  }
  // Someone else's socket on the port: /proc is walked again only when the
  // sockets change, or every kProbeRecheckMs (a descendant may take it on).
  std::vector<uint64_t> inodes;
  for (const auto& x : l.found) inodes.push_back(x.inode);
  const int64_t now = monotonic_ms();
  const bool known = inodes == r.judged && now - r.checked_at < kProbeRecheckMs;
  if (!l.found.empty() && !known) {
    r.checked_at = now;
    r.judged = inodes;
    switch (port_owner("/proc", r.root, l.found)) {
      case Owner::Ours:
        debug("port %u is listening", port);
        r.port_seen = true;
        return update_readiness(r, loop);
      case Owner::NotOurs:  // said once for each set of sockets (-d)
        if (inodes != r.foreign_said)
          debug("port %u is listened on by a process that is not the command or one of its children; still waiting",
                port);
        r.foreign_said = inodes;
        break;
      case Owner::Unknown:
        if (!r.unsure)
          say("--bind-port %u: a socket listens on it, but dock cannot tell whether it is its command's "
              "(/proc/PID of a descendant cannot be read); still looking", port);
        r.unsure = true;
        break;
    }
  }
  set_deadline(loop, r.probe_timer, kProbeMs);
}

// The command runs: ready now, or once --bind-port listens and it says READY=1.
void start_readiness(Readiness& r, Loop& loop, pid_t child) {
  r.child = child;
  r.port_seen = r.cfg->bind_port == 0;
  r.notified = r.cfg->notify != NotifyMode::Own;
  if (!r.port_seen) {
    debug("not ready until the command or one of its children listens on port %u (--bind-port)", unsigned(r.cfg->bind_port));
    set_deadline(loop, r.probe_timer, kProbeMs);
  }
  if (!r.notified) debug("not ready until the command says READY=1 (--notify)");
  update_readiness(r, loop);
}

// The ready file: the command's pid, then what made dock ready that
// dock --check can look at again ("port 8080" for --bind-port). A new
// file (O_EXCL), so nothing someone put at the name is written through.
void make_ready_file(Readiness& r) {
  const std::string& path = r.cfg->ready_file;
  if (path.empty()) return;
  constexpr int kNew = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  Fd fd(retry([&] { return ::open(path.c_str(), kNew, 0644); }));
  if (fd && ::fstat(fd.get(), &r.file_id) == 0) {
    r.file_made = true;
    std::string text = std::to_string(r.child) + "\n";
    if (r.cfg->bind_port != 0) text += "port " + std::to_string(r.cfg->bind_port) + "\n";
    if (!write_all(fd.get(), text)) say("--ready-file %s: %s", path.c_str(), std::strerror(errno));
  } else {
    say("--ready-file %s: %s", path.c_str(), std::strerror(errno));
  }
}

// Only the file dock made goes, not what replaced it.
void remove_ready_file(Readiness& r) {
  if (!r.file_made) return;
  r.file_made = false;
  const std::string& path = r.cfg->ready_file;
  struct stat there;
  if (::lstat(path.c_str(), &there) != 0 || there.st_dev != r.file_id.st_dev || there.st_ino != r.file_id.st_ino)
    return;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) say("--ready-file %s: %s", path.c_str(), std::strerror(errno));
}

// One datagram to the NOTIFY_SOCKET dock was given; never waits.
void notify_up(Readiness& r, std::string_view message) {
  if (!r.up) return;
  debug("NOTIFY_SOCKET %s: %.*s", r.cfg->notify_up.c_str(), int(message.size() - 1), message.data());
  if (::sendto(r.up.get(), message.data(), message.size(), MSG_DONTWAIT | MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&r.up_addr), r.up_len) < 0)
    say("NOTIFY_SOCKET %s: %s", r.cfg->notify_up.c_str(), std::strerror(errno));
}

// Ready when every condition holds; the ready file follows.
void update_readiness(Readiness& r, Loop& loop) {
  const bool now = r.port_seen && r.notified && !r.stopping && !r.stopped;
  if (now == r.ready) return;
  r.ready = now;
  if (!now) {
    debug("not ready");
    return remove_ready_file(r);
  }
  clear_deadline(loop, r.probe_timer);
  debug("ready");
  make_ready_file(r);
  notify_up(r, "READY=1\n");
  if (!r.announced) {
    r.announced = true;
    r.on_ready();
  }
}

// The first SIGTERM: not ready from now on; a supervisor hears that dock
// is stopping (once).
void unready(Readiness& r, Loop& loop) {
  if (!r.stopping) notify_up(r, "STOPPING=1\n");
  r.stopping = true;
  update_readiness(r, loop);
}

// The command ended (or never started): no more looking; the ready file
// goes; dock is stopping too.
void end_readiness(Readiness& r, Loop& loop) {
  r.stopped = true;
  clear_deadline(loop, r.probe_timer);
  unready(r, loop);
}

// ---- --notify: the command's READY=1 ----
//
// An abstract unix datagram socket (no file, so no directory to write and
// nothing to plant; a command under --user reaches it as well), named by
// the kernel (autobind), with SO_PASSCRED: each datagram carries its
// sender's pid, which the kernel vouches for. The messages are systemd's:
// newline-separated VAR=VALUE. Only the command's count, or with
// --notify-access all any descendant's (as PID 1: any process's).

constexpr size_t kNotifyMax = 4096;   // a bigger datagram is ignored
constexpr int kNotifyPerWakeup = 64;  // a flood cannot starve the rest of the loop

// dock's own NOTIFY_SOCKET's address: a path, or @name for an abstract one.
bool notify_address(std::string_view name, sockaddr_un& a, socklen_t& len) {
  a = {};
  a.sun_family = AF_UNIX;
  if (name.empty() || name.size() >= sizeof a.sun_path || (name[0] != '/' && name[0] != '@')) return false;
  std::memcpy(a.sun_path, name.data(), name.size());
  if (name[0] == '@') a.sun_path[0] = '\0';
  len = socklen_t(offsetof(sockaddr_un, sun_path) + name.size() + (name[0] == '/' ? 1 : 0));
  return true;
}

// The socket for dock's own NOTIFY_SOCKET, unless --notify=pass. A value
// that is no socket address is a warning: dock runs without saying READY.
void open_notify_up(Readiness& r) {
  const std::string& name = r.cfg->notify_up;
  if (name.empty() || r.cfg->notify == NotifyMode::Pass) return;
  if (!notify_address(name, r.up_addr, r.up_len)) {
    say("NOTIFY_SOCKET %s: not a socket path or @name (READY=1 will not be sent)", escape_controls(name).c_str());
    return;
  }
  r.up = Fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!r.up) say("NOTIFY_SOCKET %s: %s", name.c_str(), std::strerror(errno));
}

// --notify's socket; `name` is its NOTIFY_SOCKET value for the command.
Error open_notify_socket(Fd& fd, std::string& name) {
  fd = Fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  const int on = 1;
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  socklen_t len = sizeof(sa_family_t);  // autobind: the kernel picks a free abstract name
  if (!fd || ::setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) != 0 ||
      ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&a), len) != 0)
    return std::string("socket: ") + std::strerror(errno);
  len = sizeof a;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len) != 0 || len <= offsetof(sockaddr_un, sun_path) + 1)
    return std::string("socket name: ") + std::strerror(errno);
  name = "@" + std::string(a.sun_path + 1, len - offsetof(sockaddr_un, sun_path) - 1);
  return {};
}

// Whether `pid` descends from `root`, by its parents in /proc.
bool descends_from(pid_t pid, pid_t root) {
  std::array<char, 512> buf;
  for (int hops = 0; hops < 4096 && pid > 1; ++hops) {
    const std::string_view stat = read_stat(pid, buf);
    if (stat.empty()) return false;
    const pid_t ppid = ppid_from_stat(stat).value_or(0);
    if (ppid == root) return true;
    pid = ppid;
  }
  return false;
}

// What the notify messages say, as they change readiness.
struct NotifyMessage {
  bool ready = false, reloading = false, stopping = false;
  std::string_view status;
  bool has_status = false;
};

// systemd's format: VAR=VALUE lines, no NUL; anything else: nullopt.
std::optional<NotifyMessage> parse_notify_message(std::string_view text) {
  NotifyMessage m;
  if (text.empty() || text.find('\0') != std::string_view::npos) return std::nullopt;
  bool any = false;
  for (size_t at = 0; at < text.size();) {
    size_t nl = text.find('\n', at);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string_view line = text.substr(at, nl - at);
    at = nl + 1;
    if (line.empty()) continue;
    const size_t eq = line.find('=');
    if (eq == 0 || eq == std::string_view::npos) return std::nullopt;
    for (char ch : line.substr(0, eq))
      if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_')) return std::nullopt;
    any = true;
    const std::string_view var = line.substr(0, eq), value = line.substr(eq + 1);
    if (var == "READY") m.ready = value == "1";
    else if (var == "RELOADING") m.reloading = value == "1";
    else if (var == "STOPPING") m.stopping = value == "1";
    else if (var == "STATUS") m.status = value, m.has_status = true;
  }
  if (!any) return std::nullopt;
  return m;
}

void notify_ignored(Readiness& r, const char* why, pid_t pid) {
  ++r.ignored;
  debug("--notify: ignored a datagram from pid %d: %s (%llu ignored)", int(pid), why, (unsigned long long)r.ignored);
}

// One datagram: who sent it, and what it says.
void on_notify_datagram(Readiness& r, Loop& loop, std::string_view text, pid_t sender) {
  if (r.child <= 0 || r.stopped) return notify_ignored(r, "the command does not run", sender);
  // As PID 1 every process of the namespace descends from dock; one outside
  // it (on the same network namespace) is pid 0 to dock, and never counts.
  const bool descendant = r.pid1 ? sender > 1 : descends_from(sender, r.root);
  const bool allowed = sender == r.child || (r.cfg->notify_all && descendant);
  if (!allowed)
    return notify_ignored(r, r.cfg->notify_all ? "not a descendant" : "not the command (--notify-access all takes descendants)", sender);
  auto m = parse_notify_message(text);
  if (!m) return notify_ignored(r, "not VAR=VALUE lines", sender);
  if (m->has_status) debug("--notify: STATUS=%s", escape_controls(m->status).c_str());
  if (m->stopping) debug("--notify: the command says it is stopping");
  if (m->reloading) r.notified = false;
  if (m->ready) r.notified = true;
  update_readiness(r, loop);
}

// The control message after `c`, or null when none is wholly there: what
// CMSG_NXTHDR does, written out because musl's macro compares a signed
// length with an unsigned one.
cmsghdr* next_control(const msghdr& msg, cmsghdr* c) {
  char* const start = static_cast<char*>(msg.msg_control);
  const size_t end = msg.msg_controllen;
  if (c->cmsg_len < sizeof(cmsghdr)) return nullptr;
  const size_t at = size_t(reinterpret_cast<char*>(c) - start) + CMSG_ALIGN(c->cmsg_len);
  if (at + sizeof(cmsghdr) > end) return nullptr;
  auto* next = reinterpret_cast<cmsghdr*>(start + at);
  return at + CMSG_ALIGN(next->cmsg_len) > end ? nullptr : next;
}

// The datagrams waiting, a bounded number per wake-up.
void on_notify_readable(Readiness& r, Loop& loop) {
  for (int i = 0; i < kNotifyPerWakeup; ++i) {
    char buf[kNotifyMax + 1];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(4 * sizeof(int))];
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(r.notify.get(), &msg, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN) say("--notify: %s", std::strerror(errno));
      return;
    }
    pid_t sender = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = next_control(msg, c)) {
      if (c->cmsg_level != SOL_SOCKET) continue;
      if (c->cmsg_type == SCM_CREDENTIALS) {
        ucred cred;
        std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
        sender = cred.pid;
      } else if (c->cmsg_type == SCM_RIGHTS) {  // descriptors are not for dock: closed
        const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t k = 0; k < count; ++k) {
          int fd;
          std::memcpy(&fd, CMSG_DATA(c) + k * sizeof(int), sizeof fd);
          ::close(fd);
        }
      }
    }
    if (size_t(n) > kNotifyMax || (msg.msg_flags & MSG_TRUNC) != 0) notify_ignored(r, "larger than 4 KiB", sender);
    else on_notify_datagram(r, loop, {buf, size_t(n)}, sender);
  }
}

// ---- --health-port: the probes over HTTP ----
//
// Kubernetes' httpGet probes cost the node no process, as exec probes do.
// dock answers them itself: GET /ready is 200 while dock is ready (what
// makes the ready file, with --bind-port's port looked at again, as dock
// --check does), GET /live 200 while the command runs and dock is not
// stopping; 503 otherwise. It is PID 1's only server, so everything about
// a client is bounded: at most 16 at once (one more is closed at once),
// 4 KiB of request head, 1 s from its connection to its last header line;
// then one answer and the connection closes. Nothing is read or sent that
// could wait, and with no client there is no deadline, so no wake-up.

constexpr size_t kHealthHeadMax = 4096;
constexpr size_t kHealthClients = 16;
constexpr int64_t kHealthClientMs = 1000;
constexpr int kHealthAcceptsPerWakeup = 32;  // a flood of connections cannot starve the loop
constexpr int64_t kHealthRetryMs = 250;      // out of descriptors: accept again then

// --health-port [ADDR:]PORT. ADDR: an IPv4 address or a bracketed IPv6 one;
// none: every address (the kubelet probes the pod's IP).
Error parse_health_port(std::string_view value, ReadyConfig& c) {
  const size_t colon = value.rfind(':');
  std::string_view addr = colon == std::string_view::npos ? std::string_view() : value.substr(0, colon);
  const auto port = parse_uint(colon == std::string_view::npos ? value : value.substr(colon + 1), 65535);
  if (!port || *port < 1) return "'" + std::string(value) + "' is not [ADDR:]PORT with a port in 1..65535";
  const bool v6 = addr.size() >= 2 && addr.front() == '[' && addr.back() == ']';
  if (v6) addr = addr.substr(1, addr.size() - 2);
  unsigned char bytes[sizeof(in6_addr)];
  if (colon != std::string_view::npos &&
      (addr.empty() || ::inet_pton(v6 ? AF_INET6 : AF_INET, std::string(addr).c_str(), bytes) != 1))
    return "'" + std::string(value) + "': '" + std::string(addr) +
           "' is not an IP address (127.0.0.1:8081, [::1]:8081; a port alone: every address)";
  c.health_port = uint16_t(*port);
  c.health_addr = std::string(addr);
  c.health_v6 = v6;
  return {};
}

// One request head, as far as it came.
struct HealthRequest {
  enum class Kind { Incomplete, Bad, Complete } kind = Kind::Incomplete;
  std::string_view method, path;  // path: without the query
};

// An HTTP/1.x request line and headers (CRLF or LF), and nothing else.
// A request line that cannot be one is Bad at once, before the headers.
HealthRequest parse_health_request(std::string_view text) {
  HealthRequest r;
  const size_t eol = text.find('\n');
  if (eol == std::string_view::npos) return r;
  std::string_view line = text.substr(0, eol);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
  r.kind = HealthRequest::Kind::Bad;
  if (sp1 == 0 || sp1 == std::string_view::npos || sp2 <= sp1 + 1) return r;
  r.method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  for (char ch : r.method)
    if (ch < 'A' || ch > 'Z') return r;
  for (char ch : target)
    if (ch <= ' ' || ch == 0x7f) return r;
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || version[7] < '0' || version[7] > '9') return r;
  // The absolute form (http://host/ready) names the same path.
  for (std::string_view scheme : {"http://", "https://"})
    if (target.substr(0, scheme.size()) == scheme) {
      const size_t slash = target.find('/', scheme.size());
      target = slash == std::string_view::npos ? "/" : target.substr(slash);
    }
  if (target.empty() || (target[0] != '/' && target != "*")) return r;
  r.path = target.substr(0, target.find('?'));
  // The headers are not needed, but must be text up to a blank line.
  const std::string_view rest = text.substr(eol + 1);
  size_t end = rest.substr(0, 1) == "\n" || rest.substr(0, 2) == "\r\n" ? 0 : std::string_view::npos;
  for (std::string_view blank : {"\n\n", "\n\r\n"})
    if (const size_t at = rest.find(blank); at != std::string_view::npos) end = std::min(end, at);
  if (rest.substr(0, end).find('\0') != std::string_view::npos) return r;
  r.kind = end == std::string_view::npos ? HealthRequest::Kind::Incomplete : HealthRequest::Kind::Complete;
  return r;
}

// What the server says: a status and a line of text.
struct HealthAnswer {
  int status;
  std::string body;  // one line
};

// What a request gets, given whether dock is ready (`not_ready`: why not,
// empty: ready) and live.
HealthAnswer health_answer(const HealthRequest& req, const std::string& not_ready, bool live) {
  using Kind = HealthRequest::Kind;
  if (req.kind == Kind::Bad) return {400, "bad request"};
  if (req.kind == Kind::Incomplete) return {431, "request head larger than 4 KiB"};
  const bool ready_path = req.path == "/ready", live_path = req.path == "/live";
  if (!ready_path && !live_path) return {404, "not found: /ready and /live are"};
  if (req.method != "GET" && req.method != "HEAD") return {405, "only GET and HEAD"};
  if (ready_path) return not_ready.empty() ? HealthAnswer{200, "ready"} : HealthAnswer{503, "not ready: " + not_ready};
  return live ? HealthAnswer{200, "live"} : HealthAnswer{503, "not live: the command does not run, or dock is stopping"};
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 431: return "Request Header Fields Too Large";
    default: return "Service Unavailable";
  }
}

// The whole response; HEAD gets the headers alone.
std::string health_response(const HealthAnswer& a, bool head_only) {
  const std::string body = a.body + "\n";
  std::string text = "HTTP/1.1 " + std::to_string(a.status) + " " + std::string(reason_phrase(a.status)) +
                     "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\nCache-Control: no-store\r\nConnection: close\r\n";
  if (a.status == 405) text += "Allow: GET, HEAD\r\n";
  text += "\r\n";
  if (!head_only) text += body;
  return text;
}

// The listening socket, bound before anything starts (a port taken is
// said then, exit 1). Every address: IPv6's, which takes IPv4 too, or
// IPv4's where the kernel has no IPv6.
Error open_health_listener(const ReadyConfig& c, Fd& out) {
  const bool any = c.health_addr.empty();
  int why = EAFNOSUPPORT;
  for (int family : {AF_INET6, AF_INET}) {
    if ((any && family == AF_INET && out) || (!any && (family == AF_INET6) != c.health_v6)) continue;
    sockaddr_storage ss{};
    socklen_t len;
    if (family == AF_INET6) {
      auto& a = reinterpret_cast<sockaddr_in6&>(ss);
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(c.health_port);
      if (!any) ::inet_pton(AF_INET6, c.health_addr.c_str(), &a.sin6_addr);
      len = sizeof a;
    } else {
      auto& a = reinterpret_cast<sockaddr_in&>(ss);
      a.sin_family = AF_INET;
      a.sin_port = htons(c.health_port);
      if (!any) ::inet_pton(AF_INET, c.health_addr.c_str(), &a.sin_addr);
      len = sizeof a;
    }
    Fd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const int on = 1, off = 0;
    if (fd && family == AF_INET6 && any) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    if (fd && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0 &&
        ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&ss), len) == 0 && ::listen(fd.get(), 64) == 0) {
      out = std::move(fd);
      return {};
    }
    // No IPv6 in this kernel: every address is IPv4's.
    why = errno;
    if (!(any && family == AF_INET6 && (why == EAFNOSUPPORT || why == EADDRNOTAVAIL))) break;
  }
  if (out) return {};
  const std::string where = any ? "port " + std::to_string(c.health_port)
                                : (c.health_v6 ? "[" + c.health_addr + "]" : c.health_addr) + ":" + std::to_string(c.health_port);
  return where + ": " + std::strerror(why);
}

struct HealthClient {
  Fd fd;
  uint32_t armed = 0;
  size_t got = 0;
  char head[kHealthHeadMax];  // not cleared: only what was read is looked at
};

struct HealthServer {
  Loop* loop = nullptr;
  Readiness* ready = nullptr;
  Fd listener;
  Slot listen_slot = 0;
  uint32_t listen_armed = 0;
  TimerId retry_timer = 0;  // accepting again after running out of descriptors
  bool out_said = false;
  std::unique_ptr<HealthClient[]> clients;  // kHealthClients, with --health-port
  std::array<Slot, kHealthClients> slots{};
  std::array<TimerId, kHealthClients> timers{};
  uint64_t refused = 0;  // connections beyond kHealthClients
};

// Why dock is not ready now (empty: it is): the ready file's rule, and
// --bind-port's port still listened on.
std::string health_not_ready(Readiness& r) {
  const ReadyConfig& c = *r.cfg;
  if (r.child <= 0 || r.stopped) return "the command does not run";
  if (r.stopping) return "dock is stopping";
  if (!r.port_seen) return "nothing listens on port " + std::to_string(c.bind_port) + " yet (--bind-port)";
  if (!r.notified) return "no READY=1 from the command yet (--notify)";
  if (c.bind_port != 0) {
    const Listeners l = listeners_on(r.probe_socket, c.bind_port);
    if (l.err != 0) return "port " + std::to_string(c.bind_port) + ": " + std::strerror(l.err);
    if (l.found.empty()) return "nothing listens on port " + std::to_string(c.bind_port) + " any more";
  }
  return {};
}

void close_health_client(HealthServer& h, Loop& loop, size_t i) {
  HealthClient& c = h.clients[i];
  arm(loop, c.fd.get(), h.slots[i], c.armed, 0);
  c.fd.reset();
  c.armed = 0;
  clear_deadline(loop, h.timers[i]);
}

// One answer, in one send: a fresh connection's send buffer takes it
// whole, and a client that does not read loses it. What the client sent
// beyond the head is read first, so the close is a FIN, not a reset.
void answer_health_client(HealthServer& h, Loop& loop, size_t i, const HealthRequest& req) {
  HealthClient& c = h.clients[i];
  const Readiness& r = *h.ready;
  const bool live = r.child > 0 && !r.stopped && !r.stopping;
  const HealthAnswer a = health_answer(req, req.path == "/ready" ? health_not_ready(*h.ready) : std::string(), live);
  if (g_debug)
    debug("--health-port: %s %s: %d", escape_controls(req.method.substr(0, 16)).c_str(),
          escape_controls(req.path.substr(0, 64)).c_str(), a.status);
  const std::string text = health_response(a, req.method == "HEAD");
  [[maybe_unused]] ssize_t n = ::send(c.fd.get(), text.data(), text.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::shutdown(c.fd.get(), SHUT_WR);
  char rest[512];
  for (int k = 0; k < 8 && ::recv(c.fd.get(), rest, sizeof rest, MSG_DONTWAIT) > 0; ++k) {
  }
  close_health_client(h, loop, i);
}

// A client's bytes: the head so far; an answer once it is whole, or bad,
// or too large. A client that leaves is forgotten.
void on_health_client(HealthServer& h, Loop& loop, size_t i) {
  HealthClient& c = h.clients[i];
  const ssize_t n = ::recv(c.fd.get(), c.head + c.got, kHealthHeadMax - c.got, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) return close_health_client(h, loop, i);
  c.got += size_t(n);
  const HealthRequest req = parse_health_request({c.head, c.got});
  if (req.kind == HealthRequest::Kind::Incomplete && c.got < kHealthHeadMax) return;
  answer_health_client(h, loop, i, req);
}

// A client silent too long, or too slow with its head: cut.
void on_health_client_deadline(HealthServer& h, Loop& loop, size_t i) {
  debug("--health-port: a client sent no whole request within 1s: closed");
  close_health_client(h, loop, i);
}

void on_health_accept(HealthServer& h, Loop& loop);

// Accepting again, after running out of descriptors.
void on_health_retry(HealthServer& h, Loop& loop) {
  if (arm(loop, h.listener.get(), h.listen_slot, h.listen_armed, EPOLLIN)) on_health_accept(h, loop);
}

// New connections, a bounded number per wake-up: each gets a free place
// and 1 s, or is closed at once when all 16 are taken.
void on_health_accept(HealthServer& h, Loop& loop) {
  for (int k = 0; k < kHealthAcceptsPerWakeup; ++k) {
    Fd fd(::accept4(h.listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!fd) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN) return;
      // Out of descriptors or memory: the pending connection would wake
      // the loop forever. Listen again a little later.
      if (!h.out_said) say("--health-port: accept: %s (trying again)", std::strerror(errno));
      h.out_said = true;
      arm(loop, h.listener.get(), h.listen_slot, h.listen_armed, 0);
      set_deadline(loop, h.retry_timer, kHealthRetryMs);
      return;
    }
    size_t i = 0;
    while (i < kHealthClients && h.clients[i].fd) ++i;
    if (i == kHealthClients) {
      ++h.refused;
      debug("--health-port: 16 clients already: one more closed (%llu so far)", (unsigned long long)h.refused);
      continue;
    }
    HealthClient& c = h.clients[i];
    c.fd = std::move(fd);
    c.got = 0;
    c.armed = 0;
    if (!arm(loop, c.fd.get(), h.slots[i], c.armed, EPOLLIN)) {
      c.fd.reset();
      continue;
    }
    set_deadline(loop, h.timers[i], kHealthClientMs);
    // Read at once: a request sent with the connection is answered, and a
    // connection already closed frees its place, without another round.
    on_health_client(h, loop, i);
  }
}

// The server's handlers and deadlines, with the socket bound at start.
bool start_health(HealthServer& h, Loop& loop) {
  h.clients.reset(new HealthClient[kHealthClients]);
  for (size_t i = 0; i < kHealthClients; ++i) {
    h.slots[i] = add_handler(loop, handler<on_health_client>(h, i));
    h.timers[i] = add_timer(loop, handler<on_health_client_deadline>(h, i));
  }
  h.retry_timer = add_timer(loop, handler<on_health_retry>(h));
  h.listen_slot = add_handler(loop, handler<on_health_accept>(h));
  return arm(loop, h.listener.get(), h.listen_slot, h.listen_armed, EPOLLIN);
}

// ---- dock --check ----
//
// A health probe for an image with no shell. `dock --check [PATH]`: the
// ready file holds the pid of a live process and what made dock ready,
// which is looked at again (a port still listened on), so a service that
// stopped listening is unhealthy at the next probe, not ready forever.
// `dock --check URL`: one try of what --wait-for does (a connection, a
// GET answered with 2xx) within --check-timeout. It runs as a command of
// its own, in the container's namespaces, so a pid and a port mean what
// they meant to dock. Exit 0 or 1 only: Docker reserves a HEALTHCHECK's 2.

// What a ready file says: the command's pid, and the port of --bind-port.
struct ReadyRecord {
  pid_t pid = 0;
  uint16_t port = 0;  // 0: none
};

// "PID\n" and an optional "port N\n"; nothing when it is not that.
std::optional<ReadyRecord> parse_ready_record(std::string_view text) {
  ReadyRecord r;
  size_t line = 0;
  bool ok = !text.empty() && text.back() == '\n';
  for_each_line(text, [&](std::string_view l) {
    if (!ok) return;
    if (line++ == 0) {
      const auto pid = parse_uint(l, INT_MAX);
      ok = pid && *pid >= 1;
      if (ok) r.pid = pid_t(*pid);
    } else if (l.substr(0, 5) == "port " && r.port == 0) {
      const auto port = parse_uint(l.substr(5), 65535);
      ok = port && *port >= 1;
      if (ok) r.port = uint16_t(*port);
    } else {
      ok = false;
    }
  });
  if (!ok || r.pid == 0) return std::nullopt;
  return r;
}

// Whether /proc/net/tcp or tcp6 text lists a socket listening on `port`
// (state 0A), on any address.
bool listens_in(std::string_view table, uint16_t port) {
  char want[8];
  std::snprintf(want, sizeof want, ":%04X", unsigned(port));
  bool found = false;
  for_each_line(table, [&](std::string_view l) {
    // "  0: 00000000:1F90 00000000:0000 0A ..."
    const size_t colon = l.find(": ");
    if (found || colon == std::string_view::npos) return;
    std::string_view rest = l.substr(colon + 2);
    const size_t local_end = rest.find(' ');
    if (local_end == std::string_view::npos) return;
    const std::string_view local = rest.substr(0, local_end);
    rest.remove_prefix(local_end + 1);
    const size_t remote_end = rest.find(' ');
    if (remote_end == std::string_view::npos) return;
    const std::string_view state = rest.substr(remote_end + 1, 2);
    found = state == "0A" && local.size() > 5 && local.substr(local.size() - 5) == want;
  });
  return found;
}

// A file of the kernel's (/proc, a cgroup's), whose size stat does not
// tell, read to its end (at most `limit` bytes). false: it cannot be read.
// Read into `text` itself: a buffer on the stack would stay resident in
// PID 1 for good after the first read.
bool read_kernel_file(const std::string& path, std::string& text, size_t limit = 1 << 20) {
  Fd fd(retry([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); }));
  if (!fd) return false;
  text.clear();
  constexpr size_t kChunk = 4096;
  while (text.size() < limit) {
    const size_t at = text.size();
    text.resize(at + kChunk);
    const ssize_t n = retry([&] { return ::read(fd.get(), text.data() + at, kChunk); });
    text.resize(at + size_t(std::max<ssize_t>(n, 0)));
    if (n <= 0) break;
  }
  return true;
}

// Whether anything in this network namespace listens on TCP `port`.
// nullopt: /proc/net cannot be read.
std::optional<bool> port_listened_on(uint16_t port) {
  bool readable = false;
  std::string text;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    if (!read_kernel_file(table, text, SIZE_MAX)) continue;
    readable = true;
    if (listens_in(text, port)) return true;
  }
  if (!readable) return std::nullopt;
  return false;
}

// Whether `pid` runs (a zombie does not).
bool process_runs(pid_t pid) {
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  std::array<char, 512> buf;
  const std::string_view stat = read_stat(pid, buf);
  if (stat.empty()) return true;  // no /proc: kill's answer stands
  const size_t close = stat.rfind(')');
  return close == std::string_view::npos || close + 2 >= stat.size() || stat[close + 2] != 'Z';
}

// Exit status 0 when PATH names a live process and its port is still
// listened on; else one line why, 1.
int check_ready(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  char buf[64];
  const ssize_t n = fd ? retry([&] { return ::read(fd.get(), buf, sizeof buf); }) : -1;
  if (n < 0) {
    say("not ready: %s: %s", path.c_str(), std::strerror(errno));
    return code(Exit::Failure);
  }
  const auto record = parse_ready_record(std::string_view(buf, size_t(n)));
  if (!record) {
    say("not ready: %s: not a ready file (a pid, and a port)", path.c_str());
    return code(Exit::Failure);
  }
  if (!process_runs(record->pid)) {
    say("not ready: %s: pid %d does not run", path.c_str(), int(record->pid));
    return code(Exit::Failure);
  }
  std::string ok = "ready: " + path + ": pid " + std::to_string(record->pid) + " runs";
  if (record->port != 0) {
    const auto listens = port_listened_on(record->port);
    if (!listens) {
      say("not ready: %s: /proc/net/tcp: %s (cannot see port %u)", path.c_str(), std::strerror(errno), unsigned(record->port));
      return code(Exit::Failure);
    }
    if (!*listens) {
      say("not ready: %s: nothing listens on port %u any more", path.c_str(), unsigned(record->port));
      return code(Exit::Failure);
    }
    ok += ", port " + std::to_string(record->port) + " listened on";
  }
  return write_all(STDOUT_FILENO, ok + "\n") ? code(Exit::Ok) : code(Exit::Failure);
}

// Whether a stale ready file could be dock's own from an earlier run (a
// restarted container keeps its files; a killed dock could not remove
// it): a regular file of dock's user holding a ready record, or nothing.
bool stale_ready_file(const std::string& path, const struct stat& sb) {
  if (!S_ISREG(sb.st_mode) || sb.st_uid != ::geteuid() || sb.st_size > 32) return false;
  if (sb.st_size == 0) return true;  // made, but dock ended before writing it
  Fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  char buf[40];
  const ssize_t n = fd ? ::read(fd.get(), buf, sizeof buf) : -1;
  return n > 0 && parse_ready_record({buf, size_t(n)}).has_value();
}

// --ready-file before anything starts: its directory is there and dock
// can write it; nothing is at the name but, at most, a stale ready file
// of an earlier run (removed here, or it would say "ready" too soon).
Error check_ready_file(const std::string& path) {
  if (auto err = check_dir_of(path)) return err;
  const std::string dir = dir_of(path);
  if (::access(dir.c_str(), W_OK) != 0) return "directory " + dir + ": " + std::strerror(errno);
  struct stat sb;
  if (::lstat(path.c_str(), &sb) != 0) return {};
  if (!stale_ready_file(path, sb))
    return path + " exists and is not a ready file of dock's (it is never overwritten)";
  if (::unlink(path.c_str()) != 0) return path + ": " + std::strerror(errno);
  return {};
}

// ==== 12. Before and after the command: --env-file, --file-env, --chown,
//      --template, --wait-for, --setup, --teardown, --user, --rlimit,
//      --no-new-privs ====
//
// What images script around an init (env and secret files, chown -R,
// envsubst, wait-for-it, docker-entrypoint.d, gosu, ulimit), done by dock
// before the io target is opened, in SPEC §10's order: env files,
// --file-env, --chown, templates, --wait-for, --setup; --rlimit and --user
// in the child, just before exec; --teardown after the leftovers. The parsers are pure; each failure is one line
// naming the file (and line) or target, and exit 1.

// ---- --user: /etc/passwd and /etc/group, read by dock ----
//
// No NSS: dock reads the two files itself, so --user works in FROM scratch
// and in the static build. Only the fields dock needs are kept.

struct PasswdEntry {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string home;
};

struct GroupEntry {
  std::string name;
  gid_t gid = 0;
  std::vector<std::string> members;
};

// The `n` colon-separated fields of `line`, or nothing when it has another count.
template <size_t N>
std::optional<std::array<std::string_view, N>> colon_fields(std::string_view line) {
  std::array<std::string_view, N> f;
  for (size_t i = 0; i < N; ++i) {
    const size_t colon = line.find(':');
    if ((colon == std::string_view::npos) != (i == N - 1)) return std::nullopt;
    f[i] = line.substr(0, colon);
    line = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
  }
  return f;
}

// An id in a passwd or group file: 0..2^32-2 (the last is "no id").
std::optional<uint32_t> parse_id(std::string_view s) {
  auto n = parse_uint(s, UINT32_MAX - 1);
  return n ? std::optional<uint32_t>(uint32_t(*n)) : std::nullopt;
}

// "name:x:uid:gid:gecos:home:shell"; nothing for a comment or a malformed line.
std::optional<PasswdEntry> parse_passwd_line(std::string_view line) {
  auto f = colon_fields<7>(line);
  if (!f || (*f)[0].empty()) return std::nullopt;
  auto uid = parse_id((*f)[2]);
  auto gid = parse_id((*f)[3]);
  if (!uid || !gid) return std::nullopt;
  return PasswdEntry{std::string((*f)[0]), *uid, *gid, std::string((*f)[5])};
}

// "name:x:gid:member,member"
std::optional<GroupEntry> parse_group_line(std::string_view line) {
  auto f = colon_fields<4>(line);
  if (!f || (*f)[0].empty()) return std::nullopt;
  auto gid = parse_id((*f)[2]);
  if (!gid) return std::nullopt;
  GroupEntry g{std::string((*f)[0]), *gid, {}};
  for (std::string_view m = (*f)[3]; !m.empty();) {
    const size_t comma = m.find(',');
    if (comma != 0) g.members.emplace_back(m.substr(0, comma));
    m = comma == std::string_view::npos ? std::string_view{} : m.substr(comma + 1);
  }
  return g;
}

// Who --user makes the command: ids, supplementary groups, HOME.
struct Identity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;
  std::string home;  // from passwd; empty: none known
};

// USER[:GROUP] against the texts of /etc/passwd and /etc/group. A number
// needs no entry and then has group 0, as Docker, runc and gosu give it
// (OpenShift's random uids rely on group 0); a name must have one. USER
// alone: its primary group and the groups that list it; USER:GROUP: that
// group only.
Error resolve_identity(std::string_view spec, std::string_view passwd, std::string_view group, Identity& out) {
  const size_t colon = spec.find(':');
  const std::string_view user = spec.substr(0, colon);
  const std::optional<std::string_view> grp =
      colon == std::string_view::npos ? std::nullopt : std::optional<std::string_view>(spec.substr(colon + 1));
  if (user.empty()) return "no user";
  if (grp && grp->empty()) return "no group after ':'";
  std::optional<PasswdEntry> entry;
  const auto number = parse_id(user);
  for_each_line(passwd, [&](std::string_view line) {
    auto e = parse_passwd_line(line);
    if (e && !entry && (number ? e->uid == *number : e->name == user)) entry = std::move(e);
  });
  if (!entry && !number) return "user " + std::string(user) + " is not in /etc/passwd";
  out = Identity{};
  out.uid = entry ? entry->uid : *number;
  out.gid = entry ? entry->gid : 0;
  if (entry) out.home = entry->home;
  if (grp) {
    const auto gnum = parse_id(*grp);
    std::optional<gid_t> found;
    for_each_line(group, [&](std::string_view line) {
      auto g = parse_group_line(line);
      if (g && !found && (gnum ? g->gid == *gnum : g->name == *grp)) found = g->gid;
    });
    if (!found && !gnum) return "group " + std::string(*grp) + " is not in /etc/group";
    out.gid = found ? *found : *gnum;
    out.groups = {out.gid};
    return {};
  }
  out.groups = {out.gid};
  if (entry)
    for_each_line(group, [&](std::string_view line) {
      auto g = parse_group_line(line);
      if (g && std::find(g->members.begin(), g->members.end(), entry->name) != g->members.end() &&
          std::find(out.groups.begin(), out.groups.end(), g->gid) == out.groups.end())
        out.groups.push_back(g->gid);
    });
  return {};
}

// ---- --env-file ----

using EnvPairs = std::vector<std::pair<std::string, std::string>>;

constexpr bool env_name_char(char c, bool first) {
  return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (!first && c >= '0' && c <= '9');
}

// NAME=VALUE lines: blank lines and # comments skipped, an optional
// `export `, one pair of matching quotes around VALUE removed; nothing is
// expanded. A malformed line is an error that says which.
Error parse_env_file(std::string_view text, EnvPairs& out) {
  size_t number = 0;
  Error err;
  for_each_line(text, [&](std::string_view line) {
    ++number;
    if (err) return;
    const size_t start = line.find_first_not_of(" \t");
    if (start == std::string_view::npos || line[start] == '#') return;
    line.remove_prefix(start);
    if (line.substr(0, 7) == "export ") line.remove_prefix(std::min(line.size(), line.find_first_not_of(' ', 7)));
    const size_t eq = line.find('=');
    const std::string_view name = line.substr(0, eq);
    bool ok = eq != std::string_view::npos && !name.empty();
    for (size_t i = 0; ok && i < name.size(); ++i) ok = env_name_char(name[i], i == 0);
    if (!ok) {
      err = "line " + std::to_string(number) + ": not NAME=VALUE";
      return;
    }
    std::string_view value = line.substr(eq + 1);
    if (value.find('\0') != std::string_view::npos) {  // exec would cut the value there without a word
      err = "line " + std::to_string(number) + ": " + std::string(name) + ": holds a NUL byte";
      return;
    }
    if (!value.empty() && (value[0] == '"' || value[0] == '\'')) {
      if (value.size() < 2 || value.back() != value[0]) {
        err = "line " + std::to_string(number) + ": " + std::string(name) + ": unmatched quote";
        return;
      }
      value = value.substr(1, value.size() - 2);
    }
    out.emplace_back(std::string(name), std::string(value));
  });
  return err;
}

// ---- --template ----

// `src` with every {{NAME}}, {{NAME:-default}} and {{NAME-default}}
// (spaces inside the braces allowed) replaced by `lookup(NAME)`: `:-`
// takes the default when NAME is unset or empty, `-` only when it is
// unset, as in the shell. Any other {{...}} is left as it is, and what a
// value holds is never rendered again. An unset NAME without a default is
// an error naming the line and NAME. Linear in `src`: the next "}}" and
// the next newline are looked for only past where they were last found.
template <class Lookup>
Error render_template(std::string_view src, Lookup lookup, std::string& out) {
  out.clear();
  out.reserve(src.size());
  struct Next {  // the next occurrence of `what` at or after a position that only grows
    std::string_view what;
    size_t at = 0;
    bool known = false;
  };
  auto next = [&](Next& n, size_t from) {
    if (!n.known || (n.at != std::string_view::npos && n.at < from)) {
      n.at = src.find(n.what, from);
      n.known = true;
    }
    return n.at;
  };
  Next close_mark{"}}"}, newline{"\n"};
  size_t line = 1;
  for (size_t i = 0; i < src.size();) {
    const size_t open = src.find("{{", i);
    const std::string_view before = src.substr(i, open == std::string_view::npos ? std::string_view::npos : open - i);
    out.append(before);
    line += size_t(std::count(before.begin(), before.end(), '\n'));
    if (open == std::string_view::npos) break;
    size_t at = open + 2;
    while (at < src.size() && src[at] == ' ') ++at;
    const size_t name_at = at;
    while (at < src.size() && env_name_char(src[at], at == name_at)) ++at;
    const std::string_view name = src.substr(name_at, at - name_at);
    while (at < src.size() && src[at] == ' ') ++at;
    const size_t close = next(close_mark, at);
    const size_t nl = next(newline, at);
    // {{NAME}}, or NAME then :- or - and a default, closed on the same line.
    const bool bare = src.substr(at, 2) == "}}";
    const size_t dash = src.substr(at, 2) == ":-" ? 2 : src.substr(at, 1) == "-" ? 1 : 0;
    if (name.empty() || close == std::string_view::npos || (nl != std::string_view::npos && nl < close) ||
        (!bare && dash == 0)) {  // not ours: it stays, and the text after its first brace is looked at again
      out.append("{");
      i = open + 1;
      continue;
    }
    const std::optional<std::string_view> value = lookup(name);
    if (value && (dash != 2 || !value->empty())) {
      out.append(*value);
    } else if (dash != 0) {
      std::string_view dflt = src.substr(at + dash, close - at - dash);
      while (!dflt.empty() && dflt.back() == ' ') dflt.remove_suffix(1);
      out.append(dflt);
    } else {
      return "line " + std::to_string(line) + ": " + std::string(name) + " is not set";
    }
    i = close + 2;
  }
  return {};
}

struct TemplateSpec {
  std::string src, dst;
};

Error parse_template_spec(std::string_view value, std::vector<TemplateSpec>& out) {
  const size_t colon = value.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == value.size() || value.back() == '/')
    return "'" + std::string(value) + "' is not SRC:DST";
  out.push_back({std::string(value.substr(0, colon)), std::string(value.substr(colon + 1))});
  return {};
}

// One --wait-for URL.
struct WaitTarget {
  IoTarget io;                  // tcp://, unix://, file:///
  std::optional<HookUrl> http;  // http://, https://: a GET answered with 2xx
  [[nodiscard]] const std::string& shown() const { return http ? http->shown : io.url; }
};

// The options of this section.
struct StartConfig {
  std::vector<std::string> env_files;   // --env-file, in order
  std::vector<std::string> file_env;    // --file-env NAME: the variables read from NAME_FILE
  std::vector<TemplateSpec> templates;  // --template
  std::string user;                     // --user USER[:GROUP]; empty: dock's own
  bool no_new_privs = false;            // --no-new-privs
  std::vector<WaitTarget> wait_for;     // --wait-for URL, in order
  int64_t wait_timeout_ms = 60'000;     // --wait-timeout, for all of them together
  std::vector<std::string> setup;       // --setup PATH, in order
  std::vector<std::string> teardown;    // --teardown PATH or URL, in order
  std::vector<Limit> limits;            // --rlimit NAME=SOFT[:HARD]
  std::vector<std::string> chown;       // --chown PATH: made --user's, with what is under it
};

Error parse_template(std::string_view value, StartConfig& c) { return parse_template_spec(value, c.templates); }

// --wait-for URL: tcp://, tcp4://, tcp6://, unix://, file:///PATH,
// http:// or https://.
Error parse_wait_for(std::string_view value, StartConfig& c) {
  WaitTarget w;
  const std::string_view scheme = value.substr(0, value.find("://"));
  if (iequals(scheme, "http") || iequals(scheme, "https")) {
    HookUrl h;
    if (auto err = parse_hook_url(value, h)) return "'" + std::string(value) + "': " + *err;
    w.http = std::move(h);
  } else if (scheme.size() == value.size() || iequals(scheme, "tls") || iequals(scheme, "ssl")) {
    return "'" + std::string(value) + "': not tcp://HOST:PORT, unix:///PATH, file:///PATH, http:// or https://";
  } else if (auto err = parse_io_url(value, w.io)) {
    return "'" + std::string(value) + "': " + *err;
  }
  c.wait_for.push_back(std::move(w));
  return {};
}

Error parse_wait_timeout(std::string_view value, StartConfig& c) {
  return parse_timeout_option(value, c.wait_timeout_ms, "a duration above zero (e.g. 30s, 2m)");
}

// --setup, --teardown: a program or a directory of them.
Error parse_program_path(std::string_view value, std::vector<std::string>& out) {
  if (value.empty()) return "'' is not a path";
  out.emplace_back(value);
  return {};
}

Error parse_setup(std::string_view value, StartConfig& c) { return parse_program_path(value, c.setup); }

// Whether a --teardown names a URL to POST to rather than a program.
bool is_http_url(std::string_view v) { return has_scheme(v, {"http", "https"}); }

// --teardown PATH|URL: an http:// or https:// URL is checked now (exit 2
// when malformed) and POSTed to after the command.
Error parse_teardown(std::string_view value, StartConfig& c) {
  if (is_http_url(value)) {
    HookUrl h;
    if (auto err = parse_hook_url(value, h)) return "'" + std::string(value) + "': " + *err;
    c.teardown.emplace_back(value);
    return {};
  }
  return parse_program_path(value, c.teardown);
}

// --rlimit NAME=SOFT[:HARD], as docker run --ulimit and prlimit spell
// them: a number or `unlimited`; HARD defaults to SOFT.
struct LimitName {
  std::string_view name;
  decltype(RLIMIT_NOFILE) resource;
};
constexpr std::array<LimitName, 14> kLimitNames{{{"nofile", RLIMIT_NOFILE}, {"nproc", RLIMIT_NPROC}, {"core", RLIMIT_CORE},
                                                 {"memlock", RLIMIT_MEMLOCK}, {"stack", RLIMIT_STACK}, {"as", RLIMIT_AS},
                                                 {"fsize", RLIMIT_FSIZE}, {"cpu", RLIMIT_CPU}, {"data", RLIMIT_DATA},
                                                 {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
                                                 {"rtprio", RLIMIT_RTPRIO}, {"sigpending", RLIMIT_SIGPENDING},
                                                 {"locks", RLIMIT_LOCKS}}};

// "nofile=1024:4096", for a message.
std::string limit_text(const Limit& l) {
  std::string name = "?";
  for (const auto& n : kLimitNames)
    if (n.resource == l.resource) name = std::string(n.name);
  auto value = [](rlim_t v) { return v == RLIM_INFINITY ? std::string("unlimited") : std::to_string(v); };
  return name + "=" + value(l.value.rlim_cur) + ":" + value(l.value.rlim_max);
}

Error parse_rlimit(std::string_view spec, StartConfig& c) {
  const size_t eq = spec.find('=');
  const std::string_view name = spec.substr(0, eq);
  const LimitName* found = nullptr;
  for (const auto& n : kLimitNames)
    if (iequals(n.name, name)) found = &n;
  if (eq == std::string_view::npos || found == nullptr)
    return "'" + std::string(spec) + "' is not NAME=SOFT[:HARD] with NAME one of nofile, nproc, core, memlock, stack, as, fsize, cpu, data, msgqueue, nice, rtprio, sigpending, locks";
  auto number = [](std::string_view v) -> std::optional<rlim_t> {
    if (iequals(v, "unlimited")) return RLIM_INFINITY;
    auto n = parse_uint(v);
    if (!n) return std::nullopt;
    return rlim_t(*n);
  };
  const std::string_view values = spec.substr(eq + 1);
  const size_t colon = values.find(':');
  const auto soft = number(values.substr(0, colon));
  const auto hard = colon == std::string_view::npos ? soft : number(values.substr(colon + 1));
  if (!soft || !hard) return "'" + std::string(spec) + "': SOFT and HARD are numbers or unlimited (e.g. nofile=1024:4096)";
  if (*soft != RLIM_INFINITY && (*hard == RLIM_INFINITY ? false : *soft > *hard))
    return "'" + std::string(spec) + "': SOFT is above HARD";
  std::erase_if(c.limits, [&](const Limit& l) { return l.resource == found->resource; });  // a later one wins
  c.limits.push_back({found->resource, {*soft, *hard}});
  return {};
}

// --chown PATH: not the whole file system.
Error parse_chown(std::string_view value, StartConfig& c) {
  if (value.empty()) return std::string("'' is not a path");
  if (value.find_first_not_of('/') == std::string_view::npos) return "'" + std::string(value) + "': not the whole file system";
  c.chown.emplace_back(value);
  return {};
}

// --file-env NAME[,NAME...]: variable names only.
Error parse_file_env(std::string_view value, StartConfig& c) {
  if (value.empty()) return std::string("'' is not a variable name (e.g. DB_PASSWORD, for DB_PASSWORD_FILE)");
  return each_item(value, ",", [&](std::string_view name) -> Error {
    bool ok = !name.empty();
    for (size_t i = 0; ok && i < name.size(); ++i) ok = env_name_char(name[i], i == 0);
    if (!ok) return "'" + std::string(name) + "' is not a variable name (e.g. DB_PASSWORD, for DB_PASSWORD_FILE)";
    c.file_env.emplace_back(name);
    return {};
  });
}

Error parse_env_file_path(std::string_view value, StartConfig& c) {
  if (value.empty() || value.back() == '/') return "'" + std::string(value) + "' is not a file name";
  c.env_files.emplace_back(value);
  return {};
}

Error parse_user(std::string_view value, StartConfig& c) {
  const size_t colon = value.find(':');
  if (colon == 0 || value.empty() || colon + 1 == value.size())
    return "'" + std::string(value) + "' is not USER[:GROUP]";
  c.user = std::string(value);
  return {};
}

// ---- reading what the options name ----

constexpr size_t kMaxInputFile = 1 << 20;  // an env file, a secret, a template

// The whole of a regular file of at most kMaxInputFile bytes; never
// waits on a FIFO or a device. dock reads as root what the command (or a
// template's reader) then gets, so a symlink is followed only in a
// directory only dock's user can write, as for the --io file: nobody else
// can point it at /etc/shadow (Kubernetes' secret symlinks live in such
// a directory).
Error read_small_file(const std::string& path, std::string& out, mode_t* mode = nullptr) {
  constexpr int kFlags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  Fd fd(retry([&] { return ::open(path.c_str(), kFlags | O_NOFOLLOW); }));
  if (!fd && errno == ELOOP) {
    if (!only_we_write(dir_of(path))) return "a symlink in a directory others can write: not followed";
    fd = Fd(retry([&] { return ::open(path.c_str(), kFlags); }));
  }
  struct stat sb;
  if (!fd || ::fstat(fd.get(), &sb) != 0) return std::strerror(errno);
  if (!S_ISREG(sb.st_mode)) return "not a regular file";
  if (size_t(sb.st_size) > kMaxInputFile) return "larger than 1 MiB";
  if (mode != nullptr) *mode = sb.st_mode;
  out.assign(size_t(sb.st_size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    const ssize_t n = retry([&] { return ::read(fd.get(), out.data() + got, out.size() - got); });
    if (n < 0) return std::strerror(errno);
    if (n == 0) break;
    got += size_t(n);
  }
  out.resize(got);
  return {};
}

// ---- the command's environment ----

// NAME=VALUE strings, in order; what the command, setup programs and
// templates see. Names are found through an index, so that an env file
// of 80,000 lines or a template of 100,000 references is linear work
// (SPEC §15), not a scan of the whole environment for each.
struct Environment {
  std::vector<std::string> vars;

  static std::string_view name_of(std::string_view v) { return v.substr(0, v.find('=')); }
  // Whether the entry `v` ("NAME=VALUE") is the variable `name`.
  static bool is(std::string_view v, std::string_view name) {
    return v.size() > name.size() && v.substr(0, name.size()) == name && v[name.size()] == '=';
  }
  void add(std::string entry) {
    size_t& slot = slots_[probe(name_of(entry))];
    const bool first = slot == 0;
    if (first) slot = vars.size() + 1;
    vars.push_back(std::move(entry));
    if (first && ++used_ * 2 > slots_.size()) reindex(slots_.size() * 2);
  }
  [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const {
    const size_t at = slots_[probe(name)];
    if (at == 0) return std::nullopt;
    return std::string_view(vars[at - 1]).substr(name.size() + 1);
  }
  void set(std::string_view name, std::string_view value) {
    std::string entry = std::string(name) + "=" + std::string(value);
    if (const size_t at = slots_[probe(name)]) vars[at - 1] = std::move(entry);
    else add(std::move(entry));
  }
  void unset(std::string_view name) {
    if (slots_[probe(name)] == 0) return;
    std::erase_if(vars, [&](const std::string& v) { return is(v, name); });
    reindex(slots_.size());
  }

 private:
  // The index: open addressing over a power-of-two table at most half
  // full, each slot 0 (free) or 1 + the position of a name's first entry.
  // (Not std::unordered_map, whose hashing lives in libstdc++'s library,
  // which the musl build does not link.)
  std::vector<size_t> slots_ = std::vector<size_t>(64);
  size_t used_ = 0;

  static size_t hash(std::string_view name) {  // FNV-1a
    uint64_t h = 14695981039346656037u;
    for (const unsigned char c : name) h = (h ^ c) * 1099511628211u;
    return size_t(h);
  }
  // Where `name` is in the index, or the free slot where it would go.
  [[nodiscard]] size_t probe(std::string_view name) const {
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash(name) & mask;; i = (i + 1) & mask) {
      if (slots_[i] == 0 || name_of(vars[slots_[i] - 1]) == name) return i;
    }
  }
  void reindex(size_t size) {
    slots_.assign(size, 0);
    used_ = 0;
    for (size_t i = 0; i < vars.size(); ++i) {
      size_t& slot = slots_[probe(name_of(vars[i]))];
      if (slot == 0) slot = i + 1, ++used_;
    }
  }

 public:
  // Null-terminated pointers into `vars`, for execve; valid while `vars` is unchanged.
  [[nodiscard]] std::vector<char*> pointers() {
    std::vector<char*> out;
    for (auto& v : vars) out.push_back(v.data());
    out.push_back(nullptr);
    return out;
  }
};

// --env-file: each file's pairs, later files winning over earlier ones and
// over the inherited environment. Errors: "FILE: line N: why".
Error apply_env_files(std::span<const std::string> files, Environment& env) {
  for (const auto& file : files) {
    std::string text;
    EnvPairs pairs;
    if (auto err = read_small_file(file, text)) return file + ": " + *err;
    if (auto err = parse_env_file(text, pairs)) return file + ": " + *err;
    for (const auto& [name, value] : pairs) env.set(name, value);
  }
  return {};
}

// --file-env NAME: NAME_FILE=PATH becomes NAME=(the file's content, one
// trailing newline removed), for the names given only, as the official
// images' file_env does: SSL_CERT_FILE or AWS_WEB_IDENTITY_TOKEN_FILE,
// meant for other tools, are left alone. Neither set: nothing happens.
// The values are never printed.
Error apply_file_env(std::span<const std::string> names, Environment& env) {
  for (const auto& name : names) {
    const auto file = env.get(name + "_FILE");
    if (!file) continue;
    const std::string path(*file);
    if (env.get(name)) return name + " and " + name + "_FILE are both set";
    std::string value;
    if (auto err = read_small_file(path, value)) return name + "_FILE=" + path + ": " + *err;
    if (value.find('\0') != std::string::npos) return name + "_FILE=" + path + ": holds a NUL byte";
    if (!value.empty() && value.back() == '\n') value.pop_back();
    env.unset(name + "_FILE");
    env.set(name, value);
    debug("--file-env: %s set from %s", name.c_str(), path.c_str());
  }
  return {};
}

// ---- --chown ----
//
// The PUID/PGID chore (the linuxserver.io images' chown -R of /config):
// PATH and everything under it become --user's. Never through a symlink:
// a link is neither followed nor changed, and a mount under PATH is not
// entered, so a volume holding a link to /etc/shadow gives the user
// nothing. Everything goes through *at calls on descriptors, so a
// directory swapped for a link meanwhile is not followed either.

constexpr int kChownDepth = 256;  // deeper trees are refused, not walked

// Everything in the directory `dir` (already the user's), depth first.
Error chown_below(int dir, dev_t dev, const Identity& id, const std::string& shown, int depth) {
  if (depth > kChownDepth) return shown + ": deeper than " + std::to_string(kChownDepth) + " directories";
  Fd listing(::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  DIR* d = listing ? ::fdopendir(listing.get()) : nullptr;
  if (d == nullptr) return shown + ": " + std::strerror(errno);
  static_cast<void>(listing.release());  // closedir closes it
  Error err;
  while (dirent* e = ::readdir(d)) {
    const std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat sb;
    if (::fstatat(::dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) continue;  // gone meanwhile
    if (S_ISLNK(sb.st_mode) || sb.st_dev != dev) continue;  // neither followed nor changed; no other mount
    if (::fchownat(::dirfd(d), e->d_name, id.uid, id.gid, AT_SYMLINK_NOFOLLOW) != 0) {
      err = shown + "/" + std::string(name) + ": " + std::strerror(errno);
      break;
    }
    if (!S_ISDIR(sb.st_mode)) continue;
    Fd sub(::openat(::dirfd(d), e->d_name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) continue;  // replaced by something else meanwhile: not followed
    if ((err = chown_below(sub.get(), dev, id, shown + "/" + std::string(name), depth + 1))) break;
  }
  ::closedir(d);
  return err;
}

// PATH made when missing (a directory, 0750; parents root's, 0755), then
// it and everything under it --user's.
Error chown_tree(const std::string& path, const Identity& id) {
  struct stat sb;
  if (::lstat(path.c_str(), &sb) == 0 && !S_ISDIR(sb.st_mode)) {
    if (S_ISLNK(sb.st_mode)) return path + ": a symlink: neither followed nor changed";
    Error err;
    const Fd dir = open_dir_safely(dir_of(path), err);
    if (!dir) return err;
    const std::string base = base_of(path);
    if (::fchownat(dir.get(), base.c_str(), id.uid, id.gid, AT_SYMLINK_NOFOLLOW) != 0) return path + ": " + std::strerror(errno);
    return {};
  }
  Error err;
  const Fd top = open_dir_safely(path, err, 0750);
  if (!top) return err;
  if (::fstat(top.get(), &sb) != 0 || ::fchownat(top.get(), "", id.uid, id.gid, AT_EMPTY_PATH) != 0)
    return path + ": " + std::strerror(errno);
  return chown_below(top.get(), sb.st_dev, id, path, 0);
}

// ---- writing the templates ----

// Writes `text` to DST through a new file in DST's directory renamed over
// it: a symlink at DST is replaced, never followed, and the directory is
// reached without following a symlink others could have planted. Mode:
// `mode`; owner: `owner` when given.
Error write_by_rename(const std::string& dst, std::string_view text, mode_t mode, const Identity* owner) {
  Error err;
  const Fd dir = open_dir_safely(dir_of(dst), err);
  if (!dir) return err;
  const std::string base = base_of(dst);
  const std::string tmp = temporary_name(base + ".dock");
  Fd fd(retry([&] { return ::openat(dir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600); }));
  if (!fd) return std::strerror(errno);  // named as DST by the caller, not by the temporary name
  if (!write_all(fd.get(), text) || ::fchmod(fd.get(), mode) != 0 ||
      (owner != nullptr && ::fchown(fd.get(), owner->uid, owner->gid) != 0) || ::fsync(fd.get()) != 0 ||
      ::renameat(dir.get(), tmp.c_str(), dir.get(), base.c_str()) != 0)
    err = std::strerror(errno);
  if (err) ::unlinkat(dir.get(), tmp.c_str(), 0);
  return err;
}

// A rendered file's mode: SRC's permission bits for its owner and group
// only. Never setuid, setgid or sticky (the source may be the service's
// own file, and the output is root's), and nothing for others (it may
// hold a secret).
constexpr mode_t rendered_mode(mode_t src) { return src & 0770; }

// One file: SRC rendered from `env` into DST.
Error render_file(const std::string& src_path, const std::string& dst, const Environment& env, const Identity* owner) {
  std::string src, out;
  mode_t mode = 0;
  if (auto err = read_small_file(src_path, src, &mode)) return src_path + ": " + *err;
  if (auto err = render_template(src, [&](std::string_view name) { return env.get(name); }, out))
    return src_path + ": " + *err;
  if (auto err = write_by_rename(dst, out, rendered_mode(mode), owner)) return dst + ": " + *err;
  debug("--template: %s written from %s", dst.c_str(), src_path.c_str());
  return {};
}

// SRC a directory (the nginx image's templates): every regular file
// directly in it, into the directory DST (made when missing) under the
// same name less a trailing ".template", in byte order of the names.
// Subdirectories, symlinks and anything else are left alone.
Error render_directory(const TemplateSpec& t, const Environment& env, const Identity* owner) {
  std::vector<std::string> names;
  DIR* d = ::opendir(t.src.c_str());
  if (d == nullptr) return t.src + ": " + std::strerror(errno);
  struct stat sb;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.' && ::fstatat(::dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode))
      names.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());
  if (::mkdir(t.dst.c_str(), 0755) != 0 && errno != EEXIST) return t.dst + ": " + std::strerror(errno);
  if (::stat(t.dst.c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode)) return t.dst + ": not a directory (SRC is one)";
  constexpr std::string_view kSuffix = ".template";
  for (const auto& name : names) {
    std::string out = name;
    if (out.size() > kSuffix.size() && out.ends_with(kSuffix)) out.resize(out.size() - kSuffix.size());
    if (auto err = render_file(t.src + "/" + name, t.dst + "/" + out, env, owner)) return err;
  }
  return {};
}

// Every --template, rendered from `env`.
Error render_templates(std::span<const TemplateSpec> specs, const Environment& env, const Identity* owner) {
  for (const auto& t : specs) {
    struct stat sb;
    const bool directory = ::stat(t.src.c_str(), &sb) == 0 && S_ISDIR(sb.st_mode);
    if (auto err = directory ? render_directory(t, env, owner) : render_file(t.src, t.dst, env, owner)) return err;
  }
  return {};
}

// ---- --wait-for ----
//
// Each target in turn until it answers: a file exists, or a socket
// accepts a connection (its name resolved again on every try, off the
// loop). Between tries dock sleeps on its timer, 100 ms doubling to 2 s;
// each address gets at most 2 s to connect, so a black-holed first one
// leaves time for the next; a lookup or connection in flight is given up
// at --wait-timeout, which is for all targets together.

constexpr int64_t kWaitFirstMs = 100, kWaitMaxMs = 2000;
constexpr int64_t kWaitConnectMs = 2000;  // per address

struct Waiter {
  Loop* loop = nullptr;
  Exchange x;                      // http://, https://: the GET in flight
  size_t prepared = SIZE_MAX;      // the target x.tls was prepared for
  const StartConfig* cfg = nullptr;
  size_t current = 0;              // the target being waited for
  int64_t give_up_at = 0;
  int64_t pause = kWaitFirstMs;    // before the next try
  Dial dial;                       // the current target's addresses, this try
  Lookup lookup;                   // its name, being resolved
  Fd fd;                           // a connection in flight
  Slot slot = 0;
  uint32_t armed = 0;
  TimerId timer = 0;               // the next try, or the end of the wait
  std::string why;                 // why the last try failed
  bool done = false, failed = false;
  bool once = false;               // dock --check URL: one try, no second
  Callback<> on_end;               // done, or failed
};

void wait_try(Waiter& w, Loop& loop);

// Every target answered (`ok`), or the wait is over.
void wait_over(Waiter& w, Loop& loop, bool ok) {
  (ok ? w.done : w.failed) = true;
  clear_deadline(loop, w.timer);
  w.on_end();
}

// The try failed: again after the pause, unless the wait is over.
void wait_later(Waiter& w, Loop& loop) {
  w.fd.reset();
  w.armed = 0;
  const int64_t now = monotonic_ms();
  if (now >= w.give_up_at || w.once) return wait_over(w, loop, false);
  debug("--wait-for %s: %s; again in %lld ms", w.cfg->wait_for[w.current].shown().c_str(), w.why.c_str(),
        (long long)w.pause);
  set_deadline_at(loop, w.timer, std::min(now + w.pause, w.give_up_at));
  w.pause = std::min(w.pause * 2, kWaitMaxMs);
}

// The current target answered: on to the next one.
void wait_next(Waiter& w, Loop& loop) {
  if (w.fd) arm(loop, w.fd.get(), w.slot, w.armed, 0);
  w.fd.reset();
  debug("--wait-for %s: there", w.cfg->wait_for[w.current].shown().c_str());
  w.pause = kWaitFirstMs;
  if (++w.current == w.cfg->wait_for.size()) return wait_over(w, loop, true);
  wait_try(w, loop);
}

// Starts connecting to the next address of this try.
void wait_connect(Waiter& w, Loop& loop) {
  while ((w.fd = dial_next(w.dial))) {
    w.armed = 0;
    if (arm(loop, w.fd.get(), w.slot, w.armed, EPOLLOUT)) {
      set_deadline_at(loop, w.timer, std::min(monotonic_ms() + kWaitConnectMs, w.give_up_at));
      return;
    }
    dial_skip(w.dial, "epoll");
  }
  w.why = w.dial.why;
  wait_later(w, loop);
}

// A GET to an http:// or https:// target, within 5 s (and the wait).
void wait_ask(Waiter& w, Loop& loop, const HookUrl& url) {
  Exchange& x = w.x;
  if (w.prepared != w.current) {
    x.tls = Tls();
    exchange_peer(x, url);
    if (auto err = url.https ? x.tls.prepare(x.peer) : Error()) {
      w.why = *err;
      return wait_later(w, loop);
    }
    w.prepared = w.current;
  }
  x.dial.addresses.clear();  // resolved again on every try
  x.request = http_request("GET", url, "", "");
  set_deadline_at(loop, w.timer, std::min(monotonic_ms() + kHookAttemptMs, w.give_up_at));
  exchange_start(x, loop);
}

// The GET ended: 2xx is an answer; anything else is tried again.
void on_wait_answer(Waiter& w, Loop& loop, int status, const std::string& why, bool) {
  if (status >= 200 && status < 300) return wait_next(w, loop);
  w.why = status != 0 ? "HTTP status " + std::to_string(status) : why;
  wait_later(w, loop);
}

void wait_try(Waiter& w, Loop& loop) {
  const WaitTarget& target = w.cfg->wait_for[w.current];
  if (target.http) return wait_ask(w, loop, *target.http);
  const IoTarget& t = target.io;
  struct stat sb;
  if (t.scheme == Scheme::File) {
    if (::stat(t.path.c_str(), &sb) == 0) return wait_next(w, loop);
    w.why = std::strerror(errno);
    return wait_later(w, loop);
  }
  w.dial.addresses.clear();
  dial_start(w.dial);
  Error err;
  if (t.scheme == Scheme::Unix) err = unix_address(t, w.dial.addresses);
  else if (!lookup_start(w.lookup, t.host, t.port, family_of(t), w.dial.addresses, err)) {
    w.armed = 0;
    if (arm(loop, w.lookup.answer.get(), w.slot, w.armed, EPOLLIN)) {
      set_deadline_at(loop, w.timer, w.give_up_at);  // a lookup ends with the wait at the latest
      return;
    }
    lookup_cancel(w.lookup);
    err = "epoll";
  }
  if (err) {
    w.why = *err;
    return wait_later(w, loop);
  }
  wait_connect(w, loop);
}

// The name of the current target is resolved (or not).
void on_wait_resolved(Waiter& w, Loop& loop) {
  arm(loop, w.lookup.answer.get(), w.slot, w.armed, 0);
  if (auto err = lookup_finish(w.lookup, w.dial.addresses)) {
    w.why = *err;
    return wait_later(w, loop);
  }
  wait_connect(w, loop);
}

// The lookup or the connection in flight settled.
void on_wait_ready(Waiter& w, Loop& loop) {
  if (w.lookup.answer) return on_wait_resolved(w, loop);
  if (dial_settled(w.dial, w.fd.get())) return wait_next(w, loop);
  arm(loop, w.fd.get(), w.slot, w.armed, 0);
  w.fd.reset();
  wait_connect(w, loop);
}

// The pause is over, a try took too long, or the whole wait is over.
void on_wait_deadline(Waiter& w, Loop& loop) {
  if (w.done || w.failed) return;
  if (w.lookup.answer) {  // the name server did not answer within the wait
    arm(loop, w.lookup.answer.get(), w.slot, w.armed, 0);
    lookup_cancel(w.lookup);
    w.why = w.lookup.host + ": no answer from the name server";
    return wait_later(w, loop);
  }
  if (w.fd && monotonic_ms() < w.give_up_at) {  // this address took its 2 s: the next one
    arm(loop, w.fd.get(), w.slot, w.armed, 0);
    w.fd.reset();
    dial_skip(w.dial, std::strerror(ETIMEDOUT));
    return wait_connect(w, loop);
  }
  if (w.fd || w.x.step != ExchangeStep::Idle) {  // a try in flight: it failed
    if (w.fd) arm(loop, w.fd.get(), w.slot, w.armed, 0);
    w.why = w.fd ? std::strerror(ETIMEDOUT) : w.x.step == ExchangeStep::Resolving ? w.x.lookup.host + ": no answer from the name server" : "no answer within 5 s";
    exchange_close(w.x, loop);
    return wait_later(w, loop);
  }
  if (monotonic_ms() >= w.give_up_at) return wait_over(w, loop, false);
  wait_try(w, loop);
}

// The first phase: every --wait-for target in turn, within --wait-timeout.
void start_wait(Waiter& w, Loop& loop) {
  if (w.cfg->wait_for.empty()) return wait_over(w, loop, true);
  w.give_up_at = monotonic_ms() + w.cfg->wait_timeout_ms;
  wait_try(w, loop);
}

// The waiter's handlers and deadline on `loop` (dock's, or dock --check's own).
void wire_waiter(Waiter& w, Loop& loop) {
  w.timer = add_timer(loop, handler<on_wait_deadline>(w));
  w.slot = add_handler(loop, handler<on_wait_ready>(w));
  w.x.slot = add_handler(loop, handler<exchange_progress>(w.x));
  w.x.on_end = callback<on_wait_answer, int, const std::string&, bool>(w);
}

// Whether dock --check was given a URL to probe rather than a ready file.
bool is_probe_url(std::string_view what) { return has_scheme(what, {"tcp", "tcp4", "tcp6", "unix", "http", "https"}); }

// dock --check URL: one try of what --wait-for would wait for, within
// `timeout_ms`, on a loop of its own. 0: it answered; 1: one line why.
int check_url(const std::string& url, int64_t timeout_ms) {
  StartConfig targets;
  if (auto err = parse_wait_for(url, targets)) {
    say("--check: %s", err->c_str());
    return code(Exit::Failure);
  }
  Loop loop;
  if (auto err = open_loop(loop)) {
    say("--check: %s", err->c_str());
    return code(Exit::Failure);
  }
  Waiter w;
  w.loop = w.x.loop = &loop;
  w.cfg = &targets;
  w.once = true;
  wire_waiter(w, loop);
  if (!watch(loop, loop.timer.get(), add_handler(loop, handler<on_timer>(loop)), EPOLLIN)) return code(Exit::Failure);
  w.give_up_at = monotonic_ms() + timeout_ms;
  wait_try(w, loop);
  while (!w.done && !w.failed) run_once(loop);
  if (w.done) return write_all(STDOUT_FILENO, "ready: " + w.cfg->wait_for[0].shown() + " answers\n") ? code(Exit::Ok) : code(Exit::Failure);
  say("not ready: %s: %s", w.cfg->wait_for[0].shown().c_str(),
      monotonic_ms() >= w.give_up_at && w.why.empty() ? ("no answer within " + duration_text(timeout_ms)).c_str() : w.why.c_str());
  return code(Exit::Failure);
}

// ---- --setup and --teardown programs ----

// PATH as the programs it names: itself, or the executable regular files
// of a directory, in the byte order of their names (as run-parts; nothing
// else in the directory runs).
Error expand_programs(const std::string& path, std::vector<std::string>& out) {
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0) return path + ": " + std::strerror(errno);
  if (!S_ISDIR(sb.st_mode)) {
    out.push_back(path);
    return {};
  }
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return path + ": " + std::strerror(errno);
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d))
    if (e->d_name[0] != '.' && ::fstatat(::dirfd(d), e->d_name, &sb, 0) == 0 && S_ISREG(sb.st_mode) &&
        ::faccessat(::dirfd(d), e->d_name, X_OK, 0) == 0)
      names.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(names.begin(), names.end());  // std::string compares bytes
  for (const auto& n : names) out.push_back(path + (path.back() == '/' ? "" : "/") + n);
  return {};
}

// "exited with 3", "killed by SIGTERM".
std::string describe_status(int status) {
  if (WIFSIGNALED(status)) return std::string("killed by SIG") + signal_name(WTERMSIG(status)).c_str();
  return "exited with " + std::to_string(exit_code_of(status));
}

// Starts `path` as a setup or teardown program: a child in a group of its
// own, with dock's stdio and the environment `env`, reaped like any other.
// false: it could not be started; init.program_status says how it ended.
bool start_program(Init& init, const std::string& path, char* const* env) {
  char* argv[] = {const_cast<char*>(path.c_str()), nullptr};
  const ChildStdio own;
  const Credentials same;
  // It gets the terminal's foreground as the command would: it may read
  // the terminal, and Ctrl-C and Ctrl-Z reach it.
  const Spawned s = spawn({argv, env, init.original_mask, own, init.tty.get(), init.pid1, -1, -1, init.cwd.get(), same,
                           init.sigchld_ignored});
  if (s.pid < 0 || s.exec_errno != 0) {
    say("%s: %s", path.c_str(), std::strerror(s.exec_errno));
    if (s.pid > 0) retry([&] { return ::waitpid(s.pid, nullptr, 0); });
    init.program_status = W_EXITCODE(code(s.pid < 0 ? Exit::Failure : exec_failure_code(s.exec_errno)), 0);
    return false;
  }
  init.program = s.pid;
  debug("%s: started as %d", path.c_str(), s.pid);
  return true;
}

// --setup: the programs one after another (SPEC §10), each run as the
// command would be (the terminal's foreground, dock's signals forwarded to
// its group), then what it left behind ended (the sweep). A failure ends
// dock with that program's status; a stop request, once the program that
// got it ended.
struct Setup {
  Init* init = nullptr;
  const std::vector<std::string>* programs = nullptr;
  char* const* envp = nullptr;
  size_t next = 0;
};

// The next program, or the end of setup.
void setup_next(Setup& s) {
  Init& init = *s.init;
  if (s.next == s.programs->size()) return post(init, Event::SetupDone);
  if (!start_program(init, (*s.programs)[s.next++], s.envp)) start_sweep(init, *init.loop);  // its status says why
}

// The program ended: what it left is ended before anything else starts.
void setup_program_ended(Setup& s) { start_sweep(*s.init, *s.init->loop); }

// Nothing the program left is left: on to the next, unless it failed or
// a stop came meanwhile.
void setup_swept(Setup& s) {
  Init& init = *s.init;
  if (init.stop_in_setup != 0) {
    debug("SIG%s during --setup: stopping", signal_name(init.stop_in_setup).c_str());
    init.status = init.stop_in_setup;  // a wait status: killed by it
    return post(init, Event::Interrupted);
  }
  if (init.program_status != 0) {
    say("--setup %s: %s", (*s.programs)[s.next - 1].c_str(), describe_status(init.program_status).c_str());
    init.status = init.program_status;
    return post(init, Event::SetupFailed);
  }
  setup_next(s);
}

// --teardown: once everything is reaped (or the command never started),
// each program in turn, with dock's exit status in DOCK_EXIT_STATUS, each
// bounded by --kill-timeout and followed by the sweep; a failure is
// reported and the next one runs. An http:// or https:// URL is a POST
// with an empty body (Istio's or the Cloud SQL proxy's /quitquitquit when
// a Job is done), bounded the same way.
struct Teardown {
  Loop* loop = nullptr;
  Init* init = nullptr;
  const std::vector<std::string>* programs = nullptr;
  Environment env;  // the programs', with DOCK_EXIT_STATUS
  std::vector<char*> envp;
  size_t next = 0;
  HookUrl url;      // a URL: the POST in flight
  Exchange x;
  TimerId timer = 0;  // the program's or the POST's --kill-timeout
};

// false: the POST could not even start (reported).
bool teardown_post(Teardown& t, const std::string& url) {
  if (auto err = parse_hook_url(url, t.url)) {  // checked at start: cannot fail here
    say("--teardown %s: %s", url.c_str(), err->c_str());
    return false;
  }
  Exchange& x = t.x;
  x.tls = Tls();
  x.dial.addresses.clear();
  exchange_peer(x, t.url);
  if (auto err = t.url.https ? x.tls.prepare(x.peer) : Error()) {
    say("--teardown %s: %s", t.url.shown.c_str(), err->c_str());
    return false;
  }
  x.request = http_request("POST", t.url, "", "");
  set_deadline(*t.loop, t.timer, t.init->cfg.kill_timeout_ms);
  exchange_start(x, *t.loop);
  return true;
}

// The next program or POST, or the end of the teardown.
void teardown_next(Teardown& t) {
  Init& init = *t.init;
  while (t.next < t.programs->size()) {
    const std::string& path = (*t.programs)[t.next++];
    if (is_http_url(path)) {
      if (teardown_post(t, path)) return;
      continue;
    }
    if (start_program(init, path, t.envp.data())) {
      set_deadline(*t.loop, t.timer, init.cfg.kill_timeout_ms);
      return;
    }
    say("--teardown %s: %s", path.c_str(), describe_status(init.program_status).c_str());
  }
  post(init, Event::TeardownDone);
}

void start_teardown(Teardown& t, const Environment& program_env, int exit_status) {
  t.env = program_env;
  t.env.set("DOCK_EXIT_STATUS", std::to_string(exit_status));
  t.envp = t.env.pointers();
  t.next = 0;
  teardown_next(t);
}

// The POST's answer: 2xx is success; anything else is reported. Then the next.
void on_teardown_answer(Teardown& t, Loop& loop, int status, const std::string& why, bool) {
  clear_deadline(loop, t.timer);
  if (status >= 200 && status < 300) debug("--teardown %s: HTTP %d", t.url.shown.c_str(), status);
  else say("--teardown %s: %s", t.url.shown.c_str(), status != 0 ? ("HTTP status " + std::to_string(status)).c_str() : why.c_str());
  teardown_next(t);
}

// The program or the POST took its whole --kill-timeout.
void on_teardown_deadline(Teardown& t, Loop& loop) {
  Init& init = *t.init;
  if (t.x.step != ExchangeStep::Idle) {
    exchange_close(t.x, loop);
    say("--teardown %s: no answer within %s", t.url.shown.c_str(), duration_text(init.cfg.kill_timeout_ms).c_str());
    return teardown_next(t);
  }
  if (init.program > 0) {
    say("--teardown: still running after %lld ms: SIGKILL", (long long)init.cfg.kill_timeout_ms);
    ::kill(-init.program, SIGKILL);
    ::kill(init.program, SIGKILL);
  }
}

// The program ended: what it left is ended before the next one.
void teardown_program_ended(Teardown& t) {
  Init& init = *t.init;
  clear_deadline(*t.loop, t.timer);
  if (init.program_status != 0)
    say("--teardown %s: %s", (*t.programs)[t.next - 1].c_str(), describe_status(init.program_status).c_str());
  start_sweep(init, *t.loop);
}

// ---- --user ----

// The identity --user names, from /etc/passwd and /etc/group (a missing
// file is an empty one: numbers need no entry). Not root and not already
// that user: an error.
Error find_identity(std::string_view spec, Identity& id) {
  std::string passwd, group;
  for (auto [path, text] : {std::pair{"/etc/passwd", &passwd}, std::pair{"/etc/group", &group}}) {
    struct stat sb;
    if (::lstat(path, &sb) != 0 && errno == ENOENT) continue;
    if (auto err = read_small_file(path, *text)) return std::string(path) + ": " + *err;
  }
  if (auto err = resolve_identity(spec, passwd, group, id)) return err;
  if (::geteuid() != 0 && (::geteuid() != id.uid || ::getegid() != id.gid))
    return "dock runs as uid " + std::to_string(::geteuid()) + ", not root: it cannot switch to uid " +
           std::to_string(id.uid) + " (run dock as root, or drop --user)";
  return {};
}

// ---- what steers root belongs to root ----
//
// With --user, dock reads env files and runs setup and teardown programs
// as root on the user's behalf. One the user could change would let the
// service make root read any file for it (NAME_FILE=/root-only.key) or run
// its code (BASH_ENV, LD_PRELOAD), so it is refused at start, as sshd's
// StrictModes refuses a writable authorized_keys (SPEC §15): the user owns
// it, may write it through its group or as anyone, or may replace it or a
// directory above it (write permission on a directory without the sticky
// bit; /tmp itself is fine).

// Why `id` could change what `sb` describes; nullptr: it cannot.
const char* changeable_by(const struct stat& sb, const Identity& id, bool directory) {
  if (sb.st_uid == id.uid) return "it owns";
  if (directory && (sb.st_mode & S_ISVTX)) return nullptr;  // only an entry's owner may replace it
  if (sb.st_mode & S_IWOTH) return "everyone may write";
  const bool member = std::find(id.groups.begin(), id.groups.end(), sb.st_gid) != id.groups.end() || sb.st_gid == id.gid;
  if ((sb.st_mode & S_IWGRP) && member) return "its group may write";
  return nullptr;
}

// `path`, and every directory above it, as given and as it resolves.
Error check_steers_root(const std::string& path, const Identity& id, const std::string& user) {
  if (id.uid == 0) return {};
  std::vector<std::string> paths{path};
  if (char* real = ::realpath(path.c_str(), nullptr)) {
    if (path != real) paths.emplace_back(real);
    std::free(real);
  }
  for (const auto& p : paths) {
    struct stat sb;
    if (::stat(p.c_str(), &sb) != 0) return {};  // reading it says why
    if (const char* why = changeable_by(sb, id, S_ISDIR(sb.st_mode)))
      return p + ": --user " + user + " could change it (" + why + " it), so root will not use it";
    for (std::string dir = dir_of(p);; dir = dir_of(dir)) {
      if (::stat(dir.c_str(), &sb) == 0)
        if (const char* why = changeable_by(sb, id, true))
          return p + ": --user " + user + " could replace it (" + why + " " + dir + "), so root will not use it";
      if (dir == "/" || dir == ".") break;
    }
  }
  return {};
}

// ==== 13. Cgroups: --cgroup-env, --oom-stop ====
//
// The limits the container runs under and what the kernel's OOM killer did
// (SPEC §17), from the cgroup dock is in, as its own mount namespace shows
// it: a v1 hierarchy where one has the controller (Docker on many hosts,
// and these test machines), else the v2 one. Only what can be read is
// said: a limit whose file cannot be read sets no variable.

struct CgroupConfig {
  bool cgroup_env = false;  // --cgroup-env
  bool oom_stop = false;    // --oom-stop
};

// The non-empty pieces of `text` between `sep`s.
std::vector<std::string_view> split_on(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  for (size_t at = 0; at < text.size();) {
    const size_t end = std::min(text.find(sep, at), text.size());
    if (end > at) out.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

// A one-value kernel file's value: up to the end of its first line.
std::string_view kernel_value(std::string_view text) { return text.substr(0, text.find('\n')); }

// One line of /proc/self/cgroup, "ID:CONTROLLERS:PATH" (v2: "0::PATH").
struct CgroupLine {
  std::string controllers;  // "cpu,cpuacct"; empty: the v2 hierarchy
  std::string path;
};

// A cgroup file system mounted in this namespace.
struct CgroupMount {
  bool v2 = false;
  std::string options;  // v1: the controllers among the super options ("rw,cpu,cpuacct")
  std::string root;     // the cgroup seen at the mount point
  std::string point;
};

std::vector<CgroupLine> parse_proc_cgroup(std::string_view text) {
  std::vector<CgroupLine> out;
  for_each_line(text, [&](std::string_view line) {
    const size_t a = line.find(':'), b = a == std::string_view::npos ? a : line.find(':', a + 1);
    if (b != std::string_view::npos) out.push_back({std::string(line.substr(a + 1, b - a - 1)), std::string(line.substr(b + 1))});
  });
  return out;
}

// A mountinfo path field: spaces and the like are octal escapes (\040).
std::string mountinfo_path(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && std::isdigit(static_cast<unsigned char>(field[i + 1]))) {
      out += char((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

// The cgroup mounts of /proc/self/mountinfo: "ID PARENT MAJ:MIN ROOT POINT
// OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER-OPTIONS".
std::vector<CgroupMount> parse_cgroup_mounts(std::string_view text) {
  std::vector<CgroupMount> out;
  for_each_line(text, [&](std::string_view line) {
    const std::vector<std::string_view> f = split_on(line, ' ');
    const auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 5 || dash == f.end() || f.end() - dash < 4) return;
    const std::string_view type = dash[1];
    if (type != "cgroup" && type != "cgroup2") return;
    out.push_back({type == "cgroup2", std::string(dash[3]), mountinfo_path(f[3]), mountinfo_path(f[4])});
  });
  return out;
}

// Whether the comma list `list` holds `item`.
bool in_list(std::string_view list, std::string_view item) {
  const auto items = split_on(list, ',');
  return std::find(items.begin(), items.end(), item) != items.end();
}

// The directory of `controller`'s files for this process; empty when no
// mount shows its cgroup. A v1 hierarchy that has it wins over v2.
std::string cgroup_dir(std::span<const CgroupLine> lines, std::span<const CgroupMount> mounts, std::string_view controller) {
  for (bool v2 : {false, true})
    for (const auto& l : lines) {
      if (v2 ? !l.controllers.empty() : !in_list(l.controllers, controller)) continue;
      for (const auto& m : mounts) {
        if (m.v2 != v2 || (!v2 && !in_list(m.options, controller))) continue;
        // The process's cgroup as a path below the mount's root.
        const std::string root = m.root == "/" ? "" : m.root;
        if (l.path.compare(0, root.size(), root) != 0 || (l.path.size() > root.size() && l.path[root.size()] != '/')) continue;
        const std::string below = l.path.substr(root.size());
        return m.point + (below == "/" ? "" : below);
      }
    }
  return {};
}

// A memory limit's file (v2 memory.max, v1 memory.limit_in_bytes): bytes,
// or nullopt for none ("max", or v1's page counter maximum).
std::optional<uint64_t> parse_memory_limit(std::string_view text) {
  auto n = parse_uint(kernel_value(text));
  if (!n || *n >= int64_t(1) << 62) return std::nullopt;
  return uint64_t(*n);
}

// CPUs from a quota and its period, rounded up (1.5 CPUs: 2); nullopt: no quota.
std::optional<long> cpus_of_quota(int64_t quota_us, int64_t period_us) {
  if (quota_us <= 0 || period_us <= 0) return std::nullopt;
  return long((quota_us + period_us - 1) / period_us);
}

// v2 cpu.max: "QUOTA PERIOD" or "max PERIOD".
std::optional<long> parse_cpu_max(std::string_view text) {
  const size_t blank = text.find(' ');
  if (blank == std::string_view::npos) return std::nullopt;
  auto quota = parse_uint(text.substr(0, blank));
  auto p = parse_uint(kernel_value(text.substr(blank + 1)));
  if (!quota || !p) return std::nullopt;
  return cpus_of_quota(int64_t(*quota), int64_t(*p));
}

// v1 cpu.cfs_quota_us (-1: none) and cpu.cfs_period_us.
std::optional<long> parse_cfs_quota(std::string_view quota, std::string_view period) {
  auto q = parse_uint(kernel_value(quota)), p = parse_uint(kernel_value(period));
  if (!q || !p) return std::nullopt;  // -1 is no number here: no quota
  return cpus_of_quota(int64_t(*q), int64_t(*p));
}

struct CgroupLimits {
  long cpus = 0;                     // 0: unknown
  std::optional<uint64_t> memory_max;
};

// The limits as this process's cgroups say them.
CgroupLimits read_cgroup_limits() {
  CgroupLimits out;
  std::string cgroup, mountinfo, a, b;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof set, &set) == 0) out.cpus = CPU_COUNT(&set);  // its cpuset
  if (!read_kernel_file("/proc/self/cgroup", cgroup) || !read_kernel_file("/proc/self/mountinfo", mountinfo)) return out;
  const auto lines = parse_proc_cgroup(cgroup);
  const auto mounts = parse_cgroup_mounts(mountinfo);
  std::optional<long> quota;
  if (const std::string dir = cgroup_dir(lines, mounts, "cpu"); !dir.empty()) {
    if (read_kernel_file(dir + "/cpu.max", a)) quota = parse_cpu_max(a);
    else if (read_kernel_file(dir + "/cpu.cfs_quota_us", a) && read_kernel_file(dir + "/cpu.cfs_period_us", b))
      quota = parse_cfs_quota(a, b);
  }
  if (quota && (out.cpus == 0 || *quota < out.cpus)) out.cpus = *quota;
  if (const std::string dir = cgroup_dir(lines, mounts, "memory"); !dir.empty()) {
    if (read_kernel_file(dir + "/memory.max", a) || read_kernel_file(dir + "/memory.limit_in_bytes", a))
      out.memory_max = parse_memory_limit(a);
  }
  return out;
}

// ---- the OOM killer ----
//
// The kernel counts the processes its OOM killer killed in a cgroup (v2
// memory.events, v1 memory.oom_control: "oom_kill N"). dock reads the
// count as the first process starts, and again only when it reaps a
// process that SIGKILL ended -- what the OOM killer sends -- and when the
// command ends: no polling. A count that rose at a reap names that process; its
// name is read before it is reaped (Init::peek_kills).

// "oom_kill N" of memory.events or memory.oom_control; nullopt: none.
std::optional<uint64_t> parse_oom_kills(std::string_view text) {
  std::optional<uint64_t> out;
  for_each_line(text, [&](std::string_view line) {
    if (line.substr(0, 9) != "oom_kill ") return;
    if (auto n = parse_uint(line.substr(9))) out = uint64_t(*n);
  });
  return out;
}


struct OomWatch {
  std::string counter;  // memory.events or memory.oom_control; empty: none to read
  std::string max_file, peak_file;
  uint64_t kills = 0;   // the count last read
  bool seen = false;    // a kill since dock started
  bool opened = false;  // the count was read once
};

// The memory cgroup's counter, read now; nothing when it cannot be read.
void open_oom_watch(OomWatch& w) {
  std::string cgroup, mountinfo, text;
  if (!read_kernel_file("/proc/self/cgroup", cgroup) || !read_kernel_file("/proc/self/mountinfo", mountinfo)) return;
  const std::string dir = cgroup_dir(parse_proc_cgroup(cgroup), parse_cgroup_mounts(mountinfo), "memory");
  if (dir.empty()) return debug("OOM kills: no memory cgroup to read (not reported)");
  for (auto [file, max, peak] : {std::array<const char*, 3>{"memory.events", "memory.max", "memory.peak"},
                                 std::array<const char*, 3>{"memory.oom_control", "memory.limit_in_bytes", "memory.max_usage_in_bytes"}}) {
    const std::string path = dir + "/" + file;
    auto n = read_kernel_file(path, text) ? parse_oom_kills(text) : std::nullopt;
    if (!n) continue;
    w = {path, dir + "/" + max, dir + "/" + peak, *n, false};
    return debug("OOM kills: %s says %llu so far", path.c_str(), (unsigned long long)*n);
  }
  debug("OOM kills: %s has no OOM kill count (not reported)", dir.c_str());
}

// The kills since the last look: 0 when none (or the file went away).
uint64_t new_oom_kills(OomWatch& w) {
  std::string text;
  auto n = !w.counter.empty() && read_kernel_file(w.counter, text) ? parse_oom_kills(text) : std::nullopt;
  if (!n || *n <= w.kills) return 0;
  const uint64_t more = *n - w.kills;
  w.kills = *n;
  w.seen = true;
  return more;
}

// " (memory.max 256M, peak 255M)", as far as the files can be read.
std::string oom_limits_text(const OomWatch& w) {
  std::string text, max, peak;
  if (read_kernel_file(w.max_file, text)) {
    auto limit = parse_memory_limit(text);
    max = limit ? "memory.max " + memory_text(*limit) : std::string("no memory.max");
  }
  if (read_kernel_file(w.peak_file, text))
    if (auto n = parse_uint(kernel_value(text))) peak = "peak " + memory_text(uint64_t(*n));
  if (max.empty() && peak.empty()) return {};
  return " (" + max + (max.empty() || peak.empty() ? "" : ", ") + peak + ")";
}

// --cgroup-env: DOCK_CPUS and DOCK_MEMORY_MAX into `env` (unset when not known).
void set_cgroup_env(Environment& env) {
  const CgroupLimits limits = read_cgroup_limits();
  if (limits.cpus > 0) env.set("DOCK_CPUS", std::to_string(limits.cpus));
  else env.unset("DOCK_CPUS");
  if (limits.memory_max) env.set("DOCK_MEMORY_MAX", std::to_string(*limits.memory_max));
  else env.unset("DOCK_MEMORY_MAX");
  debug("--cgroup-env: DOCK_CPUS=%ld, DOCK_MEMORY_MAX=%s", limits.cpus,
        limits.memory_max ? std::to_string(*limits.memory_max).c_str() : "(no limit)");
}

// ==== 14. Wiring ====
//
// The option table, the State made of the features' structs, the plan of
// the child's descriptors, what each lifecycle event means to the
// features, and run().

// ---- options ----
//
// One row per option: its names, how it takes a value, its --help text and
// the function that puts its value where it lands in Config (a feature's
// parser). parse_args, --help and the DOCK_* variables all read the table.
// parse_args never exits and does no I/O, so every path is a unit test.
// Flags beat DOCK_* variables: a variable is read only for an option no
// flag set, and every DOCK_* variable dock knows is removed from the
// child's environment whether or not it was used.

struct Config : InitConfig, IoConfig, LinesConfig, RotationConfig, HookConfig, ReadyConfig, StartConfig, CgroupConfig {};

enum class Takes {
  Value,     // --name VALUE, --name=VALUE, DOCK_NAME=VALUE
  Flag,      // --name, DOCK_NAME=BOOL
  Optional,  // --name or --name=VALUE; DOCK_NAME=BOOL or VALUE
  Meta,      // --help, --version, --check: no variable, parsing ends there
};

struct OptionSpec {
  std::string_view name;  // the long name; the variable is DOCK_ + NAME
  char short_name;        // 0: none
  Takes takes;
  std::string_view arg;   // the value's name in --help
  std::string_view help;  // lines for --help
  Error (*apply)(Config&, std::string_view value);  // Value: the value; Flag: "1" or "0"; Optional: either
  Error (*apply_env)(Config&, std::string_view value) = nullptr;  // where a variable reads otherwise
};

// A row's setter for a flag: the Config field it sets.
template <auto F>
Error set_flag(Config& c, std::string_view value) {
  c.*F = value == "1";
  return {};
}

// A row's setter for a value: the feature's parser, P(value, its config).
template <auto P>
Error by(Config& c, std::string_view value) {
  return P(value, c);
}

// The DOCK_* variable of a repeatable option holds a list: every list
// variable is split the same way, at commas and blanks (spaces, tabs),
// empty items skipped (DOCK_EXIT_MAP='143:0, 130:0'). A value with a blank
// in it is given with the flag.
constexpr std::string_view kListSeparators = ", \t";

template <auto P>
Error each(Config& c, std::string_view list) {
  return each_item(list, kListSeparators, [&](std::string_view item) { return P(item, c); });
}

constexpr auto kOptions = std::to_array<OptionSpec>({
    {"io", 0, Takes::Value, "URL",
     "where the child's stdio goes: file:///abs/path,\n"
     "file://rel/path or a bare path (output appended),\n"
     "tcp://HOST:PORT, tcp4://, tcp6://[::1]:PORT,\n"
     "unix:///path, tls://HOST:PORT (ssl://) with\n"
     "?ca=FILE, ?cert=FILE&key=FILE, ?insecure=1\n"
     "(stdin, stdout and stderr)",
     by<parse_io>},
    {"tty", 0, Takes::Flag, "",
     "run the child on a pseudo-terminal bridged to\n"
     "the io target (or to dock's own stdio)",
     set_flag<&Config::tty>},
    {"stdout-prefix", 0, Takes::Value, "TEXT[:COLOR]",
     "put TEXT before every output line; COLOR is\n"
     "red, green, yellow, blue, magenta, cyan, white",
     by<parse_stdout_prefix>},
    {"stderr-prefix", 0, Takes::Value, "TEXT[:COLOR]", "a different prefix for stderr lines",
     by<parse_stderr_prefix>},
    {"timestamps", 0, Takes::Flag, "",
     "start every line with the time it was read\n"
     "(RFC 3339 UTC with milliseconds), before the prefix",
     set_flag<&Config::timestamps>},
    {"log-to", 0, Takes::Value, "URL",
     "also send every line to a log collector; never\n"
     "slows the command: tcp://HOST:PORT, tls://, unix://\n"
     "(lines), syslog+tcp://HOST[:PORT], syslog+tls://,\n"
     "syslog+udp:// (RFC 5424); repeatable, up to 4",
     by<parse_log_to>,
     each<parse_log_to>},
    {"log-buffer", 0, Takes::Value, "SIZE",
     "lines kept for each --log-to while it is slow\n"
     "or away, the oldest dropped first (default 1M)",
     by<parse_log_buffer>},
    {"log-tag", 0, Takes::Value, "NAME", "syslog APP-NAME (default: the command's base name)",
     by<parse_log_tag>},
    {"log-rotate", 0, Takes::Value, "DURATION",
     "with a file --io: archive the file this often\n"
     "(30m, 1d; a bare integer is hours)",
     by<parse_log_rotate>},
    {"log-max-size", 0, Takes::Value, "SIZE", "... and when it reaches SIZE (10m, 512k, 1g)",
     by<parse_log_max_size>},
    {"log-keep", 0, Takes::Value, "N", "archives kept, compressed with gzip (default 5)",
     by<parse_log_keep>},
    {"web-hook", 0, Takes::Value, "URL",
     "PUT each state change (starting, running,\n"
     "stopping, crashed) as JSON to an http:// or https:// URL",
     by<parse_web_hook>},
    {"bind-port", 0, Takes::Value, "PORT", "\"running\" only once the child listens on PORT",
     by<parse_bind_port>},
    {"health-port", 0, Takes::Value, "[ADDR:]PORT",
     "answer HTTP probes on PORT: GET /ready (200 while\n"
     "ready, else 503), GET /live (200 while the command\n"
     "runs and dock is not stopping)",
     by<parse_health_port>},
    {"check-timeout", 0, Takes::Value, "DURATION",
     "with dock --check URL: how long the probe may\n"
     "take (default 1s, Kubernetes' probe timeout)",
     by<parse_check_timeout>},
    {"ready-file", 0, Takes::Value, "PATH",
     "create PATH when ready, remove it when not\n"
     "(for HEALTHCHECK and exec probes: dock --check)",
     by<parse_ready_file>},
    {"notify", 0, Takes::Optional, "[=pass]",
     "ready once the command sends READY=1 to its\n"
     "NOTIFY_SOCKET (systemd's sd_notify); =pass: give it\n"
     "dock's own NOTIFY_SOCKET instead",
     by<parse_notify>},
    {"notify-access", 0, Takes::Value, "main|all",
     "whose READY=1 counts: the command's (main), or\n"
     "any descendant's (all)",
     by<parse_notify_access>},
    {"env-file", 0, Takes::Value, "FILE",
     "NAME=VALUE lines for the command's environment;\n"
     "repeatable, later files win (DOCK_ENV_FILE: FILE,FILE)",
     by<parse_env_file_path>,
     each<parse_env_file_path>},
    {"file-env", 0, Takes::Value, "NAME",
     "NAME becomes the content of the file NAME_FILE\n"
     "names (secrets); repeatable, or NAME,NAME",
     by<parse_file_env>, each<parse_file_env>},
    {"template", 0, Takes::Value, "SRC:DST",
     "write DST: SRC with {{NAME}}, {{NAME:-default}}\n"
     "filled from the environment (a directory: each\n"
     "file in it, .template dropped); repeatable",
     by<parse_template>,
     each<parse_template>},
    {"user", 0, Takes::Value, "USER[:GROUP]",
     "run the command as USER (a name in /etc/passwd,\n"
     "or a number); dock itself stays root",
     by<parse_user>},
    {"wait-for", 0, Takes::Value, "URL",
     "start only once URL answers: tcp://HOST:PORT,\n"
     "unix:///PATH, file:///PATH, http(s):// (2xx)",
     by<parse_wait_for>,
     each<parse_wait_for>},
    {"wait-timeout", 0, Takes::Value, "DURATION", "how long --wait-for waits in all (default 60s)",
     by<parse_wait_timeout>},
    {"setup", 0, Takes::Value, "PATH",
     "run PATH (or each program in the directory PATH)\n"
     "before the command; a failure ends dock; repeatable",
     by<parse_setup>,
     each<parse_setup>},
    {"teardown", 0, Takes::Value, "PATH|URL",
     "run PATH (or POST to an http(s) URL) after the\n"
     "command and its leftovers are gone, with\n"
     "DOCK_EXIT_STATUS; repeatable",
     by<parse_teardown>,
     each<parse_teardown>},
    {"chown", 0, Takes::Value, "PATH",
     "make PATH (created when missing) and everything\n"
     "under it --user's; no symlink followed; repeatable",
     by<parse_chown>,
     each<parse_chown>},
    {"rlimit", 0, Takes::Value, "NAME=SOFT[:HARD]",
     "a resource limit for the command (nofile, nproc,\n"
     "core, ...; as docker run --ulimit); repeatable",
     by<parse_rlimit>,
     each<parse_rlimit>},
    {"no-new-privs", 0, Takes::Flag, "",
     "the command and its children gain no privileges\n"
     "(setuid files, file capabilities)",
     set_flag<&Config::no_new_privs>},
    {"cgroup-env", 0, Takes::Flag, "",
     "give the command DOCK_CPUS and DOCK_MEMORY_MAX: the\n"
     "container's CPU and memory limits (cgroup v1 or v2)",
     set_flag<&Config::cgroup_env>},
    {"oom-stop", 0, Takes::Flag, "",
     "stop the command, as SIGTERM would, when the OOM\n"
     "killer kills any process of the container",
     set_flag<&Config::oom_stop>},
    {"stop-delay", 0, Takes::Value, "DURATION",
     "on SIGTERM, stop being ready at once but forward\n"
     "it only DURATION later (a second SIGTERM: now)",
     by<parse_stop_delay>},
    {"stop-timeout", 0, Takes::Value, "DURATION",
     "SIGKILL the command DURATION after a stop was\n"
     "forwarded (default: never; the orchestrator's\n"
     "grace period is the bound, as with tini)",
     by<parse_stop_timeout>},
    {"kill-timeout", 0, Takes::Value, "DURATION",
     "once the command ended, what is left gets SIGTERM,\n"
     "then SIGKILL after DURATION (default 5s)",
     by<parse_kill_timeout>},
    {"exit-map", 0, Takes::Value, "FROM:TO",
     "exit TO when the command's status is FROM;\n"
     "repeatable (e.g. 143:0: a SIGTERM stop is success)",
     by<add_exit_map>,
     each<add_exit_map>},
    {"rewrite", 0, Takes::Value, "FROM:TO",
     "deliver signal TO when FROM arrives; TO 0 drops\n"
     "it; repeatable (e.g. --rewrite TERM:QUIT)",
     by<add_rewrite>,
     each<add_rewrite>},
    {"single-child", 0, Takes::Flag, "", "signal only the child, not its process group",
     set_flag<&Config::single_child>},
    {"pdeath-signal", 0, Takes::Value, "SIG", "dock gets SIG when its parent dies (tini -p)",
     by<parse_pdeath_signal>},
    {"debug", 'd', Takes::Flag, "", "log lifecycle and decisions on stderr", set_flag<&Config::debug>},
    {"help", 'h', Takes::Meta, "", "show this help", nullptr},
    {"version", 'V', Takes::Meta, "", "show the version", nullptr},
    {"check", 0, Takes::Meta, "[PATH]",
     "health probe: exit 0 if the ready file PATH\n"
     "(default: $DOCK_READY_FILE) names a live process",
     nullptr},
});

constexpr std::string_view kUsageHead =
    "usage: dock [OPTIONS] [--] COMMAND [ARG...]\n"
    "       dock --check [PATH]\n"
    "\n"
    "Runs COMMAND as the one child of an init: forwards every signal to its\n"
    "process group, reaps every zombie, and when COMMAND exits terminates\n"
    "what is left (SIGTERM, then SIGKILL after the kill timeout) and exits\n"
    "with COMMAND's status (128+N when signal N killed it).\n"
    "\n"
    "options (each also as a DOCK_* variable, e.g. DOCK_KILL_TIMEOUT=10s):\n";
constexpr std::string_view kUsageTail =
    "\n"
    "exit status: COMMAND's; 128+N if signal N killed it; 1 setup failure;\n"
    "2 bad usage; 126 COMMAND not executable; 127 COMMAND not found.\n";

// --help, from the table.
std::string usage() {
  constexpr size_t kHelpColumn = 27;
  std::string out(kUsageHead);
  for (const auto& o : kOptions) {
    std::string left = "  ";
    if (o.short_name != 0) left += std::string("-") + o.short_name + ", ";
    left += "--" + std::string(o.name);
    if (!o.arg.empty()) left += (o.takes == Takes::Optional ? "" : " ") + std::string(o.arg);
    left.resize(std::max(left.size() + 2, kHelpColumn), ' ');
    std::string_view help = o.help;
    for (bool first = true; !help.empty(); first = false) {
      const size_t nl = help.find('\n');
      out += first ? left : std::string(kHelpColumn, ' ');
      out += help.substr(0, nl);
      out += '\n';
      help = nl == std::string_view::npos ? std::string_view{} : help.substr(nl + 1);
    }
  }
  out += kUsageTail;
  return out;
}

struct Parsed {
  enum class Action { Run, Help, Version, Check, Fail } action = Action::Fail;
  Config config;
  std::string error;       // "<what>: <why>" when action is Fail
  std::string check_path;  // --check's ready file, or the URL it probes
  bool checking = false;   // --check was given: a usage error is 1, not 2 (Docker reserves 2)
  std::vector<std::string> warnings;  // said once dock runs: DOCK_* variables no option has
  std::array<std::string, kOptions.size()> set_by{};  // "--io" or "DOCK_IO": how each option was given

  // How the user gave the option `name`, for a message about it.
  [[nodiscard]] std::string named(std::string_view name) const {
    for (size_t k = 0; k < kOptions.size(); ++k)
      if (kOptions[k].name == name) return set_by[k].empty() ? "--" + std::string(name) : set_by[k];
    return "--" + std::string(name);
  }
};

// Does `var` ("DOCK_KILL_TIMEOUT") name the option `name` ("kill-timeout")?
constexpr bool env_names(std::string_view var, std::string_view name) {
  constexpr std::string_view prefix = "DOCK_";
  if (var.size() != prefix.size() + name.size() || var.substr(0, prefix.size()) != prefix) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char want = name[i] == '-' ? '_' : ascii_upper(name[i]);
    if (var[prefix.size() + i] != want) return false;
  }
  return true;
}

// The parse in progress: what set each option ("--name" or "DOCK_NAME",
// for the messages that name it after parsing; empty: nothing did).
struct ArgParser {
  Parsed p;  // p.set_by: what set each option

  // Ends the parse with `what: why`, one line whatever the user typed.
  bool fail(const std::string& what, const std::string& why) {
    p.action = Parsed::Action::Fail;
    p.error = escape_controls(what + ": " + why);
    return true;
  }
  // A flag, long or short: help and version end parsing, anything else
  // is applied. true: parsing ends here (help, version, or an error).
  bool take(const OptionSpec& spec, std::string_view value, const std::string& what) {
    if (spec.takes == Takes::Meta) {
      p.action = spec.name == "help" ? Parsed::Action::Help : Parsed::Action::Version;
      return true;
    }
    if (auto err = spec.apply(p.config, spec.takes == Takes::Flag ? "1" : value)) return fail(what, *err);
    p.set_by[size_t(&spec - kOptions.data())] = what;
    return false;
  }
  const std::string& named(std::string_view name) const {
    for (size_t k = 0; k < kOptions.size(); ++k)
      if (kOptions[k].name == name) return p.set_by[k];
    return p.set_by[0];
  }
};

// Edits (insert, delete, replace, swap two neighbours) from `a` to `b`.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev2(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) cur[j] = std::min(cur[j], prev2[j - 2] + 1);
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// The option whose name (as `spell` writes it) is closest to `typed`, when
// close enough to be a typo; nullptr otherwise.
template <class Spell>
const OptionSpec* closest_option(std::string_view typed, Spell spell) {
  const OptionSpec* best = nullptr;
  size_t best_d = SIZE_MAX;
  for (const auto& o : kOptions) {
    const size_t d = edit_distance(typed, spell(o));
    if (d < best_d) best = &o, best_d = d;
  }
  return best != nullptr && best_d <= std::max<size_t>(2, typed.size() / 4) ? best : nullptr;
}

// "unknown option; did you mean --kill-timeout?"
std::string unknown_option(std::string_view name) {
  const OptionSpec* near = closest_option(name, [](const OptionSpec& o) { return o.name; });
  return near != nullptr ? "unknown option; did you mean --" + std::string(near->name) + "?" : "unknown option (see dock --help)";
}

// DOCK_KILL_TIMEOUT for kill-timeout.
std::string variable_of(std::string_view option) {
  std::string v = "DOCK_";
  for (char ch : option) v += ch == '-' ? '_' : ascii_upper(ch);
  return v;
}

const OptionSpec* long_option(std::string_view name) {
  for (const auto& o : kOptions)
    if (o.name == name) return &o;
  return nullptr;
}

bool take_long(ArgParser& ap, std::span<char* const> argv, size_t& i);

// --check [PATH|URL], --check=PATH|URL: only --check-timeout may follow.
// PATH may also come from DOCK_READY_FILE (read by check_args).
bool take_check(ArgParser& ap, std::span<char* const> argv, size_t i, std::string_view body, size_t eq) {
  ap.p.action = Parsed::Action::Check;
  size_t next = i + 1;
  auto is_option = [&](size_t k) { return std::string_view(argv[k]).substr(0, 2) == "--"; };
  if (eq != std::string_view::npos) ap.p.check_path = std::string(body.substr(eq + 1));
  else if (next < argv.size() && argv[next] != nullptr && !is_option(next)) ap.p.check_path = argv[next++];
  if (next < argv.size() && argv[next] != nullptr && std::string_view(argv[next]).starts_with("--check-timeout")) {
    if (take_long(ap, argv, next)) return true;
    ++next;
  }
  if (next < argv.size() && argv[next] != nullptr)
    return ap.fail("--check", "takes one PATH or URL, not a command (dock --check [PATH|URL] [--check-timeout D])");
  ap.p.action = Parsed::Action::Check;
  return true;
}

// "--name", "--name=value" or "--name value" at argv[i]; `i` moves past
// what it took. true: parsing ends here.
bool take_long(ArgParser& ap, std::span<char* const> argv, size_t& i) {
  const std::string_view body = std::string_view(argv[i]).substr(2);
  const size_t eq = body.find('=');
  const std::string_view name = body.substr(0, eq);
  const std::string what = "--" + std::string(name);
  const OptionSpec* spec = long_option(name);
  if (!spec) return ap.fail(what, unknown_option(name));
  const bool takes_value = spec->takes == Takes::Value;
  std::string_view value;
  if (spec->takes == Takes::Meta && spec->name == "check") return take_check(ap, argv, i, body, eq);
  if (eq != std::string_view::npos) {
    if (!takes_value && spec->takes != Takes::Optional) return ap.fail(what, "takes no value");
    value = body.substr(eq + 1);
  } else if (spec->takes == Takes::Optional) {
    value = "1";
  } else if (takes_value) {
    if (i + 1 >= argv.size() || argv[i + 1] == nullptr) return ap.fail(what, "needs a value");
    if (std::string_view(argv[i + 1]).substr(0, 2) == "--")
      return ap.fail(what, "needs a value, not the option " + std::string(argv[i + 1]) +
                               " (a value that starts with -- is written " + what + "=--...)");
    value = argv[++i];
  }
  return ap.take(*spec, value, what);
}

// -d, -h, -V, grouped as -dV. true: parsing ends here.
bool take_short(ArgParser& ap, std::string_view arg) {
  // -kill-timeout: a long option with one dash (a Go habit), not -k -i -l ...
  const std::string_view word = arg.substr(1, arg.find('=') - 1);
  if (word.size() > 1)
    if (const OptionSpec* spec = long_option(word))
      return ap.fail(std::string(arg.substr(0, arg.find('='))), "long options take two dashes: --" + std::string(spec->name));
  for (char ch : arg.substr(1)) {
    const OptionSpec* spec = nullptr;
    for (const auto& o : kOptions)
      if (o.short_name != 0 && o.short_name == ch) spec = &o;
    if (!spec) return ap.fail(std::string("-") + ch, "unknown option (see dock --help)");
    if (ap.take(*spec, {}, std::string("-") + ch)) return true;
  }
  return false;
}

// A DOCK_* variable that is no option's (DOCK_KILLTIMEOUT) is a typo more
// often than not: one warning naming the closest option's variable. dock
// still starts (an image's ENV must not brick a container) and the command
// gets the variable. dock's own outputs are not warned about.
void warn_unknown_variable(ArgParser& ap, std::string_view name) {
  if (name.substr(0, 5) != "DOCK_") return;
  for (std::string_view own : {"DOCK_EXIT_STATUS", "DOCK_CPUS", "DOCK_MEMORY_MAX"})
    if (name == own) return;
  const OptionSpec* near = closest_option(name, [](const OptionSpec& o) { return variable_of(o.name); });
  ap.p.warnings.push_back(std::string(name) + ": not a dock option" +
                          (near != nullptr ? "; did you mean " + variable_of(near->name) + "?" : "") +
                          " (left to the command)");
}

// The DOCK_* variables of the options no flag set; the rest of the
// environment is the child's. true: parsing ends here (an error).
bool take_env(ArgParser& ap, std::span<char* const> env) {
  Config& c = ap.p.config;
  for (char* entry : env) {
    if (entry == nullptr) break;
    const std::string_view var = entry;
    const size_t eq = var.find('=');
    const std::string_view name = var.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view{} : var.substr(eq + 1);
    const OptionSpec* spec = nullptr;
    for (const auto& o : kOptions)
      if (o.takes != Takes::Meta && env_names(name, o.name)) spec = &o;
    if (!spec) {  // not dock's: the child gets it
      c.child_env.push_back(entry);
      warn_unknown_variable(ap, name);
      continue;
    }
    // An empty variable is an unset one: Docker cannot unset an image's
    // ENV, so `-e DOCK_IO=` is how a user switches it off.
    std::string& by = ap.p.set_by[size_t(spec - kOptions.data())];
    if (!by.empty() || value.empty()) continue;
    Error err;
    if (spec->takes == Takes::Flag || spec->takes == Takes::Optional) {
      const auto b = parse_bool(value);
      err = b                                  ? spec->apply(c, *b ? "1" : "0")
            : spec->takes == Takes::Optional ? spec->apply(c, value)
                                             : Error("'" + std::string(value) + "' is not a boolean (1/0, true/false, yes/no, on/off)");
    } else {
      err = (spec->apply_env != nullptr ? spec->apply_env : spec->apply)(c, value);
    }
    if (err) return ap.fail(std::string(name), *err);
    by = std::string(name);
  }
  c.child_env.push_back(nullptr);
  return false;
}

// What options mean together. true: parsing ends here (an error).
bool check_together(ArgParser& ap) {
  const Config& c = ap.p.config;
  if (!c.chown.empty() && c.user.empty())
    return ap.fail(ap.named("chown"), "needs --user (whose the files become)");
  if (ap.named("check-timeout").starts_with("--"))  // DOCK_CHECK_TIMEOUT is the image's, for its probes
    return ap.fail("--check-timeout", "only with --check (dock --check URL --check-timeout 2s)");
  if ((c.rotating() || c.log_keep_set) && c.io.scheme != Scheme::File) {
    const std::string_view which = c.log_rotate_ms != 0 ? "log-rotate" : c.log_max_size != 0 ? "log-max-size" : "log-keep";
    const std::string& io = ap.named("io");
    const bool io_var = io.substr(0, 2) != "--" && !io.empty();  // the image's ENV, say
    return ap.fail(ap.named(which), "needs a file " + (io_var ? io : std::string("--io")) +
                                        " (rotation is for a log file)" + (io_var ? "; " + io + "=" + c.io.url : ""));
  }
  if (c.log_keep_set && !c.rotating()) return ap.fail(ap.named("log-keep"), "needs --log-rotate or --log-max-size");
  // Given with the flag, --log-buffer and --log-tag need a collector that
  // uses them; DOCK_LOG_BUFFER and DOCK_LOG_TAG may be an image's defaults
  // for a DOCK_LOG_TO the deployment may or may not give.
  if (ap.named("log-buffer").starts_with("--") && c.log_to.empty())
    return ap.fail("--log-buffer", "needs --log-to (a collector to keep lines for)");
  if (ap.named("log-tag").starts_with("--") &&
      std::none_of(c.log_to.begin(), c.log_to.end(), [](const LogTarget& t) { return t.syslog; }))
    return ap.fail("--log-tag", "is syslog's APP-NAME: needs a syslog+ --log-to");
  if (c.health_port != 0 && c.health_port == c.bind_port)
    return ap.fail(ap.named("health-port"), "port " + std::to_string(c.health_port) +
                                                " is --bind-port's, the command's own: dock would take it first");
  return false;
}

// --check without PATH: the image's DOCK_READY_FILE; without
// --check-timeout: DOCK_CHECK_TIMEOUT.
Parsed check_args(ArgParser& ap, std::span<char* const> env) {
  if (ap.p.action == Parsed::Action::Fail) return std::move(ap.p);
  const bool timeout_given = !ap.named("check-timeout").empty();
  for (char* entry : env) {
    if (entry == nullptr) break;
    const std::string_view var = entry;
    if (ap.p.check_path.empty() && var.substr(0, 16) == "DOCK_READY_FILE=") ap.p.check_path = std::string(var.substr(16));
    if (!timeout_given && var.substr(0, 19) == "DOCK_CHECK_TIMEOUT=" && var.size() > 19)
      if (auto err = parse_check_timeout(var.substr(19), ap.p.config)) {
        ap.fail("DOCK_CHECK_TIMEOUT", *err);
        return std::move(ap.p);
      }
  }
  if (ap.p.check_path.empty()) ap.fail("--check", "no PATH, and DOCK_READY_FILE is not set");
  return std::move(ap.p);
}

// NOTIFY_SOCKET is dock's own: the command gets it only with --notify=pass
// (with --notify, prepare gives it dock's socket instead).
void take_notify_socket(Config& c) {
  constexpr std::string_view kVar = "NOTIFY_SOCKET=";
  std::erase_if(c.child_env, [&](char* e) {
    if (e == nullptr || std::string_view(e).substr(0, kVar.size()) != kVar) return false;
    c.notify_up = e + kVar.size();
    return c.notify != NotifyMode::Pass;
  });
}

Parsed parse_args(std::span<char* const> argv, std::span<char* const> env) {
  ArgParser ap;
  for (size_t k = 1; k < argv.size() && argv[k] != nullptr && std::string_view(argv[k]) != "--"; ++k)
    if (const std::string_view a = argv[k]; a == "--check" || a.starts_with("--check=")) ap.p.checking = true;
  size_t i = 1;
  for (; i < argv.size() && argv[i] != nullptr; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") {
      ++i;
      break;
    }
    if (arg.size() < 2 || arg[0] != '-') break;  // the command starts here
    if (arg[1] == '-' ? take_long(ap, argv, i) : take_short(ap, arg))
      return ap.p.action == Parsed::Action::Check ? check_args(ap, env) : std::move(ap.p);
  }
  if (take_env(ap, env)) return std::move(ap.p);
  take_notify_socket(ap.p.config);
  if (i >= argv.size() || argv[i] == nullptr) {
    ap.fail("usage", "missing command (dock [OPTIONS] [--] COMMAND [ARG...]; see dock --help)");
    return std::move(ap.p);
  }
  if (check_together(ap)) return std::move(ap.p);
  ap.p.config.command = &argv[i];
  ap.p.action = Parsed::Action::Run;
  return std::move(ap.p);
}

// ---- the state ----

// What SPEC §10's steps made before anything runs: the command's
// environment (env files, --file-env, HOME for --user), who it runs as,
// and the setup and teardown programs.
struct Prepared {
  Environment env;
  // What setup and teardown programs see: the command's environment
  // without NOTIFY_SOCKET (they cannot say ready for it) and with the
  // HOME dock was given (they run as root, not as --user).
  Environment program_env;
  std::vector<char*> program_envp;
  Fd notify;  // --notify's socket
  Fd health;  // --health-port's listening socket
  std::optional<Identity> user;
  Credentials creds;
  std::vector<std::string> setup, teardown;
};

struct State {
  const Config& cfg;
  Loop loop;
  Init init;        // the small init: signals, the child, the lifecycle
  Link link;        // --io: the target dock opened
  Lines lines;      // prefixes, rotation: the child's output dock moves
  Feed feed;        // TLS or --tty: the input dock moves to the child
  Terminal term;    // --tty
  Rotation rot;     // --log-rotate, --log-max-size
  Hook hook;        // --web-hook
  Readiness ready;  // --bind-port, --ready-file
  HealthServer health;  // --health-port
  Waiter wait;      // --wait-for
  Setup setup;      // --setup
  Teardown teardown;  // --teardown
  OomWatch oom;       // the OOM killer's count, --oom-stop
  const Prepared* prep = nullptr;  // --env-file, --user, --setup, --teardown, ...

  State(const Config& c, const Prepared& p) : cfg(c), init(c), prep(&p) {
    init.loop = link.loop = lines.loop = feed.loop = rot.loop = hook.loop = hook.x.loop = ready.loop = health.loop = wait.loop = wait.x.loop =
        teardown.loop = teardown.x.loop = &loop;
    wait.cfg = &c;
    link.init = setup.init = teardown.init = &init;
    link.io = &c.io;
    rot.cfg = &c;
    ready.cfg = &c;
    ready.root = init.self;
    health.ready = &ready;
    setup.programs = &p.setup;
    setup.envp = p.program_envp.data();
    teardown.programs = &p.teardown;
  }
  State(const State&) = delete;  // the loop's handlers point into it
  State& operator=(const State&) = delete;
};

// ---- what the lifecycle means to the features ----

// Ready for the first time.
void on_running(State& st) { hook_send(st.hook, st.loop, "running", st.init.child); }

// Draining ends when nothing is left to write or to send: told by the
// lines and the hook whenever they may have become quiet.
void on_quiet(State& st) {
  if (st.init.phase == Phase::Draining && !output_pending(st.lines) && !hook_pending(st.hook))
    post(st.init, Event::Settled);
}

// --wait-for is over: on to setup, or dock ends (status 1).
void on_wait_end(State& st) {
  const Waiter& w = st.wait;
  if (w.done) return post(st.init, Event::WaitOver);
  say("waited %s for %s: %s", duration_text(st.cfg.wait_timeout_ms).c_str(), st.cfg.wait_for[w.current].shown().c_str(),
      w.why.c_str());
  st.init.status = W_EXITCODE(code(Exit::Failure), 0);
  post(st.init, Event::WaitFailed);
}

// A setup or teardown program ended.
void on_program_end(State& st) {
  if (st.init.phase == Phase::SettingUp) setup_program_ended(st.setup);
  else if (st.init.phase == Phase::Teardown) teardown_program_ended(st.teardown);
}

// Nothing a setup or teardown program left is left.
void on_swept(State& st) {
  if (st.init.phase == Phase::SettingUp) setup_swept(st.setup);
  else if (st.init.phase == Phase::Teardown) teardown_next(st.teardown);
}

// --oom-stop: the OOM killer took a process that is not the command.
void oom_stop(State& st) {
  if (!st.cfg.oom_stop || st.init.phase != Phase::Running) return;
  say("--oom-stop: stopping %s as SIGTERM would", st.cfg.command[0]);
  post(st.init, Event::StopAsked);
}

// The count as the first process starts (a setup program or the
// command): read just after the spawn, so the command does not wait for
// it (a fresh process's first /proc and cgroup reads take a few hundred
// microseconds), and before anything can have been reaped.
void watch_oom_kills(State& st) {
  if (st.oom.opened) return;
  open_oom_watch(st.oom);  // replaces the whole watch
  st.oom.opened = true;
  st.init.peek_kills = !st.oom.counter.empty();
}

// A process SIGKILL ended, not yet reaped: the OOM killer's when its count rose.
void on_killed(State& st, pid_t pid) {
  const uint64_t more = new_oom_kills(st.oom);
  if (more == 0) return;
  const std::string limits = oom_limits_text(st.oom);
  const std::string also = more > 1 ? "; " + std::to_string(more - 1) + " more OOM kills in the container" : "";
  if (pid == st.init.child && !st.init.ended)
    return say("%s was killed by the OOM killer%s%s", st.cfg.command[0], limits.c_str(), also.c_str());
  std::string comm;
  read_kernel_file("/proc/" + std::to_string(pid) + "/comm", comm, 64);
  say("pid %d (%s) was killed by the OOM killer%s%s", int(pid), escape_controls(kernel_value(comm)).c_str(),
      limits.c_str(), also.c_str());
  oom_stop(st);
}

// The command ended: kills that no reap of dock's showed (a process its
// own parent reaped) are said now.
void oom_kills_unseen(State& st) {
  if (const uint64_t more = new_oom_kills(st.oom))
    say("%llu process%s of the container %s killed by the OOM killer while %s ran%s", (unsigned long long)more,
        more > 1 ? "es" : "", more > 1 ? "were" : "was", st.cfg.command[0], oom_limits_text(st.oom).c_str());
}

void start_command(State& st);

void on_lifecycle(State& st, Event e) {
  Init& init = st.init;
  switch (e) {
    case Event::WaitOver:
      setup_next(st.setup);
      if (init.program > 0) watch_oom_kills(st);
      break;
    case Event::SetupDone:
      start_command(st);
      reap(init, st.loop);                                 // a child that exited at once
      if (st.feed.active) pump_input(st.feed, st.loop);  // input epoll cannot wait for is read now
      break;
    case Event::Started:
      debug("started %s as %d%s", st.cfg.command[0], init.child, init.pid1 ? " (dock is PID 1)" : " (dock is a subreaper)");
      start_readiness(st.ready, st.loop, init.child);
      watch_oom_kills(st);
      break;
    case Event::StopAsked:
      unready(st.ready, st.loop);
      hook_send(st.hook, st.loop, "stopping", init.child);
      break;
    case Event::StartFailed:
    case Event::ChildEnded:
      end_readiness(st.ready, st.loop);  // a child that ended was never "running"
      clear_deadline(st.loop, st.link.hangup_timer);
      st.rot.stopping = true;
      if (init.child > 0) oom_kills_unseen(st);
      if (init.child > 0) hook_send(st.hook, st.loop, "crashed", init.child, init.status, st.oom.seen);
      start_hook_last_wait(st.hook, st.loop, init.stop_began);
      break;  // the teardown starts once every leftover is reaped (AllReaped)
    case Event::AllReaped:
      start_teardown(st.teardown, st.prep->program_env, exit_status(init));
      break;
    case Event::TeardownDone:
      start_drain(st.lines, st.loop);
      on_quiet(st);
      break;
    case Event::WaitFailed:
    case Event::Interrupted:
    case Event::SetupFailed:
    case Event::DelayOver:
    case Event::GraceOver:
    case Event::Settled:
      break;
  }
}

void on_winch(State& st) {
  if (st.term.pty) copy_window_size(st.term);
}

// The connection: the peer has data (or, for TLS, a write waits for a
// read), or it is gone for good.
void on_peer(State& st) {
  if (st.feed.active) {
    pump_input(st.feed, st.loop);
    pump(st.lines, st.loop);  // a TLS write may have waited for a read
    return;
  }
  unwatch(st.loop, st.link.target.get());  // the hang-up is level-triggered: once
  hang_up(st.link, st.loop, "peer closed the connection");
}

// The loop's handlers and deadlines, and who hears what.
bool wire(State& st) {
  Loop& loop = st.loop;
  st.init.grace = add_timer(loop, handler<on_grace_deadline>(st.init));
  st.init.delay = add_timer(loop, handler<on_delay_deadline>(st.init));
  st.init.sweep_timer = add_timer(loop, handler<on_sweep_deadline>(st.init));
  st.link.hangup_timer = add_timer(loop, handler<on_hangup_deadline>(st.link));
  st.lines.flush_timer = add_timer(loop, handler<on_flush_deadline>(st.lines));
  st.lines.drain_timer = add_timer(loop, handler<on_drain_deadline>(st.lines));
  st.rot.timer = add_timer(loop, handler<on_rotate_deadline>(st.lines));
  st.hook.attempt_timer = add_timer(loop, handler<on_hook_deadline>(st.hook));
  st.hook.exit_timer = add_timer(loop, handler<on_hook_exit_deadline>(st.hook));
  st.ready.probe_timer = add_timer(loop, handler<on_probe_deadline>(st.ready));
  wire_waiter(st.wait, loop);
  st.wait.on_end = callback<on_wait_end>(st);
  st.feed.from_slot = add_handler(loop, handler<on_peer>(st));
  st.hook.x.slot = add_handler(loop, handler<exchange_progress>(st.hook.x));
  st.hook.x.on_end = callback<on_hook_answer, int, const std::string&, bool>(st.hook);
  st.lines.on_quiet = st.hook.on_quiet = callback<on_quiet>(st);
  st.lines.stamps = st.cfg.timestamps;
  if (!add_collectors(st.lines, st.cfg, st.cfg.log_tag.empty() ? default_tag(st.cfg.command[0]) : st.cfg.log_tag,
                      &st.init.child))
    return false;
  st.init.on_event = callback<on_lifecycle, Event>(st);
  st.init.on_reaped = callback<on_reaped, pid_t, int>(st.rot);
  st.init.on_winch = callback<on_winch>(st);
  st.init.on_program_end = callback<on_program_end>(st);
  st.init.on_swept = callback<on_swept>(st);
  st.init.on_killed = callback<on_killed, pid_t>(st);
  st.teardown.x.slot = add_handler(loop, handler<exchange_progress>(st.teardown.x));
  st.teardown.x.on_end = callback<on_teardown_answer, int, const std::string&, bool>(st.teardown);
  st.teardown.timer = add_timer(loop, handler<on_teardown_deadline>(st.teardown));
  st.lines.on_peer_lost = st.feed.on_peer_lost = callback<hang_up, const char*>(st.link);
  st.ready.on_ready = callback<on_running>(st);
  if (st.ready.notify && !watch(loop, st.ready.notify.get(), add_handler(loop, handler<on_notify_readable>(st.ready)), EPOLLIN))
    return false;
  if (st.health.listener && !start_health(st.health, loop)) return false;
  return watch(loop, loop.timer.get(), add_handler(loop, handler<on_timer>(loop)), EPOLLIN) &&
         watch(loop, st.init.signals.get(), add_handler(loop, handler<on_signals>(st.init)), EPOLLIN);
}

// ---- the plan of the child's descriptors ----
//
// Without TLS or --tty, the child gets the target itself (and, with a
// prefix or rotation, pipes for stdout and stderr that dock reads). With
// TLS, the child gets pipes for all three and dock moves the bytes both
// ways. With --tty, the child gets a pty's slave as 0, 1 and 2, and dock
// bridges the master.

// The child's 0, 1, 2 (and terminal), and the descriptors only the child
// keeps: dock closes its copies once the child has them.
struct Plan {
  ChildStdio stdio;
  std::array<Fd, 4> ends;
};

// A pipe: {read end, write end}, both close-on-exec.
bool make_pipe(Fd& rd, Fd& wr) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    say("pipe: %s", std::strerror(errno));
    return false;
  }
  rd = Fd(fds[0]);
  wr = Fd(fds[1]);
  return true;
}

// Whether dock keeps lines whole: for a prefix, or to rotate between lines.
bool lines_whole(const Config& cfg) {
  return cfg.prefixing() || cfg.rotating() || cfg.timestamps || !cfg.log_to.empty();
}

// The sink for the --io target; a rotated file's sink owns the file and
// has it rotated.
bool add_io_sink(State& st) {
  if (!add_target_sink(st.lines, st.link)) return false;
  if (!st.cfg.rotating()) return true;
  Sink& k = st.lines.sinks.back();
  k.owned = std::move(st.link.target);
  k.fd = k.owned.get();
  prepare_rotation(st.rot, st.loop, k, st.cfg.io.path);
  return true;
}

// The child's stdout and stderr as two pipes into the sinks already set up.
bool add_output_pipes(State& st, Plan& plan) {
  const Config& cfg = st.cfg;
  Fd out_rd, err_rd;
  if (!make_pipe(out_rd, plan.ends[1]) || !make_pipe(err_rd, plan.ends[2])) return false;
  const size_t err_sink = st.lines.sinks.size() - 1;
  if (!add_stream(st.lines, std::move(out_rd), cfg.stdout_prefix, 0, lines_whole(cfg)) ||
      !add_stream(st.lines, std::move(err_rd), cfg.stderr_prefix.value_or(cfg.stdout_prefix), err_sink,
                  lines_whole(cfg)))
    return false;
  plan.stdio.out = plan.ends[1].get();
  plan.stdio.err = plan.ends[2].get();
  return true;
}

// The connection as the source of the child's input.
void feed_from_peer(State& st) {
  Feed& f = st.feed;
  f.from = st.link.target.get();
  f.from_peer = true;
  f.tls = st.link.tls.ssl();
  f.from_socket = !st.link.tls;
  f.name = st.cfg.io.url.c_str();
}

bool plan_tty(State& st, Plan& plan) {
  const Config& cfg = st.cfg;
  plan.ends[3] = open_pty(st.term);
  if (!plan.ends[3]) return false;
  if (cfg.io.scheme == Scheme::Inherit) add_inherited_sinks(st.lines, false);
  else if (!add_io_sink(st)) return false;
  Fd out(::fcntl(st.term.pty.get(), F_DUPFD_CLOEXEC, 3)), in(::fcntl(st.term.pty.get(), F_DUPFD_CLOEXEC, 3));
  if (!out || !in) {
    say("dup: %s", std::strerror(errno));
    return false;
  }
  if (!add_stream(st.lines, std::move(out), cfg.stdout_prefix, 0, lines_whole(cfg))) return false;
  if (cfg.io.is_socket()) feed_from_peer(st);
  else feed_from_stdin(st.feed, st.term);
  st.feed.fin_is_hangup = true;
  if (!start_feed(st.feed, st.loop, std::move(in))) return false;
  plan.stdio.in = plan.stdio.out = plan.stdio.err = plan.stdio.ctty = plan.ends[3].get();
  return true;
}

// TLS: pipes for all three; dock is the TLS end.
bool plan_tls(State& st, Plan& plan) {
  Fd in_wr;
  if (!add_io_sink(st) || !add_output_pipes(st, plan) || !make_pipe(plan.ends[0], in_wr)) return false;
  feed_from_peer(st);
  if (!start_feed(st.feed, st.loop, std::move(in_wr))) return false;
  st.feed.close_at_end = true;
  plan.stdio.in = plan.ends[0].get();
  return true;
}

// Opens the io target and whatever carries the child's stdio to it.
// false: reported, exit 1.
bool plan_child_stdio(State& st, Plan& plan) {
  const Config& cfg = st.cfg;
  if (cfg.io.scheme != Scheme::Inherit) {
    Opened target = open_target(cfg.io);
    if (!target.fd) {
      say("%s: %s", cfg.io.url.c_str(), target.error.c_str());
      return false;
    }
    st.link.target = std::move(target.fd);
    st.link.tls = std::move(target.tls);
    debug("%s: open%s", cfg.io.url.c_str(), st.link.tls ? " (TLS verified)" : "");
  }
  st.lines.sinks.reserve(2);    // at most two of each; a sink's open line points
  st.lines.streams.reserve(2);  // at a stream, so the streams may never move
  if (cfg.tty) return plan_tty(st, plan);
  if (st.link.tls) return plan_tls(st, plan);
  const int target = st.link.target.get();
  if (target >= 0) {
    // The child writes the file itself: as its own, blocking (a FIFO).
    if (cfg.io.scheme == Scheme::File && !lines_whole(cfg)) make_blocking(target);
    plan.stdio.out = plan.stdio.err = target;
    // A socket: only the hang-up is dock's, the data is the child's to
    // read. No event asked: epoll still says when the connection is gone
    // for good (HUP: reset, or closed both ways; ERR), not at the peer's FIN.
    if (cfg.io.is_socket()) {
      plan.stdio.in = target;
      if (!watch(st.loop, target, st.feed.from_slot, 0)) return false;
    }
  }
  if (!lines_whole(cfg)) return true;
  if (target < 0) add_inherited_sinks(st.lines, true);
  else if (!add_io_sink(st)) return false;
  return add_output_pipes(st, plan);
}

// ---- run() ----
//
// Bad input returns exit 2 and a start-up failure exit 1 before the loop
// starts; from then on one loop runs the lifecycle from Waiting to Done,
// and dock only warns and goes on.

// Every relative path dock was given, made absolute against the directory
// it was started in; then dock's own working directory becomes /, so dock
// holds no mount busy. The child gets the old one back (`cwd`). A
// directory that cannot be named (removed meanwhile) keeps dock there.
Fd leave_working_directory(Config& c) {
  Fd cwd(::open(".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  char here[PATH_MAX];
  if (!cwd || ::getcwd(here, sizeof here) == nullptr) {
    debug("working directory: %s (dock stays in it)", std::strerror(errno));
    return Fd();
  }
  auto absolute = [&](std::string& path) {
    if (!path.empty() && path[0] != '/') path = std::string(here) + (here[1] != '\0' ? "/" : "") + path;
  };
  if (c.io.scheme == Scheme::File || c.io.scheme == Scheme::Unix) absolute(c.io.path);
  for (IoTarget* t : {&c.io, c.web_hook ? &c.web_hook->tls : nullptr})
    if (t != nullptr)
      for (std::string* f : {&t->ca, &t->cert, &t->key}) absolute(*f);
  absolute(c.ready_file);
  for (auto& f : c.env_files) absolute(f);
  for (auto& f : c.chown) absolute(f);
  for (auto* list : {&c.setup, &c.teardown})
    for (auto& f : *list)
      if (!is_http_url(f)) absolute(f);
  for (auto& t : c.templates) {
    absolute(t.src);
    absolute(t.dst);
  }
  for (auto& w : c.wait_for)
    if (!w.http && (w.io.scheme == Scheme::File || w.io.scheme == Scheme::Unix)) absolute(w.io.path);
  if (::chdir("/") != 0) {
    debug("chdir /: %s", std::strerror(errno));
    return Fd();
  }
  return cwd;
}

// dock's own lines go through a non-blocking description of stderr (see
// Logging); held for dock's whole life.
Fd open_diagnostics() {
  struct stat sb;
  if (::fstat(STDERR_FILENO, &sb) != 0) return Fd();
  if (S_ISSOCK(sb.st_mode)) g_stderr_socket = true;
  if (!S_ISFIFO(sb.st_mode) && !S_ISCHR(sb.st_mode)) return Fd();  // a file or a socket never waits
  Fd own = reopen_nonblocking(STDERR_FILENO, O_WRONLY);
  if (own) g_stderr = own.get();
  return own;
}

// Opens /dev/null on any of 0, 1, 2 that is closed, so that no descriptor
// of dock's lands there and is mistaken for the child's stdio.
void ensure_std_fds() {
  for (int fd = 0; fd <= 2; ++fd)
    if (::fcntl(fd, F_GETFD) < 0 && errno == EBADF) ::open("/dev/null", O_RDWR);
}


// The first line is what `docker info` reads of an init ("NAME version
// X.Y.Z"); the build follows on the next.
std::string version_text() {
#if defined(__x86_64__)
  constexpr std::string_view arch = "x86_64";
#elif defined(__aarch64__)
  constexpr std::string_view arch = "aarch64";
#else
  constexpr std::string_view arch = "unknown";
#endif
#if defined(DOCK_MUSL)
  constexpr std::string_view build = "static (musl), zlib linked in, no TLS";
#elif defined(DOCK_STATIC_LIBS)
  constexpr std::string_view build = "static, OpenSSL and zlib linked in (dock-static-tls)";
#else
  constexpr std::string_view build = "dynamic, libssl.so.3 and libz.so.1 loaded when used";
#endif
  return "dock version " + std::string(kVersion) + "\nbuild: " + std::string(arch) + ", " + std::string(build) + "\n";
}

// --help, --version, --check, or a usage error: what dock says instead of running.
int answer(const Parsed& p) {
  switch (p.action) {
    case Parsed::Action::Fail:
      say("%s", p.error.c_str());
      return p.checking ? code(Exit::Failure) : code(Exit::Usage);  // Docker reserves a HEALTHCHECK's 2
    case Parsed::Action::Help:
      return write_all(STDOUT_FILENO, usage()) ? code(Exit::Ok) : code(Exit::Failure);
    case Parsed::Action::Version:
      return write_all(STDOUT_FILENO, version_text()) ? code(Exit::Ok) : code(Exit::Failure);
    case Parsed::Action::Check:
      return is_probe_url(p.check_path) ? check_url(p.check_path, p.config.check_timeout_ms) : check_ready(p.check_path);
    case Parsed::Action::Run:
      break;
  }
  return code(Exit::Ok);
}


// SPEC §10's steps before the io target, in order. false: reported, exit 1.
bool prepare(Config& c, Prepared& p) {
  // Without these the command gets the environment as dock got it (less
  // dock's variables), with nothing copied at start.
  const bool own_env = !c.env_files.empty() || !c.file_env.empty() || !c.templates.empty() || !c.user.empty() ||
                       !c.setup.empty() || !c.teardown.empty() || c.notify == NotifyMode::Own || c.cgroup_env;
  if (own_env)
    for (char* const* e = c.child_env.data(); *e != nullptr; ++e) p.env.add(*e);
  Error err;
  const char* what = "";
  Identity id;
  if (!c.user.empty() && (err = find_identity(c.user, id))) what = "--user";
  else if (!c.user.empty()) p.user = id;
  // With --user, what root reads or runs for the user must be root's (SPEC §15).
  auto steers_root = [&](const std::string& path, const char* option) {
    if (!err && p.user && (err = check_steers_root(path, *p.user, c.user))) what = option;
  };
  for (const auto& path : c.env_files) steers_root(path, "--env-file");
  if (!err && (err = apply_env_files(c.env_files, p.env))) what = "--env-file";
  if (!err && (err = apply_file_env(c.file_env, p.env))) what = "--file-env";
  if (c.cgroup_env) set_cgroup_env(p.env);  // for the templates and programs too
  for (const auto& path : c.chown)
    if (!err && p.user && (err = chown_tree(path, *p.user))) what = "--chown";
  if (!err && (err = render_templates(c.templates, p.env, p.user ? &*p.user : nullptr))) what = "--template";
  for (const auto& path : c.setup)
    if (!err && (err = expand_programs(path, p.setup))) what = "--setup";
  for (const auto& path : c.teardown)
    if (is_http_url(path)) p.teardown.push_back(path);  // a POST, not a program
    else if (!err && (err = expand_programs(path, p.teardown))) what = "--teardown";
  // Each program that will run, and so every directory above it (a
  // directory given is one of them).
  for (const auto& [option, programs] : {std::pair{"--setup", &p.setup}, std::pair{"--teardown", &p.teardown}})
    for (const auto& path : *programs)
      if (!is_http_url(path)) steers_root(path, option);
  p.program_env = p.env;
  p.program_env.unset("NOTIFY_SOCKET");
  p.program_envp = p.program_env.pointers();
  std::string notify_name;
  if (!err && c.notify == NotifyMode::Own && (err = open_notify_socket(p.notify, notify_name))) what = "--notify";
  if (!err && c.health_port != 0 && (err = open_health_listener(c, p.health))) what = "--health-port";
  if (err) {
    say("%s: %s", what, err->c_str());
    return false;
  }
  if (p.user) {
    // From the passwd entry, replacing an inherited one (Docker sets
    // HOME=/root in every container), as gosu and su-exec do.
    p.env.set("HOME", p.user->home.empty() ? "/" : p.user->home);
    p.creds = {::geteuid() == 0, p.user->uid, p.user->gid, p.user->groups, false, {}};
    debug("--user %s: uid %u, gid %u, %zu groups", c.user.c_str(), unsigned(p.user->uid), unsigned(p.user->gid),
          p.user->groups.size());
  }
  p.creds.no_new_privs = c.no_new_privs;
  p.creds.limits = c.limits;
  if (!notify_name.empty()) {
    p.env.set("NOTIFY_SOCKET", notify_name);
    debug("--notify: NOTIFY_SOCKET=%s", notify_name.c_str());
  }
  if (own_env) c.child_env = p.env.pointers();
  return true;
}

// --pdeath-signal: when the parent that started dock dies, dock gets
// `sig` (forwarded like any other). true: the parent is gone already, and
// the caller acts on `sig` once the loop is there (a signal dock sent
// itself would be dropped as one of its own).
bool set_pdeath_signal(int sig, pid_t parent) {
  if (sig == 0) return false;
  if (::prctl(PR_SET_PDEATHSIG, sig) != 0) {
    say("--pdeath-signal: %s", std::strerror(errno));
    return false;
  }
  return ::getppid() != parent;
}

// The longest a stop can take once the command has ended: the leftovers'
// kill timeout, each teardown program's; the hook's last wait runs
// alongside (see kHookExitWaitMs).
int64_t worst_after_end_ms(const Config& c, size_t teardown_programs) {
  const int64_t k = c.kill_timeout_ms;
  int64_t after = k + int64_t(teardown_programs) * k;
  if (c.web_hook) after = std::max(after, std::max(kHookExitWaitMs, k + kHookLastEventMs));
  return after;
}

// The longest a stop can take from the SIGTERM, for the orchestrator's
// grace period: the delay, --stop-timeout, then the above. -1: unbounded,
// without --stop-timeout the command takes as long as it likes.
int64_t worst_stop_ms(const Config& c, size_t teardown_programs) {
  if (c.stop_timeout_ms < 0) return -1;
  return c.stop_delay_ms + c.stop_timeout_ms + worst_after_end_ms(c, teardown_programs);
}

// --debug's line on the stop budget (SPEC §11).
void say_worst_stop(const Config& c, size_t teardown_programs) {
  const std::string after = duration_text(worst_after_end_ms(c, teardown_programs));
  if (const int64_t worst = worst_stop_ms(c, teardown_programs); worst >= 0)
    debug("a stop takes at most %s after SIGTERM (the stop delay, --stop-timeout, the leftovers' kill timeout, "
          "each teardown program's, the hook's last wait)", duration_text(worst).c_str());
  else
    debug("a stop takes as long as the command needs after SIGTERM (no --stop-timeout: the orchestrator's grace "
          "period bounds it), then at most %s (the leftovers' kill timeout, each teardown program's, the hook's "
          "last wait)", after.c_str());
}

// Bad input found before anything starts. false: reported, exit 2.
// Messages name the option as the user gave it (--ready-file or DOCK_READY_FILE).
bool inputs_ok(const Parsed& p) {
  const Config& cfg = p.config;
  if (auto err = check_paths(cfg.io, cfg.rotating())) {
    say("%s: %s", p.named("io").c_str(), err->c_str());
    return false;
  }
  if (!cfg.ready_file.empty())
    if (auto err = check_ready_file(cfg.ready_file)) {
      say("%s: %s", p.named("ready-file").c_str(), err->c_str());
      return false;
    }
  return true;
}

// The subreaper, the loop and its handlers. false: reported, exit 1.
bool open_loop_and_wire(State& st, const sigset_t& blocked, Fd cwd) {
  Init& init = st.init;
  init.cwd = std::move(cwd);
  init.pid1 = st.ready.pid1 = init.self == 1;
  open_notify_up(st.ready);
  if (!init.pid1 && ::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
    say("subreaper: %s (orphans will not be reaped by dock)", std::strerror(errno));
  init.signals = Fd(::signalfd(-1, &blocked, SFD_CLOEXEC | SFD_NONBLOCK));
  Error err = init.signals ? open_loop(st.loop) : Error(std::strerror(errno));
  if (err) {
    say("event loop: %s", err->c_str());
    return false;
  }
  return wire(st);
}

// Why exec said E2BIG, in terms the user can act on: the largest
// variables of the command's environment with their sizes.
std::string too_large_text(char* const* env) {
  std::vector<std::pair<size_t, std::string_view>> vars;  // size, name
  for (char* const* e = env; *e != nullptr; ++e) {
    const std::string_view v(*e);
    vars.emplace_back(v.size(), v.substr(0, v.find('=')));
  }
  std::sort(vars.begin(), vars.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::string text = "the environment is too large to exec:";
  for (size_t i = 0; i < vars.size() && i < 3; ++i) {
    const size_t n = vars[i].first;
    text += std::string(i == 0 ? " " : ", ") + std::string(vars[i].second) + " " +
            (n >= 1000 ? std::to_string((n + 500) / 1000) + " kB" : std::to_string(n) + " bytes");
  }
  return text;
}

// Spawns the command: "starting", then Started, or StartFailed when it
// could not be started (status 1) or executed (126, 127). What fails is
// reported; the teardown programs still run.
void start_command(State& st) {
  Init& init = st.init;
  Plan plan;
  auto failed = [&] {
    init.status = W_EXITCODE(code(Exit::Failure), 0);
    init.ended = true;
    post(init, Event::StartFailed);
  };
  if (!plan_child_stdio(st, plan)) return failed();
  start_collectors(st.lines);  // reached while the command runs; lines wait meanwhile
  if (st.cfg.web_hook) prepare_hook(st.hook, *st.cfg.web_hook);
  if (st.cfg.tty) init.tty.reset();  // with --tty the child has a terminal of its own
  else if (!init.tty) init.tty = foreground_tty();
  // --user: its terminal is its own, so it can open it again by name (tmux, script, pinentry).
  const int terminal = plan.stdio.ctty >= 0 ? plan.stdio.ctty : init.tty.get();
  if (st.prep->creds.change && terminal >= 0 && ::fchown(terminal, st.prep->creds.uid, gid_t(-1)) != 0)
    say("--user: the terminal: %s", std::strerror(errno));
  const Spawned child = spawn({st.cfg.command, st.cfg.child_env.data(), init.original_mask, plan.stdio,
                               init.tty.get(), init.pid1, -1, -1, init.cwd.get(), st.prep->creds, init.sigchld_ignored});
  for (auto& end : plan.ends) end.reset();
  if (child.pid < 0) {
    say("fork: %s", std::strerror(child.exec_errno));
    return failed();
  }
  init.child = child.pid;
  hook_send(st.hook, st.loop, "starting", init.child);
  if (child.exec_errno == 0) return post(init, Event::Started);
  const bool exec = child.stage == Stage::Exec;
  const std::string what = child.stage == Stage::User        ? "--user " + st.cfg.user
                           : child.stage == Stage::Limits    ? "--rlimit " + limit_text(st.prep->creds.limits[size_t(child.which)])
                           : child.stage == Stage::Terminal  ? std::string("--tty: the terminal")
                           : child.stage == Stage::Directory ? std::string("the working directory")
                                                             : std::string(st.cfg.command[0]);
  if (exec && child.exec_errno == E2BIG) say("%s", too_large_text(st.cfg.child_env.data()).c_str());
  else say("%s: %s", what.c_str(), std::strerror(child.exec_errno));
  take_terminal_back(init);
  retry([&] { return ::waitpid(child.pid, nullptr, 0); });
  init.status = W_EXITCODE(exec ? code(exec_failure_code(child.exec_errno)) : code(Exit::Failure), 0);
  init.ended = true;
  post(init, Event::StartFailed);  // the hook still hears "crashed"
}

// Done: the TLS peer gets close_notify, losses are counted, and the
// messages dock could not write are said once.
void finish(State& st) {
  if (st.link.tls && !st.lines.sinks.empty() && !st.lines.sinks[0].gone)
    g_ssl.SSL_shutdown(st.link.tls.ssl());  // close_notify
  if (st.cfg.io.is_socket() && st.link.target) discard_unread(st.link.target.get());
  close_collectors(st.lines);
  report_losses(st.lines);
  if (st.init.ended) debug("all processes reaped; exiting with %d", exit_status(st.init));
  say_dropped_at_exit();
}

[[maybe_unused]] int run(int argc, char** argv, char** envp) {
  const sigset_t blocked = all_signals();
  sigset_t original_mask;
  ::sigemptyset(&original_mask);
  set_signal_mask(SIG_BLOCK, &blocked, &original_mask);
  // SIGCHLD ignored (or SA_NOCLDWAIT) would make the kernel reap dock's
  // children behind its back, and dock would wait for its command forever:
  // dock's own is the default; the command gets back what dock was given.
  struct sigaction chld {}, given {};
  chld.sa_handler = SIG_DFL;
  ::sigaction(SIGCHLD, &chld, &given);
  const bool sigchld_ignored = given.sa_handler == SIG_IGN;
  ensure_std_fds();
  const Fd diagnostics = open_diagnostics();
  size_t envc = 0;
  while (envp != nullptr && envp[envc] != nullptr) ++envc;
  const pid_t parent = ::getppid();
  Parsed parsed = parse_args({argv, size_t(argc)}, {envp, envc});
  if (parsed.action != Parsed::Action::Run) return answer(parsed);
  g_debug = parsed.config.debug;
  for (const auto& w : parsed.warnings) say("%s", w.c_str());
  const bool orphaned = set_pdeath_signal(parsed.config.pdeath_signal, parent);
  Fd cwd = leave_working_directory(parsed.config);
  if (!inputs_ok(parsed)) return code(Exit::Usage);
  Prepared prep;
  if (!prepare(parsed.config, prep)) return code(Exit::Failure);
  say_worst_stop(parsed.config, prep.teardown.size());

  State st(parsed.config, prep);
  st.init.original_mask = original_mask;
  st.ready.notify = std::move(prep.notify);
  st.health.listener = std::move(prep.health);
  st.init.sigchld_ignored = sigchld_ignored;
  if (!open_loop_and_wire(st, blocked, std::move(cwd))) return code(Exit::Failure);
  // From here on dock does not bail out: it warns and goes on, and its
  // one loop runs the lifecycle from the first phase to the last.
  if (orphaned) {  // the parent died before --pdeath-signal was set: its signal now
    debug("the parent is gone already: SIG%s", signal_name(parsed.config.pdeath_signal).c_str());
    signalfd_siginfo info{};
    info.ssi_signo = uint32_t(parsed.config.pdeath_signal);
    forward(st.init, info);
  }
  if (!st.cfg.tty) st.init.tty = foreground_tty();  // setup programs get the foreground too
  if (st.init.phase == Phase::Waiting) start_wait(st.wait, st.loop);
  while (st.init.phase != Phase::Done) run_once(st.loop);
  finish(st);
  return exit_status(st.init);
}

}  // namespace
}  // namespace dock

// ==== 15. main ====

#ifndef DOCK_NO_MAIN
int main(int argc, char** argv, char** envp) { return dock::run(argc, argv, envp); }
#endif
