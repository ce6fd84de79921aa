#!/usr/bin/env bash
# munmap (middle, head, tail), mremap (shrink, grow, move), mprotect,
# madvise(DONTNEED), msync, mlock and fork on served ranges give the same
# results as on a plain mapping.
. "$(dirname "$0")/lib.sh"
f=$WORK/ops
random_file "$f" $((8 << 20))
"$MAPCHECK" ops "$f" > "$LOGS/ops.plain" 2>/dev/null || fail "plain run"
with_shim ops "$MAPCHECK" ops "$f" > "$LOGS/ops.shim" 2>"$LOGS/ops.backing" || fail "shim run"
cmp -s "$LOGS/ops.plain" "$LOGS/ops.shim" || { diff "$LOGS/ops.plain" "$LOGS/ops.shim"; fail "results differ"; }
grep -c DIFFERENT "$LOGS/ops.shim" | grep -qx 0 || fail "a check read wrong bytes"
if expect_served; then
  grep -q "backing p2pmem" "$LOGS/ops.backing" || fail "not served"
  [ "$(grep -c "backing p2pmem" "$LOGS/ops.backing")" = 2 ] || fail "the grown mapping was not served again: $(cat "$LOGS/ops.backing")"
  grep -q "revoked .*REMAPPED" "$LOGS/ops.log" || fail "no revocation logged for mremap/mprotect/madvise"
fi
cat "$LOGS/ops.shim"
