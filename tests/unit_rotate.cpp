// Unit tests of section 9, log rotation's pure parts: archive names and clash
// suffixes, which archives --log-keep removes, and the size budget in emit().
#define DOCK_NO_MAIN
#include "../dock.cpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>

using namespace dock;

TEST_CASE("archive names of exactly FILE_YYYYmmddHHMMSS[-N][.gz]", "[rotate]") {
  auto a = parse_archive_name("app.log", "app.log_20261122153000");
  REQUIRE(a);
  CHECK(a->stamp == "20261122153000");
  CHECK(a->clash == 0);
  CHECK_FALSE(a->gz);
  a = parse_archive_name("app.log", "app.log_20261122153000-12.gz");
  REQUIRE(a);
  CHECK(a->clash == 12);
  CHECK(a->gz);
  for (auto other : {"app.log", "app.log.backup.gz", "app.logx_20200101000000.gz", "app.log_2020010100000",
                     "app.log_202001010000001", "app.log_20200101000000.gz.tmp", "app.log_20200101000000-0",
                     "app.log_20200101000000-", "app.log_20200101000000-x", "app.log_2020O101000000",
                     "other_20200101000000", "app.log_20200101000000.bz2"}) {
    INFO(other);
    CHECK_FALSE(parse_archive_name("app.log", other).has_value());
  }
  ArchiveName n{"20261122153000", 3, false};
  CHECK(archive_name("/var/log/app.log", n) == "/var/log/app.log_20261122153000-3");
  CHECK(archive_name("app.log", ArchiveName{"20261122153000", 0, true}) == "app.log_20261122153000");
}

TEST_CASE("clash suffixes: a new archive is always newer than the previous one", "[rotate]") {
  const std::string dir = "/tmp/dock-unit-rotate-" + std::to_string(getpid());
  std::system(("rm -rf " + dir + " && mkdir -p " + dir).c_str());
  const std::string path = dir + "/app.log";
  const time_t t = 1'800'000'000;
  const std::string stamp = stamp_of(t);
  CHECK(stamp.size() == 14);
  ArchiveName last;
  CHECK(next_archive_path(path, t, last) == path + "_" + stamp);
  std::ofstream(path + "_" + stamp);
  CHECK(next_archive_path(path, t, last) == path + "_" + stamp + "-1");
  std::ofstream(path + "_" + stamp + "-2.gz");  // taken by its .gz
  CHECK(next_archive_path(path, t, last) == path + "_" + stamp + "-3");
  // -1 was removed meanwhile (--log-keep): the next is still -4, not -1.
  CHECK(next_archive_path(path, t, last) == path + "_" + stamp + "-4");
  CHECK(next_archive_path(path, t + 1, last) == path + "_" + stamp_of(t + 1));
  std::system(("rm -rf " + dir).c_str());
}

TEST_CASE("--log-keep removes the oldest archives, an archive and its .gz together, nothing else", "[rotate]") {
  std::vector<std::string> entries{".", "..", "app.log", "app.log.backup.gz", "app.logx_20200101000000.gz",
                                   "app.log_20260101000000.gz", "app.log_20260101000000-2.gz",
                                   "app.log_20260101000000-10", "app.log_20260101000000-10.gz",
                                   "app.log_20250101000000", "app.log_20270101000000.gz"};
  auto removed = archives_to_remove("app.log", entries, 2);
  std::sort(removed.begin(), removed.end());
  // Newest first: 2027, 2026-10, 2026-2, 2026, 2025.
  CHECK(removed == std::vector<std::string>{"app.log_20250101000000", "app.log_20260101000000-2.gz",
                                            "app.log_20260101000000.gz"});
  CHECK(archives_to_remove("app.log", entries, 5).empty());
  auto all = archives_to_remove("app.log", entries, 1);
  CHECK(all.size() == 5);  // all but 2027: -10 counts once, both its names go
  CHECK(std::count(all.begin(), all.end(), "app.log_20260101000000-10") == 1);
  CHECK(std::count(all.begin(), all.end(), "app.log_20260101000000-10.gz") == 1);
}

TEST_CASE("the size budget: a line that does not fit waits and marks the file full", "[rotate]") {
  Stream s;
  Ring ring(1 << 16);
  OpenLine line;
  auto feed = [&](std::string_view d) {
    auto room = s.space();
    std::memcpy(room.data(), d.data(), d.size());
    s.filled(d.size());
  };
  feed("12345\n12345\n12345\n");
  Budget b;
  b.left = 13;
  CHECK(emit(s, ring, line, b) == 12);  // two lines fit in 13 bytes, the third does not
  CHECK(b.full);
  CHECK(ring.size() == 12);

  // An empty file takes its first line whatever its length.
  Budget fresh;
  fresh.left = 3;
  fresh.fresh = true;
  CHECK(emit(s, ring, line, fresh) == 6);
  CHECK(fresh.full == false);

  // The continuation of an open line always goes into the same file.
  feed("partial");
  s.flush_now();
  Budget roomy;
  roomy.left = 100;
  CHECK(emit(s, ring, line, roomy) == 7);
  CHECK(s.line_open());
  feed(" and the rest of the line\n");
  Budget none;
  none.left = 0;
  CHECK(emit(s, ring, line, none) == 26);
  CHECK_FALSE(none.full);
  CHECK_FALSE(s.line_open());
}

TEST_CASE("--log-keep: the archives this dock made are the newest, whatever their names say", "[rotate]") {
  // The clock stepped back an hour (DST ended): the archive just made is
  // named before the one made an hour earlier, and one from an earlier run
  // has a name from the future. None of that makes the new one "old".
  std::vector<std::string> entries{"app.log", "app.log_29991231235959.gz", "app.log_20261025025900.gz",
                                   "app.log_20261025020100"};
  const std::vector<std::string> made{"app.log_20261025025900", "app.log_20261025020100"};
  auto removed = archives_to_remove("app.log", entries, 2, made);
  CHECK(removed == std::vector<std::string>{"app.log_29991231235959.gz"});
  // Keep one: the last one made stays, though its name is the oldest.
  removed = archives_to_remove("app.log", entries, 1, made);
  std::sort(removed.begin(), removed.end());
  CHECK(removed == std::vector<std::string>{"app.log_20261025025900.gz", "app.log_29991231235959.gz"});
  // Without archives of its own, names decide, as before.
  CHECK(archives_to_remove("app.log", entries, 2) == std::vector<std::string>{"app.log_20261025020100"});
}
