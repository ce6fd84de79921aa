#!/usr/bin/env bash
# cmbmap's lasting mappings (the statistics page) are made at start-up, not
# at the program's first file mapping, where the kernel would put them in a
# hole the program just made and means to grow into (LTP's mmap16 failed so:
# mremap in place gave ENOMEM). The same program runs plain and under the
# shim with every mapping considered.
. "$(dirname "$0")/lib.sh"
prog=$ROOT/build/test/vm/grow_in_hole
[ -x "$prog" ] || skip "build/test/vm/grow_in_hole not built"
plain=$("$prog" "$WORK/plain") || fail "plain: $plain"
shim=$(with_shim hole "$prog" "$WORK/shim" 2>/dev/null) || fail "under the shim: $shim"
echo "plain: $plain; shim: $shim"
grep -q "info: mmap $WORK/shim" "$LOGS/hole.log" || fail "the shim did not consider the mapping"
