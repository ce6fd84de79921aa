#!/usr/bin/env bash
# A program that serves a file and then enters a new user namespace
# (unshare(CLONE_NEWUSER), which the kernel refuses in a multi-threaded
# process) gets the kernel's answer as without cmbmap: cmbmap gives its
# ranges back and ends its thread first. The mapping still reads the file.
# (The test machine runs its commands in a chroot, where the kernel answers
# EPERM; with a second thread it answers EINVAL first. Either way the answer
# must be the one without cmbmap.)
. "$(dirname "$0")/lib.sh"
f=$WORK/userns
random_file "$f" $((4 << 20))
sync
prog='import ctypes, errno, hashlib, mmap, os, sys
libc = ctypes.CDLL(None, use_errno=True)
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
before = hashlib.sha256(m).hexdigest()
r = libc.unshare(0x10000000)  # CLONE_NEWUSER
e = ctypes.get_errno() if r else 0
print("unshare", r, errno.errorcode.get(e, e) if r else 0)
print("same bytes after", hashlib.sha256(m).hexdigest() == before == hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())'
"$PY" -c "$prog" "$f" > "$LOGS/plain.out" 2>&1 || fail "without the shim: $(cat "$LOGS/plain.out")"
with_shim userns "$PY" -c "$prog" "$f" > "$LOGS/shim.out" 2>&1 || fail "under the shim: $(cat "$LOGS/shim.out")"
cat "$LOGS/shim.out"
diff "$LOGS/plain.out" "$LOGS/shim.out" || fail "the call behaved differently under the shim"
if expect_served; then
  grep -qE "info: mmap .* 4 MiB served from CMB" "$LOGS/userns.log" || fail "not served: $(grep 'info: mmap' "$LOGS/userns.log")"
fi
