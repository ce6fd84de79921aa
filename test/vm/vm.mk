# Makefile fragment for the test machine's helper programs (test/vm/*.c), built into
# build/test/vm/. Included by the top-level Makefile; also usable alone:
#   make -f test/vm/vm.mk vm-test-progs
VM_TEST_PROGS := $(patsubst test/vm/%.c,build/test/vm/%,$(wildcard test/vm/*.c))
VM_TEST_CFLAGS ?= -O2 -g -Wall -Wextra -Werror -std=c11 -Iinclude -pthread -ldl

.PHONY: vm-test-progs
vm-test-progs: $(VM_TEST_PROGS)

# Libraries a helper needs beyond libc: VM_TEST_LIBS_<name>.
VM_TEST_LIBS_kstores := -luring

build/test/vm/%: test/vm/%.c test/vm/probe.h include/cmbmap/cmbmap.h
	@mkdir -p $(dir $@)
	$(CC) $(VM_TEST_CFLAGS) -o $@ $< $(VM_TEST_LIBS_$*)
