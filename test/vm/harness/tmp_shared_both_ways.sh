#!/usr/bin/env bash
# /tmp is the host's /tmp: the guest reads what the host wrote there, and the host reads
# what the guest wrote there.
. "$(dirname "$0")/../helpers.sh"
d=$(mktemp -d /tmp/cmbmap-vmtest.XXXXXX); trap 'rm -rf "$d"' EXIT
token=$RANDOM$RANDOM
echo "$token" > "$d/from-host"
"$VMRUN" -- sh -c "read t < '$d/from-host' && echo \"guest saw \$t\" > '$d/from-guest'" || fail "run exited $?"
[ "$(cat "$d/from-guest" 2>/dev/null)" = "guest saw $token" ] || fail "host reads '$(cat "$d/from-guest" 2>&1)'"
