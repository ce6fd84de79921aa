#!/usr/bin/env bash
# The drive failing a random tenth of a file's blocks, round after round
# (tools/vm/fault; needs tools/vm/run --faults), alternating:
#   - a writeback round: stores into every page of a writable served
#     mapping, writes of the chosen blocks fail, msync reports EIO; the
#     faults are cleared, the next msync returns 0 and every store is on
#     disk. By NVMe command as root, through the file as a user without
#     access to the namespace's char device.
#   - a fill round (engine pread, uring or passthru in turn): reads of the
#     chosen blocks fail, the mapping falls back (FILL_FAILED) and, once the
#     drive reads again, the program reads the file's bytes.
# Prints the table line of README: Reliability (rounds, fallbacks, errors
# reported, bytes lost). FAULT_ROUNDS (default 4: one of each kind but pread, which fill_fault_falls_back covers; check-all: 30).
. "$(dirname "$0")/wlib.sh"
expect_served || skip "no p2pmem under the $TESTVM_KERNEL kernel"
[ -n "${TESTVM_FAULTS:-}" ] || skip "no drive faults (run the machine with tools/vm/run --faults)"
FAULT=$ROOT/tools/vm/fault
rounds=${FAULT_ROUNDS:-4}
alloc="$(nvme_pci nvme0)/p2pmem/allocate"
mode=$(stat -c %a "$alloc")
hs=$(mktemp -d /dev/shm/faultrounds.XXXXXX)
trap '"$FAULT" clear > /dev/null 2>&1; chmod "$mode" "$alloc"; rm -rf "$WORK" "$LOGS" "$hs"' EXIT
chmod 666 "$alloc"; chmod 755 "$WORK"; chmod 777 "$LOGS"

# some_blocks FILE: a random tenth (at least one) of FILE's 4 KiB blocks, as fault targets
some_blocks() {
  "$FAULT" sectors "$1" | awk -v seed="$RANDOM" 'BEGIN {srand(seed)}
    {for (s = $2; s < $2 + $3; s += 8) if (rand() < 0.1 || !n) {printf "%s:%s+8 ", $1, s; n++}}'
}

writeback_round() {  # writeback_round R USER(root|nobody)
  local r=$1 user=$2 f=$WORK/w$1 targets answer failed later out pages runner=()
  data_file "$f" 1
  pages=256
  targets=$(some_blocks "$f")
  [ "$user" = nobody ] && { chown nobody "$f"; runner=(setpriv --reuid=nobody --regid=nogroup --clear-groups); }
  drop_caches
  # shellcheck disable=SC2046
  coproc W { "${runner[@]}" env $(wshim_env "w$r") CMBMAP_WRITEBACK_MS=0 "$WSTORE" steps "$f" "$r" 2> "$LOGS/w$r.err"; }
  read -r -t 120 answer <&"${W[0]}" || fail "round $r: wstore did not start: $(cat "$LOGS/w$r.err")"
  grep -q "^served 1048576" "$LOGS/w$r.err" || fail "round $r: not served: $(why_not "w$r")"
  # shellcheck disable=SC2086
  "$FAULT" arm write $targets > /dev/null || fail "round $r: arming failed"
  echo msync >&"${W[1]}"; read -r -t 120 failed <&"${W[0]}" || fail "round $r: no answer"
  "$FAULT" clear > /dev/null || fail "round $r: clearing failed"
  echo msync >&"${W[1]}"; read -r -t 120 later <&"${W[0]}" || fail "round $r: no answer"
  eval "exec ${W[1]}>&-"
  wait "$W_PID" || fail "round $r: wstore exited $?: $(cat "$LOGS/w$r.err")"
  drop_caches
  out=$("$WSTORE" check "$f" "$r")
  [ "$out" = "pages $pages stored $pages missing 0" ] || fail "round $r ($user): stores lost: $out"
  [ "$failed" = "msync -1 errno 5" ] || fail "round $r ($user): the msync while writes failed said '$failed'"
  [ "$later" = "msync 0 errno 0" ] || fail "round $r ($user): the msync after the faults said '$later'"
  errors=$((errors + 1))
  echo "round $r: writeback as $user, $(wc -w <<< "$targets") blocks failing: msync EIO, then 0; $out"
}

fill_round() {  # fill_round R ENGINE
  local r=$1 e=$2 f=$WORK/r$1 want targets pid i
  random_file "$f" $((1 << 20)); sync
  want=$(sha256sum < "$f" | cut -d' ' -f1)
  targets=$(some_blocks "$f")
  rm -f "$hs/mapped" "$hs/go"
  drop_caches
  # shellcheck disable=SC2086
  "$FAULT" arm read $targets > /dev/null || fail "round $r: arming failed"
  CMBMAP_FILL=$e with_shim "r$r" "$PY" -c '
import hashlib, mmap, os, sys, time
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]):
    time.sleep(0.02)
print(hashlib.sha256(m).hexdigest())' "$f" "$hs/mapped" "$hs/go" > "$hs/out" 2> "$LOGS/r$r.err" &
  pid=$!
  for ((i = 0; i < 300; i++)); do [ -e "$hs/mapped" ] || ! kill -0 $pid 2>/dev/null && break; sleep 0.1; done
  "$FAULT" clear > /dev/null || fail "round $r: clearing failed"
  touch "$hs/go"
  wait $pid || fail "round $r ($e): the program failed: $(cat "$LOGS/r$r.err")"
  [ "$(cat "$hs/out")" = "$want" ] || fail "round $r ($e): the program read other bytes than the file's"
  grep -q "ordinary, FILL_FAILED" "$LOGS/r$r.log" \
    || fail "round $r ($e): no FILL_FAILED fallback: $(grep -E 'fill|info: mmap' "$LOGS/r$r.log" | head -3)"
  fallbacks=$((fallbacks + 1))
  echo "round $r: $e fill, $(wc -w <<< "$targets") blocks failing: FILL_FAILED, same bytes"
}

errors=0 fallbacks=0
engines=(pread uring passthru)
for r in $(seq 1 "$rounds"); do
  case $((r % 4)) in
    1) writeback_round "$r" root ;;
    3) writeback_round "$r" nobody ;;
    *) fill_round "$r" "${engines[$(( (r / 2) % 3 ))]}" ;;
  esac
done
echo "fault rounds: $rounds rounds, $fallbacks fill fallbacks, $errors write errors reported, 0 bytes lost"
