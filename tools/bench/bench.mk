# Benchmarks that run on the host (the VM benchmarks come with `make bench`).
.PHONY: bench-host
$(BUILD)/bench/mmap_loop: tools/bench/mmap_loop.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -o $@ $<

bench-host: $(LIB) $(BUILD)/bench/mmap_loop
	@tools/bench/passthrough.py

$(BUILD)/bench/fillbench: tools/bench/fillbench.c include/cmbmap/cmbmap.h
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -o $@ $< -ldl
bench-host: $(BUILD)/bench/fillbench

$(BUILD)/bench/revokebench: tools/bench/revokebench.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -Wall -o $@ $<
bench-host: $(BUILD)/bench/revokebench
