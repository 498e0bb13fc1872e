# dock — build, test, install. `make help` lists the targets.

CXX      ?= g++
PREFIX   ?= /usr/local
DESTDIR  ?=

# The product: no exceptions, no RTTI, libstdc++ and libgcc linked in, so
# `ldd ./dock` lists only libc, the loader and the vdso.
WARN      = -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Werror
CXXSTD    = -std=c++20
OPT       = -Os -ffunction-sections -fdata-sections
# Hardened: libc's checked string and memory calls where a size is known
# (_FORTIFY_SOURCE=3), a canary in every function with a local array or an
# address taken, stack probes against a clash with another mapping, CET
# markers; the dynamic binary is position independent with its relocations
# done and made read-only at start (PIE, full RELRO). tests/behaviour_build
# checks these with readelf.
# Control-flow protection is each target's own: CET on x86_64, branch
# target identification and return-address signing on aarch64.
HARDEN    = -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fstack-clash-protection
cfi_for   = $(if $(filter aarch64%,$(shell $(1) -dumpmachine)),-mbranch-protection=standard,-fcf-protection)
PRODFLAGS = $(CXXSTD) $(WARN) $(OPT) $(HARDEN) -fno-exceptions -fno-rtti -fno-asynchronous-unwind-tables
LINKFLAGS = -static-libstdc++ -static-libgcc -Wl,--gc-sections -Wl,--as-needed -Wl,-z,relro,-z,now -s
PIEFLAGS  = -fPIE -pie

# Tests: exceptions on (Catch2 needs them), sanitizers on.
TESTFLAGS = $(CXXSTD) -Wall -Wextra -Wno-missing-field-initializers -Werror -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer

.PHONY: all static static-tls test check unit behaviour deps install clean help check-sanitize fuzz dist clang-check version

all: dock

# $(call build_dynamic,COMPILER,OUTPUT), $(call build_static_tls,COMPILER,OUTPUT)
build_dynamic = $(1) $(PRODFLAGS) $(call cfi_for,$(1)) $(PIEFLAGS) -o $(2) dock.cpp $(LINKFLAGS)
# dock-static-tls: glibc, OpenSSL and zlib linked in, so tls:// and
# compressed log archives need nothing from the image.
build_static_tls = $(1) $(PRODFLAGS) $(call cfi_for,$(1)) -DDOCK_STATIC_LIBS -static -o $(2) dock.cpp $(LINKFLAGS) -lssl -lcrypto -lz -pthread

# dock-static: musl. Compiled against musl's headers, the kernel's, and
# libstdc++'s headers only (dock.cpp defines the little runtime they call);
# linked with nothing but musl's start files and libc.a, a zlib compiled
# here from Debian's source against musl, and the compiler's own libgcc.a
# (no libc in it: aarch64's 128-bit long double arithmetic, which musl's
# printf uses): no archive built for glibc. No TLS. The linker's list of
# what it read is kept beside the binary (OUTPUT.inputs);
# tests/behaviour_build checks it.
# $(call build_musl,COMPILER,ARCH,OUTPUT)
MUSL_LIB      = /usr/lib/$(1)-linux-musl
cxx_headers   = $(shell echo | $(1) -x c++ -E -v - 2>&1 | sed -n 's|^ \(/[^ ]*/c++/[^ ]*\)$$|-isystem \1|p')
# $(call musl_headers,COMPILER,ARCH): every header directory, the
# compiler's own last.
musl_headers  = -nostdinc $(call cxx_headers,$(1)) -isystem /usr/include/$(2)-linux-musl -isystem .deps/kernel-$(2) \
                -isystem $(shell $(1) -print-file-name=include)
