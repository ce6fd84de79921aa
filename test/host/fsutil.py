"""Helpers for the host filesystem tests: a filesystem on a loop device in a
temporary directory, `cmbmap inspect --json`, and the skip/fail protocol of
test/lib/runner (exit 77 = skip, with the missing feature on the last line)."""
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(ROOT, "build", "cmbmap")
LIB = os.path.join(ROOT, "build", "libcmbmap.so")


def skip(why):
    print(f"skip: {why}")
    sys.exit(77)


def check(cond, msg):
    if not cond:
        print(f"FAIL: {msg}")
        sys.exit(1)


def run(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


@contextlib.contextmanager
def loop_fs(fstype, size_mb=512, mkfs_args=(), mount_opts=None, prepare=None):
    """Yields (mountpoint, loop device) of a fresh fstype on a sparse image,
    mounted with mount_opts (-o) if given; prepare(dev) runs between mkfs and
    mount."""
    if os.geteuid() != 0:
        skip("needs root for loop devices and mount")
    mkfs = shutil.which(f"mkfs.{fstype}")
    if not mkfs:
        skip(f"mkfs.{fstype} not installed (make deps)")
    tmp = tempfile.mkdtemp(prefix=f"cmbmap-{fstype}-")
    img, mnt = os.path.join(tmp, "img"), os.path.join(tmp, "mnt")
    os.mkdir(mnt)
    dev = None
    try:
        with open(img, "wb") as f:
            f.truncate(size_mb << 20)
        r = subprocess.run(["losetup", "--find", "--show", img], capture_output=True, text=True)
        if r.returncode != 0:
            skip(f"no loop device available ({r.stderr.strip()})")
        dev = r.stdout.strip()
        r = subprocess.run([mkfs, *mkfs_args, dev], capture_output=True, text=True)
        if r.returncode != 0:
            skip(f"mkfs.{fstype} {' '.join(mkfs_args)} failed: {r.stderr.strip().splitlines()[0][:200]}")
        if prepare:
            prepare(dev)
        opts = ["-o", mount_opts] if mount_opts else []
        r = subprocess.run(["mount", *opts, dev, mnt], capture_output=True, text=True)
        if r.returncode != 0:
            kmsg = subprocess.run(["dmesg"], capture_output=True, text=True).stdout.strip().splitlines()
            why = r.stderr.strip().splitlines()[0] if r.stderr.strip() else f"exit {r.returncode}"
            skip(f"cannot mount {fstype} {' '.join(opts)}: {why}; kernel: {kmsg[-1] if kmsg else '?'}")
        yield mnt, dev
    finally:
        subprocess.run(["umount", mnt], capture_output=True)
        if dev:
            subprocess.run(["losetup", "-d", dev], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def inspect(path):
    out = run(CLI, "inspect", "--json", path).stdout
    files = json.loads(out)["files"]
    check(len(files) == 1, f"inspect returned {len(files)} files")
    return files[0]


HELPERS = os.path.join(ROOT, "build", "test", "host")


def data_reasons(info):
    """Reasons of the segments that have blocks (holes keep HOLE)."""
    return {s["reason"] for s in info["segments"] if s["physical"] is not None}


def reasons(info):
    return [s["reason"] for s in info["segments"]]


def covers_exactly(info):
    """Segments are sorted, do not overlap and cover [0, size) with no gap
    other than the tail of the last page."""
    pos = 0
    for s in info["segments"]:
        if s["offset"] != pos:
            return False
        pos = s["offset"] + s["length"]
    return pos >= info["size"]


def write_random(path, size, offset=0):
    data = os.urandom(size)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    os.pwrite(fd, data, offset)
    os.close(fd)
    return data
