# cmbmap — build, test, install. `make help` lists the targets.
# The Makefile only builds: `make deps` installs packages, pkg-config finds them.

PREFIX   ?= /usr/local
BUILD    ?= build
CXX      ?= g++
PKGS     := libunwind liburing
CXXFLAGS ?= -O2 -g
WARN     := -Wall -Wextra -Wno-missing-field-initializers
BASEFLAGS = -std=c++20 -fPIC -fvisibility=hidden -fno-exceptions -fno-rtti \
            -I. -Iinclude -D_GNU_SOURCE $(WARN)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

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

.PHONY: all deps check check-unit check-host check-diff check-vm demo install \
        uninstall clean help vm-kernel
all: $(LIB) $(CLI)

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(BASEFLAGS) $(PKG_CFLAGS) $(CXXFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ) shim/libcmbmap.map
	$(CXX) -shared -o $@ $(LIB_OBJ) \
	  -Wl,--version-script=shim/libcmbmap.map -Wl,-z,now -Wl,-soname,libcmbmap.so \
	  $(PKG_LIBS) -ldl -lpthread

# The CLI links prim, common and the resolver, not the library's rooms.
$(CLI): $(CLI_OBJ) $(PRIM_OBJ) $(COMMON_OBJ) $(RESOLVER_OBJ)
	$(CXX) -o $@ $^ -lnvme $(PKG_LIBS)

include test/test.mk
-include tools/bench/bench.mk
-include test/vm/vm.mk

deps:
	@tools/deps

install: all
	install -d $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/bin \
	  $(DESTDIR)$(PREFIX)/include/cmbmap $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 755 $(LIB) $(DESTDIR)$(PREFIX)/lib/libcmbmap.so
	install -m 755 $(CLI) $(DESTDIR)$(PREFIX)/bin/cmbmap
	install -m 644 include/cmbmap/cmbmap.h $(DESTDIR)$(PREFIX)/include/cmbmap/cmbmap.h
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(shell sed -n 's/.*CMBMAP_VERSION_STRING "\(.*\)"/\1/p' include/cmbmap/cmbmap.h)|' \
	  cmbmap.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/cmbmap.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/lib/libcmbmap.so $(DESTDIR)$(PREFIX)/bin/cmbmap \
	  $(DESTDIR)$(PREFIX)/include/cmbmap/cmbmap.h $(DESTDIR)$(PREFIX)/lib/pkgconfig/cmbmap.pc

clean:
	rm -rf $(BUILD)

help:
	@echo "cmbmap targets:"
	@echo "  make deps        install build and test dependencies (Debian packages; root)"
	@echo "  make             build $(LIB) and $(CLI)"
	@echo "  make check       run every test: unit, host filesystems, differential, VM"
	@echo "  make check-unit  Criterion unit tests only"
	@echo "  make check-host  resolver on real filesystems (loop devices; root)"
	@echo "  make check-diff  real programs and bad calls with vs without the shim"
	@echo "  make check-vm    tests in the emulated NVMe machine (builds the guest kernel once)"
	@echo "  make bench       the numbers in the test machine: build/bench/results.md, .json, plots"
	@echo "  make bench-quick the same measures, fewer sizes and repetitions (a few minutes)"
	@echo "  make bench-host  mmap/munmap pass-through overhead on this host"
	@echo "  make demo        show cmbmap on the emulated NVMe drive"
	@echo "  make vm-kernel   build (or find cached) the P2PDMA guest kernel"
	@echo "  make install     install library, CLI, header, pkg-config (PREFIX=$(PREFIX))"
	@echo "  make clean       remove $(BUILD)/"

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
