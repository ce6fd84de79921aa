#!/usr/bin/env bash
# A setuid program (AT_SECURE) is left alone. When the dynamic loader admits
# the library at all (a setuid-marked copy in a system library dir, named
# without a slash), it stays inactive and ignores CMBMAP_*: in particular it
# never writes the log file the caller's environment names.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "skip: needs root to create a setuid program"; exit 77; }
id nobody >/dev/null 2>&1 || { echo "skip: no user 'nobody'"; exit 77; }
command -v setpriv >/dev/null || { echo "skip: setpriv (util-linux) missing"; exit 77; }
libdir=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
lib=$libdir/libcmbmap-setuid-test.so
work=$(mktemp -d /tmp/cmbmap-setuid.XXXXXX)
trap 'rm -rf "$work" "$lib"' EXIT
chmod 777 "$work"
install -m 4755 "$root/build/libcmbmap.so" "$lib"
install -m 4755 /bin/cat "$work/suid-cat"
install -m 755 /bin/cat "$work/plain-cat"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups env LD_PRELOAD=libcmbmap-setuid-test.so "$@"; }
# Control: without the setuid bit the library is loaded and logs.
as_nobody CMBMAP_LOG="debug:$work/control.log" "$work/plain-cat" /proc/self/maps > "$work/control.maps"
grep -q libcmbmap-setuid-test "$work/control.maps" || { echo "FAIL: control run did not load the library"; exit 1; }
grep -q "active: " "$work/control.log" || { echo "FAIL: control run logged nothing"; exit 1; }
as_nobody CMBMAP_LOG="debug:$work/suid.log" CMBMAP_STATS=1 "$work/suid-cat" /proc/self/maps > "$work/suid.maps" \
  || { echo "FAIL: setuid program failed"; exit 1; }
[ ! -e "$work/suid.log" ] || { echo "FAIL: a setuid process wrote the CMBMAP_LOG file:"; cat "$work/suid.log"; exit 1; }
if grep -q libcmbmap-setuid-test "$work/suid.maps"; then
  echo "setuid program: library loaded, inactive, CMBMAP_LOG ignored"
else
  echo "setuid program: the loader did not preload the library (left alone by glibc)"
fi
