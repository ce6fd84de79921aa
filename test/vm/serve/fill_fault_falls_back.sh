#!/usr/bin/env bash
# A fill the drive fails falls back: with reads of the file's blocks failing
# (tools/vm/fault, needs tools/vm/run --faults), each fill engine's read into CMB
# fails, the mapping stays ordinary (FILL_FAILED in the log and the statistics, no
# CMB bytes), and once the drive reads again the program sees the file's bytes.
# The program maps, then waits until the faults are cleared before it reads: the
# fallback pages come from the same failing blocks, so reading them while the faults
# are armed would be SIGBUS, with or without cmbmap.
# A control run without faults must be served (else FILL_FAILED proves nothing).
. "$(dirname "$0")/lib.sh"
expect_served || skip "no p2pmem under the $TESTVM_KERNEL kernel"
[ -n "${TESTVM_FAULTS:-}" ] || skip "no drive faults (run the machine with tools/vm/run --faults)"
FAULT=$ROOT/tools/vm/fault
f=$WORK/faulty
random_file "$f" $(((1 << 20) + 1234))
sync
want=$(sha256sum < "$f" | cut -d' ' -f1)
hs=$(mktemp -d /dev/shm/fillfault.XXXXXX)
trap 'rm -rf "$WORK" "$LOGS" "$hs"' EXIT

# mapped_hash NAME ENGINE ARMED: the program under the shim; with ARMED=1 the faults
# are cleared between its mmap and its reads. The digest it read goes to $hs/out.
mapped_hash() {
  local name=$1 engine=$2 armed=$3
  rm -f "$hs/mapped" "$hs/go"
  drop_caches
  if [ "$armed" = 1 ]; then "$FAULT" arm read "$f" || fail "$name: arming the faults failed"; fi
  CMBMAP_FILL=$engine with_shim "$name" "$PY" -c "$MAP_THEN_HASH" "$f" "$hs/mapped" "$hs/go" > "$hs/out" 2> "$LOGS/$name.err" &
  local pid=$! i
  for ((i = 0; i < 300; i++)); do [ -e "$hs/mapped" ] || ! kill -0 $pid 2>/dev/null && break; sleep 0.1; done
  [ -e "$hs/mapped" ] || { kill $pid 2>/dev/null; cat "$LOGS/$name.err"; fail "$name: the program did not map"; }
  if [ "$armed" = 1 ]; then "$FAULT" clear || fail "$name: clearing the faults failed"; fi
  touch "$hs/go"
  wait $pid || { cat "$LOGS/$name.err"; fail "$name: the program failed"; }
}

# Control: no faults, the same program is served.
mapped_hash control auto 0
[ "$(cat "$hs/out")" = "$want" ] || fail "control: digest differs"
[ "$(served_bytes control)" -gt 0 ] || fail "control: not served, so a fallback would prove nothing: $(grep 'info: mmap' "$LOGS/control.log")"
! grep -q FILL_FAILED "$LOGS/control.log" || fail "control: FILL_FAILED without faults"
echo "control: served $(served_bytes control) bytes, same bytes"

# pread reads through the file, passthru by NVMe command: the two ways a fill
# reaches the blocks (uring is pread's path with a ring; left out for time).
for e in pread passthru; do
  mapped_hash "fault-$e" "$e" 1
  log=$LOGS/fault-$e.log
  [ "$(cat "$hs/out")" = "$want" ] || fail "$e: the program read other bytes than the file's"
  [ "$(served_bytes "fault-$e")" = 0 ] || fail "$e: served although every read of the file failed"
  grep -q "fill of .* failed (errno [0-9]*): ordinary pages instead" "$log" \
    || fail "$e: no failed fill logged: $(grep -E 'fill|info: mmap' "$log" | head -5)"
  grep -q "ordinary, FILL_FAILED" "$log" || fail "$e: no segment is FILL_FAILED: $(grep -A3 'info: mmap' "$log")"
  grep -qE "stats: .*FILL_FAILED [1-9]" "$log" || fail "$e: the statistics do not count FILL_FAILED: $(grep stats: "$log")"
  echo "$e: $(grep -o "[a-z]* fill of .* failed (errno [0-9]*)" "$log" | head -n1), same bytes afterwards"
done
