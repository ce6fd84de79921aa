#!/usr/bin/env bash
# CMB pages go back to the pool as they are unmapped: a 16 MiB served
# mapping (8 MiB where the CMB is smaller than 32 MiB) takes that much of
# p2pmem, unmapping 4 MiB of its middle returns them, and after the process
# exits the pool is as full as before.
. "$(dirname "$0")/lib.sh"
expect_served || skip "no p2pmem under the $TESTVM_KERNEL kernel"
pool=$(nvme_pci nvme0)/p2pmem/available
before=$(cat "$pool")
mib=16; [ "${TESTVM_CMB_MB:-64}" -ge 32 ] || mib=8
random_file "$WORK/f" $((mib << 20))
with_shim freed "$PY" -c '
import ctypes, mmap, sys
pool = sys.argv[2]
avail = lambda: int(open(pool).read())
a0 = avail()
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
a1 = avail()
libc = ctypes.CDLL(None, use_errno=True)
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
base = None
for l in open("/proc/self/maps"):
    if "p2pmem" in l:
        base = int(l.split("-")[0], 16)
assert base is not None, "not served"
assert libc.munmap(base + (len(m) // 2 - (2 << 20)), 4 << 20) == 0
a2 = avail()
print(a0 - a1, a2 - a1)
' "$WORK/f" "$pool" > "$LOGS/freed.out" || fail "python: $(cat "$LOGS/freed.out")"
read -r taken returned < "$LOGS/freed.out"
after=$(cat "$pool")
echo "mapping took $taken bytes, unmapping 4 MiB returned $returned; pool before $before, after $after"
[ "$taken" = $((mib << 20)) ] || fail "a $mib MiB mapping took $taken bytes of CMB"
[ "$returned" = $((4 << 20)) ] || fail "unmapping 4 MiB returned $returned bytes"
[ "$after" = "$before" ] || fail "the pool did not recover after exit"
