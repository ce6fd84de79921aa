#!/usr/bin/python3
"""xfs with reflink: a cloned file's extents are SHARED (both copies), and
after rewriting the clone's first MiB only the rest stays shared."""
import fcntl
import os
from fsutil import check, inspect, loop_fs, reasons, write_random

FICLONE = 0x40049409

with loop_fs("xfs", mkfs_args=("-q", "-f", "-m", "reflink=1")) as (mnt, dev):
    a, b = os.path.join(mnt, "a"), os.path.join(mnt, "b")
    write_random(a, 4 << 20)
    os.sync()
    with open(a, "rb") as src, open(b, "wb") as dst:
        fcntl.ioctl(dst.fileno(), FICLONE, src.fileno())
    os.sync()
    check(set(reasons(inspect(a))) == {"SHARED"}, f"original: {reasons(inspect(a))}")
    check(set(reasons(inspect(b))) == {"SHARED"}, f"clone: {reasons(inspect(b))}")
    write_random(b, 1 << 20)  # copy-on-write of the first MiB
    os.sync()
    rb = reasons(inspect(b))
    check(rb[0] == "NO_NVME" and "SHARED" in rb[1:], f"after CoW: {rb}")
