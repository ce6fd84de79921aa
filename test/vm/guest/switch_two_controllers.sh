#!/usr/bin/env bash
# With two controllers both publish p2pmem and sit behind one PCIe switch (same upstream
# port), so the kernel allows DMA between them.
. "$(dirname "$0")/../helpers.sh"; in_guest
[ "${TESTVM_CONTROLLERS:-1}" = 2 ] || skip "one controller in this configuration (two: --controllers 2)"
a=$(nvme_pci nvme0) b=$(nvme_pci nvme1)
echo "nvme0: $a"; echo "nvme1: $b"
[ "$(dirname "$(dirname "$a")")" = "$(dirname "$(dirname "$b")")" ] || fail "not behind one switch"
if p2p_kernel; then
  [ "$(cat "$a/p2pmem/published")" = 1 ] && [ "$(cat "$b/p2pmem/published")" = 1 ] \
    || fail "p2pmem not published on both"
fi
mountpoint -q /mnt/nvme2 || fail "/mnt/nvme2 not mounted"
