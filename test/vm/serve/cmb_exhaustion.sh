#!/usr/bin/env bash
# Four processes each map 3/8 of the CMB (24 MiB of the default 64) while
# holding the others' mappings: more than the CMB holds. Every byte is
# right, the overflow falls back (CMB_FULL), nothing fails. With
# CMBMAP_SHARE=0: sharing would have the holders give their ranges to each
# newcomer instead (cmb_shared_between_processes.sh tests that).
. "$(dirname "$0")/lib.sh"
each=$(( ${TESTVM_CMB_MB:-64} * 3 / 8 ))
for i in 1 2 3 4; do random_file "$WORK/f$i" $((each << 20)); done
mkfifo "$WORK/go"
pids=()
for i in 1 2 3 4; do
  CMBMAP_SHARE=0 with_shim ex$i "$PY" -c '
import hashlib, mmap, sys
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
ok = hashlib.sha256(m).hexdigest() == hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()
print("ready", flush=True)
open(sys.argv[2]).read()
sys.exit(0 if ok else 3)' "$WORK/f$i" "$WORK/go" > "$LOGS/ex$i.out" &
  pids+=($!)
  for _ in $(seq 300); do grep -q ready "$LOGS/ex$i.out" 2>/dev/null && break; sleep 0.1; done
done
used=$(( $(cat "$(nvme_pci nvme0)/p2pmem/size" 2>/dev/null || echo 0) - $(cat "$(nvme_pci nvme0)/p2pmem/available" 2>/dev/null || echo 0) ))
echo go > "$WORK/go"
for p in "${pids[@]}"; do wait "$p" || fail "a process read wrong bytes or failed (exit $?)"; done
served=0
for i in 1 2 3 4; do served=$((served + $(served_bytes ex$i))); done
echo "served $served of $((4 * each << 20)) bytes; CMB in use while all held: $used"
if expect_served; then
  [ "$served" -gt 0 ] && [ "$served" -lt $((4 * each << 20)) ] || fail "expected a partial serve, got $served"
  cat "$LOGS"/ex*.log | grep -q CMB_FULL || fail "no CMB_FULL fallback logged"
fi
