#!/usr/bin/env bash
# Another process appends to a file in a loop (open O_APPEND, a short write,
# now and then fdatasync, close) while this one maps the file again and again under the
# shim: every mapping, read once the file has grown past it, holds exactly
# what pread reads there, the bytes appended after the mapping was made
# included (never zeros that stay: the file's size is read under the lease,
# and a later append breaks it). Mappings served from CMB are counted: the
# test is void if none was.
. "$(dirname "$0")/lib.sh"
expect_served || skip "no p2pmem under the $TESTVM_KERNEL kernel"
f=$WORK/log
head -c $((256 << 10)) /dev/urandom > "$f"; sync
"$PY" -c '
import os, random, sys, time
path, stop = sys.argv[1], sys.argv[2]
r = random.Random(7)
n = 0
while not os.path.exists(stop):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    os.write(fd, os.urandom(r.randrange(1, 600)))
    # Now and then the new blocks are allocated (what is only in the page
    # cache is not served); in between, appends land in the last block.
    n += 1
    if n % 8 == 0:
        os.fdatasync(fd)
    os.close(fd)
' "$f" "$LOGS/stop" &
appender=$!
with_shim mapper "$PY" -c '
import ctypes, mmap, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
path, rounds = sys.argv[1], int(sys.argv[2])
page = mmap.PAGESIZE
served = checked = bad = 0
for i in range(rounds):
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size
    length = (size + page - 1) // page * page
    # The whole last page: past the size when mapped, it shows what the
    # file holds there now (an ordinary mapping shares the page cache page).
    m = libc.mmap(None, length, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
    assert m not in (None, ctypes.c_void_p(-1).value), os.strerror(ctypes.get_errno())
    maps = open("/proc/self/maps").read()
    cmb = any("p2pmem" in l for l in maps.splitlines())
    # Let the appender fill the rest of the last page, and more.
    t0 = time.time()
    while os.fstat(fd).st_size < length + 3000 and time.time() - t0 < 20:
        time.sleep(0.005)
    got = ctypes.string_at(m, length)
    want = os.pread(fd, length, 0)
    served += cmb
    checked += 1
    if got != want:
        bad += 1
        first = next(k for k in range(length) if got[k] != want[k])
        print("round %d: mapping of %d bytes (size %d when mapped) differs from pread at %d (%s)" %
              (i, length, size, first, "CMB" if cmb else "ordinary"), file=sys.stderr)
    libc.munmap(m, length)
    os.close(fd)
print(checked, served, bad)
' "$f" 40 > "$LOGS/mapper.out" 2> "$LOGS/mapper.err"
rc=$?
touch "$LOGS/stop"; wait "$appender"
cat "$LOGS/mapper.err" | head -5
[ $rc = 0 ] || fail "mapper failed (rc $rc)"
read -r checked served bad < "$LOGS/mapper.out"
echo "mappings checked $checked, served from CMB $served, differing from pread $bad; file now $(stat -c %s "$f") bytes"
grep -c "revoked .*LEASE_BROKEN" "$LOGS/mapper.log" | sed 's/^/lease breaks answered: /'
[ "$bad" = 0 ] || fail "$bad mappings differ from the file"
[ "$served" -gt 0 ] || fail "no mapping was served: the test proves nothing"
