#!/usr/bin/env bash
# Stores the kernel makes into a writable served mapping on the program's
# behalf, by paths cmbmap cannot see (an io_uring read, an AIO read, a raw
# read system call, an ioctl's output), work with CMBMAP_DIRTY=all as on an
# ordinary mapping: the same results, and after msync the file holds the
# same bytes as without cmbmap. With the default page tracking they fail
# with EFAULT on a clean page (README: Limitations), which shows the pages
# reached were served and clean.
. "$(dirname "$0")/wlib.sh"
KSTORES=$ROOT/build/test/vm/kstores
[ -x "$KSTORES" ] || skip "build/test/vm/kstores not built"
data_file "$WORK/orig" 1
head -c 16384 /dev/urandom > "$WORK/src"
for f in plain all pages; do cp --reflink=never "$WORK/orig" "$WORK/$f"; done
sync
"$KSTORES" "$WORK/plain" "$WORK/src" > "$LOGS/plain.out" 2>/dev/null || fail "kstores without the shim"
with_wshim all env CMBMAP_DIRTY=all "$KSTORES" "$WORK/all" "$WORK/src" > "$LOGS/all.out" 2> "$LOGS/all.err" \
  || fail "kstores under the shim (CMBMAP_DIRTY=all): $(cat "$LOGS/all.err")"
cat "$LOGS/all.out"
diff "$LOGS/plain.out" "$LOGS/all.out" || fail "a kernel store into the all-dirty mapping gave another result"
drop_caches
cmp "$WORK/plain" "$WORK/all" || fail "the file differs after msync (CMBMAP_DIRTY=all)"
if expect_served; then
  grep -q "^served 65536" "$LOGS/all.err" || fail "not served: $(why_not all)"
  with_wshim pages "$KSTORES" "$WORK/pages" "$WORK/src" > "$LOGS/pages.out" 2> "$LOGS/pages.err" \
    || fail "kstores under the shim (pages): $(cat "$LOGS/pages.err")"
  grep -q "^served 65536" "$LOGS/pages.err" || fail "not served with page tracking: $(why_not pages)"
  grep -q "^io_uring -14$" "$LOGS/pages.out" \
    || fail "io_uring read into a clean tracked page did not fail: the pages reached were not clean ($(tr '\n' ' ' < "$LOGS/pages.out"))"
  echo "page tracking (the documented limit): $(tr '\n' ' ' < "$LOGS/pages.out")"
fi
echo "kernel stores: $(tr '\n' ' ' < "$LOGS/all.out")"
