#!/usr/bin/env bash
# A program linked against the old and the new versions of posix_spawn and
# posix_spawnp gets each version's own behaviour under the shim (the old one
# runs a script without #!, the new one fails with ENOEXEC), and both are
# cmbmap's interposers, not glibc's reached past them.
. "$(dirname "$0")/lib.sh"
[ "$(uname -m)" = x86_64 ] || skip "the GLIBC_2.2.5 versions exist on x86_64 only"
# libasan, loaded first, defines posix_spawn and posix_spawnp without a
# version, which the dynamic linker binds every version's call to.
[ -z "${CMBMAP_TEST_RUNTIME:-}" ] || skip "the sanitizer runtime takes every version of posix_spawn"
variants spawn "$HELPERS/spawn_versions" "$WORK"
grep -q "posix_spawn@GLIBC_2.2.5: 0, child exit 7" "$WORK/spawn.plain.out" || fail "baseline: $(cat "$WORK/spawn.plain.out")"
grep -q "posix_spawn@GLIBC_2.15: Exec format error" "$WORK/spawn.plain.out" || fail "baseline: $(cat "$WORK/spawn.plain.out")"
which=$(LD_PRELOAD="$PRELOAD" "$HELPERS/spawn_versions" --which)
echo "bound under the shim: $which"
[ "$which" = "old libcmbmap.so new libcmbmap.so oldp libcmbmap.so newp libcmbmap.so" ] || fail "not interposed: $which"
