#!/usr/bin/env bash
# tools/vm/run exits with the guest command's own status.
. "$(dirname "$0")/../helpers.sh"
"$VMRUN" -- sh -c 'exit 7'; rc=$?
[ "$rc" = 7 ] || fail "exit status $rc, expected 7"
