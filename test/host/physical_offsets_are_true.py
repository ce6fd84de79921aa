#!/usr/bin/python3
"""The physical offsets inspect reports point at the file's bytes on the
block device (read back raw with O_DIRECT), on ext4 and xfs."""
import mmap
import os
from fsutil import check, inspect, loop_fs


def raw_read(dev, offset, length):
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    try:
        start = offset - offset % 4096
        span = (offset - start + length + 4095) // 4096 * 4096
        buf = mmap.mmap(-1, span)
        n = os.preadv(fd, [buf], start)
        check(n == span, f"short raw read {n}/{span}")
        return bytes(buf[offset - start: offset - start + length])
    finally:
        os.close(fd)


for fstype, args in (("ext4", ("-q", "-F")), ("xfs", ("-q", "-f"))):
    with loop_fs(fstype, mkfs_args=args) as (mnt, dev):
        path = os.path.join(mnt, "data")
        # Several extents: write in chunks with a gap file in between.
        data = b""
        for i in range(4):
            chunk = os.urandom(3 << 20 | 1234)
            with open(path, "ab") as f:
                f.write(chunk)
            with open(os.path.join(mnt, f"gap{i}"), "wb") as g:
                g.write(os.urandom(1 << 20))
                os.fsync(g.fileno())
            data += chunk
        os.sync()
        info = inspect(path)
        check(info["size"] == len(data), "size")
        checked = 0
        for s in info["segments"]:
            if s["physical"] is None:
                continue
            got = raw_read(dev, s["physical"], s["length"])
            want = data[s["offset"]: s["offset"] + s["length"]]
            check(got == want, f"{fstype}: bytes at physical {s['physical']} differ from file offset {s['offset']}")
            checked += s["length"]
        check(checked == len(data), f"{fstype}: checked {checked} of {len(data)} bytes")
        print(f"{fstype}: {len(info['segments'])} segments, {checked} bytes match the device")
