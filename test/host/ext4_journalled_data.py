#!/usr/bin/python3
"""ext4 data journalling: the journal writes a file's blocks again after any
direct write, so LBAs are not the file's bytes. A data=journal mount, a
superblock default of journal_data (which /proc/self/mountinfo does not
show) and a chattr +j file all give JOURNALLED_DATA; a plain file beside
the chattr +j one keeps the device's verdict (the inode's reason is not the
device's)."""
import os
from fsutil import check, data_reasons, inspect, loop_fs, run, write_random


def journalled(mnt, what):
    path = os.path.join(mnt, "f")
    write_random(path, 2 << 20)
    os.sync()
    info = inspect(path)
    check(info["verdict"] == "JOURNALLED_DATA", f"{what}: verdict {info['verdict']}")
    check(info["device_reason"] == "JOURNALLED_DATA", f"{what}: device_reason {info['device_reason']}")
    check(data_reasons(info) == {"JOURNALLED_DATA"}, f"{what}: segments {data_reasons(info)}")


with loop_fs("ext4", size_mb=128, mkfs_args=("-q", "-F"), mount_opts="data=journal") as (mnt, dev):
    journalled(mnt, "mount -o data=journal")

with loop_fs("ext4", size_mb=128, mkfs_args=("-q", "-F"),
             prepare=lambda dev: run("tune2fs", "-o", "journal_data", dev)) as (mnt, dev):
    st = os.stat(mnt)
    majmin = f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"
    line = [l for l in open("/proc/self/mountinfo") if l.split()[2] == majmin][0]
    print("mountinfo:", line.strip())
    journalled(mnt, "tune2fs -o journal_data")

def set_journal_flag(dev):
    """A file with FS_JOURNAL_DATA_FL, made offline with debugfs: chattr +j
    needs CAP_SYS_RESOURCE, which a container's root may lack."""
    src = "/tmp/cmbmap-jsrc-%d" % os.getpid()
    write_random(src, 2 << 20)
    try:
        run("debugfs", "-w", "-R", f"write {src} jfile", dev)
        flags = int(run("debugfs", "-R", "stat jfile", dev).stdout.split("Flags: ")[1].split()[0], 16)
        run("debugfs", "-w", "-R", f"set_inode_field jfile flags {flags | 0x4000:#x}", dev)
    finally:
        os.unlink(src)


with loop_fs("ext4", size_mb=128, mkfs_args=("-q", "-F"), prepare=set_journal_flag) as (mnt, dev):
    plain, jfile = os.path.join(mnt, "plain"), os.path.join(mnt, "jfile")
    write_random(plain, 2 << 20)
    os.sync()
    lsattr = run("lsattr", jfile).stdout.split()[0]
    check("j" in lsattr, f"lsattr {lsattr}: no journal-data flag")
    ij = inspect(jfile)
    check(ij["verdict"] == "JOURNALLED_DATA", f"+j file: verdict {ij['verdict']}")
    check(ij["device_reason"] == "NO_NVME", f"+j file: device_reason {ij['device_reason']}")
    check(data_reasons(ij) == {"JOURNALLED_DATA"}, f"+j file: segments {data_reasons(ij)}")
    ip = inspect(plain)
    check(ip["verdict"] == "NO_NVME" and data_reasons(ip) == {"NO_NVME"},
          f"plain file beside it: {ip['verdict']} {data_reasons(ip)}")
