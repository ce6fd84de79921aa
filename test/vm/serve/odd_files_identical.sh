#!/usr/bin/env bash
# Files with holes, unwritten extents, odd sizes and a partial last page read
# the same under the shim as through a plain mapping; the tail of the last
# page is zero and the page past it raises SIGBUS; inspect names the reasons.
. "$(dirname "$0")/lib.sh"
"$PY" - "$WORK" <<'PY' || fail "making the files"
import os, sys
w = sys.argv[1]
def mk(name, size, writes=(), falloc=()):
    fd = os.open(os.path.join(w, name), os.O_RDWR | os.O_CREAT, 0o644)
    os.ftruncate(fd, size)
    for off, n in writes: os.pwrite(fd, os.urandom(n), off)
    for off, n in falloc: os.posix_fallocate(fd, off, n)
    os.fsync(fd); os.close(fd)
mk("odd", 3 * 1048576 + 1234, [(0, 3 * 1048576 + 1234)])
mk("holes", 4 << 20, [(0, 1 << 20), (3 << 20, 1 << 20)])
mk("unwritten", 4 << 20, [(0, 1 << 20)], [(2 << 20, 1 << 20)])
mk("tiny", 5000, [(0, 5000)])
PY
for name in odd holes unwritten tiny; do
  f=$WORK/$name
  size=$(stat -c %s "$f")
  len=$(( (size + 4095) / 4096 * 4096 + 8192 ))   # two pages past EOF
  drop_caches
  "$MAPCHECK" content "$f" $len > "$LOGS/$name.plain" 2>/dev/null || fail "$name: plain run"
  with_shim "$name" "$MAPCHECK" content "$f" $len > "$LOGS/$name.shim" 2>"$LOGS/$name.backing" || fail "$name: shim run"
  cmp -s "$LOGS/$name.plain" "$LOGS/$name.shim" || { diff "$LOGS/$name.plain" "$LOGS/$name.shim"; fail "$name differs"; }
  grep -q "same as file" "$LOGS/$name.shim" || fail "$name: data differs from the file"
  grep -q "SIGBUS" "$LOGS/$name.shim" || fail "$name: no SIGBUS past EOF"
  # Extents are only looked at where the device could serve.
  if expect_served; then grep -q "EOF_TAIL" "$LOGS/$name.log" || fail "$name: EOF_TAIL not logged"; fi
  echo "$name: identical ($(cat "$LOGS/$name.shim" | tr '\n' ';'))"
done
if expect_served; then
  grep -q "HOLE" "$LOGS/holes.log" || fail "holes: HOLE not logged"
  grep -q "UNWRITTEN" "$LOGS/unwritten.log" || fail "unwritten: UNWRITTEN not logged"
fi
"$CLI" inspect --json "$WORK/unwritten" | grep -q '"reason":"UNWRITTEN"' || fail "inspect lacks UNWRITTEN"
if expect_served; then
  grep -q "backing p2pmem" "$LOGS/odd.backing" || fail "odd-sized file not served"
  grep -q "tail of last page: 0 non-zero" "$LOGS/odd.shim" || fail "tail not zeroed"
fi
