#!/usr/bin/env bash
# tools/vm/run --faults: inside the guest, tools/vm/fault makes the drive fail reads or
# writes of a file's blocks (O_DIRECT: ENODATA; through the page cache: EIO) from the moment it is
# armed until it is cleared, and leaves other blocks alone. Without --faults the same
# guest script reads and writes everything and tools/vm/fault exits 77.
. "$(dirname "$0")/../helpers.sh"
out=$(mktemp); trap 'rm -f "$out"' EXIT
# shellcheck disable=SC2016
guest='
F=tools/vm/fault v=/mnt/nvme/victim b=/mnt/nvme/bystander
head -c 1048576 /dev/urandom > $v; head -c 1048576 /dev/urandom > $b; sync
# ok, or the error: EIO, or ENODATA (the block layer'"'"'s word for a medium error, which is
# what O_DIRECT sees; the page cache turns every read error into EIO)
res() { "$@" 2>&1 >/dev/null | sed -n "s/.*Input\/output error.*/EIO/p; s/.*No data available.*/ENODATA/p" \
          | head -n1 | grep . || echo ok; }
drop() { echo 3 > /proc/sys/vm/drop_caches; }
rdd() { drop; res dd if=$1 of=/dev/null bs=64k iflag=direct status=none; }   # O_DIRECT
rdc() { drop; res cat $1; }                                                  # page cache
wrd() { res dd if=/dev/zero of=$1 bs=4k count=1 seek=7 conv=notrunc oflag=direct status=none; }
step() {
  echo "$1: read-direct $(rdd $v) read-cached $(rdc $v) write $(wrd $v) bystander $(rdd $b) $(wrd $b)"
}
step before
$F arm read $v; echo "arm read: $?"
step read-armed
$F arm write $v; echo "arm write: $?"
step write-armed
$F clear; echo "clear: $?"
step cleared
# A sector range: the first 4 KiB block of the victim, read from the raw namespace.
set -- $($F sectors $v | head -n1)
$F arm read "$1:$2+8"
echo "range: first block $(res dd if=/dev/nvme0n1 of=/dev/null bs=4k skip=$(($2 / 8)) count=1 iflag=direct status=none)" \
  "next block $(res dd if=/dev/nvme0n1 of=/dev/null bs=4k skip=$(($2 / 8 + 1)) count=1 iflag=direct status=none)"
$F clear
exit 0   # without --faults the last clear says 77; the lines above are what counts
'
expect() {  # expect LINE: the guest printed exactly this line
  grep -qxF "$1" "$out" || { cat "$out"; fail "expected the line '$1'"; }
}
"$VMRUN" --faults -- bash -c "$guest" > "$out" 2>&1 || { rc=$?; cat "$out"; fail "run --faults exited $rc"; }
cat "$out"
expect "before: read-direct ok read-cached ok write ok bystander ok ok"
expect "arm read: 0"
expect "read-armed: read-direct ENODATA read-cached EIO write ok bystander ok ok"
expect "arm write: 0"
expect "write-armed: read-direct ok read-cached ok write ENODATA bystander ok ok"
expect "clear: 0"
expect "cleared: read-direct ok read-cached ok write ok bystander ok ok"
expect "range: first block ENODATA next block ok"

# The same script without --faults: arming is refused, nothing fails.
"$VMRUN" -- bash -c "$guest" > "$out" 2>&1 || { rc=$?; cat "$out"; fail "run without --faults exited $rc"; }
cat "$out"
expect "arm read: 77"
expect "read-armed: read-direct ok read-cached ok write ok bystander ok ok"
expect "write-armed: read-direct ok read-cached ok write ok bystander ok ok"
expect "range: first block ok next block ok"
grep -q "no fault control here" "$out" || fail "tools/vm/fault did not say why it could not arm"
