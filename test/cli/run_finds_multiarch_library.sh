#!/usr/bin/env bash
# An installed `cmbmap run` finds the library in the Debian multiarch libdir
# (/usr/lib/<triplet>, where the package puts it) as well as in ../lib.
. "$(dirname "$0")/lib.sh"
triplet=$(${CXX:-g++} -print-multiarch)
[ -n "$triplet" ] || { echo "compiler has no multiarch triplet"; exit 77; }
dest=$(mktemp -d /tmp/cmbmap-multiarch.XXXXXX)
trap 'rm -rf "$dest"' EXIT
mkdir -p "$dest/usr/bin" "$dest/usr/lib/$triplet"
cp "$CLI" "$dest/usr/bin/cmbmap"
cp "$ROOT/build/libcmbmap.so" "$dest/usr/lib/$triplet/libcmbmap.so"
maps=$("$dest/usr/bin/cmbmap" run cat /proc/self/maps) || fail "cmbmap run failed"
grep -q "$dest/usr/lib/$triplet/libcmbmap.so" <<<"$maps" || fail "the multiarch library was not preloaded"
echo ok
