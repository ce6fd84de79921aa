# Test targets, included by the top-level Makefile.

# The unit tests link the whole library but its hooks, with the fake CMB
# tier (test/unit/fake/) in place of p2pmem: the served path runs on the host.
UNIT_SRC := $(wildcard test/unit/*.cpp test/unit/fake/*.cpp)
UNIT_BIN := $(BUILD)/test/unit_tests
UNIT_DEPS := $(PRIM_OBJ) $(COMMON_OBJ) $(RESOLVER_OBJ) $(filter-out %/p2pmem.o,$(TIER_OBJ)) \
             $(GIVEBACK_OBJ) $(CORE_OBJ) $(call obj,shim/real.cpp)

# Unit tests build with the library's warnings and dependency files
# (Criterion's C++ asserts need exceptions and RTTI).
UNIT_OBJ := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(UNIT_SRC))
$(BUILD)/obj/test/unit/%.o: test/unit/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(filter-out -fno-exceptions -fno-rtti,$(BASEFLAGS)) $(PKG_CFLAGS) $(CXXFLAGS) -MMD -MP -c $< -o $@

$(UNIT_BIN): $(UNIT_OBJ) $(UNIT_DEPS)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -o $@ $(UNIT_OBJ) $(UNIT_DEPS) -lcriterion $(PKG_LIBS) -ldl -lpthread

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
	@test/abi/layout

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
