#!/usr/bin/env bash
# The guest sees each emulated NVMe controller and its namespace's block device.
. "$(dirname "$0")/../helpers.sh"; in_guest
n=${TESTVM_CONTROLLERS:-1}
for ((i = 0; i < n; i++)); do
  [ -d "/sys/class/nvme/nvme$i" ] || fail "/sys/class/nvme/nvme$i missing"
  [ -b "/dev/nvme${i}n1" ] || fail "/dev/nvme${i}n1 is not a block device"
  echo "nvme$i: $(cat /sys/class/nvme/nvme$i/model) at $(basename "$(nvme_pci nvme$i)")"
done
[ ! -d "/sys/class/nvme/nvme$n" ] || fail "more controllers than the $n asked for"
