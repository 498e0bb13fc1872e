// Shared by the prefixer's fuzz targets (fuzz_lines, fuzz_streams); include
// after dock.cpp.
#pragma once

#include <cstdint>
#include <string>

// The fuzzer's bytes, taken from the front for choices, the rest as text.
struct Choices {
  const uint8_t* p;
  size_t n;
  uint8_t byte() {
    if (n == 0) return 0;
    --n;
    return *p++;
  }
};

// The target takes up to `want` bytes from the ring, oldest first, as a
// slow reader would.
inline void take(dock::Ring& ring, std::string& out, size_t want) {
  want = std::min(want, ring.size());
  while (want > 0) {
    auto r = ring.runs();
    const size_t n = std::min(want, r[0].iov_len);
    out.append(static_cast<char*>(r[0].iov_base), n);
    ring.consume(n);
    want -= n;
  }
}
