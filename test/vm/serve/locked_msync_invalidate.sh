#!/usr/bin/env bash
# msync(MS_INVALIDATE) of a MAP_LOCKED mapping fails with EBUSY, served or
# not (LTP msync03 passed plain and failed with CMBMAP_WRITABLE=1: the
# kernel never locks a CMB mapping, so it answered 0). A read-only and a
# writable shared mapping, plain and under the shim; both must be served.
. "$(dirname "$0")/wlib.sh"
prog='import ctypes, errno, mmap, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.msync.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
MS_INVALIDATE, MAP_LOCKED, n = 2, 0x2000, 1 << 20
for name, oflag, prot in (("read-only", os.O_RDONLY, mmap.PROT_READ),
                          ("writable", os.O_RDWR, mmap.PROT_READ | mmap.PROT_WRITE)):
    fd = os.open(sys.argv[1], oflag)
    a = libc.mmap(None, n, prot, mmap.MAP_SHARED | MAP_LOCKED, fd, 0)
    r = libc.msync(a, n, MS_INVALIDATE)
    print(name, r, errno.errorcode.get(ctypes.get_errno(), "?") if r else "ok")
    libc.munmap(a, n)
    os.close(fd)'
f=$WORK/locked; data_file "$f" 1
"$PY" -c "$prog" "$f" > "$LOGS/plain.out" || fail "plain run"
with_wshim locked "$PY" -c "$prog" "$f" > "$LOGS/shim.out" 2>/dev/null || fail "shim run"
echo "plain: $(tr '\n' ';' < "$LOGS/plain.out") shim: $(tr '\n' ';' < "$LOGS/shim.out") served $(served_bytes locked) bytes"
grep -q "read-only -1 EBUSY" "$LOGS/plain.out" || fail "baseline: $(cat "$LOGS/plain.out")"
cmp -s "$LOGS/plain.out" "$LOGS/shim.out" || fail "msync differs under the shim"
if expect_served; then [ "$(served_bytes locked)" = $((2 << 20)) ] || fail "not both served: $(why_not locked)"; fi
