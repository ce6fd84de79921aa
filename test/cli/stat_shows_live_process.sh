#!/usr/bin/env bash
# A process under the shim that maps files appears in `cmbmap stat` with its
# counters; its statistics file is gone after it exits.
. "$(dirname "$0")/lib.sh"
work=$(mktemp -d /tmp/cmbmap-stat.XXXXXX)
trap 'rm -rf "$work"' EXIT
head -c $((2 << 20)) /dev/urandom > "$work/f"
mkfifo "$work/go"
CMBMAP_MIN_SIZE=0 CMBMAP_STATS=1 CMBMAP_LOG="info:$work/log" "$CLI" run /usr/bin/python3 -c "
import mmap, sys
f = open('$work/f', 'rb')
maps = [mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) for _ in range(3)]
print('ready', flush=True)
open('$work/go').read()
" > "$work/out" &
pid=$!
for _ in $(seq 100); do grep -q ready "$work/out" 2>/dev/null && break; sleep 0.1; done
json=$("$CLI" stat "$pid" --json) || { echo go > "$work/go"; fail "cmbmap stat $pid failed"; }
"$CLI" stat | grep -q "^$pid " || { echo go > "$work/go"; fail "text listing lacks $pid"; }
echo go > "$work/go"
wait $pid || fail "python exited non-zero"
/usr/bin/python3 - "$json" "$pid" <<'PY' || fail "stat JSON: $json"
import json, sys
p = json.loads(sys.argv[1])["processes"]
assert len(p) == 1 and p[0]["pid"] == int(sys.argv[2]), p
assert p[0]["mmap_calls"] >= 3 and p[0]["mmap_bytes"] >= 3 * (2 << 20), p
assert p[0]["fallback_bytes"] >= 3 * (2 << 20), p
assert sum(p[0]["fallback_by_reason"].values()) == p[0]["fallback_bytes"], p
PY
"$CLI" stat "$pid" >/dev/null 2>&1 && fail "statistics of $pid outlived it"
grep -q "stats: file mappings" "$work/log" || fail "CMBMAP_STATS=1 printed nothing at exit"
echo ok
