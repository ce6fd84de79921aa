#!/usr/bin/env bash
# A kernel panic after the command started gives 125 and a message saying so, with no
# second boot (the stock kernel has /proc/sysrq-trigger to cause one).
. "$(dirname "$0")/../helpers.sh"
err=$(mktemp); trap 'rm -f "$err"' EXIT
"$VMRUN" --kernel stock -- sh -c 'echo c > /proc/sysrq-trigger; sleep 30' 2>"$err"; rc=$?
grep 'tools/vm/run:' "$err"
[ "$rc" = 125 ] || fail "exit status $rc, expected 125"
grep -q '^tools/vm/run: kernel panic after the command had started' "$err" || fail "no panic message"
! grep -q 'booting once more' "$err" || fail "retried after the command had started"
