# Benchmarks. `make bench` / `make bench-quick` boot the test machine and run
# tools/bench/guest_bench.py there (results, table and plots in build/bench/);
# `make bench-host` measures the pass-through cost on this host.
.PHONY: bench bench-quick bench-host bench-progs
BENCH_PROGS := $(patsubst tools/bench/%.c,$(BUILD)/bench/%,$(wildcard tools/bench/*.c))

# Libraries a program needs beyond libc: BENCH_LIBS_<name>.
BENCH_LIBS_fillbench := -luring
BENCH_LIBS_wbstall := -pthread

$(BUILD)/bench/%: tools/bench/%.c tools/bench/benchutil.h include/cmbmap/cmbmap.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -o $@ $< -ldl $(BENCH_LIBS_$*)

bench-progs: $(LIB) $(CLI) $(BENCH_PROGS)

bench: bench-progs
	@tools/bench/run

bench-quick: bench-progs
	@tools/bench/run --quick

bench-host: bench-progs
	@tools/bench/passthrough.py
