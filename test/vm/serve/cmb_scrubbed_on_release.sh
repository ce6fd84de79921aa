#!/usr/bin/env bash
# CMB memory goes back to the pool empty: after a served file of a known
# marker is released, an allocation of the whole pool (what the next user
# of p2pmem/allocate is handed) finds no page of it. Released by: the
# program's munmap, exit with the mapping still there, exec, a lease break,
# `cmbmap reclaim`, and eviction under a budget; the last four are checked
# while the program still runs (what was given back, not what exit did).
# SIGKILL is the documented exception, and the control that shows the scan
# would see the marker.
. "$(dirname "$0")/lease_lib.sh"
expect_served || skip "no p2pmem under the $TESTVM_KERNEL kernel"

# mark_file FILE MIB MARKER: FILE is MARKER (16 chars) repeated, MIB MiB
mark_file() { "$PY" -c 'import sys; open(sys.argv[1], "wb").write(sys.argv[3].encode() * (int(sys.argv[2]) << 16))' "$1" "$2" "$3"; }
# left MARKER: pages of the free pool holding MARKER
left() { "$MAPCHECK" leftover "$1" | tee -a "$LOGS/scans" | awk '{print $1}'; }
# The holder maps each file, checks its bytes, says how much is CMB in
# DIR/ready, waits for DIR/go, checks again (in DIR/done) and exits.
holder='import hashlib, mmap, os, sys, time
d, files = sys.argv[1], sys.argv[2:]
maps = [mmap.mmap(os.open(p, os.O_RDONLY), 0, access=mmap.ACCESS_READ) for p in files]
def cmb():
    return sum(int(h, 16) - int(l, 16) for l, h in (x.split()[0].split("-") for x in open("/proc/self/maps") if "p2pmem" in x))
def same():
    return all(hashlib.sha256(m).digest() == hashlib.sha256(open(p, "rb").read()).digest() for m, p in zip(maps, files))
open(d + "/ready.tmp", "w").write("%d %s %d\n" % (cmb(), same(), os.getpid()))
os.rename(d + "/ready.tmp", d + "/ready")
while not os.path.exists(d + "/go"):
    time.sleep(0.01)
open(d + "/done", "w").write("%d %s\n" % (cmb(), same()))'
# hold NAME [ENV...] -- FILES...: the holder under the shim, in the background
hold() {
  local name=$1 dir=$LOGS/$1; shift
  mkdir -p "$dir"
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  env "${envs[@]}" LD_PRELOAD="$LIB" CMBMAP_MIN_SIZE=0 CMBMAP_LOG="debug:$LOGS/$name.log" "$PY" -c "$holder" "$dir" "$@" &
  HOLDER=$!
  wait_for "$dir/ready"
}
finish() {
  touch "$LOGS/$1/go"
  wait "$HOLDER" || fail "$1: the holder failed"
  read -r cmb ok < "$LOGS/$1/done"
  [ "$ok" = True ] || fail "$1: bytes differ after the release"
}

# Control: SIGKILL frees the pages as they are, and the scan sees them.
mark_file "$WORK/k" 4 KILLED-BY-SIGNAL
hold kill -- "$WORK/k"
read -r cmb ok pid < "$LOGS/kill/ready"
[ "$cmb" = $((4 << 20)) ] && [ "$ok" = True ] || fail "control: not served ($cmb $ok)"
kill -9 "$HOLDER"; wait "$HOLDER" 2>/dev/null
n=$(left KILLED-BY-SIGNAL)
echo "SIGKILL (documented: not scrubbed): $n pages of the file left in the pool"
[ "$n" -gt 0 ] || fail "the control found nothing: the scan cannot see leftovers"

# munmap, and exit with a mapping still in place.
mark_file "$WORK/u" 4 UNMAPPED-BY-PROG
mark_file "$WORK/e" 4 MAPPED-AT-EXIT!!
with_shim exit "$PY" -c '
import mmap, os, sys
u = mmap.mmap(os.open(sys.argv[1], os.O_RDONLY), 0, access=mmap.ACCESS_READ)
e = mmap.mmap(os.open(sys.argv[2], os.O_RDONLY), 0, access=mmap.ACCESS_READ)
assert u[:16] == b"UNMAPPED-BY-PROG" and e[-16:] == b"MAPPED-AT-EXIT!!"
u.close()
' "$WORK/u" "$WORK/e" 2> "$LOGS/exit.err" || fail "exit run: $(cat "$LOGS/exit.err")"
[ "$(served_bytes exit)" = $((8 << 20)) ] || fail "exit run: $(served_bytes exit) bytes served, not 8 MiB"
n=$(left UNMAPPED-BY-PROG); echo "munmap: $n pages left"; [ "$n" = 0 ] || fail "munmap left $n pages of the file in the pool"
n=$(left MAPPED-AT-EXIT!!); echo "exit: $n pages left"; [ "$n" = 0 ] || fail "exit left $n pages of the file in the pool"
grep -E "scrub: " "$LOGS/exit.log" | tail -1

