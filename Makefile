# cmbmap — build, test, install. `make help` lists the targets.
# The Makefile only builds: `make deps` installs packages, pkg-config finds them.

# Switches, given on the command line:
#   WERROR=1             warnings stop the build (library, CLI, unit tests)
#   SAN=address,undefined  (or SAN=thread) build with those sanitizers; such a build
#                        goes to a directory of its own (build-san-address-undefined,
#                        build-san-thread), so its objects never mix with the normal ones.
WERROR   ?=
SAN      ?=
comma    := ,
PREFIX   ?= /usr/local
LIBDIR   ?= $(PREFIX)/lib
BUILD    ?= $(if $(SAN),build-san-$(subst $(comma),-,$(SAN)),build)
CXX      ?= g++
PKGS     := libunwind liburing
CLI_PKGS := $(PKGS) libnvme
CXXFLAGS ?= -O2 -g
san_has   = $(filter $(1),$(subst $(comma), ,$(SAN)))
# -Wtsan says TSan cannot model the code's atomic_thread_fence calls (a limit of
# the tool, not a fault in the code): it stays a warning in a WERROR=1 TSan build.
WARN     := -Wall -Wextra -Wno-missing-field-initializers $(if $(WERROR),-Werror \
            $(if $(call san_has,thread),-Wno-error=tsan))
# Sanitizers go on every compile and link (CXXFLAGS may be overridden); a UBSan
# finding aborts like an ASan one, so a unit test with undefined behaviour fails.
SANFLAGS := $(if $(SAN),-fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all)
BASEFLAGS = -std=c++20 -fPIC -fvisibility=hidden -fno-exceptions -fno-rtti \
            -I. -Iinclude -D_GNU_SOURCE $(WARN) $(SANFLAGS)

# pkg-config, loudly: a missing package (or one it requires) stops the build with
# its name instead of compiling without its flags. The queries are lazy (made by the
# first recipe that needs them, then kept), so `make deps`, help and clean work
# without the packages.
pkg_missing = $(shell if ! command -v pkg-config >/dev/null; then echo pkg-config; \
  elif ! pkg-config --exists $(1); then pkg-config --print-errors --errors-to-stdout \
  --exists $(1) | sed -n "s/^Package '\([^']*\)', required by .*/\1/p" | grep . || echo $(1); fi)
pkg = $(if $(call pkg_missing,$(2)),$(error pkg-config cannot find $(call pkg_missing,$(2)) \
  (asked for $(2)); run `make deps`),$(shell pkg-config $(1) $(2)))
PKG_CFLAGS     = $(eval PKG_CFLAGS := $$(call pkg,--cflags,$$(PKGS)))$(PKG_CFLAGS)
PKG_LIBS       = $(eval PKG_LIBS := $$(call pkg,--libs,$$(PKGS)))$(PKG_LIBS)
CLI_PKG_CFLAGS = $(eval CLI_PKG_CFLAGS := $$(call pkg,--cflags,$$(CLI_PKGS)))$(CLI_PKG_CFLAGS)
CLI_PKG_LIBS   = $(eval CLI_PKG_LIBS := $$(call pkg,--libs,$$(CLI_PKGS)))$(CLI_PKG_LIBS)

