#!/usr/bin/env bash
# The foundation's bad-call comparison, on /mnt/nvme with every mapping
# considered, so the CMB path is live: same results and errno.
. "$(dirname "$0")/lib.sh"
bc=$ROOT/build/test/diff/badcalls
[ -x "$bc" ] || skip "build/test/diff/badcalls not built"
"$bc" "$WORK" > "$LOGS/bc.plain" 2>&1 || fail "plain run"
with_shim bc "$bc" "$WORK" > "$LOGS/bc.shim" 2>&1 || fail "shim run"
cmp -s "$LOGS/bc.plain" "$LOGS/bc.shim" || { diff "$LOGS/bc.plain" "$LOGS/bc.shim"; fail "results differ"; }
if expect_served; then
  [ "$(served_bytes bc)" -gt 0 ] || fail "nothing was served: the CMB path was not exercised"
fi
echo "identical; served $(served_bytes bc) bytes"
