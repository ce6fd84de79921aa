#!/usr/bin/env bash
# A mapping that would bring the process near vm.max_map_count stays
# ordinary (MAP_COUNT) instead of failing: bytes still correct.
. "$(dirname "$0")/lib.sh"
expect_served || skip "no p2pmem under the $TESTVM_KERNEL kernel"
old=$(cat /proc/sys/vm/max_map_count)
trap 'echo "$old" > /proc/sys/vm/max_map_count; rm -rf "$WORK" "$LOGS"' EXIT
random_file "$WORK/f" $((2 << 20))
# Low enough that cmbmap's safety margin trips, high enough for python itself.
with_shim mc "$PY" -c '
import hashlib, mmap, sys
n = sum(1 for _ in open("/proc/self/maps"))
open("/proc/sys/vm/max_map_count", "w").write(str(n + 12))
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
print(hashlib.sha256(m).hexdigest() == hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())
' "$WORK/f" > "$LOGS/mc.out" || fail "python failed: $(cat "$LOGS/mc.out")"
echo "$old" > /proc/sys/vm/max_map_count
[ "$(cat "$LOGS/mc.out")" = True ] || fail "bytes differ"
grep -q "MAP_COUNT" "$LOGS/mc.log" || fail "no MAP_COUNT fallback: $(grep 'info: mmap' "$LOGS/mc.log")"
echo "fell back with MAP_COUNT; bytes correct"
