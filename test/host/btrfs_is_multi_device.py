#!/usr/bin/python3
"""btrfs: blocks may live on any of its devices, so the device verdict is
MULTI_DEVICE; compressed extents still show ENCODED."""
import os
import subprocess
from fsutil import check, inspect, loop_fs, reasons, write_random

with loop_fs("btrfs", mkfs_args=("-q", "-f")) as (mnt, dev):
    plain = os.path.join(mnt, "plain")
    write_random(plain, 2 << 20)
    comp = os.path.join(mnt, "compressed")
    open(comp, "wb").close()
    r = subprocess.run(["chattr", "+c", comp], capture_output=True, text=True)
    with open(comp, "wb") as f:
        f.write(b"A" * (2 << 20))
    os.sync()
    info = inspect(plain)
    check(info["device_reason"] == "MULTI_DEVICE", f"device verdict {info['device_reason']}")
    check(set(reasons(info)) == {"MULTI_DEVICE"}, f"plain: {reasons(info)}")
    check(r.returncode == 0, f"chattr +c failed: {r.stderr.strip()}")
    rc = reasons(inspect(comp))
    check("ENCODED" in rc, f"compressed: {rc}")
