#!/usr/bin/env bash
# With two controllers, a file on each namespace is served from the CMB of
# its own controller.
. "$(dirname "$0")/lib.sh"
[ "${TESTVM_CONTROLLERS:-1}" -ge 2 ] || skip "needs --controllers 2"
expect_served || skip "no p2pmem under the $TESTVM_KERNEL kernel"
random_file "$WORK/a" $((4 << 20))
w2=$(mktemp -d /mnt/nvme2/serve.XXXXXX)
trap 'rm -rf "$WORK" "$LOGS" "$w2"' EXIT
random_file "$w2/b" $((4 << 20))
with_shim two "$PY" -c '
import mmap, os, sys
maps = []
for p in sys.argv[1:]:
    f = open(p, "rb"); maps.append(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
    assert bytes(maps[-1]) == open(p, "rb").read()
for l in open("/proc/self/maps"):
    if "p2pmem" in l: print(l.split()[-1])' "$WORK/a" "$w2/b" > "$LOGS/two.out" || fail "python"
want_a=$(readlink -f "$(nvme_pci "$("$CLI" inspect --json "$WORK/a" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["files"][0]["controller"])')")")
want_b=$(readlink -f "$(nvme_pci "$("$CLI" inspect --json "$w2/b" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["files"][0]["controller"])')")")
grep -q "^$want_a/p2pmem/allocate" "$LOGS/two.out" || fail "file a not served from $want_a: $(cat "$LOGS/two.out")"
grep -q "^$want_b/p2pmem/allocate" "$LOGS/two.out" || fail "file b not served from $want_b: $(cat "$LOGS/two.out")"
[ "$want_a" != "$want_b" ] || fail "both files resolve to one controller"
echo "a from $want_a, b from $want_b"