MUSLFLAGS     = $(filter-out -D_FORTIFY_SOURCE=%,$(PRODFLAGS)) -DDOCK_MUSL
build_musl    = $(1) $(MUSLFLAGS) $(call cfi_for,$(1)) $(call musl_headers,$(1),$(2)) \
                -static -nostdlib -o $(3) $(call MUSL_LIB,$(2))/crt1.o $(call MUSL_LIB,$(2))/crti.o dock.cpp \
                .deps/zlib-musl-$(2)/libz.a $(call MUSL_LIB,$(2))/libc.a $(shell $(1) -print-libgcc-file-name) \
                $(call MUSL_LIB,$(2))/crtn.o \
                -Wl,--gc-sections -Wl,-z,relro,-z,now -s -Wl,--trace >$(3).inputs

# The kernel's headers (linux/, asm/, asm-generic/) on their own, for the
# musl build: the directories beside them hold glibc's headers.
KERNEL_HEADERS_x86_64  = /usr/include /usr/include/x86_64-linux-gnu
KERNEL_HEADERS_aarch64 = /usr/aarch64-linux-gnu/include
.deps/kernel-%/linux:
	@mkdir -p $(@D)
	for h in linux asm asm-generic; do for d in $(KERNEL_HEADERS_$*); do \
	  if [ -d $$d/$$h ]; then ln -sfn $$d/$$h $(@D)/$$h; break; fi; done; done
	test -d $(@D)/asm && test -d $(@D)/asm-generic

# zlib: Debian's source (scripts/zlib-source.sh), the parts gzdopen,
# gzwrite and gzclose_w need, compiled against musl.
CC_x86_64   ?= x86_64-linux-gnu-gcc
CC_aarch64  ?= aarch64-linux-gnu-gcc
ZLIB_PARTS   = adler32 crc32 deflate trees zutil gzlib gzwrite
.deps/zlib/zlib.h:
	scripts/zlib-source.sh .deps/zlib
.deps/zlib-musl-%/libz.a: .deps/zlib/zlib.h
	@mkdir -p $(@D)
	for p in $(ZLIB_PARTS); do $(CC_$*) -specs $(call MUSL_LIB,$*)/musl-gcc.specs -DHAVE_UNISTD_H $(OPT) \
	  -fstack-protector-strong -fstack-clash-protection $(call cfi_for,$(CC_$*)) -fno-asynchronous-unwind-tables \
	  -c -o $(@D)/$$p.o .deps/zlib/$$p.c || exit 1; done
	ar rcs $@ $(patsubst %,$(@D)/%.o,$(ZLIB_PARTS))

# Kept between builds (make would remove them as intermediate files).
.PRECIOUS: .deps/kernel-%/linux .deps/zlib-musl-%/libz.a

ARCH := $(shell $(CXX) -dumpmachine | cut -d- -f1)

dock: dock.cpp Makefile
	$(call build_dynamic,$(CXX),$@)

static: dock-static

dock-static: dock.cpp Makefile .deps/zlib-musl-$(ARCH)/libz.a .deps/kernel-$(ARCH)/linux
	$(call build_musl,$(CXX),$(ARCH),$@)

static-tls: dock-static-tls

dock-static-tls: dock.cpp Makefile
	$(call build_static_tls,$(CXX),$@)

# --- release artefacts: make dist --------------------------------------------
#
# dist/dock-VERSION-ARCH, dist/dock-static-VERSION-ARCH (musl) and
# dist/dock-static-tls-VERSION-ARCH for x86_64 and aarch64 (Debian's cross
# compiler; musl, OpenSSL and zlib from the :arm64 packages), and
# SHA256SUMS. scripts/install-deps.sh installs what the cross builds need.
VERSION   := $(shell sed -n 's/^constexpr std::string_view kVersion = "\(.*\)";/\1/p' dock.cpp)
CXX_x86_64  ?= x86_64-linux-gnu-g++
CXX_aarch64 ?= aarch64-linux-gnu-g++
DIST_ARCHES  = x86_64 aarch64
DIST_FILES   = $(foreach a,$(DIST_ARCHES),dist/dock-$(VERSION)-$(a) dist/dock-static-$(VERSION)-$(a) dist/dock-static-tls-$(VERSION)-$(a))