# The data path, bottom up (docs/architecture.md): prim (the OS layer),
# common (shared with the CLI), resolver, then the library's rooms.
PRIM_SRC     := $(wildcard prim/*.cpp)
COMMON_SRC   := $(wildcard common/*.cpp)
RESOLVER_SRC := $(wildcard resolver/*.cpp)
TIER_SRC     := $(wildcard shim/tier/*.cpp)
GIVEBACK_SRC := $(wildcard shim/giveback/*.cpp)
CORE_SRC     := $(wildcard shim/core/*.cpp)
SHIM_SRC     := $(wildcard shim/*.cpp shim/interpose/*.cpp)
CLI_SRC      := $(wildcard tools/cli/*.cpp)

obj = $(patsubst %.cpp,$(BUILD)/obj/%.o,$(1))
PRIM_OBJ     := $(call obj,$(PRIM_SRC))
COMMON_OBJ   := $(call obj,$(COMMON_SRC))
RESOLVER_OBJ := $(call obj,$(RESOLVER_SRC))
TIER_OBJ     := $(call obj,$(TIER_SRC))
GIVEBACK_OBJ := $(call obj,$(GIVEBACK_SRC))
CORE_OBJ     := $(call obj,$(CORE_SRC))
SHIM_OBJ     := $(call obj,$(SHIM_SRC))
CLI_OBJ      := $(call obj,$(CLI_SRC))
LIB_OBJ      := $(PRIM_OBJ) $(COMMON_OBJ) $(RESOLVER_OBJ) $(TIER_OBJ) $(GIVEBACK_OBJ) $(CORE_OBJ) $(SHIM_OBJ)

LIB := $(BUILD)/libcmbmap.so
CLI := $(BUILD)/cmbmap
MAN := $(BUILD)/man/cmbmap.1 $(BUILD)/man/cmbmap.7

.PHONY: all deps check check-unit check-host check-diff check-vm check-suites demo install \
        uninstall clean help vm-kernel deb
all: $(LIB) $(CLI) $(MAN)

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(BASEFLAGS) $(PKG_CFLAGS) $(CXXFLAGS) -MMD -MP -c $< -o $@

# The CLI's own sources also include libnvme.
$(BUILD)/obj/tools/cli/%.o: tools/cli/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(BASEFLAGS) $(CLI_PKG_CFLAGS) $(CXXFLAGS) -MMD -MP -c $< -o $@

# `cmbmap run` also looks for the library in ../lib/<triplet>, Debian's libdir.
MULTIARCH = $(eval MULTIARCH := $$(shell $$(CXX) -print-multiarch))$(MULTIARCH)
$(BUILD)/obj/tools/cli/cmd_run.o: BASEFLAGS += -DCMBMAP_MULTIARCH='"$(MULTIARCH)"'

# -z defs: every symbol the library uses must come from a library it names, so a
# missing -l fails here rather than at LD_PRELOAD time in someone's program.
$(LIB): $(LIB_OBJ) shim/libcmbmap.map
	$(CXX) -shared $(SANFLAGS) -o $@ $(LIB_OBJ) \
	  -Wl,--version-script=shim/libcmbmap.map -Wl,-z,now -Wl,-z,defs -Wl,-soname,libcmbmap.so \
	  $(PKG_LIBS) -ldl -lpthread

# The CLI links prim, common and the resolver, not the library's rooms;
# bound at start-up like the library (-z now: its GOT is read-only).
$(CLI): $(CLI_OBJ) $(PRIM_OBJ) $(COMMON_OBJ) $(RESOLVER_OBJ)
	$(CXX) $(SANFLAGS) -Wl,-z,now -o $@ $^ $(CLI_PKG_LIBS)

# The manual pages, from the CLI's own help, option table and the reason enum.
$(MAN) &: $(CLI) include/cmbmap/cmbmap.h tools/man/gen tools/man/cmbmap.1.in tools/man/cmbmap.7.in
	tools/man/gen $(CLI) include/cmbmap/cmbmap.h $(BUILD)/man

include test/test.mk

# The script-driven checks run build/ (the scripts name it), so with SAN they would
# test the normal build and look like they had tested the sanitized one.
SAN_REFUSED := check check-all check-abi check-cli check-host check-diff check-vm check-suites demo \
               check-sanitize check-fuzz fuzz
ifneq ($(SAN),)
ifneq ($(filter $(SAN_REFUSED),$(MAKECMDGOALS)),)
$(error SAN builds are for check-unit; $(filter $(SAN_REFUSED),$(MAKECMDGOALS)) run build/: drop SAN=$(SAN))
endif
endif
-include tools/bench/bench.mk
-include test/vm/vm.mk

deps:
	@tools/deps

# xfstests and LTP in the test machine, plain vs under the shim, for the checkouts given
# (XFSTESTS_DIR, LTP_DIR); not part of `make check`, which must run without them.
check-suites: $(LIB)
	@tools/suites/check

MANDIR ?= $(PREFIX)/share/man
install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PREFIX)/bin \
	  $(DESTDIR)$(PREFIX)/include/cmbmap $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man7
	install -m 755 $(LIB) $(DESTDIR)$(LIBDIR)/libcmbmap.so
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/cmbmap
	install -m 644 include/cmbmap/cmbmap.h $(DESTDIR)$(PREFIX)/include/cmbmap/cmbmap.h
	install -m 644 $(BUILD)/man/cmbmap.1 $(DESTDIR)$(MANDIR)/man1/cmbmap.1
	install -m 644 $(BUILD)/man/cmbmap.7 $(DESTDIR)$(MANDIR)/man7/cmbmap.7
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	  -e 's|@VERSION@|$(shell sed -n 's/.*CMBMAP_VERSION_STRING "\(.*\)"/\1/p' include/cmbmap/cmbmap.h)|' \
	  cmbmap.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/cmbmap.pc

uninstall:
	rm -f $(DESTDIR)$(LIBDIR)/libcmbmap.so $(DESTDIR)$(PREFIX)/bin/cmbmap \
	  $(DESTDIR)$(PREFIX)/include/cmbmap/cmbmap.h $(DESTDIR)$(LIBDIR)/pkgconfig/cmbmap.pc \
	  $(DESTDIR)$(MANDIR)/man1/cmbmap.1 $(DESTDIR)$(MANDIR)/man7/cmbmap.7

# A Debian package of what `make install` puts in /usr, the library in the
# multiarch libdir, plus completion, udev example and package files.
DEB_STAGE := $(BUILD)/deb/stage
deb: all
	@command -v dpkg-deb >/dev/null || { echo "make deb needs dpkg-deb and dpkg-architecture (make deps)" >&2; exit 1; }
	rm -rf $(DEB_STAGE)
	$(MAKE) -s install DESTDIR=$(abspath $(DEB_STAGE)) PREFIX=/usr \
	  LIBDIR=/usr/lib/$$(dpkg-architecture -qDEB_HOST_MULTIARCH)
	tools/deb/build $(DEB_STAGE) $(BUILD)

clean:
	rm -rf $(BUILD)

help:
	@echo "cmbmap targets:"
	@echo "  make deps        install build and test dependencies (Debian packages; root)"
	@echo "  make             build $(LIB), $(CLI) and the man pages ($(BUILD)/man/)"
	@echo "  make check       run every test: unit, fuzz, sanitizers, host filesystems, differential, VM"
	@echo "  make check-unit  Criterion unit tests only; T=NAME runs suite NAME or the tests"
	@echo "                   named NAME, T=suite/test one test (Criterion globs: T='registry/*evict*')"
	@echo "  make check-fuzz  each libFuzzer target (test/fuzz/) replays its corpus and kept crashes,"
	@echo "                   then fuzzes $(CHECK_FUZZ_SECONDS) s (CHECK_FUZZ_SECONDS=N; FUZZ_TARGETS=plan,text picks)"
	@echo "  make fuzz        every target for FUZZ_SECONDS (default $(FUZZ_SECONDS)) each; a table of"
	@echo "                   executions and crashes; builds with clang into build-fuzz/"
	@echo "  make check-sanitize  unit tests and check-stress under ASan+UBSan and under TSan,"
	@echo "                   the differential tests with the ASan+UBSan library preloaded (a few minutes)"
	@echo "  make check-stress threads mapping, unmapping, mprotecting, forking and giving back on the"
	@echo "                   served path (fake tier; STRESS_SECONDS=3); with SAN= like check-unit"
	@echo "  make check-abi   exported symbols; check-cli: the command line"
	@echo "  make check-host  resolver on real filesystems (loop devices; root)"
	@echo "  make check-diff  real programs and bad calls with vs without the shim"
	@echo "  make check-vm    tests in the emulated NVMe machine (builds the guest kernel once)"
	@echo "  make check-all   make check plus three more machine configurations (xfs on 512-byte blocks, ext4 on 4096"
	@echo "                   in a partition, a 16 MiB CMB) and longer kill-storm, contention and drive-fault runs"
	@echo "  make check-suites  xfstests/LTP plain vs under the shim in that machine, for the"
	@echo "                   checkouts given: XFSTESTS_DIR=... LTP_DIR=... (not in make check)"
	@echo "  make bench       the numbers in the test machine: build/bench/results.md, .json, plots"
	@echo "  make bench-quick the same measures, fewer sizes and repetitions (a few minutes)"
	@echo "  make bench-host  mmap/munmap pass-through overhead on this host"
	@echo "  make demo        show cmbmap on the emulated NVMe drive"
	@echo "  make vm-kernel   build (or find cached) the P2PDMA guest kernel"
	@echo "  make install     install library, CLI, header, pkg-config, man pages"
	@echo "                   (PREFIX=$(PREFIX), LIBDIR=PREFIX/lib, MANDIR=PREFIX/share/man)"
	@echo "  make deb         build/cmbmap_VERSION_ARCH.deb: the same in /usr, library in the"
	@echo "                   multiarch libdir, plus bash completion and the example udev rule"
	@echo "  make clean       remove $(BUILD)/"
	@echo "switches (e.g. make WERROR=1 check-unit):"
	@echo "  WERROR=1         warnings are errors (library, CLI, unit tests)"
	@echo "  SAN=address,undefined   (or SAN=thread) build the library, CLI and unit tests"
	@echo "                   with those sanitizers into build-san-<list>/; check-unit and"
	@echo "                   check-stress run them (the shim is preloaded into other programs,"
	@echo "                   where the sanitizer runtime must load first: check-sanitize does"
	@echo "                   that for the differential tests; the other checks run build/ and refuse SAN)"
	@echo "  test/vm/run-all --only NAME   one in-guest or harness test (see --help)"

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
