// A small HTTP/1.1 server for the web hook tests, on its own thread: it
// records every request (with CLOCK_MONOTONIC ms of its arrival) and answers
// each connection from a script -- a status and a delay before answering --
// then 200 at once once the script is used up. No Catch2 macro runs on its
// thread; the tests wait for requests through wait_requests(), which has a
// deadline.
#pragma once

#include "harness.hpp"

#include <condition_variable>
#include <mutex>

namespace t {

struct HttpRequest {
  int64_t at_ms = 0;     // when its last byte arrived
  std::string line;      // "PUT /path HTTP/1.1"
  std::string headers;   // the header lines, CRLF-separated, as sent
  std::string body;

  // The value of header `name` (case-insensitive), or "".
  std::string header(std::string_view name) const {
    size_t start = 0;
    while (start < headers.size()) {
      size_t end = headers.find("\r\n", start);
      if (end == std::string::npos) end = headers.size();
      std::string_view h(headers.data() + start, end - start);
      const size_t colon = h.find(':');
      if (colon == name.size() && strncasecmp(h.data(), name.data(), name.size()) == 0) {
        std::string_view v = h.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
        return std::string(v);
      }
      start = end + 2;
    }
    return {};
  }
};

struct HttpReply {
  int status = 200;
  int delay_ms = 0;  // before answering
};

class HttpServer {
 public:
  explicit HttpServer(std::vector<HttpReply> script = {})
      : script_(std::move(script)),
        server_([this](int conn, int stop) {
          handle(conn, stop, served_ < script_.size() ? script_[served_] : HttpReply{});
          ++served_;
        }),
        port(server_.port) {}

  std::string url(const std::string& path = "/hook", const std::string& userinfo = "") const {
    return "http://" + userinfo + "127.0.0.1:" + std::to_string(port) + path;
  }

  // Waits until `n` requests have arrived; false at the deadline.
  bool wait_requests(size_t n, int timeout_ms = kTimeoutMs) {
    std::unique_lock<std::mutex> lock(mutex_);
    return arrived_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return requests_.size() >= n; });
  }

  std::vector<HttpRequest> requests() {
    std::lock_guard<std::mutex> lock(mutex_);
    return requests_;
  }

 private:
  // Waits for `fd` to be readable; false when told to stop or at the deadline.
  static bool wait_readable(int fd, int stop, int64_t deadline) {
    for (;;) {
      const int64_t left = deadline - now_ms();
      if (left <= 0) return false;
      pollfd p[2] = {{fd, POLLIN, 0}, {stop, POLLIN, 0}};
      const int r = poll(p, 2, int(left));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0 || (p[1].revents & POLLIN)) return false;
      return true;
    }
  }

  void handle(int c, int stop, const HttpReply& reply) {
    const int64_t deadline = now_ms() + kTimeoutMs;
    std::string buf;
    size_t head_end;
    char chunk[4096];
    while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
      if (!wait_readable(c, stop, deadline)) return;
      ssize_t n = read(c, chunk, sizeof chunk);
      if (n <= 0) return;
      buf.append(chunk, size_t(n));
    }
    HttpRequest r;
    const size_t line_end = buf.find("\r\n");
    r.line = buf.substr(0, line_end);
    r.headers = buf.substr(line_end + 2, head_end - line_end - 2);
    const size_t length = size_t(std::atol(r.header("Content-Length").c_str()));
    r.body = buf.substr(head_end + 4);
    while (r.body.size() < length) {
      if (!wait_readable(c, stop, deadline)) return;
      ssize_t n = read(c, chunk, sizeof chunk);
      if (n <= 0) return;
      r.body.append(chunk, size_t(n));
    }
    r.at_ms = now_ms();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      requests_.push_back(r);
    }
    arrived_.notify_all();
    if (reply.delay_ms > 0) {  // the scripted delay, cut short when the test ends
      pollfd p{stop, POLLIN, 0};
      if (poll(&p, 1, reply.delay_ms) > 0) return;
    }
    const std::string answer = "HTTP/1.1 " + std::to_string(reply.status) +
                               " Scripted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    if (write(c, answer.data(), answer.size()) < 0) {}
  }

  std::vector<HttpReply> script_;
  size_t served_ = 0;  // connections handled (on the server's thread)
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<HttpRequest> requests_;
  LoopbackServer server_;  // last: its thread uses the members above, and stops first

 public:
  const int port;
};

// A minimal JSON reader for the hook's bodies: objects, arrays, strings
// (with \" \\ \uXXXX escapes), integers. Anything else fails the parse.
struct Json {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool boolean = false;
  long long number = 0;
  std::string text;
  std::vector<Json> items;                            // Array
  std::vector<std::pair<std::string, Json>> members;  // Object

  const Json* get(const std::string& key) const {
    for (const auto& m : members)
      if (m.first == key) return &m.second;
    return nullptr;
  }

  static std::optional<Json> parse(std::string_view s) {
    size_t i = 0;
    auto v = value(s, i);
    if (!v || i != s.size()) return std::nullopt;
    return v;
  }

 private:
  static std::optional<std::string> string(std::string_view s, size_t& i) {
    if (i >= s.size() || s[i] != '"') return std::nullopt;
    std::string out;
    for (++i; i < s.size() && s[i] != '"'; ++i) {
      if (static_cast<unsigned char>(s[i]) < 0x20) return std::nullopt;
      if (s[i] != '\\') {
        out += s[i];
        continue;
      }
      if (++i >= s.size()) return std::nullopt;
      if (s[i] == '"' || s[i] == '\\' || s[i] == '/') out += s[i];
      else if (s[i] == 'u' && i + 4 < s.size()) out += "\\u" + std::string(s.substr(i + 1, 4)), i += 4;
      else return std::nullopt;
    }
    if (i >= s.size()) return std::nullopt;
    ++i;
    return out;
  }

  static std::optional<Json> value(std::string_view s, size_t& i) {
    Json j;
    if (i >= s.size()) return std::nullopt;
    if (s[i] == '"') {
      auto str = string(s, i);
      if (!str) return std::nullopt;
      j.kind = String;
      j.text = *str;
      return j;
    }
    if (s[i] == '-' || (s[i] >= '0' && s[i] <= '9')) {
      size_t start = i++;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
      j.kind = Number;
      j.number = std::atoll(std::string(s.substr(start, i - start)).c_str());
      return j;
    }
    for (std::string_view word : {"true", "false"})
      if (s.substr(i, word.size()) == word) {
        i += word.size();
        j.kind = Bool;
        j.boolean = word == "true";
        return j;
      }
    const char close = s[i] == '{' ? '}' : s[i] == '[' ? ']' : 0;
    if (close == 0) return std::nullopt;
    j.kind = close == '}' ? Object : Array;
    ++i;
    if (i < s.size() && s[i] == close) return ++i, j;
    for (;;) {
      if (j.kind == Object) {
        auto key = string(s, i);
        if (!key || i >= s.size() || s[i] != ':') return std::nullopt;
        ++i;
        auto v = value(s, i);
        if (!v) return std::nullopt;
        j.members.emplace_back(*key, *v);
      } else {
        auto v = value(s, i);
        if (!v) return std::nullopt;
        j.items.push_back(*v);
      }
      if (i >= s.size()) return std::nullopt;
      if (s[i] == close) return ++i, j;
      if (s[i] != ',') return std::nullopt;
      ++i;
    }
  }
};

}  // namespace t
