#!/usr/bin/env bash
# /sys/class/nvme/nvme0/cmbsz, parsed (SZ * 4 KiB * 16^SZU), gives the CMB size asked for (64 MiB).
. "$(dirname "$0")/../helpers.sh"; in_guest
f=/sys/class/nvme/nvme0/cmbsz
if [ ! -e "$f" ]; then
  p2p_kernel && fail "$f missing under the p2p kernel"
  # Linux 6.1's nvme-pci adds cmb/cmbloc/cmbsz only after registering the CMB as p2pmem.
  skip "NO_P2PDMA: $f absent (the kernel lists cmbsz only for a CMB registered with P2PDMA)"
fi
raw=$(cat "$f"); loc=$(cat /sys/class/nvme/nvme0/cmbloc)
num() { case $1 in 0x*|x*) echo $((16#${1#*x})) ;; *) echo $(($1)) ;; esac; }  # 6.12 prints decimal
v=$(num "$raw"); szu=$(((v >> 8) & 0xf)); sz=$((v >> 12))
bytes=$((sz * 4096 * (1 << (4 * szu))))
echo "cmbsz $raw cmbloc $loc -> $bytes bytes, flags:$(( v & 1 ? 1 : 0 ))sqs $(( v >> 1 & 1 ))cqs $(( v >> 2 & 1 ))lists $(( v >> 3 & 1 ))rds $(( v >> 4 & 1 ))wds"
want=$(( ${TESTVM_CMB_MB:-64} << 20 ))
[ "$bytes" = "$want" ] || fail "CMB size $bytes, expected $want"
[ $(( $(num "$loc") & 7 )) = 2 ] || fail "CMB not in BAR 2 (cmbloc $loc)"
