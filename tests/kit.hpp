// What several behaviour files share beside the harness: files and
// scripts, dock run under a wrapper, a name server that never answers, a
// NOTIFY_SOCKET peer, the web hook's JSON, the test certificates.
#pragma once

#include "http_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <fstream>

namespace t {

inline constexpr uid_t kNobody = 65534;

// 127.0.0.1:port.
inline sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(uint16_t(port));
  return a;
}

// A listener on `port` of 127.0.0.1 that the test chose (free_port() said
// it was free; SO_REUSEADDR: it may have been used a moment ago).
inline int listen_on(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  const sockaddr_in a = loopback(port);
  REQUIRE(bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(listen(fd, 4) == 0);
  return fd;
}

inline void write(const std::string& path, const std::string& text, mode_t mode = 0644) {
  std::ofstream(path, std::ios::binary) << text;
  REQUIRE(chmod(path.c_str(), mode) == 0);
}

inline void script(const std::string& path, const std::string& body) { write(path, "#!/bin/sh\n" + body, 0755); }

// dock's command line with `before` in front of it (a wrapper that execs
// it, so dock keeps its pid), the options and the command after it. dock
// by its absolute path: the case may start it in another directory.
inline std::vector<std::string> wrapped(const std::vector<std::string>& before, const std::vector<std::string>& args) {
  std::vector<std::string> full = before;
  char dock[PATH_MAX];
  REQUIRE(realpath(dock_path().c_str(), dock) != nullptr);
  for (const auto& a : dock_command()) full.push_back(a == dock_path() ? std::string(dock) : a);
  full.insert(full.end(), args.begin(), args.end());
  return full;
}

// Runs dock (as wrapped() gives it) to the end with stdin closed.
inline Proc run_wrapped(const std::vector<std::string>& before, const std::vector<std::string>& args, const Options& o) {
  Proc p = Proc::start(wrapped(before, args), dock_options(o));
  p.close_in();
  p.drain();
  p.wait_exit();
  return p;
}

// Runs dock under a mount namespace of its own in which `file` is bound
// over `over` (an /etc/hosts with names of the test's own, say).
inline std::vector<std::string> with_file(const std::string& file, const std::string& over) {
  return {"unshare", "--mount", "sh", "-c", "mount --bind \"$0\" \"$1\" && shift && exec \"$@\"", file, over};
}

// Whether `pid` is gone (or a zombie) within `timeout_ms`: waits on its pidfd.
inline bool gone_within(pid_t pid, int timeout_ms) {
  const int fd = int(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return errno == ESRCH;
  pollfd p{fd, POLLIN, 0};
  const bool exited = poll(&p, 1, timeout_ms) == 1;
  close(fd);
  return exited || !alive(pid);
}

// A network namespace of the test's own whose name server (127.0.0.1:53
// inside it) takes every query and never answers, as a resolver that is
// down or firewalled does; `ip netns exec` binds its resolv.conf and
// nsswitch.conf over /etc's. glibc waits 5 s per try, two tries.
struct SilentResolver {
  std::string name = "dock-test-" + std::to_string(getpid());
  std::string etc = "/etc/netns/" + name;
  Proc server;
  SilentResolver() {
    std::system(("ip netns del " + name + " 2>/dev/null; rm -rf " + etc).c_str());
    REQUIRE(std::system(("ip netns add " + name).c_str()) == 0);
    REQUIRE(std::system(("ip netns exec " + name + " ip link set lo up").c_str()) == 0);
    REQUIRE(std::system(("mkdir -p " + etc).c_str()) == 0);
    write(etc + "/resolv.conf", "nameserver 127.0.0.1\noptions timeout:5 attempts:2\n");
    write(etc + "/nsswitch.conf", "hosts: files dns\n");
    server = Proc::start({"ip", "netns", "exec", name, "socat", "-d", "-d", "-u", "UDP-RECV:53,bind=127.0.0.1", "/dev/null"});
    REQUIRE(server.wait_err("starting data transfer loop"));
  }
  ~SilentResolver() {
    if (server.pid > 1) kill(server.pid, SIGKILL);
    server.wait_exit(5000);
    std::system(("ip netns del " + name + "; rm -rf " + etc).c_str());
  }
  std::vector<std::string> run_in() const { return {"ip", "netns", "exec", name}; }
};

// The tests' own environment may hold *_FILE variables (a CI's, say) that
// --file-env would read: they are not the tests'.
inline void forget_file_vars() {
  std::vector<std::string> names;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string_view v = *e;
    std::string_view name = v.substr(0, v.find('='));
    if (name.size() > 5 && name.substr(name.size() - 5) == "_FILE") names.emplace_back(name);
  }
  for (const auto& n : names) unsetenv(n.c_str());
}

// Whether there is an entry at `path` (a dangling symlink counts).
inline bool exists(const std::string& path) {
  struct stat sb;
  return lstat(path.c_str(), &sb) == 0;
}

// A datagram socket the test owns, as systemd or Podman would hold one:
// abstract ("@name") or a path.
struct NotifyPeer {
  int fd = -1;
  std::string name;  // NOTIFY_SOCKET's value
  explicit NotifyPeer(bool abstract) {
    static int n = 0;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    name = abstract ? "@dock-test-" + std::to_string(getpid()) + "-" + std::to_string(++n)
                    : temp_path("notify-" + std::to_string(++n));
    if (!abstract) unlink(name.c_str());
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path, name.data(), name.size());
    if (abstract) a.sun_path[0] = '\0';
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), socklen_t(offsetof(sockaddr_un, sun_path) + name.size())) == 0);
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  }
  ~NotifyPeer() {
    close(fd);
    if (name[0] == '/') unlink(name.c_str());
  }
  // The next datagram and its sender's pid, or "" at the deadline.
  std::string next(int timeout_ms, pid_t* sender = nullptr) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) != 1) return "";
    char buf[4096];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = recvmsg(fd, &msg, 0);
    if (n < 0) return "";
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c && sender; c = CMSG_NXTHDR(&msg, c))
      if (c->cmsg_type == SCM_CREDENTIALS) *sender = reinterpret_cast<ucred*>(CMSG_DATA(c))->pid;
    return std::string(buf, size_t(n));
  }
};

