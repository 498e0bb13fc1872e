// The map in dock.cpp's header stays true: it names every section banner
// with its number and title, and every option of the table, under the
// section that holds it.
#define DOCK_NO_MAIN
#include "../dock.cpp"

#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace dock;

namespace {

std::string source() {
  std::string path = __FILE__;
  path = path.substr(0, path.rfind('/') + 1) + "../dock.cpp";
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Banner {
  std::string title;  // up to the first ':' or the end of the banner's first line
  size_t at = 0;      // where it starts in the source
};

// The number of "N. rest" at the start of `text` (after blanks), and
// `rest`; -1 when it is not that.
int numbered(std::string_view text, std::string& rest) {
  size_t i = text.find_first_not_of(' ');
  if (i == std::string_view::npos) return -1;
  const size_t digits = i;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
  if (i == digits || text.substr(i, 2) != ". ") return -1;
  rest = std::string(text.substr(i + 2));
  return std::stoi(std::string(text.substr(digits, i - digits)));
}

// `// ==== N. Title ====`, each with where its section begins.
std::map<int, Banner> banners(const std::string& src) {
  std::map<int, Banner> out;
  constexpr std::string_view kBanner = "\n// ==== ";
  for (size_t at = src.find(kBanner); at != std::string::npos; at = src.find(kBanner, at + 1)) {
    const size_t start = at + kBanner.size();
    std::string title;
    const int n = numbered(std::string_view(src).substr(start, src.find('\n', start) - start), title);
    if (n < 0) continue;
    title = title.substr(0, title.find(':'));
    if (const size_t end = title.find(" ===="); end != std::string::npos) title.resize(end);
    out[n] = {title, at};
  }
  return out;
}

struct Entry {
  std::string title;
  std::set<std::string> options;
};

// Every --option named in `line`.
void options_in(std::string_view line, std::set<std::string>& out) {
  for (size_t at = line.find("--"); at != std::string_view::npos; at = line.find("--", at + 2)) {
    size_t end = at + 2;
    while (end < line.size() && (std::islower(static_cast<unsigned char>(line[end])) || line[end] == '-')) ++end;
    while (end > at + 2 && line[end - 1] == '-') --end;
    if (end > at + 2) out.insert(std::string(line.substr(at, end - at)));
  }
}

// The header's map: `//  N. Title...` lines, each with the lines under it.
std::map<int, Entry> map_of(const std::string& src) {
  const std::string header = src.substr(0, src.find("\n// ==== 1."));
  const std::string map = header.substr(header.find("// The map:"));
  std::map<int, Entry> out;
  int current = -1;
  std::istringstream lines(map);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("//", 0) != 0) continue;
    std::string rest;
    if (const int n = numbered(std::string_view(line).substr(2), rest); n >= 0) {
      current = n;
      out[current].title = rest;
    }
    if (current >= 0) options_in(line, out[current].options);
  }
  return out;
}

// Whether `text` names `--name` itself (not --name-something).
bool names_option(const std::string& text, const std::string& flag) {
  for (size_t at = text.find(flag); at != std::string::npos; at = text.find(flag, at + 1)) {
    const size_t end = at + flag.size();
    if (end == text.size() || !(std::isalnum(static_cast<unsigned char>(text[end])) || text[end] == '-')) return true;
  }
  return false;
}

TEST_CASE("the header's map names every section banner with its number", "[layout]") {
  const std::string src = source();
  const auto found = banners(src);
  const auto map = map_of(src);
  REQUIRE(found.size() >= 14);
  for (const auto& [n, banner] : found) {
    if (n == 0) continue;  // the header itself
    INFO("section " << n << " (" << banner.title << ")");
    REQUIRE(map.count(n) == 1);
    CHECK(map.at(n).title.rfind(banner.title, 0) == 0);
  }
  for (const auto& [n, entry] : map) {
    INFO("the map's " << n << ". " << entry.title);
    CHECK(found.count(n) == 1);
  }
}

TEST_CASE("the header's map names every option under the section that holds it", "[layout]") {
  const std::string src = source();
  const auto found = banners(src);
  const auto map = map_of(src);
  std::set<std::string> table;
  for (const auto& o : kOptions) {
    const std::string flag = "--" + std::string(o.name);
    table.insert(flag);
    INFO(flag);
    int owner = -1, owners = 0;
    for (const auto& [n, entry] : map)
      if (entry.options.count(flag) != 0) {
        owner = n;
        ++owners;
      }
    REQUIRE(owners == 1);
    // The section the map says holds it does name it.
    const auto it = found.find(owner);
    REQUIRE(it != found.end());
    const auto next = std::next(it);
    const size_t end = next == found.end() ? src.size() : next->second.at;
    CHECK(names_option(src.substr(it->second.at, end - it->second.at), flag));
  }
  // ... and no option the table does not have.
  for (const auto& [n, entry] : map)
    for (const auto& flag : entry.options) {
      INFO("the map's section " << n << " names " << flag);
      CHECK(table.count(flag) == 1);
    }
}

}  // namespace
