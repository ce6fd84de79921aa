#!/usr/bin/env bash
# 8 processes x 4 threads under the shim (writable mappings served too) map,
# read, store, msync, write, truncate and reopen 8 shared files whose
# mappings together need more CMB than there is (each file 1/8 of the CMB,
# up to 32 mappings at once), while `cmbmap reclaim` asks for memory back
# now and then: exhaustion, eviction, lease breaks and own-change give-backs
# all happen. Every read is checked against the file under a flock (contend.c),
# so a stale or wrong byte is a mismatch. Passes when every process exits 0
# with no mismatch, some bytes were served, and no operation waited longer
# than the lease-break time. CONTEND_SECONDS (default 12; check-all: 120).
. "$(dirname "$0")/wlib.sh"
CONTEND=$ROOT/build/test/vm/contend
[ -x "$CONTEND" ] || skip "build/test/vm/contend not built"
seconds=${CONTEND_SECONDS:-12}
cmb_mb=${TESTVM_CMB_MB:-64}
bytes=$(( cmb_mb * 1048576 / 8 ))
for i in $(seq 0 7); do
  dd if=/dev/urandom of="$WORK/f$i" bs=1M count=$((bytes / 1048576)) status=none
done
sync
break_ms=$(( $(cat /proc/sys/fs/lease-break-time) * 1000 ))
pids=()
for p in $(seq 1 8); do
  # shellcheck disable=SC2046
  env $(wshim_env "p$p") CMBMAP_LOG="info:$LOGS/p$p.log" \
    "$CONTEND" "$WORK" 8 "$bytes" "$seconds" "$p" > "$LOGS/p$p.out" 2> "$LOGS/p$p.err" &
  pids+=($!)
done
reclaims=0
end=$((SECONDS + seconds))
while [ $SECONDS -lt $end ]; do
  sleep 3
  "$CLI" reclaim --bytes $((bytes / 2)) --timeout 5 > /dev/null 2>&1; reclaims=$((reclaims + 1))
done
status=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    status=1
    echo "process $((i + 1)) failed: $(head -c 400 "$LOGS/p$((i + 1)).err")"
    # What cmbmap did last in it (the logs go with the test's directory).
    grep -v ' info: mmap ' "$LOGS/p$((i + 1)).log" | tail -n 15 | sed 's/^/    /'
  fi
done
# A crash: where, and on what kind of access (the kernel's line).
dmesg | grep -E 'contend.*(segfault|general protection)|traps: contend' | tail -n 4 | sed 's/^/  kernel: /' || true
cat "$LOGS"/p*.out
[ $status = 0 ] || fail "a process saw a byte the file does not hold, or failed"
sum() { awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) s += $(i + 1)} END {print s + 0}' "$LOGS"/p*.out; }
max() { awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k && $(i + 1) > m) m = $(i + 1)} END {print m + 0}' "$LOGS"/p*.out; }
ops=$(sum ops) reads=$(sum reads) served=$(sum served) revs=$(sum revocations) evicted=$(sum evicted) slowest=$(max max_op_ms)
[ "$(sum mismatches)" = 0 ] || fail "mismatches"
[ "$(wc -l < <(cat "$LOGS"/p*.out))" = 8 ] || fail "a process printed no summary"
[ "$slowest" -le $((break_ms + 5000)) ] || fail "an operation took $slowest ms (lease-break time $break_ms ms)"
if expect_served; then
  [ "$served" -gt 0 ] || fail "nothing was served: $(grep -h 'info: mmap' "$LOGS"/p*.log | head -3)"
  full=$(grep -hc 'CMB_FULL\|no room\|evict' "$LOGS"/p*.log | awk '{s += $1} END {print s + 0}')
  echo "CMB full or eviction lines in the logs: $full"
fi
echo "8 processes x 4 threads, ${seconds}s, files of $((bytes / 1048576)) MiB, CMB $cmb_mb MiB: $ops operations," \
  "$reads checked reads, 0 mismatches, $served bytes served, $revs revocations, $evicted bytes evicted," \
  "$reclaims reclaim requests, slowest operation $slowest ms"
