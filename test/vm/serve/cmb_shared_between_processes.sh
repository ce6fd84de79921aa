#!/usr/bin/env bash
# One CMB shared between processes (CMBMAP_SHARE): two idle processes fill
# most of the CMB; a third maps a file that does not fit in what is left.
#  - With sharing it is served whole: the least recently active process (the
#    first) gives back its range, the second keeps all of its; every
#    process still reads its file's bytes; the log and `cmbmap stat` say who
#    gave what to whom (TAKEN_BY_PEER).
#  - With CMBMAP_SHARE=0 in the third, it asks nobody and is not served whole.
#  - Ranges used within the holders' grace time (CMBMAP_SHARE_GRACE_MS) are
#    not taken: the third is not served whole and the holders keep all.
. "$(dirname "$0")/lease_lib.sh"
expect_served || skip "no p2pmem under the $TESTVM_KERNEL kernel"
cmb_mb=${TESTVM_CMB_MB:-64}
size_mb=$(( cmb_mb * 3 / 8 ))   # two fit, a third does not
size=$(( size_mb << 20 ))
for f in a b c d; do random_file "$WORK/$f" $size; done
# holder DIR NAME FILE: maps FILE, writes DIR/NAME.state ("CMB-bytes
# bytes-right pid") when it has, and again each time DIR/NAME.ask appears;
# ends when DIR/NAME.stop appears.
holder='import hashlib, mmap, os, sys, time
d, name, path = sys.argv[1:4]
f = open(path, "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
want = hashlib.sha256(open(path, "rb").read()).digest()
def state():
    cmb = 0
    for l in open("/proc/self/maps"):
        if "p2pmem" in l:
            lo, hi = (int(x, 16) for x in l.split()[0].split("-"))
            cmb += hi - lo
    open(d + "/tmp." + name, "w").write("%d %s %d\n" % (cmb, hashlib.sha256(m).digest() == want, os.getpid()))
    os.rename(d + "/tmp." + name, d + "/" + name + ".state")
state()
while not os.path.exists(d + "/" + name + ".stop"):
    if os.path.exists(d + "/" + name + ".ask"):
        os.unlink(d + "/" + name + ".ask")
        state()
    time.sleep(0.01)'
dir=$LOGS/share; mkdir -p "$dir"
declare -A job
# start NAME FILE [ENV...]: a holder in the background, under the shim, until it has mapped
start() {
  local name=$1 file=$2; shift 2
  env "$@" LD_PRELOAD="$LIB" CMBMAP_MIN_SIZE=0 CMBMAP_LOG="info:$LOGS/$name.log" \
    "$PY" -c "$holder" "$dir" "$name" "$file" &
  job[$name]=$!
  wait_for "$dir/$name.state"
}
# state NAME: its state now ("cmb right pid")
state() {
  rm -f "$dir/$1.state"; : > "$dir/$1.ask"; wait_for "$dir/$1.state"; cat "$dir/$1.state"
}
stop_all() {
  local n
  for n in "$@"; do touch "$dir/$n.stop"; done
  for n in "$@"; do wait "${job[$n]}" || fail "$n failed"; done
}

# The first two hold most of the CMB and give anything unused for 0 ms.
start first "$WORK/a" CMBMAP_SHARE_GRACE_MS=0
sleep 0.2
start second "$WORK/b" CMBMAP_SHARE_GRACE_MS=0
read -r c1 ok1 pid1 < "$dir/first.state"; read -r c2 ok2 pid2 < "$dir/second.state"
echo "first: $c1 bytes of CMB, second: $c2 (files of $size_mb MiB, CMB $cmb_mb MiB)"
[ "$c1" = $size ] && [ "$c2" = $size ] && [ "$ok1$ok2" = TrueTrue ] || fail "the holders were not served whole"

# CMBMAP_SHARE=0: nobody is asked.
start alone "$WORK/c" CMBMAP_SHARE=0
read -r c3 ok3 _ < "$dir/alone.state"
stop_all alone
echo "third, CMBMAP_SHARE=0: $c3 bytes of CMB"
[ "$ok3" = True ] || fail "the third's bytes differ"
[ "$c3" -lt $size ] || fail "the CMB was not full: the test proves nothing"
read -r c1 _ < <(state first); read -r c2 _ < <(state second)
[ "$c1" = $size ] && [ "$c2" = $size ] || fail "CMBMAP_SHARE=0 took from the holders ($c1, $c2)"

# Sharing: the least recently active (first) gives its range.
start third "$WORK/c"
read -r c3 ok3 pid3 < "$dir/third.state"
read -r c1 ok1 _ < <(state first); read -r c2 ok2 _ < <(state second)
echo "third, sharing: $c3 bytes of CMB; first now $c1, second $c2; bytes right: $ok1 $ok2 $ok3"
[ "$ok1$ok2$ok3" = TrueTrueTrue ] || fail "a process reads bytes its file does not hold"
[ "$c3" = $size ] || fail "the third was not served whole ($c3 of $size)"
[ "$c2" = $size ] || fail "the second (more recently active) gave its range before the first"
[ "$c1" -lt $size ] || fail "the first still holds all its CMB"
grep -E "TAKEN_BY_PEER" "$LOGS/first.log" | head -2
grep -q "revoked .*TAKEN_BY_PEER" "$LOGS/first.log" || fail "the first's log does not say why its range went"
grep "full: process $pid1 gave back" "$LOGS/third.log" | head -1
grep -q "full: process $pid1 gave back" "$LOGS/third.log" || fail "the third's log does not name the first"
"$CLI" stat "$pid1" | tee "$LOGS/stat1.out"
grep -q "to other processes (last: pid $pid3)" "$LOGS/stat1.out" || fail "cmbmap stat does not say whom the first gave to"
"$CLI" stat "$pid3" > "$LOGS/stat3.out"
grep -q "from other processes" "$LOGS/stat3.out" || fail "cmbmap stat does not say the third got CMB from others"
stop_all first second third

# A grace time: the holders used their ranges within it, so nothing is taken.
start young1 "$WORK/a" CMBMAP_SHARE_GRACE_MS=600000
start young2 "$WORK/b" CMBMAP_SHARE_GRACE_MS=600000
start late "$WORK/d"
read -r c4 ok4 _ < "$dir/late.state"
read -r c1 _ < <(state young1); read -r c2 _ < <(state young2)
stop_all young1 young2 late
echo "grace 600 s: the late one got $c4 bytes of CMB; the holders keep $c1 and $c2"
[ "$ok4" = True ] || fail "the late one's bytes differ"
[ "$c1" = $size ] && [ "$c2" = $size ] || fail "ranges within the grace time were taken ($c1, $c2)"
[ "$c4" -lt $size ] || fail "the late one was served whole without taking anything"
grep -q "full: process .* gave back 0 B" "$LOGS/late.log" || fail "the late one's log does not show the refusals"
