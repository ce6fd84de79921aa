#!/usr/bin/python3
"""XFS with a realtime device: a realtime file's FIEMAP addresses are on the
realtime device, not on the data device behind the mount: REALTIME_DEVICE.
A plain file on the data device keeps the device's verdict."""
import os
import shutil
import subprocess
import tempfile
from fsutil import check, data_reasons, inspect, loop_fs, skip, write_random

if os.geteuid() != 0:
    skip("needs root for loop devices and mount")
if not shutil.which("xfs_io"):
    skip("xfs_io not installed (xfsprogs)")
tmp = tempfile.mkdtemp(prefix="cmbmap-xfsrt-")
rtimg = os.path.join(tmp, "rt.img")
with open(rtimg, "wb") as f:
    f.truncate(64 << 20)
r = subprocess.run(["losetup", "--find", "--show", rtimg], capture_output=True, text=True)
if r.returncode != 0:
    shutil.rmtree(tmp)
    skip(f"no loop device for the realtime device ({r.stderr.strip()})")
rtdev = r.stdout.strip()
try:
    with loop_fs("xfs", size_mb=512, mkfs_args=("-q", "-f", "-r", f"rtdev={rtdev}"),
                 mount_opts=f"rtdev={rtdev}") as (mnt, dev):
        rt, plain = os.path.join(mnt, "rt"), os.path.join(mnt, "plain")
        open(rt, "wb").close()
        r = subprocess.run(["xfs_io", "-c", "chattr +r", rt], capture_output=True, text=True)
        check(r.returncode == 0 and not r.stderr.strip(), f"xfs_io chattr +r: {r.stderr.strip()}")
        write_random(rt, 2 << 20)
        write_random(plain, 2 << 20)
        os.sync()
        info = inspect(rt)
        print("realtime:", info["verdict"], info["device_reason"], data_reasons(info))
        check(info["verdict"] == "REALTIME_DEVICE", f"verdict {info['verdict']}")
        check(data_reasons(info) == {"REALTIME_DEVICE"}, f"segments {data_reasons(info)}")
        ip = inspect(plain)
        check(ip["verdict"] == "NO_NVME" and data_reasons(ip) == {"NO_NVME"},
              f"plain file: {ip['verdict']} {data_reasons(ip)}")
finally:
    subprocess.run(["losetup", "-d", rtdev], capture_output=True)
    shutil.rmtree(tmp, ignore_errors=True)
