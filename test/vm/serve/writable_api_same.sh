#!/usr/bin/env bash
# msync's results and errors (bad flags, unaligned, MS_SYNC|MS_ASYNC, zero
# length, MS_INVALIDATE), pread of the file right after a store, a read()
# into the mapping, the program's own SIGSEGV handler, stores from a thread
# that blocks every signal and from a handler with a full mask: the same with a
# writable served mapping as with the page cache, and the mapping is still
# CMB at the end; then the program's own pwrite gives it back with every
# store kept.
. "$(dirname "$0")/wlib.sh"
data_file "$WORK/a" 8
cp --reflink=never "$WORK/a" "$WORK/b" && sync
"$WSTORE" api "$WORK/a" > "$LOGS/plain.out" 2> "$LOGS/plain.err" || fail "wstore api without the shim"
with_wshim api "$WSTORE" api "$WORK/b" > "$LOGS/shim.out" 2> "$LOGS/shim.err" || fail "wstore api under the shim: $(cat "$LOGS/shim.err")"
cat "$LOGS/shim.out"
diff "$LOGS/plain.out" "$LOGS/shim.out" || fail "different results under the shim"
cmp "$WORK/a" "$WORK/b" || fail "the files differ afterwards"
if expect_served; then
  grep -q "^served-at-end 8388608" "$LOGS/shim.err" || fail "not served to the end: $(cat "$LOGS/shim.err")"
  grep -q "^served-after-pwrite 0$" "$LOGS/shim.err" || fail "the program's own pwrite did not give the mapping back"
fi
