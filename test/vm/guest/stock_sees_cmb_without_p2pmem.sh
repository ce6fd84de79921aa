#!/usr/bin/env bash
# Under Debian's stock kernel the CMB is visible in sysfs (BAR 2 of the controller, 64 MiB)
# but no p2pmem is published: exactly what cmbmap reports as NO_P2PDMA.
. "$(dirname "$0")/../helpers.sh"; in_guest
[ "${TESTVM_KERNEL:-}" = stock ] || skip "stock kernel only (this guest runs ${TESTVM_KERNEL:-?})"
pci=$(nvme_pci nvme0)
read -r start end flags < <(sed -n 3p "$pci/resource")   # line 3 = BAR 2
size=$(( end - start + 1 ))
echo "BAR 2 of $(basename "$pci"): $start-$end flags $flags ($size bytes)"
[ "$size" = $(( ${TESTVM_CMB_MB:-64} << 20 )) ] || fail "BAR 2 size $size"
[ -e "$pci/resource2" ] || fail "$pci/resource2 missing"
for d in /sys/bus/pci/devices/*; do
  [ ! -e "$d/p2pmem" ] || fail "p2pmem published by $(basename "$d") under the stock kernel"
done
echo "no p2pmem anywhere: NO_P2PDMA"
