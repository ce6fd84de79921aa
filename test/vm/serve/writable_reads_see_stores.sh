#!/usr/bin/env bash
# Every read of a file whose stores are in a writable served mapping sees
# them, whatever entry point the program was built to use: the fortified
# __read_chk/__pread_chk (-O2 -D_FORTIFY_SOURCE=2, as distributions build),
# a stdio stream on the fd (fdopen "r"), splice. And calls that store into a
# clean page of the mapping (recv, the FIEMAP ioctl) work there, as on an
# ordinary mapping. Same output as without cmbmap, and the mapping was served.
. "$(dirname "$0")/wlib.sh"
FREADS=$ROOT/build/test/vm/freads
[ -x "$FREADS" ] || skip "build/test/vm/freads not built"
nm "$FREADS" | grep -q __read_chk || fail "freads was not built with _FORTIFY_SOURCE (no __read_chk)"
data_file "$WORK/a" 8
cp --reflink=never "$WORK/a" "$WORK/b" && sync
"$FREADS" "$WORK/a" > "$LOGS/plain.out" 2> "$LOGS/plain.err" || fail "freads without the shim"
with_wshim freads "$FREADS" "$WORK/b" > "$LOGS/shim.out" 2> "$LOGS/shim.err" || fail "freads under the shim: $(cat "$LOGS/shim.err")"
cat "$LOGS/shim.out"
grep -q " 0$" "$LOGS/plain.out" && fail "a read without the shim missed a store (the test itself is wrong)"
diff "$LOGS/plain.out" "$LOGS/shim.out" || fail "a read under the shim missed a store"
if expect_served; then
  grep -q "^served 8388608" "$LOGS/shim.err" || fail "not served: $(why_not freads)"
  grep -q "^served-after-stores 8388608" "$LOGS/shim.err" || fail "recv and FIEMAP did not run on served pages"
fi
