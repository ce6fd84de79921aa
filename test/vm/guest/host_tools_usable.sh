#!/usr/bin/env bash
# The host's programs run in the guest (python3, sqlite3, fincore) and a shared writable
# mapping of a file in /tmp works (9p cache=mmap).
. "$(dirname "$0")/../helpers.sh"; in_guest
"$PY" -c 'import sys; print(sys.executable, sys.version.split()[0])' || fail "python3"
echo 'select 6*7;' | sqlite3 | grep -qx 42 || fail "sqlite3"
echo x > /mnt/nvme/.fincore && fincore /mnt/nvme/.fincore >/dev/null || fail "fincore"
rm -f /mnt/nvme/.fincore
t=$(mktemp /tmp/cmbmap-vmtest.XXXXXX)
"$PY" - "$t" <<'PY' || fail "MAP_SHARED write to a /tmp file"
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR); os.ftruncate(fd, 4096)
m = mmap.mmap(fd, 4096, mmap.MAP_SHARED); m[:5] = b"hello"; m.flush(); m.close()
assert os.pread(fd, 5, 0) == b"hello"
PY
rm -f "$t"
