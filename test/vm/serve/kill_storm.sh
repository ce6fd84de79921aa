#!/usr/bin/env bash
# SIGKILL at random instants, many rounds: a writer under the shim stores
# into an 8 MiB writable served mapping (msync'ing some pages), killed at a
# random moment from its start, so the kill lands in the fill, the lease,
# stores, writebacks, and (some rounds) a give-back another process's open
# forces or a `cmbmap reclaim` asks for. After every round:
#   - every page whose last store was msync'd holds it in the file;
#   - the CMB pool is back to what it was (nothing leaked by the dead process);
# and a bystander holding a read-only served mapping of another file all
# along still reads that file's bytes from CMB at the end (not disturbed).
# KILL_STORM_ROUNDS (default 20; `make check-all` runs 300).
. "$(dirname "$0")/wlib.sh"
. "$(dirname "$0")/lease_lib.sh"
rounds=${KILL_STORM_ROUNDS:-20}
J=$(mktemp -d /run/storm.XXXXXX); trap 'rm -rf "$WORK" "$LOGS" "$J"' EXIT
data_file "$WORK/f" 4
start_holder bystander
pool=$(nvme_pci nvme0)/p2pmem/available
base=$(cat "$pool" 2>/dev/null || echo 0)
data_file "$WORK/data" 8
pool_back() {  # the dead process's CMB returns as its mappings go
  local i
  for ((i = 0; i < 200; i++)); do [ "$(cat "$pool" 2>/dev/null || echo 0)" = "$base" ] && return 0; sleep 0.05; done
  return 1
}
synced=0 stores=0 breaks=0 reclaims=0 served_rounds=0
for r in $(seq 1 "$rounds"); do
  # shellcheck disable=SC2046
  env $(wshim_env "r$r") CMBMAP_WRITEBACK_MS=$((RANDOM % 300 + 50)) \
    "$WSTORE" writer "$WORK/data" "$J/j$r" "$r" 2> "$LOGS/r$r.err" &
  pid=$!
  case $((r % 4)) in
    1) (sleep "0.$((RANDOM % 8))"; "$HOLDMAP" --open-write "$WORK/data" > /dev/null) & breaker=$!; breaks=$((breaks + 1)) ;;
    2) (sleep "0.$((RANDOM % 8))"; "$CLI" reclaim --pid "$pid" --timeout 5 > /dev/null 2>&1) & breaker=$!; reclaims=$((reclaims + 1)) ;;
    *) breaker= ;;
  esac
  sleep "0.$((RANDOM % 9))$((RANDOM % 10))"
  kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
  [ -n "$breaker" ] && wait "$breaker"
  if expect_served; then
    pool_back || fail "round $r: the CMB pool is at $(cat "$pool") bytes, not $base, after the writer died"
  fi
  [ -e "$J/j$r" ] || continue  # killed before its mapping existed: nothing to check
  out=$("$WSTORE" verify "$WORK/data" "$J/j$r") || fail "round $r: $out ($(head -c 300 "$LOGS/r$r.err"))"
  read -r _ served _ s _ y _ _ <<< "$out"
  stores=$((stores + s)); synced=$((synced + y))
  [ "$served" = 8388608 ] && served_rounds=$((served_rounds + 1))
  rm -f "$J/j$r"
done
finish_holder bystander
res=$LOGS/bystander/parent.result
[ "$(field "$res" sum)" = "$(file_sum "$WORK/bystander" "$(stat -c %s "$WORK/bystander")")" ] \
  || fail "the bystander read other bytes than its file's"
if expect_served; then
  [ "$(field "$res" cmb)" = 4194304 ] || fail "the bystander's mapping is no longer CMB: $(cat "$res")"
  [ "$served_rounds" -gt 0 ] || fail "no round was served from the CMB"
fi
[ "$synced" -gt 0 ] || fail "no msync completed in $rounds rounds"
echo "$rounds rounds ($breaks with a lease break, $reclaims with a reclaim, $served_rounds served before the kill):" \
  "$stores stores, $synced msync'd pages checked, 0 lost; pool back to $base bytes after every round"
