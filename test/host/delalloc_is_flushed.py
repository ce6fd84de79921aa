#!/usr/bin/python3
"""A file just written on ext4 has delayed allocation (no blocks yet);
inspect flushes it once and reports real blocks, never DELALLOC."""
import os
from fsutil import check, inspect, loop_fs, reasons

with loop_fs("ext4", mkfs_args=("-q", "-F")) as (mnt, dev):
    path = os.path.join(mnt, "fresh")
    with open(path, "wb") as f:
        f.write(os.urandom(2 << 20))   # no fsync: still delalloc
    info = inspect(path)
    check(reasons(info) == ["NO_NVME"], f"reasons {reasons(info)}")
    check(info["segments"][0]["physical"] is not None, "flushed extent has a physical address")
    check("delalloc" not in info["segments"][0]["flags"], "still delalloc after the flush")
