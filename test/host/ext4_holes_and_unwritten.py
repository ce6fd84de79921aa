#!/usr/bin/python3
"""ext4: a sparse file with data, a hole and a preallocated (unwritten) range
gets DATA / HOLE / UNWRITTEN segments, in that order, covering the file."""
import os
from fsutil import check, inspect, loop_fs, reasons, covers_exactly, write_random

with loop_fs("ext4", mkfs_args=("-q", "-F")) as (mnt, dev):
    path = os.path.join(mnt, "sparse")
    write_random(path, 1 << 20)                       # [0, 1M) data
    fd = os.open(path, os.O_RDWR)
    os.posix_fallocate(fd, 3 << 20, 1 << 20)          # [3M, 4M) unwritten; [1M, 3M) hole
    os.close(fd)
    os.sync()
    info = inspect(path)
    print(info)
    check(covers_exactly(info), "segments do not tile the file")
    check(reasons(info) == ["NO_NVME", "HOLE", "UNWRITTEN"], f"reasons {reasons(info)}")
    seg = info["segments"]
    check(seg[1]["offset"] == 1 << 20 and seg[1]["length"] == 2 << 20, "hole bounds")
    check(seg[1]["physical"] is None and seg[0]["physical"] is not None, "physical only for data")
    check("unwritten" in seg[2]["flags"], "unwritten flag shown")
    check(info["device_reason"] == "NO_NVME", "a loop device is not NVMe")
