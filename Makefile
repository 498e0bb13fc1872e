# dock — build, test, install. `make help` lists the targets.

CXX      ?= g++
PREFIX   ?= /usr/local
DESTDIR  ?=

# The product: no exceptions, no RTTI, libstdc++ and libgcc linked in, so
# `ldd ./dock` lists only libc, the loader and the vdso.
WARN      = -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion -Werror
CXXSTD    = -std=c++20
OPT       = -Os -ffunction-sections -fdata-sections
PRODFLAGS = $(CXXSTD) $(WARN) $(OPT) -fno-exceptions -fno-rtti -fno-asynchronous-unwind-tables
LINKFLAGS = -static-libstdc++ -static-libgcc -Wl,--gc-sections -Wl,--as-needed -s

# Tests: exceptions on (Catch2 needs them), sanitizers on.
TESTFLAGS = $(CXXSTD) -Wall -Wextra -Wno-missing-field-initializers -Werror -g -O1 -fsanitize=address,undefined -fno-omit-frame-pointer

.PHONY: all static test unit behaviour deps install clean help

all: dock

dock: dock.cpp Makefile
	$(CXX) $(PRODFLAGS) -o $@ dock.cpp $(LINKFLAGS)

static: dock-static

# OpenSSL and zlib linked in, so tls:// and compressed log archives need
# nothing from the image.
dock-static: dock.cpp Makefile
	$(CXX) $(PRODFLAGS) -DDOCK_STATIC_LIBS -static -o $@ dock.cpp $(LINKFLAGS) -lssl -lcrypto -lz -pthread

# --- tests -----------------------------------------------------------------

# Catch2's own main: no -Werror (GCC 12 warns inside <regex> used by Catch2).
tests/catch_main.o: tests/catch_main.cpp
	$(CXX) $(filter-out -Werror,$(TESTFLAGS)) -Wno-maybe-uninitialized -c -o $@ $<

# One object per test file, so `make -j` builds them side by side and a
# change rebuilds only what it touches.
UNIT_OBJS      = $(patsubst %.cpp,%.o,$(wildcard tests/unit_*.cpp))
BEHAVIOUR_OBJS = $(patsubst %.cpp,%.o,$(wildcard tests/behaviour_*.cpp))

tests/unit_%.o: tests/unit_%.cpp dock.cpp
	$(CXX) $(TESTFLAGS) -c -o $@ $<

tests/behaviour_%.o: tests/behaviour_%.cpp tests/harness.hpp tests/http_server.hpp
	$(CXX) $(TESTFLAGS) -c -o $@ $<

tests/unit: $(UNIT_OBJS) tests/catch_main.o
	$(CXX) $(TESTFLAGS) -o $@ $^

tests/behaviour: $(BEHAVIOUR_OBJS) tests/catch_main.o
	$(CXX) $(TESTFLAGS) -o $@ $^

tests/helper: tests/helper.cpp
	$(CXX) $(CXXSTD) -Wall -Wextra -Werror -O1 -o $@ $<

tests/benchkit: tests/benchkit.cpp
	$(CXX) $(CXXSTD) -Wall -Wextra -Werror -O2 -o $@ $<

deps:
	scripts/install-deps.sh

# Installs what the tests need (when missing), builds, runs every suite and
# ends with one line: N passed, N failed[, N skipped].
test: deps
	$(MAKE) -j$$(nproc) dock dock-static tests/unit tests/behaviour tests/helper
	scripts/run-tests.sh

# --- install ---------------------------------------------------------------

install: dock
	install -D -m 0755 dock $(DESTDIR)$(PREFIX)/bin/dock

clean:
	rm -f dock dock-static tests/unit tests/behaviour tests/helper tests/benchkit tests/*.o

help:
	@echo "make            build ./dock (dynamic libc only)"
	@echo "make static     build ./dock-static (fully static)"
	@echo "make test       install test dependencies, build, run all tests"
	@echo "make install    install to \$$(DESTDIR)\$$(PREFIX)/bin (PREFIX=$(PREFIX))"
	@echo "make clean      remove what make built"
