#!/usr/bin/python3
"""Only ext4 and xfs are proven to keep a file's blocks in place until a
lease break: a file on any other filesystem (here tmpfs, always at hand) is
FS_NOT_SUPPORTED, while btrfs keeps MULTI_DEVICE (btrfs_is_multi_device)."""
import os
import tempfile
from fsutil import check, inspect, reasons, run, skip

d = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
fd, path = tempfile.mkstemp(dir=d, prefix="cmbmap-tmpfs-")
try:
    os.write(fd, os.urandom(1 << 20))
    os.close(fd)
    fstype = run("stat", "-f", "-c", "%T", path).stdout.strip()
    if fstype in ("ext2/ext3", "xfs", "btrfs"):
        skip(f"{d} is {fstype}, not a filesystem off the allow-list")
    info = inspect(path)
    check(info["verdict"] == "FS_NOT_SUPPORTED", f"verdict {info['verdict']}")
    check(info["device_reason"] == "FS_NOT_SUPPORTED", f"device_reason {info['device_reason']}")
    check(set(reasons(info)) == {"FS_NOT_SUPPORTED"}, f"segments {reasons(info)}")
finally:
    os.unlink(path)