# exec: the new image scans the pool itself.
mark_file "$WORK/x" 4 MAPPED-THEN-EXEC
with_shim exec "$PY" -c '
import mmap, os, sys
m = mmap.mmap(os.open(sys.argv[1], os.O_RDONLY), 0, access=mmap.ACCESS_READ)
assert m[:16] == b"MAPPED-THEN-EXEC"
os.execv(sys.argv[2], [sys.argv[2], "leftover", "MAPPED-THEN-EXEC"])
' "$WORK/x" "$MAPCHECK" > "$LOGS/exec.out" || fail "exec run"
[ "$(served_bytes exec)" = $((4 << 20)) ] || fail "exec run: not served"
read -r n _ < "$LOGS/exec.out"; echo "exec: $n pages left"; [ "$n" = 0 ] || fail "exec left $n pages of the file in the pool"

# A lease break: another process opens the file for writing.
mark_file "$WORK/l" 4 LEASE-BROKEN-NOW
hold lease -- "$WORK/l"
read -r cmb ok _ < "$LOGS/lease/ready"; [ "$cmb" = $((4 << 20)) ] || fail "lease: not served"
open_us "$WORK/l" > /dev/null
n=$(left LEASE-BROKEN-NOW); echo "lease break: $n pages left"; [ "$n" = 0 ] || fail "a lease break left $n pages in the pool"
finish lease

# A writable range that took stores in every other page (dirty tracking's
# mprotects leave it in many pieces), given back by a lease break.
mark_file "$WORK/w" 2 WRITABLE-PIECES!
rm -f "$LOGS/w.ready" "$LOGS/w.go"
with_shim wpieces env CMBMAP_WRITABLE=1 CMBMAP_WRITEBACK_MS=0 "$PY" -c '
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
for p in range(0, len(m) // 4096, 2):
    m[p * 4096: p * 4096 + 16] = b"STORED-IN-PIECES"
cmb = sum(1 for x in open("/proc/self/maps") if "p2pmem" in x)
open(sys.argv[2], "w").write("%d\n" % cmb)
while not os.path.exists(sys.argv[3]):
    time.sleep(0.01)
' "$WORK/w" "$LOGS/w.ready" "$LOGS/w.go" 2> "$LOGS/wpieces.err" &
wpid=$!
wait_for "$LOGS/w.ready"
pieces=$(cat "$LOGS/w.ready")
[ "$pieces" -gt 1 ] || fail "writable: not served in pieces ($pieces p2pmem mappings)"
open_us "$WORK/w" > /dev/null
sleep 0.5
touch "$LOGS/w.go"; wait "$wpid" || fail "writable run: $(cat "$LOGS/wpieces.err")"
n=$(left WRITABLE-PIECES!); m=$(left STORED-IN-PIECES)
echo "writable range in $pieces pieces, lease break: $n + $m pages left"
[ "$n" = 0 ] && [ "$m" = 0 ] || fail "a writable range in pieces left $n + $m pages in the pool ($(grep -m1 unscrubbed "$LOGS/wpieces.log"))"

# cmbmap reclaim --all.
mark_file "$WORK/r" 4 RECLAIMED-BY-CLI
hold reclaim -- "$WORK/r"
"$CLI" reclaim --all > /dev/null || fail "cmbmap reclaim --all"
n=$(left RECLAIMED-BY-CLI); echo "reclaim: $n pages left"; [ "$n" = 0 ] || fail "reclaim left $n pages in the pool"
finish reclaim

# Eviction: a 5 MiB budget, two 4 MiB files; serving the second evicts the first.
mark_file "$WORK/a" 4 EVICTED-BY-BUDGT
mark_file "$WORK/b" 4 SERVED-IN-ITS-PL
hold evict CMBMAP_BUDGET=5M -- "$WORK/a" "$WORK/b"
read -r cmb ok _ < "$LOGS/evict/ready"; [ "$cmb" = $((4 << 20)) ] || fail "eviction: $cmb bytes held, not 4 MiB"
grep -q "revoked 4 MiB .*: BUDGET" "$LOGS/evict.log" || fail "no BUDGET eviction logged"
n=$(left EVICTED-BY-BUDGT); echo "eviction: $n pages left"; [ "$n" = 0 ] || fail "an eviction left $n pages in the pool"
finish evict
