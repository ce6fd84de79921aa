#!/usr/bin/env bash
# Every fill engine (CMBMAP_FILL=pread, uring, passthru) serves the same
# bytes, and the statistics name the engine that did the work.
. "$(dirname "$0")/lib.sh"
expect_served || skip "no p2pmem under the $TESTVM_KERNEL kernel"
f=$WORK/eng
random_file "$f" $(((6 << 20) + 4321))
want=$(sha256sum < "$f" | cut -d' ' -f1)
for e in pread uring passthru; do
  drop_caches
  got=$(CMBMAP_FILL=$e with_shim "eng-$e" "$PY" -c '
import hashlib, mmap, sys
f = open(sys.argv[1], "rb")
print(hashlib.sha256(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)).hexdigest())' "$f") || fail "$e: python"
  [ "$got" = "$want" ] || fail "$e: digest differs"
  grep -q "stats: .*fill $e: 1 fills" "$LOGS/eng-$e.log" || fail "$e: stats do not show a $e fill: $(grep fill "$LOGS/eng-$e.log")"
  echo "$e: same bytes ($(grep -o "fill $e: .*" "$LOGS/eng-$e.log"))"
done
# Under a write lease (the program holds the file read-write) the fill must
# not open the file again: passthrough by default; pread and uring read
# through the program's own open file and then drop the pages they cached.
for e in auto pread uring; do
  drop_caches
  got=$(CMBMAP_FILL=$e with_shim "rw-$e" "$PY" -c '
import hashlib, mmap, sys
f = open(sys.argv[1], "r+b")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
print(hashlib.sha256(m).hexdigest())' "$f") || fail "$e, read-write holder: python"
  [ "$got" = "$want" ] || fail "$e, read-write holder: digest differs"
  grep -q "write lease taken" "$LOGS/rw-$e.log" || fail "$e, read-write holder: no write lease"
  used=$e; [ "$e" = auto ] && used=passthru
  grep -q "stats: .*fill $used: 1 fills" "$LOGS/rw-$e.log" || fail "$e, read-write holder: no $used fill"
  cached=$(page_cache_bytes "$f")
  [ "$cached" -le $((64 << 10)) ] || fail "$e, read-write holder: $cached bytes left in the page cache"
  echo "$e, read-write holder: same bytes by $used, page cache $cached bytes"
done
