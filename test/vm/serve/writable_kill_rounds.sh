#!/usr/bin/env bash
# Random page stores into an 8 MiB writable shared mapping served from the
# CMB, a quarter of them msync'd page by page and some msync'd whole, then
# SIGKILL at a random moment; many rounds. After each, every page whose last
# store was followed by a completed msync holds that store in the file, and
# the mapping was CMB in every round (not silently ordinary).
. "$(dirname "$0")/wlib.sh"
f=$WORK/data
data_file "$f" 8
# The journals on the guest's own tmpfs: appends over 9p can be reordered.
J=$(mktemp -d /run/wstore.XXXXXX); trap 'rm -rf "$WORK" "$LOGS" "$J"' EXIT
rounds=${WRITABLE_ROUNDS:-10}
total_synced=0
for r in $(seq 1 "$rounds"); do
  # shellcheck disable=SC2046
  env $(wshim_env "round$r") "$WSTORE" writer "$f" "$J/journal$r" "$r" 2> "$LOGS/round$r.err" &
  pid=$!
  # Until it is storing (the journal grows), then a random moment later.
  for _ in $(seq 300); do [ "$(stat -c %s "$J/journal$r" 2>/dev/null || echo 0)" -gt 1024 ] && break; sleep 0.1; done
  sleep "0.$((RANDOM % 9 + 1))"
  kill -9 "$pid"; wait "$pid" 2>/dev/null
  out=$("$WSTORE" verify "$f" "$J/journal$r") || fail "round $r: $out ($(head -c 300 "$LOGS/round$r.err"))"
  echo "round $r: $out"
  read -r _ served _ stores _ synced _ lost <<< "$out"
  [ "$stores" -gt 0 ] || fail "round $r stored nothing"
  total_synced=$((total_synced + synced))
  if expect_served; then
    [ "$served" = 8388608 ] || fail "round $r: the mapping was not served from the CMB (served $served)"
  fi
done
[ "$total_synced" -gt 0 ] || fail "no msync completed in $rounds rounds"
echo "$rounds rounds, $total_synced msync'd pages checked, none lost"
