# Test targets, included by the top-level Makefile.

UNIT_SRC := $(wildcard test/unit/*.cpp)
UNIT_BIN := $(BUILD)/test/unit_tests
UNIT_DEPS := $(RESOLVER_OBJ) $(call obj,shim/core/options.cpp shim/core/policy.cpp \
             shim/core/registry.cpp shim/core/stats.cpp shim/core/log.cpp shim/core/machine.cpp \
             shim/core/lease.cpp shim/core/openfiles.cpp shim/core/dirty.cpp shim/real.cpp)

$(UNIT_BIN): $(UNIT_SRC) $(UNIT_DEPS)
	@mkdir -p $(dir $@)
	$(CXX) -std=c++20 -Iinclude -D_GNU_SOURCE $(CXXFLAGS) -o $@ $(UNIT_SRC) $(UNIT_DEPS) -lcriterion

# Small C helpers the shell tests run (one file each, no shared state).
TEST_HELPERS := $(patsubst test/%.c,$(BUILD)/test/%,$(wildcard test/diff/*.c test/host/*.c))
$(BUILD)/test/%: test/%.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -g -Wall -D_GNU_SOURCE -o $@ $<

.PHONY: check-abi check-cli test-helpers
test-helpers: $(TEST_HELPERS)

check: all check-unit check-abi check-cli check-host check-diff check-vm

check-unit: $(UNIT_BIN)
	@echo "== unit tests (Criterion)"
	@$(UNIT_BIN) --jobs 2

check-abi: $(LIB) $(CLI)
	@echo "== exported symbols"
	@test/abi/check-exports $(LIB)
	@test/abi/readme-options

check-host: all test-helpers
	@echo "== resolver on real filesystems (loop devices)"
	@test/host/run-all

check-diff: all test-helpers
	@echo "== real programs and bad calls, with vs without the shim"
	@test/diff/run-all

check-cli: all
	@echo "== command line"
	@test/cli/run-all

check-vm: all test-helpers vm-test-progs
	@echo "== the emulated NVMe machine (builds the guest kernel once, then cached)"
	@test/vm/run-all

demo: all vm-test-progs
	@tools/demo

vm-kernel:
	@tools/vm/build-kernel
