#!/usr/bin/env bash
# A command that fails inside the guest fails outside with its status and its stderr;
# a command that does not exist gives 127 (the shell's "not found"), not a harness error.
. "$(dirname "$0")/../helpers.sh"
err=$(mktemp); trap 'rm -f "$err"' EXIT
"$VMRUN" -- sh -c 'echo "it broke" >&2; false' 2>"$err"; rc=$?
[ "$rc" = 1 ] || fail "exit status $rc, expected 1"
grep -qx "it broke" "$err" || { cat "$err"; fail "the command's stderr did not come through"; }
"$VMRUN" -- /nonexistent/command 2>"$err"; rc=$?
[ "$rc" = 127 ] || { cat "$err"; fail "missing command: exit status $rc, expected 127"; }
