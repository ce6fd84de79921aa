#!/usr/bin/env bash
# A command that outlives --timeout is stopped: exit 125 and a message naming the timeout
# and saying that the command had started.
. "$(dirname "$0")/../helpers.sh"
err=$(mktemp); trap 'rm -f "$err"' EXIT
t0=$SECONDS
"$VMRUN" --timeout 25 -- sleep 600 2>"$err"; rc=$?
cat "$err" | grep 'tools/vm/run:'
[ "$rc" = 125 ] || fail "exit status $rc, expected 125"
grep -q '^tools/vm/run: timeout: .*(the command had started)' "$err" || fail "no timeout message"
# (retries before the command started are allowed: that is the early-boot flake path)
[ "$(grep -c 'booting once more' "$err")" -le 2 ] || fail "booted more than three times"
[ $((SECONDS - t0)) -lt 60 ] || fail "took $((SECONDS - t0)) s for --timeout 25"