# The version, for the scripts that name the artefacts (make -s --no-print-directory version).
version:
	@echo $(VERSION)

dist: dist/SHA256SUMS

dist/SHA256SUMS: $(DIST_FILES)
	cd dist && sha256sum $(notdir $(DIST_FILES)) >SHA256SUMS

dist/dock-$(VERSION)-%: dock.cpp Makefile
	@mkdir -p dist
	$(call build_dynamic,$(CXX_$*),$@)

dist/dock-static-$(VERSION)-%: dock.cpp Makefile .deps/zlib-musl-%/libz.a .deps/kernel-%/linux
	@mkdir -p dist
	$(call build_musl,$(CXX_$*),$*,$@)

dist/dock-static-tls-$(VERSION)-%: dock.cpp Makefile
	@mkdir -p dist
	$(call build_static_tls,$(CXX_$*),$@)

# A second compiler checks the code: Debian's clang builds the three
# variants warning-free under the same -Werror (objects only, thrown away;
# the musl one with g++'s libstdc++ headers, as clang finds them itself).
clang-check: .deps/kernel-$(ARCH)/linux
	clang++ $(PRODFLAGS) $(call cfi_for,clang++) -fPIE -c -o /dev/null dock.cpp
	clang++ $(PRODFLAGS) $(call cfi_for,clang++) -DDOCK_STATIC_LIBS -c -o /dev/null dock.cpp
	clang++ $(MUSLFLAGS) $(call cfi_for,clang++) $(call musl_headers,clang++,$(ARCH)) -c -o /dev/null dock.cpp

# --- tests -----------------------------------------------------------------

# Catch2's own main: no -Werror (GCC 12 warns inside <regex> used by Catch2).
tests/catch_main.o: tests/catch_main.cpp
	$(CXX) $(filter-out -Werror,$(TESTFLAGS)) -Wno-maybe-uninitialized -c -o $@ $<

# One object per test file, so `make -j` builds them side by side and a
# change rebuilds only what it touches.
UNIT_OBJS      = $(patsubst %.cpp,%.o,$(wildcard tests/unit_*.cpp))
BEHAVIOUR_OBJS = $(patsubst %.cpp,%.o,$(wildcard tests/behaviour_*.cpp))

tests/unit_%.o: tests/unit_%.cpp dock.cpp tests/prefixed.hpp
	$(CXX) $(TESTFLAGS) -c -o $@ $<

tests/behaviour_%.o: tests/behaviour_%.cpp tests/harness.hpp tests/http_server.hpp tests/kit.hpp
	$(CXX) $(TESTFLAGS) -c -o $@ $<

tests/unit: $(UNIT_OBJS) tests/catch_main.o
	$(CXX) $(TESTFLAGS) -o $@ $^

tests/behaviour: $(BEHAVIOUR_OBJS) tests/catch_main.o
	$(CXX) $(TESTFLAGS) -o $@ $^

tests/helper: tests/helper.cpp
	$(CXX) $(CXXSTD) -Wall -Wextra -Werror -O1 -o $@ $<

# The same, static, for the container images of the Docker and Podman tests.
tests/helper-static: tests/helper.cpp
	$(CXX) $(CXXSTD) -Wall -Wextra -Werror -O1 -static -o $@ $<

tests/benchkit: tests/benchkit.cpp
	$(CXX) $(CXXSTD) -Wall -Wextra -Werror -O2 -o $@ $<

deps:
	scripts/install-deps.sh

# --- hardening checks --------------------------------------------------------

# dock itself built with AddressSanitizer and UndefinedBehaviorSanitizer
# (leaks included): the behaviour suite runs against it, and the unit tests
# (always sanitized) run again. Any report fails the run.
SANFLAGS = $(CXXSTD) -Wall -Wextra -Werror -g -O1 -fno-omit-frame-pointer -fno-exceptions -fno-rtti \
           -fsanitize=address,undefined -fno-sanitize-recover=all
