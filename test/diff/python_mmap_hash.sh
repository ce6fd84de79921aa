#!/usr/bin/env bash
# python3's mmap module: hashing whole mappings, slices at offsets, find(),
# MAP_PRIVATE copy-on-write — same output with and without the shim.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
[ -x $PY ] || skip "python3 not installed"
head -c $((16 << 20)) /dev/urandom > "$WORK/blob"
printf 'needle-in-the-haystack' | dd of="$WORK/blob" bs=1 seek=$((9 << 20)) conv=notrunc status=none
cat > "$WORK/hash.py" <<'PYEOF'
import hashlib, mmap, sys
path = sys.argv[1]
with open(path, "rb") as f:
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    print("whole", hashlib.sha256(m).hexdigest())
    print("find", m.find(b"needle-in-the-haystack"))
    for off in (0, 4096, 1 << 20, (16 << 20) - 4096):
        print("slice", off, hashlib.sha256(m[off:off + 65536]).hexdigest())
    m.close()
    m = mmap.mmap(f.fileno(), 1 << 20, access=mmap.ACCESS_READ, offset=8 << 20)
    print("offset-map", hashlib.sha256(m).hexdigest())
    m.close()
with open(path, "r+b") as f:
    m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    m[0:4] = b"COW!"
    print("private", bytes(m[0:4]), hashlib.sha256(m).hexdigest())
with open(path, "rb") as f:
    print("file-unchanged", f.read(4) != b"COW!")
PYEOF
variants pyhash $PY "$WORK/hash.py" "$WORK/blob"
saw_mappings pyhash 3
