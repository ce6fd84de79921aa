#!/usr/bin/env bash
# pread(O_DIRECT) of a file on /mnt/nvme into an mmap of p2pmem/allocate yields the file's bytes.
. "$(dirname "$0")/../helpers.sh"; in_guest
prog=$ROOT/build/test/vm/p2pmem_fill
[ -x "$prog" ] || fail "$prog not built (make -f test/vm/vm.mk vm-test-progs)"
alloc=$(nvme_pci nvme0)/p2pmem/allocate
if [ ! -e "$alloc" ]; then
  p2p_kernel && fail "$alloc missing under the p2p kernel"
  skip "NO_P2PDMA: $alloc absent (kernel without CONFIG_PCI_P2PDMA)"
fi
f=/mnt/nvme/p2pmem_fill.dat
head -c $((3 * 1024 * 1024 + 1234)) /dev/urandom > "$f" && sync "$f"
"$prog" "$alloc" "$f"