// The helper's pid (as the tests see it) from "ready notify PID ...".
inline pid_t notify_pid(Proc& p) {
  REQUIRE(p.wait_out("ready notify "));
  REQUIRE(p.wait_out("\n"));
  return pid_t(std::atol(p.out_buf.c_str() + p.out_buf.find("ready notify ") + 13));
}

inline std::string notify_socket_seen(Proc& p) {
  notify_pid(p);
  const size_t at = p.out_buf.find("NOTIFY_SOCKET=");
  return p.out_buf.substr(at + 14, p.out_buf.find('\n', at) - at - 14);
}

// Sends a command to the helper and waits for its answer.
inline void tell(Proc& p, const std::string& cmd) {
  const size_t from = p.out_buf.size();
  p.send(cmd + "\n");
  REQUIRE(read_until(p.out, p.out_buf, "sent\n", now_ms() + kTimeoutMs, from) != std::string::npos);
}

inline Json ps_of(const HttpRequest& r) {
  auto j = Json::parse(r.body);
  INFO(r.body);
  REQUIRE(j);
  REQUIRE(j->kind == Json::Object);
  REQUIRE(j->members.size() == 1);
  const Json* ps = j->get("ps");
  REQUIRE(ps);
  return *ps;
}

inline std::string status_of(const HttpRequest& r) {
  Json ps = ps_of(r);
  const Json* s = ps.get("status");
  REQUIRE(s);
  return s->text;
}

inline std::vector<std::string> statuses(HttpServer& server) {
  std::vector<std::string> out;
  for (const auto& r : server.requests()) out.push_back(status_of(r));
  return out;
}

inline pid_t pid_from(const std::string& out, const std::string& role) {
  const size_t at = out.find("ready " + role + " ");
  REQUIRE(at != std::string::npos);
  return pid_t(std::atol(out.c_str() + at + 7 + role.size()));
}

inline int64_t listen_time(const std::string& out) {
  const size_t at = out.find("listening ");
  REQUIRE(at != std::string::npos);
  return std::atoll(out.c_str() + at + 10);
}

// The test CA, server and client certificates, made once per run.
inline const std::string& certs() {
  static const std::string dir = [] {
    std::string d = temp_path("certs");
    REQUIRE(std::system(("scripts/make-test-certs.sh " + d).c_str()) == 0);
    return d;
  }();
  return dir;
}

// socat on `port` ending TLS (the test server certificate) in front of
// the plain HTTP `server`.
inline Proc https_front(int port, const HttpServer& server) {
  Proc front = Proc::start({"socat", "-d", "-d", "OPENSSL-LISTEN:" + std::to_string(port) +
                            ",bind=127.0.0.1,reuseaddr,fork,verify=0,cert=" + certs() + "/server.pem,key=" +
                            certs() + "/server.key", "TCP:127.0.0.1:" + std::to_string(server.port)});
  REQUIRE(front.wait_err("listening on"));
  return front;
}

// The pid on the line "<prefix><pid>" in out, or -1.
inline pid_t pid_after(const std::string& out, const std::string& prefix) {
  size_t at = out.find(prefix);
  return at == std::string::npos ? -1 : pid_t(std::atol(out.c_str() + at + prefix.size()));
}

inline int zombie_children(pid_t parent) {
  int n = 0;
  for (pid_t kid : children_of(parent))
    if (proc_state(kid) == 'Z') ++n;
  return n;
}

}  // namespace t
