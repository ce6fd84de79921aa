#!/usr/bin/env bash
# tools/vm/run works with stdin from /dev/null (as under CI); the command sees an empty stdin.
. "$(dirname "$0")/../helpers.sh"
out=$("$VMRUN" --timeout 120 -- sh -c 'n=$(cat | wc -c); echo "stdin bytes: $n"' </dev/null); rc=$?
[ "$rc" = 0 ] || fail "exit status $rc"
[ "$out" = "stdin bytes: 0" ] || fail "got '$out'"
