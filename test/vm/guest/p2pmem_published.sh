#!/usr/bin/env bash
# Under the p2p kernel each controller publishes its CMB as p2pmem: size = CMB, available > 0, published = 1.
. "$(dirname "$0")/../helpers.sh"; in_guest
n=${TESTVM_CONTROLLERS:-1}
for ((i = 0; i < n; i++)); do
  d=$(nvme_pci nvme$i)/p2pmem
  if [ ! -d "$d" ]; then
    p2p_kernel && fail "$d missing under the p2p kernel"
    skip "NO_P2PDMA: $d absent (kernel without CONFIG_PCI_P2PDMA)"
  fi
  size=$(cat "$d/size") avail=$(cat "$d/available") pub=$(cat "$d/published")
  echo "nvme$i p2pmem: size $size available $avail published $pub"
  [ "$size" = $(( ${TESTVM_CMB_MB:-64} << 20 )) ] || fail "p2pmem size $size"
  [ "$avail" -gt 0 ] && [ "$avail" -le "$size" ] || fail "p2pmem available $avail"
  [ "$pub" = 1 ] || fail "p2pmem not published"
done
