# Test targets, included by the top-level Makefile.

# The unit tests link the whole library but its hooks, with the fake CMB
# tier (test/unit/fake/) in place of p2pmem: the served path runs on the host.
UNIT_SRC := $(wildcard test/unit/*.cpp test/unit/fake/*.cpp)
UNIT_BIN := $(BUILD)/test/unit_tests
# `cmbmap check`'s model and readers, with the CLI helpers they print through.
CHECK_OBJ := $(call obj,$(wildcard tools/cli/check_*.cpp) tools/cli/cli.cpp tools/cli/json.cpp \
             tools/cli/target_json.cpp tools/cli/hidden_cmb.cpp)
UNIT_DEPS := $(PRIM_OBJ) $(COMMON_OBJ) $(RESOLVER_OBJ) $(filter-out %/p2pmem.o,$(TIER_OBJ)) \
             $(GIVEBACK_OBJ) $(CORE_OBJ) $(call obj,shim/real.cpp) $(CHECK_OBJ)

# Unit tests build with the library's warnings and dependency files
# (Criterion's C++ asserts need exceptions and RTTI).
UNIT_OBJ := $(patsubst %.cpp,$(BUILD)/obj/%.o,$(UNIT_SRC))
$(BUILD)/obj/test/unit/%.o: test/unit/%.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(filter-out -fno-exceptions -fno-rtti,$(BASEFLAGS)) $(PKG_CFLAGS) $(CXXFLAGS) -MMD -MP -c $< -o $@

$(UNIT_BIN): $(UNIT_OBJ) $(UNIT_DEPS)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(SANFLAGS) -o $@ $(UNIT_OBJ) $(UNIT_DEPS) $(UNIT_SAN_OBJ) -lcriterion $(PKG_LIBS) -ldl -lpthread

# Under ThreadSanitizer Criterion cannot place its arena without help (see the file).
UNIT_SAN_OBJ := $(if $(call san_has,thread),$(call obj,test/san/tsan_criterion_arena.cpp))
$(UNIT_BIN): $(UNIT_SAN_OBJ)

# Several threads at once on the served path, with the fake tier as in the unit
# tests (test/san/stress_threads.cpp): a binary of its own, so that check-unit
# stays quick; make check-sanitize runs it under each sanitizer.
STRESS_BIN := $(BUILD)/test/stress_threads
STRESS_OBJ := $(call obj,test/san/stress_threads.cpp test/unit/fake/fake_tier.cpp test/unit/fake/fixture.cpp)
$(BUILD)/obj/test/san/stress_threads.o: test/san/stress_threads.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(filter-out -fno-exceptions -fno-rtti,$(BASEFLAGS)) $(PKG_CFLAGS) $(CXXFLAGS) -MMD -MP -c $< -o $@
$(STRESS_BIN): $(STRESS_OBJ) $(UNIT_DEPS) $(UNIT_SAN_OBJ)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) $(SANFLAGS) -o $@ $^ -lcriterion $(PKG_LIBS) -ldl -lpthread

# Small C helpers the shell tests run (one file each, no shared state).
TEST_HELPERS := $(patsubst test/%.c,$(BUILD)/test/%,$(wildcard test/diff/*.c test/host/*.c))
$(BUILD)/test/%: test/%.c
	@mkdir -p $(dir $@)
	$(CC) -O1 -g -Wall -D_GNU_SOURCE -o $@ $<

.PHONY: check-abi check-cli test-helpers check-all
test-helpers: $(TEST_HELPERS)

check: all check-unit check-fuzz check-sanitize check-abi check-cli check-host check-diff check-vm

# T=NAME runs only the matching tests: a name without '/' is a suite, or a test of any
# suite (T=registry); T=suite/test picks one test; Criterion globs work in both
# (T='registry/*evict*'). A T that matches nothing fails, so a typo is not a pass.
UNIT_FILTER = $(if $(findstring /,$(T)),$(T),@($(T)/*|*/$(T)))
UNIT_JSON   = $(BUILD)/test/unit_tests.json
# A TSan report only fails the test that made it if it stops the worker
# (halt_on_error); ASan stops anyway, UBSan with -fno-sanitize-recover.
# Dirty tracking is built on SIGSEGV and its tests expect a fault that is not
# cmbmap's to reach the program's handler or kill: a sanitizer's own SEGV handler
# (which the tracking would take for the program's) must stay out. Options already
# in the environment come after, so they win.
UNIT_ENV = $(if $(SAN),ASAN_OPTIONS="handle_segv=0:$${ASAN_OPTIONS-}" \
  UBSAN_OPTIONS="handle_segv=0:print_stacktrace=1:$${UBSAN_OPTIONS-}" \
  TSAN_OPTIONS="handle_segv=0:halt_on_error=1:$${TSAN_OPTIONS-}")
check-unit: $(UNIT_BIN)
	@echo "== unit tests (Criterion)$(if $(T), matching $(UNIT_FILTER))"
	@$(UNIT_ENV) $(UNIT_BIN) --jobs 2 $(if $(T),--filter '$(UNIT_FILTER)' --json=$(UNIT_JSON))
	@$(if $(T),grep -qE '^  "(passed|failed|errored)": [1-9]' $(UNIT_JSON) \
	  || { echo "check-unit: no unit test matches T=$(T)" >&2; exit 1; })

.PHONY: check-stress
check-stress: $(STRESS_BIN)
	@echo "== threads on the served path (STRESS_SECONDS=$${STRESS_SECONDS:-3})"
	@$(UNIT_ENV) $(STRESS_BIN) --verbose=0

# Every unit test and the threads on the served path under ASan+UBSan and under
# TSan (each in its own build-san-*/), and the differential tests with the
# ASan+UBSan library preloaded into real programs. A few minutes on 2 cores.
.PHONY: check-sanitize
check-sanitize: all test-helpers
	@echo "== sanitizers: ASan+UBSan"
	@$(MAKE) --no-print-directory SAN=address,undefined check-unit check-stress build-san-address-undefined/libcmbmap.so
	@test/san/diff_preloaded build-san-address-undefined
	@echo "== sanitizers: TSan"
	@$(MAKE) --no-print-directory SAN=thread check-unit check-stress

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

# Every test of make check, plus the machine configurations make check folds
# together: xfs on 512-byte blocks over a whole namespace, ext4 on 4096-byte
# blocks in a partition, and a 16 MiB CMB. The kill storm, the contention and the
# drive-fault tests run longer here.
check-all: all check-unit check-fuzz check-sanitize check-abi check-cli check-host check-diff test-helpers vm-test-progs
	@KILL_STORM_ROUNDS=300 CONTEND_SECONDS=120 FAULT_ROUNDS=30 SHARED_PAGE_SECONDS=60 test/vm/run-all --config p2p:ext4:1 --config p2p:xfs:2:lba4096,part,cmb256 --config stock:ext4:1 \
	  --config p2p:xfs:2 --config p2p:ext4:1:lba4096,part --config p2p:ext4:1:cmb16

demo: all vm-test-progs
	@tools/demo

vm-kernel:
	@tools/vm/build-kernel

include test/fuzz/fuzz.mk
