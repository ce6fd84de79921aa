#!/usr/bin/env bash
# `make install PREFIX=...` installs library, CLI, header and pkg-config file,
# and the installed CLI finds the installed library.
. "$(dirname "$0")/lib.sh"
dest=$(mktemp -d /tmp/cmbmap-install.XXXXXX)
trap 'rm -rf "$dest"' EXIT
make -s -C "$ROOT" install PREFIX="$dest" >/dev/null || fail "make install"
for f in lib/libcmbmap.so bin/cmbmap include/cmbmap/cmbmap.h lib/pkgconfig/cmbmap.pc; do
  [ -f "$dest/$f" ] || fail "$f not installed"
done
PKG_CONFIG_PATH=$dest/lib/pkgconfig pkg-config --modversion cmbmap | grep -q "$("$CLI" --version | cut -d' ' -f2)" \
  || fail "pkg-config version"
cat > "$dest/use.c" <<'C'
#include <cmbmap/cmbmap.h>
#include <stdio.h>
int main(void) { printf("%s %s\n", cmbmap_version(), cmbmap_reason_name(CMBMAP_HOLE)); return 0; }
C
cc $(PKG_CONFIG_PATH=$dest/lib/pkgconfig pkg-config --cflags cmbmap) -o "$dest/use" "$dest/use.c" \
  $(PKG_CONFIG_PATH=$dest/lib/pkgconfig pkg-config --libs cmbmap) \
  || fail "compiling against the installed header"
LD_LIBRARY_PATH=$dest/lib "$dest/use" | grep -q " HOLE$" || fail "linking the public API"
"$dest/bin/cmbmap" run cat /proc/self/maps | grep -q "$dest/lib/libcmbmap.so" || fail "installed run uses another library"
echo ok
