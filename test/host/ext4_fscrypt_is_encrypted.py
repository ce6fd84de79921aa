#!/usr/bin/python3
"""fscrypt on ext4: a file in an encrypted directory holds ciphertext on the
device (read here at its FIEMAP address: not the file's bytes), so it is
ENCRYPTED; a plain file on the same filesystem keeps the device's verdict."""
import os
import subprocess
from fsutil import HELPERS, check, data_reasons, inspect, loop_fs, skip, write_random

helper = os.path.join(HELPERS, "fscrypt_dir")
if not os.access(helper, os.X_OK):
    skip(f"{helper} not built (make test-helpers)")

with loop_fs("ext4", size_mb=128, mkfs_args=("-q", "-F", "-O", "encrypt")) as (mnt, dev):
    d = os.path.join(mnt, "enc")
    os.mkdir(d)
    r = subprocess.run([helper, d], capture_output=True, text=True)
    if r.returncode == 77:
        skip(r.stdout.strip().splitlines()[-1])
    check(r.returncode == 0, f"fscrypt_dir: {r.stdout}{r.stderr}")
    enc, plain = os.path.join(d, "secret"), os.path.join(mnt, "plain")
    data = write_random(enc, 2 << 20)
    write_random(plain, 2 << 20)
    os.sync()
    info = inspect(enc)
    print("encrypted:", info["verdict"], info["device_reason"], data_reasons(info))
    check(info["verdict"] == "ENCRYPTED", f"verdict {info['verdict']}")
    check(data_reasons(info) == {"ENCRYPTED"}, f"segments {data_reasons(info)}")
    # The premise: the blocks at its address are not its bytes.
    seg = [s for s in info["segments"] if s["physical"] is not None][0]
    fd = os.open(dev, os.O_RDONLY)
    on_disk = os.pread(fd, 4096, seg["physical"])
    os.close(fd)
    check(on_disk != data[seg["offset"]:seg["offset"] + 4096], "the device holds the plaintext?")
    ip = inspect(plain)
    check(ip["verdict"] == "NO_NVME" and data_reasons(ip) == {"NO_NVME"},
          f"plain file: {ip['verdict']} {data_reasons(ip)}")
