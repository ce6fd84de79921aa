#!/usr/bin/env bash
# A writable served mapping given back in part (an mprotect of its second
# half), then another file mapped writable over that half (MAP_FIXED) and
# served: every store into either lands in its own file. The fault handler
# once took the first mapping's entry for the address, whose page there is
# no longer tracked, and handed the first store to the program's SIGSEGV
# (the process died); the writeback took the first file's blocks for the
# second's.
. "$(dirname "$0")/wlib.sh"
a=$WORK/first
b=$WORK/second
data_file "$a" 8
data_file "$b" 4
with_wshim over "$WSTORE" over "$a" "$b" 7 > "$LOGS/over.out" 2> "$LOGS/over.err" \
  || fail "wstore over: $(cat "$LOGS/over.out" "$LOGS/over.err")"
echo "$(cat "$LOGS/over.out"); $(grep served "$LOGS/over.err" | paste -sd' ')"
grep -q "^pages 2048 mismatch 0$" "$LOGS/over.out" || fail "stores lost: $(cat "$LOGS/over.out")"
if expect_served; then
  grep -q "^served 8388608$" "$LOGS/over.err" || fail "the first file was not served: $(why_not over)"
  grep -q "^served over 4194304$" "$LOGS/over.err" || fail "the second file was not served over the part given back: $(why_not over)"
fi
