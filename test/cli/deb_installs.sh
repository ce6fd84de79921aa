#!/usr/bin/env bash
# `make deb` builds a package that holds the expected files, installs into a
# scratch root with its own dpkg database (the host's stays untouched), runs
# from there (check, run, man, completion, pkg-config) and removes cleanly.
. "$(dirname "$0")/lib.sh"
command -v dpkg-deb >/dev/null && command -v dpkg-architecture >/dev/null \
  || { echo "dpkg-deb/dpkg-architecture not installed (make deps)"; exit 77; }
r=$(mktemp -d /tmp/cmbmap-deb.XXXXXX)
trap 'rm -rf "$r"' EXIT
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
host_had=$(dpkg-query -W -f='${Status}' cmbmap 2>/dev/null)
deb=$(make -s -C "$ROOT" deb | tail -n1) || fail "make deb"
deb=$ROOT/${deb#"$ROOT"/}
[ -f "$deb" ] || fail "make deb printed '$deb', not a file"

dpkg-deb -c "$deb" | awk '{print $1, $6}' > "$r/contents"
for want in "-rwxr-xr-x ./usr/bin/cmbmap" "-rw-r--r-- ./usr/lib/$triplet/libcmbmap.so" \
    "-rw-r--r-- ./usr/include/cmbmap/cmbmap.h" "-rw-r--r-- ./usr/lib/$triplet/pkgconfig/cmbmap.pc" \
    "-rw-r--r-- ./usr/share/man/man1/cmbmap.1.gz" "-rw-r--r-- ./usr/share/man/man7/cmbmap.7.gz" \
    "-rw-r--r-- ./usr/share/bash-completion/completions/cmbmap" \
    "-rw-r--r-- ./usr/share/doc/cmbmap/examples/60-cmbmap.rules" "-rw-r--r-- ./usr/share/doc/cmbmap/copyright"; do
  grep -qxF -- "$want" "$r/contents" || fail "package lacks '$want'; it has:
$(cat "$r/contents")"
done
! grep -q ' ./usr/local\| ./usr/lib/libcmbmap' "$r/contents" || fail "files outside the Debian layout"
dpkg-deb -f "$deb" Depends | grep -q 'libnvme1' || fail "Depends lacks libnvme1: $(dpkg-deb -f "$deb" Depends)"

# Install into the scratch root: its own database, dependencies assumed (they are the host's).
root=$r/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
dpkg --root="$root" --force-depends --force-not-root --no-triggers -i "$deb" >/dev/null 2>"$r/err" \
  || fail "dpkg -i into the scratch root: $(cat "$r/err")"
dpkg --root="$root" -L cmbmap | grep -qx /usr/bin/cmbmap || fail "dpkg -L in the scratch root"
cli=$root/usr/bin/cmbmap

"$cli" run cat /proc/self/maps > "$r/maps" || fail "installed cmbmap run failed"
grep -q "$root/usr/lib/$triplet/libcmbmap.so" "$r/maps" || fail "installed run did not preload the installed library"
"$cli" run true || fail "installed cmbmap run true"
"$ROOT/test/fixtures/make-check-tree" "$r/fix"
"$cli" check --sysfs-root "$r/fix/sysfs" --proc-root "$r/fix/proc" --boot-dir "$r/fix/boot" > "$r/check" \
  || fail "installed check on a ready machine's tree: $(cat "$r/check")"
"$cli" check > "$r/host-check"; rc=$?
[ "$rc" = 0 ] || [ "$rc" = 1 ] || fail "installed check on this host exited $rc"
grep -q '^cmbmap check: this machine can' "$r/host-check" || fail "installed check printed no verdict"

MANWIDTH=80 man -l "$root/usr/share/man/man7/cmbmap.7.gz" 2>/dev/null | grep -q 'REASON CODES' || fail "installed cmbmap(7)"
PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$root/usr/lib/$triplet/pkgconfig pkg-config --libs cmbmap \
  | grep -q -- "-L$root/usr/lib/$triplet -lcmbmap" || fail "installed pkg-config file"
completions=$(PATH=$root/usr/bin:$PATH bash -c '. "$1"; COMP_WORDS=(cmbmap ch); COMP_CWORD=1; _cmbmap;
  echo "${COMPREPLY[*]}"' _ "$root/usr/share/bash-completion/completions/cmbmap")
[ "$completions" = check ] || fail "completion of 'cmbmap ch' gave '$completions'"

dpkg --root="$root" --force-not-root -r cmbmap >/dev/null 2>&1 || fail "dpkg -r in the scratch root"
[ ! -e "$cli" ] || fail "removal left $cli"
[ "$(dpkg-query -W -f='${Status}' cmbmap 2>/dev/null)" = "$host_had" ] || fail "the host's dpkg database changed"
echo "ok: $(stat -c %s "$deb") bytes, $(wc -l < "$r/contents") entries"
