# libFuzzer targets (test/fuzz/<name>.cpp, one per parser or planner fed by the
# outside world), built with clang into build-fuzz/ so their objects never mix
# with the gcc build. Included by test/test.mk.
#   make fuzz        every target for FUZZ_SECONDS (default 60) each
#   make check-fuzz  every target replays its corpus and crashes, then fuzzes
#                    CHECK_FUZZ_SECONDS (default 12) each
# FUZZ_TARGETS=plan,text picks targets.
FUZZ_BUILD   := build-fuzz
FUZZ_CXX     ?= clang++
FUZZ_SECONDS ?= 60
CHECK_FUZZ_SECONDS ?= 6
FUZZ_TARGETS ?=
# The library's own language flags, with ASan and UBSan (a UBSan finding aborts,
# so it is a crash like any other) and libFuzzer's coverage instrumentation.
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CXXFLAGS := -std=c++20 -g -O1 -fno-exceptions -fno-rtti -I. -Iinclude -D_GNU_SOURCE \
                 -Wall -Wextra -Wno-missing-field-initializers $(FUZZ_SAN) -fsanitize=fuzzer-no-link

FUZZ_NAMES := $(basename $(notdir $(wildcard test/fuzz/*.cpp)))
FUZZ_BINS  := $(addprefix $(FUZZ_BUILD)/,$(FUZZ_NAMES))
# What the targets parse: prim, common, the resolver (no shim, no drive) and
# the command line's view of a statistics block.
FUZZ_LIB_OBJ := $(patsubst %.cpp,$(FUZZ_BUILD)/obj/%.o,$(PRIM_SRC) $(COMMON_SRC) $(RESOLVER_SRC) \
                  tools/cli/stats_view.cpp tools/cli/json.cpp tools/cli/cli.cpp)

$(FUZZ_BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) $(PKG_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/%: $(FUZZ_BUILD)/obj/test/fuzz/%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CXX) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(PKG_LIBS) -ldl -lpthread

.PHONY: fuzz fuzz-build check-fuzz
fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@test/fuzz/run --seconds $(FUZZ_SECONDS) $(if $(FUZZ_TARGETS),--only $(FUZZ_TARGETS))

check-fuzz: fuzz-build
	@echo "== fuzzing (corpus and crash replay, then $(CHECK_FUZZ_SECONDS) s of new inputs per target)"
	@test/fuzz/run --seconds $(CHECK_FUZZ_SECONDS) $(if $(FUZZ_TARGETS),--only $(FUZZ_TARGETS))

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
