#!/usr/bin/env bash
# Giving CMB back while the program runs:
#  - CMBMAP_BUDGET smaller than the mapped set: the least recently used
#    range is evicted (back to file pages) to serve the next; bytes stay right;
#  - `cmbmap reclaim --bytes` gives back at least that much, `--all` empties
#    the process's CMB, and the program keeps reading the file's bytes.
. "$(dirname "$0")/lease_lib.sh"
expect_served || skip "no p2pmem under the $TESTVM_KERNEL kernel"
for f in a b c; do random_file "$WORK/$f" $((4 << 20)); done
holder='import hashlib, mmap, os, sys, time
d, files = sys.argv[1], sys.argv[2:]
maps = []
for p in files:
    f = open(p, "rb")
    maps.append(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
def cmb():
    n = 0
    for l in open("/proc/self/maps"):
        if "p2pmem" in l:
            lo, hi = (int(x, 16) for x in l.split()[0].split("-"))
            n += hi - lo
    return n
def same():
    return all(hashlib.sha256(m).digest() == hashlib.sha256(open(p, "rb").read()).digest()
               for m, p in zip(maps, files))
for step in ("ready", "one", "all"):
    open(d + "/tmp", "w").write("%d %s %d\n" % (cmb(), same(), os.getpid()))
    os.rename(d + "/tmp", d + "/" + step + ".out")
    if step == "all":
        break
    while not os.path.exists(d + "/go-" + step):
        time.sleep(0.01)'
# Budget: 9 MiB for three 4 MiB files: serving c evicts a, the oldest.
dir=$LOGS/budget; mkdir -p "$dir"
touch "$dir/go-ready" "$dir/go-one"
CMBMAP_BUDGET=9M with_shim budget "$PY" -c "$holder" "$dir" "$WORK/a" "$WORK/b" "$WORK/c" || fail "budget run"
read -r held ok _ < "$dir/ready.out"
echo "budget 9 MiB, three 4 MiB files: $held bytes of CMB held, bytes right: $ok"
[ "$ok" = True ] || fail "bytes differ under a budget"
[ "$held" = $((8 << 20)) ] || fail "held $held bytes under a 9 MiB budget"
[ "$(served_bytes budget)" = $((12 << 20)) ] || fail "all three files should have been served once"
grep -q "revoked 4 MiB .*: BUDGET" "$LOGS/budget.log" || fail "no BUDGET eviction logged"
grep "revoked .*BUDGET" "$LOGS/budget.log" | head -1
# Reclaim.
dir=$LOGS/reclaim; mkdir -p "$dir"
with_shim reclaim "$PY" -c "$holder" "$dir" "$WORK/a" "$WORK/b" "$WORK/c" &
job=$!
wait_for "$dir/ready.out"
read -r held ok pid < "$dir/ready.out"
[ "$held" = $((12 << 20)) ] && [ "$ok" = True ] || fail "not served to begin with: $held $ok"
"$CLI" stat "$pid" | tee "$LOGS/stat.out"
grep -q "nvme0 12 MiB" "$LOGS/stat.out" || fail "cmbmap stat does not show what the process holds"
"$CLI" reclaim --bytes 5M --controller nvme0 | tee "$LOGS/one.out" || fail "cmbmap reclaim --bytes"
touch "$dir/go-ready"; wait_for "$dir/one.out"
read -r held ok _ < "$dir/one.out"
echo "after reclaim --bytes 5M: $held bytes held, bytes right: $ok"
[ "$ok" = True ] || fail "bytes differ after a partial reclaim"
[ "$held" = $((4 << 20)) ] || fail "5 MiB asked: two 4 MiB ranges should have gone, $held bytes still held"
"$CLI" reclaim --all --json > "$LOGS/all.json" || fail "cmbmap reclaim --all: $(cat "$LOGS/all.json")"
json_check "$LOGS/all.json" "j['given_bytes'] == 4 << 20" "j['processes'][0]['holds_bytes'] == 0"
touch "$dir/go-one"
wait "$job" || fail "the holder failed"
read -r held ok _ < "$dir/all.out"
echo "after reclaim --all: $held bytes held, bytes right: $ok"
[ "$held" = 0 ] && [ "$ok" = True ] || fail "after reclaim --all: $held bytes held, bytes right: $ok"
grep -q "RECLAIMED" "$LOGS/reclaim.log" || fail "no RECLAIMED revocation logged"
"$CLI" reclaim --bytes 1M > "$LOGS/none.out"; rc=$?
[ "$rc" = 1 ] || fail "a request nobody can meet must exit 1 (got $rc): $(cat "$LOGS/none.out")"
