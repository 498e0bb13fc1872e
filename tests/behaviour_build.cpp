// What `make` and `make static` produce, as a user would check it.
#include "kit.hpp"

#include <cstdio>

using namespace t;

namespace {

std::string output_of(const std::string& cmd) {
  std::string out;
  if (FILE* f = popen((cmd + " 2>&1").c_str(), "r")) {
    char buf[512];
    while (size_t n = fread(buf, 1, sizeof buf, f)) out.append(buf, n);
    pclose(f);
  }
  return out;
}

}  // namespace

TEST_CASE("./dock links only libc, the loader and the vdso", "[build]") {
  if (access(dock_path().c_str(), X_OK) != 0 || dock_path().find("static") != std::string::npos) {
    skip("the dynamic ./dock is not the binary under test");
    return;
  }
  std::istringstream ldd(output_of("ldd " + dock_path()));
  std::string line;
  int libs = 0;
  while (std::getline(ldd, line)) {
    INFO(line);
    bool known = line.find("linux-vdso") != std::string::npos || line.find("ld-linux") != std::string::npos ||
                 line.find("libc.so.6") != std::string::npos;
    CHECK(known);
    ++libs;
  }
  CHECK(libs == 3);
}

TEST_CASE("./dock-static is fully static", "[build]") {
  if (access("./dock-static", X_OK) != 0) {
    skip("./dock-static was not built (make static)");
    return;
  }
  CHECK(output_of("ldd ./dock-static").find("not a dynamic executable") != std::string::npos);
  CHECK(output_of("./dock-static -V").rfind("dock ", 0) == 0);
}

TEST_CASE("./dock is hardened: PIE, full RELRO, stack protector, fortified calls", "[build]") {
  if (access(dock_path().c_str(), X_OK) != 0 || dock_path().find("static") != std::string::npos) {
    skip("the dynamic ./dock is not the binary under test");
    return;
  }
  const std::string bin = dock_path();
  // PIE: the executable is a shared object the loader places anywhere.
  CHECK(output_of("readelf -hW " + bin).find("DYN (Position-Independent Executable") != std::string::npos);
  // Full RELRO: a read-only-after-relocation segment, and every symbol
  // bound at start (BIND_NOW, or NOW among the FLAGS_1).
  CHECK(output_of("readelf -lW " + bin).find("GNU_RELRO") != std::string::npos);
  const std::string dynamic = output_of("readelf -dW " + bin);
  CHECK((dynamic.find("BIND_NOW") != std::string::npos || dynamic.find("Flags: NOW") != std::string::npos));
  // Canaries call __stack_chk_fail; _FORTIFY_SOURCE turns calls with a
  // known buffer size into libc's checked __*_chk variants.
  const std::string syms = output_of("readelf --dyn-syms -W " + bin);
  CHECK(syms.find("__stack_chk_fail") != std::string::npos);
  std::istringstream lines(syms);
  std::string line;
  int checked = 0;
  while (std::getline(lines, line))
    if (line.find("_chk") != std::string::npos && line.find("__stack_chk_fail") == std::string::npos) ++checked;
  INFO(syms);
  CHECK(checked >= 1);
}

TEST_CASE("./dock-static has a read-only-after-relocation segment", "[build]") {
  if (access("./dock-static", X_OK) != 0) {
    skip("./dock-static was not built (make static)");
    return;
  }
  CHECK(output_of("readelf -lW ./dock-static").find("GNU_RELRO") != std::string::npos);
}
