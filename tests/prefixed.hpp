// What the prefixer must produce, written the obvious way: the input with
// `prefix` at the start of every line. The unit tests and the fuzz target
// compare dock's emit() against it.
#pragma once

#include <string>
#include <string_view>

inline std::string with_prefixes(std::string_view prefix, std::string_view input) {
  std::string out;
  bool start = true;
  for (char c : input) {
    if (start) out += prefix;
    out += c;
    start = c == '\n';
  }
  return out;
}
