#!/usr/bin/env bash
# Resolver truth: for a file written on /mnt/nvme (data, a hole, data), the LBAs that
# `cmbmap inspect --json` gives, read raw from the namespace with O_DIRECT, equal the
# file's bytes; holes (lba null) read as zeros; segments tile the file. On a partition
# (tools/vm/run --partition) the LBA counts from the namespace's start: FIEMAP's physical
# address plus the partition's offset.
. "$(dirname "$0")/../helpers.sh"; in_guest; need_cli
f=/mnt/nvme/resolver_truth.dat
out=$(mktemp); trap 'rm -f "$out"' EXIT
"$PY" - "$f" <<'PY' || fail "writing $f"
import os, sys
MiB = 1 << 20
fd = os.open(sys.argv[1], os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o644)
os.pwrite(fd, os.urandom(3 * MiB), 0)            # data
os.pwrite(fd, os.urandom(2 * MiB + 777), 4 * MiB)  # a 1 MiB hole before it, a ragged tail
os.fsync(fd); os.close(fd)
PY
sync
src=$(findmnt -no SOURCE /mnt/nvme)
start=$(cat "/sys/class/block/${src##*/}/start" 2>/dev/null || echo 0)   # 512-byte sectors; 0: whole namespace
"$CLI" inspect "$f" --json > "$out" || fail "cmbmap inspect --json exited $?"
"$PY" - "$out" "$f" "$((start * 512))" <<'PY'
import json, mmap, os, sys
j = json.load(open(sys.argv[1])); path = sys.argv[2]; part_off = int(sys.argv[3])
files = j["files"]; assert len(files) == 1 and files[0]["path"] == path, files
data = open(path, "rb").read()
assert files[0]["size"] == len(data), (files[0]["size"], len(data))
pos = checked = 0
for s in files[0]["segments"]:
    off, n = s["offset"], s["length"]
    assert off == pos, f"segments do not tile the file: segment at {off}, expected {pos}"
    pos = off + n
    want = data[off:off + n]
    if s["lba"] is None:
        assert s["physical"] is None, s
        assert want == bytes(len(want)), f"hole at {off}+{n} reads non-zero"
        continue
    bs = s["lba_size"]
    assert s["physical"] + part_off == s["lba"] * bs, (s, part_off)
    span = (len(want) + bs - 1) // bs * bs
    buf = mmap.mmap(-1, max(span, mmap.PAGESIZE))     # page-aligned, as O_DIRECT needs
    fd = os.open(s["namespace_device"], os.O_RDONLY | os.O_DIRECT)
    got = os.preadv(fd, [memoryview(buf)[:span]], s["lba"] * bs); os.close(fd)
    assert got == span, f"short raw read at LBA {s['lba']}: {got}"
    if buf[:len(want)] != want:
        sys.exit(f"FAIL: segment at file offset {off} (+{n}): LBA {s['lba']} on "
                 f"{s['namespace_device']} does not hold the file's bytes")
    checked += 1
assert pos >= len(data), f"segments cover {pos} of {len(data)} bytes"
assert checked >= 2, f"only {checked} data segments checked"
print(f"{checked} data segments of {path} match the raw namespace (partition offset {part_off})")
PY
