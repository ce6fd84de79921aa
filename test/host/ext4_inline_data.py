#!/usr/bin/python3
"""ext4 with inline_data: a tiny file lives in the inode: INLINE."""
import os
from fsutil import check, inspect, loop_fs, reasons

with loop_fs("ext4", mkfs_args=("-q", "-F", "-O", "inline_data")) as (mnt, dev):
    path = os.path.join(mnt, "tiny")
    with open(path, "wb") as f:
        f.write(b"x" * 60)
    os.sync()
    info = inspect(path)
    check(reasons(info) == ["INLINE"], f"reasons {reasons(info)}")
    check("inline" in info["segments"][0]["flags"], "inline flag")
