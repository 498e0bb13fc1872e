// --log-rotate, --log-max-size, --log-keep through the real dock: what a
// user reads back (zcat of every archive in order, then the live file) is
// every line exactly once, in order, none split; only the newest archives
// remain; nothing else in the directory is touched.
#include "kit.hpp"

#include <algorithm>
#include <sys/stat.h>

using namespace t;

namespace {

struct Archive {
  std::string name, stamp;
  long clash = 0;
  bool gz = false;
};

// The archives of `base` in `dir`, oldest first (by time stamp, then -N).
std::vector<Archive> archives(const std::string& dir, const std::string& base) {
  std::vector<Archive> out;
  DIR* d = opendir(dir.c_str());
  while (dirent* e = d ? readdir(d) : nullptr) {
    std::string n = e->d_name;
    if (n.rfind(base + "_", 0) != 0) continue;
    Archive a{n, n.substr(base.size() + 1, 14)};
    if (a.stamp.size() != 14 || !std::all_of(a.stamp.begin(), a.stamp.end(), ::isdigit)) continue;
    std::string rest = n.substr(base.size() + 15);
    if (rest.size() >= 3 && rest.compare(rest.size() - 3, 3, ".gz") == 0) {
      a.gz = true;
      rest.resize(rest.size() - 3);
    }
    if (!rest.empty() && rest[0] == '-') a.clash = std::atol(rest.c_str() + 1);
    else if (!rest.empty()) continue;
    out.push_back(a);
  }
  if (d) closedir(d);
  std::sort(out.begin(), out.end(), [](const Archive& x, const Archive& y) {
    return x.stamp != y.stamp ? x.stamp < y.stamp : x.clash < y.clash;
  });
  return out;
}

std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// What a user reads back: every archive's content (zcat for .gz), oldest
// first, then the live file; `split` when an archive ends mid-line.
std::string read_back(const std::string& dir, const std::string& base, size_t& files, bool& split) {
  std::string all;
  files = 0;
  split = false;
  for (const auto& a : archives(dir, base)) {
    const std::string path = dir + "/" + a.name;
    std::string text = a.gz ? run_capture("zcat '" + path + "'") : read_file(path);
    if (!text.empty() && text.back() != '\n') split = true;
    all += text;
    ++files;
  }
  return all + read_file(dir + "/" + base);
}

// Whether `text` is exactly the lines first, first+1, ..., with `prefix`
// before each; `last` gets the last number.
bool numbered(const std::string& text, const std::string& prefix, long first, long& last) {
  long want = first;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    if (nl == std::string::npos) return false;
    if (text.compare(at, nl - at, prefix + std::to_string(want)) != 0) {
      UNSCOPED_INFO("line " << want << " is '" << text.substr(at, std::min<size_t>(nl - at, 80)) << "'");
      return false;
    }
    ++want;
    at = nl + 1;
  }
  last = want - 1;
  return true;
}


}  // namespace

TEST_CASE("--log-max-size: every line exactly once, in order, none split, archives compressed", "[rotate]") {
  Dir dir("rot-size");
  const std::string log = dir.path + "/app.log";
  Proc p = run_dock({"--io", log, "--log-max-size", "64k", "--log-keep", "100000", "--stdout-prefix", "P ",
                     "--", helper(), "count", "1500"});
  CHECK(p.exit_code() == 0);
  CHECK(p.err_buf.empty());
  size_t files = 0;
  bool split = false;
  std::string all = read_back(dir.path, "app.log", files, split);
  long last = 0;
  CHECK(numbered(all, "P ", 1, last));
  CHECK_FALSE(split);
  CHECK(files > 10);
  INFO(files << " archives, " << last << " lines");
  size_t gz = 0;
  for (const auto& a : archives(dir.path, "app.log")) {
    gz += a.gz;
    struct stat sb;
    if (!a.gz) continue;
    // Each archive held at most 64 KiB before compression (one line may be alone and longer).
    std::string text = run_capture("zcat '" + dir.path + "/" + a.name + "'");
    CHECK(text.size() <= 64 * 1024);
    CHECK(stat((dir.path + "/" + a.name).c_str(), &sb) == 0);
  }
  CHECK(gz > 0);  // compression runs behind such a writer; the rest stay whole, uncompressed
  CHECK(run_capture("ls " + dir.path + " | grep -c tmp || true") == "0\n");
}

TEST_CASE("--log-rotate 1s: lossless while the child writes as fast as it can", "[rotate]") {
  Dir dir("rot-time");
  const std::string log = dir.path + "/app.log";
  Proc p = run_dock({"--io", log, "--log-rotate", "1s", "--log-keep", "100", "--", helper(), "count", "3500"});
  CHECK(p.exit_code() == 0);
  size_t files = 0;
  bool split = false;
  std::string all = read_back(dir.path, "app.log", files, split);
  long last = 0;
  CHECK(numbered(all, "", 1, last));
  CHECK_FALSE(split);
  CHECK(files >= 2);
  CHECK(files <= 4);
  INFO(files << " archives, " << last << " lines");
}

