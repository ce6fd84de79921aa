#!/usr/bin/env bash
# Scale: one process holds 10000 served ranges at once (4 KiB mappings of a
# file, each at its own offset), every one reads its file's bytes; then the
# process's own open for writing gives all of them back in place (batched
# give-backs), after which every mapping still reads the file's bytes from
# ordinary pages and no CMB is left mapped.
. "$(dirname "$0")/lib.sh"
expect_served || skip "no p2pmem under the $TESTVM_KERNEL kernel"
# 10000 pages of CMB (39 MiB), or as many as a smaller CMB holds.
n=$(( $(cmb_fit 40 1) * 256 )); [ $n -gt 10000 ] && n=10000
random_file "$WORK/f" $(( n * 4096 ))
prog='import mmap, os, sys
path, n = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
fd = os.open(path, os.O_RDONLY)
maps = [mmap.mmap(fd, 4096, access=mmap.ACCESS_READ, offset=i * 4096) for i in range(n)]
def cmb_ranges():
    return sum(1 for l in open("/proc/self/maps") if "p2pmem" in l)
served = cmb_ranges()
bad = sum(m[:] != data[i * 4096:(i + 1) * 4096] for i, m in enumerate(maps))
os.close(os.open(path, os.O_WRONLY))  # this process opens it for writing: all go back
left = cmb_ranges()
bad_after = sum(m[:] != data[i * 4096:(i + 1) * 4096] for i, m in enumerate(maps))
print(n, served, bad, left, bad_after)'
# Python's mmap keeps a duplicate of the fd per mapping: room for 10000 of them.
ulimit -n 65536
with_shim many "$PY" -c "$prog" "$WORK/f" $n > "$LOGS/many.out" || fail "the program failed: $(tail -5 "$LOGS/many.log")"
read -r maps served bad left bad_after < "$LOGS/many.out"
echo "$maps mappings: $served served at once, $bad differing; after the open for writing: $left served, $bad_after differing"
[ "$bad" = 0 ] && [ "$bad_after" = 0 ] || fail "mappings read bytes the file does not hold"
# Neighbouring ranges of one file may be merged into one VMA by the kernel: count
# the bytes the shim served instead where maps shows fewer lines.
[ "$(served_bytes many)" = $(( n * 4096 )) ] || fail "not all $n ranges were served ($(served_bytes many) bytes)"
[ "$served" -gt 0 ] || fail "no CMB mapping seen"
[ "$left" = 0 ] || fail "$left CMB mappings left after the file was opened for writing"
grep -c "revoked " "$LOGS/many.log" | sed "s/^/give-backs logged: /"
