#!/usr/bin/env bash
# A guest that dies before the command starts is booted once more, and the retry is
# reported on stderr; the command then runs once and its status comes back.
. "$(dirname "$0")/../helpers.sh"
err=$(mktemp); trap 'rm -f "$err"' EXIT
CMBMAP_VM_INJECT_EARLY_DEATH=1 "$VMRUN" -- sh -c 'echo ran; exit 3' 2>"$err" > "$err.out"; rc=$?
cat "$err"
[ "$rc" = 3 ] || fail "exit status $rc, expected 3"
[ "$(grep -c 'booting once more' "$err")" = 1 ] || fail "retry not reported exactly once"
[ "$(cat "$err.out")" = ran ] || fail "command output '$(cat "$err.out")'"
rm -f "$err.out"
