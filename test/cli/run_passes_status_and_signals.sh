#!/usr/bin/env bash
# `cmbmap run` behaves like env(1): CMD's exit status and death by signal
# reach the caller; 127/126 when CMD is missing or not executable; the
# library is appended to an existing LD_PRELOAD.
. "$(dirname "$0")/lib.sh"
expect_rc 0 "$CLI" run true
expect_rc 7 "$CLI" run -- sh -c 'exit 7'
expect_rc 127 "$CLI" run /nonexistent/program
noexec=$(mktemp /tmp/cmbmap-noexec.XXXXXX)
trap 'rm -f "$noexec"' EXIT
chmod 644 "$noexec"
expect_rc 126 "$CLI" run "$noexec"
expect_rc 2 "$CLI" run
"$CLI" run -- sh -c 'kill -TERM $$'; rc=$?
[ $rc = 143 ] || fail "signal: exit $rc, expected 143 (128+SIGTERM)"
pre=$(LD_PRELOAD=/lib/x86_64-linux-gnu/libc.so.6 "$CLI" run sh -c 'echo $LD_PRELOAD')
[ "$pre" = "/lib/x86_64-linux-gnu/libc.so.6:$ROOT/build/libcmbmap.so" ] || fail "LD_PRELOAD not appended: $pre"
# The library really is loaded in CMD.
grep -q libcmbmap.so <("$CLI" run cat /proc/self/maps) || fail "libcmbmap.so not mapped in CMD"
echo ok
