#!/usr/bin/env bash
# Resolver truth: for a file written on /mnt/nvme (data, a hole, data), the LBAs that
# `cmbmap inspect --json` gives, read raw from the namespace with O_DIRECT, equal the
# file's bytes; holes (lba null) read as zeros; segments tile the file.
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
"$CLI" inspect "$f" --json > "$out" || fail "cmbmap inspect --json exited $?"
"$PY" - "$out" "$f" <<'PY'
import json, mmap, os, sys
j = json.load(open(sys.argv[1])); path = sys.argv[2]
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
    assert s["physical"] == s["lba"] * bs, s
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
print(f"{checked} data segments of {path} match the raw namespace")
PY