TEST_CASE("--log-keep: only the newest archives of that exact name remain", "[rotate]") {
  Dir dir("rot-keep");
  const std::string log = dir.path + "/app.log";
  for (auto other : {"app.log.backup.gz", "app.logx_20200101000000.gz", "app.log_2020010100000.gz",
                     "app.log_20200101000000.gz.tmp", "other.log_20200101000000.gz"})
    std::ofstream(dir.path + "/" + other) << "keep me\n";
  std::ofstream(dir.path + "/app.log_20200101000000.gz") << "an old archive\n";
  Proc p = run_dock({"--io", log, "--log-max-size", "16k", "--log-keep", "3", "--", "seq", "1", "100000"});
  CHECK(p.exit_code() == 0);
  auto left = archives(dir.path, "app.log");
  CHECK(left.size() == 3);
  for (const auto& a : left) CHECK(a.stamp != "20200101000000");  // the oldest went first
  for (auto other : {"app.log.backup.gz", "app.logx_20200101000000.gz", "app.log_2020010100000.gz",
                     "app.log_20200101000000.gz.tmp", "other.log_20200101000000.gz"})
    CHECK(read_file(dir.path + "/" + other) == "keep me\n");
  // What is left is the tail of the sequence, whole.
  size_t files = 0;
  bool split = false;
  std::string tail = read_back(dir.path, "app.log", files, split);
  REQUIRE(!tail.empty());
  const long first = std::atol(tail.c_str());
  long last = 0;
  CHECK(numbered(tail, "", first, last));
  CHECK(last == 100000);
  CHECK_FALSE(split);
}

TEST_CASE("log rotation options: bad values and targets are exit 2", "[rotate]") {
  const std::string log = temp_path("never.log");
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--log-rotate", "1h", "--", "true"},
           {"--io", "tcp://127.0.0.1:1", "--log-max-size", "1m", "--", "true"},
           {"--io", log, "--log-rotate", "0", "--", "true"},
           {"--io", log, "--log-rotate", "soon", "--", "true"},
           {"--io", log, "--log-max-size", "0", "--", "true"},
           {"--io", log, "--log-max-size", "12q", "--", "true"},
           {"--io", log, "--log-rotate", "1h", "--log-keep", "0", "--", "true"},
           {"--io", log, "--log-keep", "3", "--", "true"}}) {
    Proc p = run_dock(args);
    INFO(p.err_buf);
    CHECK(p.exit_code() == 2);
    CHECK(count(p.err_buf, "\n") == 1);
  }
  CHECK(access(log.c_str(), F_OK) != 0);
}

TEST_CASE("without libz.so.1, ./dock keeps archives uncompressed, says so once, loses nothing", "[rotate]") {
  if (!only_libc_applies("zlib")) return;
  Dir dir("rot-nozlib");
  const std::string log = dir.path + "/app.log";
  Proc p = run_dock_with_only_libc({"--io", log, "--log-max-size", "16k", "--log-keep", "1000", "--", "seq", "1", "50000"});
  CHECK(p.exit_code() == 0);
  CHECK(p.err_buf == "dock: " + log +
                         ": archives stay uncompressed: libz.so.1: cannot open shared object file: No such file or "
                         "directory\n");
  size_t files = 0;
  bool split = false;
  std::string all = read_back(dir.path, "app.log", files, split);
  long last = 0;
  CHECK(numbered(all, "", 1, last));
  CHECK(last == 50000);
  CHECK_FALSE(split);
  CHECK(files > 2);
  for (const auto& a : archives(dir.path, "app.log")) CHECK_FALSE(a.gz);
}

TEST_CASE("a full disk: dock and the child go on, the failure is reported, writing resumes", "[rotate]") {
  if (geteuid() != 0) {
    skip("mounting a small tmpfs needs root");
    return;
  }
  SmallDisk disk("rot-full", "256k");
  const std::string log = disk.dir.path + "/app.log";
  Proc p = start_dock({"--io", log, "--log-max-size", "8k", "--", "sh", "-c",
                       "while read l; do echo \"$l\"; done; echo done"});
  p.send("first\n");
  REQUIRE(wait_file_contains(log, "first\n"));
  // Fill the disk: what comes now cannot be written.
  disk.fill();
  p.send(std::string(9000, 'x') + "\nlost\n");
  REQUIRE(p.wait_err("No space left on device"));
  CHECK(alive(p.dock_pid()));
  disk.free();  // space returns
  p.send("after\n");
  CHECK(wait_file_contains(log, "after\n"));
  p.close_in();
  CHECK(p.exit_code() == 0);
  p.drain();
  INFO(p.err_buf);
  CHECK(count(p.err_buf, "No space left on device") <= 3);  // once per streak, per kind of failure
}

TEST_CASE("rotation keeps the log's owner, group and mode for the new file and the archives", "[rotate][field]") {
  // A non-root log shipper reads a 0640 log of nobody's group: it must be able to read on after a rotation.
  Dir dir("rot-mode");
  const std::string log = dir.path + "/app.log";
  std::ofstream(log) << "";
  REQUIRE(chown(log.c_str(), 65534, 65534) == 0);
  REQUIRE(chmod(log.c_str(), 0640) == 0);
  Proc p = run_dock({"--io", log, "--log-max-size", "8k", "--log-keep", "100", "--", helper(), "count", "2000"});
  CHECK(p.exit_code() == 0);
  CHECK(p.err_buf.empty());
  const auto all = archives(dir.path, "app.log");
  REQUIRE(all.size() > 2);
  for (const auto& a : all) {  // renamed ones and the compressor's .gz files alike
    struct stat sb {};
    REQUIRE(stat((dir.path + "/" + a.name).c_str(), &sb) == 0);
    INFO(a.name);
    CHECK((sb.st_mode & 07777) == 0640);
    CHECK(sb.st_uid == 65534);
    CHECK(sb.st_gid == 65534);
  }
  struct stat live {};
  REQUIRE(stat(log.c_str(), &live) == 0);
  CHECK((live.st_mode & 07777) == 0640);
  CHECK(live.st_uid == 65534);
}
