#!/usr/bin/env bash
# CPython's own mmap test suite, run on /mnt/nvme under the shim with every
# mapping considered, passes as it does without the shim.
. "$(dirname "$0")/lib.sh"
"$PY" -c 'import test.test_mmap' 2>/dev/null || skip "CPython test suite not installed (libpython3-testsuite)"
cd "$WORK" || fail "cd $WORK"
"$PY" -m test -q test_mmap > "$LOGS/cpy.plain" 2>&1 || { tail -20 "$LOGS/cpy.plain"; fail "test_mmap fails without the shim"; }
with_shim cpy "$PY" -m test -q test_mmap > "$LOGS/cpy.shim" 2>&1 || { tail -30 "$LOGS/cpy.shim"; fail "test_mmap fails under the shim"; }
grep -c "info: mmap" "$LOGS/cpy.log" | sed 's/^/file mappings seen by the shim: /'
echo "served $(served_bytes cpy) bytes"
tail -3 "$LOGS/cpy.shim"
