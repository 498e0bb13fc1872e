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

// emit() without a size budget: the prefixer as it runs without
// --log-max-size. Include after dock.cpp.
inline size_t emit(dock::Stream& s, dock::Ring& out, dock::OpenLine& line) {
  dock::Budget unlimited;
  return dock::emit(s, out, line, unlimited);
}
