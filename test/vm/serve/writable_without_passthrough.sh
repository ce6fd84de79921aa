#!/usr/bin/env bash
# A user who may allocate CMB memory but not open the namespace's char
# device (/dev/ngXnY, root's): the fill reads through its own open file and
# the writeback writes through it (page cache) instead of by NVMe command.
# Stores reach the file all the same: on exit, and when msync'd before a
# SIGKILL.
. "$(dirname "$0")/wlib.sh"
expect_served || skip "no p2pmem under the $TESTVM_KERNEL kernel"
alloc="$(nvme_pci nvme0)/p2pmem/allocate"
mode=$(stat -c %a "$alloc")
J=$(mktemp -d /run/wstore.XXXXXX)
trap 'chmod "$mode" "$alloc"; rm -rf "$WORK" "$LOGS" "$J"' EXIT
chmod 666 "$alloc"
chmod 755 "$WORK"; chmod 777 "$LOGS" "$J"
f=$WORK/data
data_file "$f" 8
chown nobody "$f"
as_nobody() {  # as_nobody LOGNAME CMD...
  local name=$1; shift
  # shellcheck disable=SC2046
  setpriv --reuid=nobody --regid=nogroup --clear-groups env $(wshim_env "$name") "$@"
}
as_nobody exit "$WSTORE" fill "$f" 21 exit 2> "$LOGS/exit.err" || fail "fill as nobody: $(cat "$LOGS/exit.err")"
out=$("$WSTORE" check "$f" 21)
echo "exit: $(cat "$LOGS/exit.err"), $out"
grep -q "^served 8388608" "$LOGS/exit.err" || fail "not served: $(why_not exit)"
[ "$out" = "pages 2048 stored 2048 missing 0" ] || fail "stores lost"
grep -q "writeback: .* 0 B from CMB by NVMe write, 8 MiB through the file" "$LOGS/exit.log" \
  || fail "not written through the file: $(grep -E 'writeback|passthru' "$LOGS/exit.log")"
as_nobody kill "$WSTORE" writer "$f" "$J/journal" 3 2> "$LOGS/kill.err" &
pid=$!
for _ in $(seq 300); do [ "$(stat -c %s "$J/journal" 2>/dev/null || echo 0)" -gt 4096 ] && break; sleep 0.1; done
sleep 0.5
pkill -9 -P "$pid" 2>/dev/null; kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
out=$("$WSTORE" verify "$f" "$J/journal") || fail "$out"
echo "SIGKILL: $out"
