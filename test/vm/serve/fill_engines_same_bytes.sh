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
