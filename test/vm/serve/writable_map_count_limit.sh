#!/usr/bin/env bash
# Each dirty page made writable splits the mapping; random stores can reach
# vm.max_map_count. With the limit at 256: random stores, msync, SIGKILL,
# and nothing msync'd is lost (tracking gets coarser instead of stalling).
. "$(dirname "$0")/wlib.sh"
f=$WORK/data
data_file "$f" 8
J=$(mktemp -d /run/wstore.XXXXXX)
old=$(cat /proc/sys/vm/max_map_count)
trap 'echo "$old" > /proc/sys/vm/max_map_count; rm -rf "$WORK" "$LOGS" "$J"' EXIT
echo 256 > /proc/sys/vm/max_map_count
# shellcheck disable=SC2046
env $(wshim_env limit) "$WSTORE" writer "$f" "$J/journal" 7 2> "$LOGS/limit.err" &
pid=$!
for _ in $(seq 300); do [ "$(stat -c %s "$J/journal" 2>/dev/null || echo 0)" -gt 65536 ] && break; sleep 0.1; done
kill -9 "$pid"; wait "$pid" 2>/dev/null
out=$("$WSTORE" verify "$f" "$J/journal") || fail "$out ($(head -c 300 "$LOGS/limit.err"))"
echo "vm.max_map_count 256: $out"
read -r _ served _ stores _ _ _ _ <<< "$out"
[ "$stores" -gt 1000 ] || fail "too few stores to reach the limit ($stores)"
if expect_served; then [ "$served" = 8388608 ] || fail "not served ($served)"; fi
