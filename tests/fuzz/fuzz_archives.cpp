// libFuzzer target: which rotated archives --log-keep removes. The input
// is newline-separated directory entries (the first line is the log's
// base name, the first byte how many to keep). Only names that parse as
// archives of the base are ever removed; the newest `keep` archives stay;
// every removed archive is older than every kept one; a name built by
// archive_name parses back to itself.
#define DOCK_NO_MAIN
#include "../../dock.cpp"

#include <algorithm>
#include <cstdlib>

using namespace dock;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t keep = data[0] % 8;
  std::vector<std::string> lines(1);
  for (size_t i = 1; i < size; ++i) {
    if (data[i] == '\n') lines.emplace_back();
    else lines.back() += char(data[i]);
  }
  const std::string base = lines[0].empty() ? "app.log" : lines[0];
  std::vector<std::string> entries(lines.begin() + 1, lines.end());

  const auto removed = archives_to_remove(base, entries, keep);
  std::vector<ArchiveName> gone, stayed;
  for (const auto& r : removed) {
    if (std::find(entries.begin(), entries.end(), r) == entries.end()) std::abort();
    auto a = parse_archive_name(base, r);
    if (!a) std::abort();
    gone.push_back(*a);
  }
  for (const auto& e : entries) {
    auto a = parse_archive_name(base, e);
    if (!a) continue;
    const std::string back = archive_name(base, *a) + (a->gz ? ".gz" : "");
    if (parse_archive_name(base, back).has_value() == false) std::abort();
    if (std::find(removed.begin(), removed.end(), e) == removed.end()) stayed.push_back(*a);
  }
  // Distinct archives kept: min(keep, all distinct).
  auto distinct = [](std::vector<ArchiveName> v) {
    size_t n = 0;
    for (size_t i = 0; i < v.size(); ++i) {
      bool seen = false;
      for (size_t j = 0; j < i; ++j) seen = seen || (v[j].stamp == v[i].stamp && v[j].clash == v[i].clash);
      n += !seen;
    }
    return n;
  };
  std::vector<ArchiveName> every = gone;
  every.insert(every.end(), stayed.begin(), stayed.end());
  if (distinct(stayed) != std::min(keep, distinct(every))) std::abort();
  for (const auto& g : gone)
    for (const auto& s : stayed)
      if (g.newer_than(s)) std::abort();
  return 0;
}
