#!/usr/bin/env bash
# Four threads store into a served writable mapping while the main thread
# msyncs every 50 ms and the periodic writeback runs every 100 ms; halfway,
# another process opens the file (a lease break: the range is written back
# and swapped to file pages while the threads keep storing). At the end every
# page holds its last store, in the mapping's file and on disk.
. "$(dirname "$0")/wlib.sh"
f=$WORK/data
data_file "$f" 8
with_wshim threads env CMBMAP_WRITEBACK_MS=100 "$WSTORE" threads "$f" 3 > "$LOGS/threads.out" 2> "$LOGS/threads.err" &
pid=$!
for _ in $(seq 300); do grep -q "^served" "$LOGS/threads.err" 2>/dev/null && break; sleep 0.1; done
sleep 1
head -c 4096 "$f" > /dev/null  # another process's open breaks the write lease
wait "$pid" || fail "wstore threads: $(cat "$LOGS/threads.out" "$LOGS/threads.err")"
echo "$(cat "$LOGS/threads.out"); $(grep served "$LOGS/threads.err")"
grep -q "mismatch 0$" "$LOGS/threads.out" || fail "stores lost"
if expect_served; then
  grep -qE "info: mmap .* 8 MiB served from CMB" "$LOGS/threads.log" || fail "not served: $(why_not threads)"
  grep -q "revoked 8 MiB .*LEASE_BROKEN" "$LOGS/threads.log" || fail "the other process's open did not revoke the range"
fi
