#!/usr/bin/env bash
# munmap (middle, head, tail), mremap (shrink, grow, move), mprotect,
# madvise(DONTNEED, POPULATE_READ/WRITE, DODUMP), msync, mlock, fork and
# MAP_POPULATE on served ranges give the same results as on a plain mapping,
# and the kernel is never asked to populate CMB pages (it refuses with a
# warning in its log).
. "$(dirname "$0")/lib.sh"
f=$WORK/ops
random_file "$f" $((8 << 20))
"$MAPCHECK" ops "$f" > "$LOGS/ops.plain" 2>/dev/null || fail "plain run"
warned=$(dmesg | grep -c madvise_populate)
with_shim ops "$MAPCHECK" ops "$f" > "$LOGS/ops.shim" 2>"$LOGS/ops.backing" || fail "shim run"
cmp -s "$LOGS/ops.plain" "$LOGS/ops.shim" || { diff "$LOGS/ops.plain" "$LOGS/ops.shim"; fail "results differ"; }
grep -c DIFFERENT "$LOGS/ops.shim" | grep -qx 0 || fail "a check read wrong bytes"
if expect_served; then
  grep -q "backing p2pmem" "$LOGS/ops.backing" || fail "not served"
  # The first mapping, the grown one, and the two mapped to prefault.
  [ "$(grep -c "backing p2pmem" "$LOGS/ops.backing")" = 4 ] || fail "not served each time: $(cat "$LOGS/ops.backing")"
  [ "$(dmesg | grep -c madvise_populate)" = "$warned" ] || fail "the kernel was asked to populate CMB pages: $(dmesg | grep madvise_populate | tail -1)"
  grep -q "revoked .*REMAPPED" "$LOGS/ops.log" || fail "no revocation logged for mremap/mprotect/madvise"
fi
cat "$LOGS/ops.shim"
