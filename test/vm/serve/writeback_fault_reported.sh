#!/usr/bin/env bash
# A writeback the drive fails is reported and loses nothing: stores into a writable
# served mapping, then writes of the file's blocks fail (tools/vm/fault, needs
# tools/vm/run --faults): msync(MS_SYNC) returns EIO and the log and statistics count
# the error. Then the faults are cleared: a later msync and the exit write every
# store, and the file on disk (page cache dropped first) holds them all.
# Without working faults the first msync returns 0 and this test fails.
. "$(dirname "$0")/wlib.sh"
expect_served || skip "no p2pmem under the $TESTVM_KERNEL kernel"
[ -n "${TESTVM_FAULTS:-}" ] || skip "no drive faults (run the machine with tools/vm/run --faults)"
FAULT=$ROOT/tools/vm/fault
f=$WORK/wfault
data_file "$f" 2
pages=$(($(stat -c %s "$f") / 4096))
# The file's sectors, found now: arming by file name later would open the file, and
# another open breaks cmbmap's lease, which writes the stores back before the faults.
ranges=$("$FAULT" sectors "$f" | awk '{printf "%s:%s+%s ", $1, $2, $3}')
[ -n "$ranges" ] || fail "no sectors for $f"
drop_caches

# wstore steps: stores into every page, then one msync per line we send it. No periodic
# writeback (CMBMAP_WRITEBACK_MS=0): it would write the stores before the faults are armed.
coproc W { with_wshim wfault env CMBMAP_WRITEBACK_MS=0 "$WSTORE" steps "$f" 21 2> "$LOGS/wfault.err"; }
step() {  # step LINE: send LINE, the answer in $answer (no $(): coproc fds stay in this shell)
  echo "$1" >&"${W[1]}"
  read -r -t 120 answer <&"${W[0]}" || { cat "$LOGS/wfault.err"; fail "no answer to $1"; }
}
read -r -t 120 first <&"${W[0]}" || { cat "$LOGS/wfault.err"; fail "wstore did not start"; }
[ "$first" = stored ] || fail "wstore said '$first'"
served=$(sed -n 's/^served //p' "$LOGS/wfault.err")
[ "$served" -ge $((pages * 4096)) ] || fail "not served from the CMB ($served bytes): $(why_not wfault)"

# shellcheck disable=SC2086
"$FAULT" arm write $ranges || fail "arming the faults failed"
step msync; failed=$answer
"$FAULT" clear || fail "clearing the faults failed"
echo "msync while writes fail: $failed"
step msync; later=$answer
echo "msync after the faults are gone: $later"
step msync; again=$answer
echo "msync once more: $again"
eval "exec ${W[1]}>&-"   # EOF: wstore returns from main (the exit writeback)
wait "$W_PID" || fail "wstore exited $?: $(cat "$LOGS/wfault.err")"

drop_caches   # the check reads the blocks, not a page cache copy of the stores
out=$("$WSTORE" check "$f" 21)
echo "on disk: $out"
grep -E "warn|error|writeback|revoke|stats:" "$LOGS/wfault.log" | sed 's/^/  log: /' | head -n 16

[ "$failed" = "msync -1 errno 5" ] || fail "the msync while writes failed did not report EIO: '$failed'"
grep -qE "writing back .* failed \(errno [0-9]+\)" "$LOGS/wfault.log" || fail "the failed writeback is not in the log"
grep -qE "stats: .*writeback: .* [1-9][0-9]* errors" "$LOGS/wfault.log" || fail "the statistics count no writeback error"
[ "$out" = "pages $pages stored $pages missing 0" ] || fail "stores lost: $out"
# The stores went back to the drive from CMB memory once it wrote again.
grep -q "writeback: .* from CMB by NVMe write" "$LOGS/wfault.log" \
  || fail "no NVMe writeback from CMB after the faults: $(grep writeback "$LOGS/wfault.log")"
# An error is reported once: the msync after the faults wrote everything.
[ "$later" = "msync 0 errno 0" ] || fail "the msync after the faults were gone reported '$later' (it wrote every store: the error of the failed writeback was reported twice)"
