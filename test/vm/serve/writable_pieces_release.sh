#!/usr/bin/env bash
# A writable served range split into pieces by dirty tracking (stores in
# every other page) is unmapped or given back, round after round, while two
# other threads of the program map and check memory of their own: no
# mapping of theirs is ever replaced, and every store reaches the file.
# (On Linux 6.12 a whole-range mremap to a reserved spot failed after the
# kernel had unmapped the spot, and a mapping made in that hole was then
# replaced by the pieces; kernels from 6.17 move a split range at once.)
. "$(dirname "$0")/wlib.sh"
PROG=$ROOT/build/test/vm/pieces_release
[ -x "$PROG" ] || skip "build/test/vm/pieces_release not built"
f=$WORK/pieces
data_file "$f" 1
env $(wshim_env pieces | sed 's/CMBMAP_LOG=debug:/CMBMAP_LOG=info:/') \
  "$PROG" "$f" "${PIECES_ROUNDS:-100}" > "$LOGS/pieces.out" 2> "$LOGS/pieces.err"
rc=$?
echo "$(cat "$LOGS/pieces.out") $(grep -c "went back to the pool unscrubbed" "$LOGS/pieces.log") unscrubbed"
[ "$rc" = 0 ] || fail "$(head -5 "$LOGS/pieces.err") $(cat "$LOGS/pieces.out")"
if expect_served; then
  grep -q "served 0$" "$LOGS/pieces.out" && fail "never served: $(why_not pieces)"
  ! grep -q "went back to the pool unscrubbed" "$LOGS/pieces.log" || fail "$(grep "pool unscrubbed" "$LOGS/pieces.log" | head -3)"
fi
