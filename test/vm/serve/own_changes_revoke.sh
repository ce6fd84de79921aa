#!/usr/bin/env bash
# The program's own write, pwrite, pwritev, ftruncate down (ftruncate up
# keeps the range served: its blocks do not change),
# fallocate (punch hole, zero range), copy_file_range, its own second open
# for writing and truncate by path, each on a file it has mapped (served):
# the served range goes back to file pages before the call, and the mapping
# then reads exactly what it reads without cmbmap (same bytes, same SIGBUS).
# A read-write fd that is not close-on-exec is served too; system() (a child
# that shares the open file and writes through it) gives the range back first.
. "$(dirname "$0")/lib.sh"
SELF=$ROOT/build/test/vm/selfchange
[ -x "$SELF" ] || skip "build/test/vm/selfchange not built"
"$SELF" "$WORK/plain" > "$LOGS/plain.out" 2> "$LOGS/plain.err" || fail "selfchange without the shim: $(cat "$LOGS/plain.err")"
with_shim shim "$SELF" "$WORK/shim" > "$LOGS/shim.out" 2> "$LOGS/shim.err" || fail "selfchange under the shim: $(cat "$LOGS/shim.err")"
cat "$LOGS/shim.out"
diff "$LOGS/plain.out" "$LOGS/shim.out" || fail "the mapping reads differently under the shim"
sed 's/^/  /' "$LOGS/shim.err"
if expect_served; then
  ! grep -q "served 0" "$LOGS/shim.err" || fail "a case was not served before the change"
  ! grep -v "ftruncate-up" "$LOGS/shim.err" | grep -qv "after 0$" || fail "CMB still mapped after a change"
  ! grep "ftruncate-up" "$LOGS/shim.err" | grep -q "after 0$" || fail "growing the file gave the served range back"
  grep -q "revoked .*FILE_CHANGED" "$LOGS/shim.log" || fail "no FILE_CHANGED revocation logged"
  grep -q "revoked .*OPEN_FOR_WRITE" "$LOGS/shim.log" || fail "no OPEN_FOR_WRITE revocation logged"
fi
