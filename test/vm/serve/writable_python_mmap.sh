#!/usr/bin/env bash
# python3's mmap module writing through a shared mapping (slice stores,
# find, flush of a range, move, close without flush) on a served file, and
# the same script on a copy without the shim: both files end byte for byte
# the same, and what python read back through the mapping was the same.
. "$(dirname "$0")/wlib.sh"
data_file "$WORK/plain" 8
dd if="$WORK/plain" of="$WORK/shim" bs=1M status=none && sync
script='import hashlib, mmap, random, sys
f = open(sys.argv[1], "r+b")
m = mmap.mmap(f.fileno(), 0)
rnd = random.Random(5)
for i in range(300):
    at = rnd.randrange(len(m) - 9000)
    n = rnd.randrange(1, 9000)
    m[at:at + n] = bytes([i % 256]) * n
    if i % 50 == 0:
        m.flush(at & ~4095, 4096)
m.move(4096, 1 << 20, 65536)
print(m.find(b"\x07" * 100), hashlib.sha256(m[:]).hexdigest())
m.close()
f.close()'
"$PY" -c "$script" "$WORK/plain" > "$LOGS/plain.out" || fail "python3 without the shim"
with_wshim py "$PY" -c "$script" "$WORK/shim" > "$LOGS/shim.out" || fail "python3 under the shim"
cat "$LOGS/shim.out"
diff "$LOGS/plain.out" "$LOGS/shim.out" || fail "python3 read different bytes through the mapping"
cmp "$WORK/plain" "$WORK/shim" || fail "the files differ"
if expect_served; then
  grep -qE "info: mmap .*/shim .* 8 MiB served from CMB" "$LOGS/py.log" || fail "not served: $(why_not py)"
fi
echo "python3 mmap writes: same bytes in the file, mapping served"