dock-sanitize: dock.cpp Makefile
	$(CXX) $(SANFLAGS) -o $@ dock.cpp

# The product's code with symbols, for valgrind (scripts/valgrind-check.sh).
dock-debug: dock.cpp Makefile
	$(CXX) $(PRODFLAGS) $(PIEFLAGS) -g -o $@ dock.cpp $(filter-out -s,$(LINKFLAGS))

check-sanitize: deps
	$(MAKE) -j$$(nproc) dock-sanitize tests/unit tests/behaviour tests/helper
	scripts/check-sanitize.sh

# libFuzzer targets (clang): each includes dock.cpp and checks one parser
# or the prefixer against what it must keep. `make fuzz` runs each for
# FUZZ_TIME seconds from the seeds in tests/fuzz/seeds; new inputs collect
# in .fuzz/ (not committed).
FUZZ_TARGETS = args url scalars http lines streams archives passwd envfile template notify health collectors
FUZZ_BINS    = $(patsubst %,tests/fuzz/fuzz_%,$(FUZZ_TARGETS))
FUZZ_TIME   ?= 60
FUZZFLAGS    = -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

tests/fuzz/fuzz_%: tests/fuzz/fuzz_%.cpp dock.cpp tests/prefixed.hpp tests/fuzz/sink_fuzz.hpp
	clang++ $(FUZZFLAGS) -o $@ $<

fuzz: deps
	$(MAKE) -j$$(nproc) $(FUZZ_BINS)
	scripts/fuzz.sh $(FUZZ_TIME) $(FUZZ_TARGETS)

# Installs what the tests need (when missing), builds, runs every suite and
# ends with one line: N passed, N failed[, N skipped].
test: deps
	$(MAKE) -j$$(nproc) dock dock-static dock-static-tls tests/unit tests/behaviour tests/helper tests/helper-static
	scripts/run-tests.sh

# A quick round for contributors: the unit tests and the behaviour tests of
# ./dock only (make test runs every suite).
check: deps
	$(MAKE) -j$$(nproc) dock tests/unit tests/behaviour tests/helper
	./tests/unit
	DOCK_BIN=./dock ./tests/behaviour

# --- install ---------------------------------------------------------------

# The manual page, from the option table --help is made of.
tools/mkman: tools/mkman.cpp dock.cpp
	$(CXX) $(CXXSTD) -Wall -Wextra -Werror -O0 -o $@ $<

dock.1: tools/mkman
	tools/mkman >$@

install: dock dock.1
	install -D -m 0755 dock $(DESTDIR)$(PREFIX)/bin/dock
	install -D -m 0644 dock.1 $(DESTDIR)$(PREFIX)/share/man/man1/dock.1

clean:
	rm -f dock dock-static dock-static.inputs dock-static-tls dock-sanitize dock-debug tests/unit tests/behaviour tests/helper tests/helper-static tests/benchkit tests/*.o $(FUZZ_BINS) tools/mkman dock.1
	rm -rf .fuzz dist .deps

help:
	@echo "make            build ./dock (dynamic libc only)"
	@echo "make static     build ./dock-static (static, musl, no TLS)"
	@echo "make static-tls build ./dock-static-tls (static, glibc, OpenSSL)"
	@echo "make test       install test dependencies, build, run all tests"
	@echo "make check      the unit tests and the behaviour tests of ./dock only"
	@echo "make check-sanitize  the tests against dock built with ASan and UBSan"
	@echo "make fuzz       run each libFuzzer target for FUZZ_TIME seconds (60)"
	@echo "make dist       dist/dock[-static[-tls]]-VERSION-{x86_64,aarch64} and SHA256SUMS"
	@echo "make clang-check  compile with clang++ too, warning-free"
	@echo "make install    install dock and dock.1 under \$$(DESTDIR)\$$(PREFIX) (PREFIX=$(PREFIX))"
	@echo "make clean      remove what make built"
