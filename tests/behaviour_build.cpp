// What `make`, `make static` and `make static-tls` produce, as a user would check it.
#include "kit.hpp"

#include <cstdio>

using namespace t;

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

TEST_CASE("./dock-static and ./dock-static-tls are fully static, with a read-only-after-relocation segment", "[build]") {
  for (const std::string bin : {"./dock-static", "./dock-static-tls"}) {
    INFO(bin);
    if (access(bin.c_str(), X_OK) != 0) {
      skip(bin + " was not built (make static, make static-tls)");
      continue;
    }
    CHECK(output_of("ldd " + bin).find("not a dynamic executable") != std::string::npos);
    CHECK(output_of(bin + " -V").rfind("dock ", 0) == 0);
    CHECK(output_of("readelf -lW " + bin).find("GNU_RELRO") != std::string::npos);
  }
}

// SPEC §18: the musl build links musl's start files and libc.a, dock, a
// zlib compiled against musl and the compiler's libgcc.a, and nothing
// built for glibc; the linker's own list of what it read says so (make
// writes it beside the binary), and the link itself shows the rest: every
// symbol was found in those files alone.
TEST_CASE("./dock-static is musl: nothing built for glibc is linked; at most 500,000 bytes", "[build]") {
  if (access("./dock-static", X_OK) != 0) {
    skip("./dock-static was not built (make static)");
    return;
  }
  REQUIRE(access("./dock-static.inputs", R_OK) == 0);  // make static writes it
  std::string arch = output_of("uname -m");
  arch.erase(arch.find_last_not_of('\n') + 1);
  const std::string musl = "/usr/lib/" + arch + "-linux-musl/";
  std::string libgcc = output_of("g++ -print-libgcc-file-name");
  libgcc.erase(libgcc.find_last_not_of('\n') + 1);
  std::istringstream inputs(output_of("cat ./dock-static.inputs"));
  std::string line;
  int files = 0, musl_files = 0, objects = 0;
  bool zlib = false;
  while (std::getline(inputs, line)) {
    INFO(line);
    ++files;
    if (line.rfind(musl, 0) == 0) ++musl_files;
    else if (line == ".deps/zlib-musl-" + arch + "/libz.a") zlib = true;
    else if (line.rfind("/tmp/", 0) == 0 && line.ends_with(".o")) ++objects;  // dock.cpp's own
    else CHECK(line == libgcc);
    CHECK(line.find("libstdc++") == std::string::npos);
    CHECK(line.find("-linux-gnu/libc") == std::string::npos);
  }
  CHECK(musl_files == 4);  // crt1.o, crti.o, libc.a, crtn.o
  CHECK(objects == 1);
  CHECK(zlib);
  CHECK(files >= 6);
  const std::string version = output_of("./dock-static --version");
  CHECK(version.find(", static (musl), zlib linked in, no TLS") != std::string::npos);
  CHECK(output_of("grep -c GLIBC ./dock-static") == "0\n");
  struct stat st{};
  REQUIRE(stat("./dock-static", &st) == 0);
  INFO("size " << st.st_size);
  if (arch == "x86_64") CHECK(st.st_size <= 500'000);
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
