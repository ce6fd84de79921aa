#!/usr/bin/env bash
# `cmbmap inspect` says whether a read-only program would get the read lease
# that serving needs: available, or open_for_write while someone holds the
# file open for writing.
. "$(dirname "$0")/lib.sh"
dir=$(mktemp -d); trap 'kill $holder 2>/dev/null; rm -rf "$dir"' EXIT
head -c 65536 /dev/urandom > "$dir/f"
lease() { "$CLI" inspect --json "$dir/f" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["files"][0]["read_lease"])'; }
got=$(lease) || fail "inspect --json"
[ "$got" = available ] || fail "a file nobody writes: read_lease $got"
sleep 30 >> "$dir/f" & holder=$!   # holds it open for writing
sleep 0.2
got=$(lease)
[ "$got" = open_for_write ] || fail "a file held open for writing: read_lease $got"
"$CLI" inspect "$dir/f" | grep -q "read lease open_for_write" || fail "the text output does not say it"
echo "read lease: available, then open_for_write while held for writing"
