#!/usr/bin/env bash
# The drive disappearing: the second controller is unbound from its driver
# (as a hot removal does) while a program has a file of its namespace served
# from its CMB, read-only, and another a writable served mapping with
# msync'd stores. What is promised (README: Limitations):
#   - the unbind completes (cmbmap holds nothing that makes it wait);
#   - the kernel takes the CMB pages away: the served program's next access
#     is SIGBUS, as an ordinary mapping's is for any page the page cache does
#     not hold (its filesystem is gone with the controller); a process
#     without served mappings of that controller is not disturbed;
#   - nothing msync'd is lost: once the controller is bound again and the
#     filesystem mounted, the file holds every msync'd store.
# The controller is bound again and /mnt/nvme2 remounted at the end, so the
# tests after this one find the machine as it was.
. "$(dirname "$0")/wlib.sh"
[ "${TESTVM_CONTROLLERS:-1}" -ge 2 ] || skip "needs --controllers 2"
expect_served || skip "no p2pmem under the $TESTVM_KERNEL kernel"
ctrl=/sys/class/nvme/nvme1
bdf=$(basename "$(readlink -f "$ctrl/device")")
dev=$(findmnt -no SOURCE /mnt/nvme2) || fail "/mnt/nvme2 is not mounted"
hs=$(mktemp -d /run/unbound.XXXXXX)
rebind() {
  [ -e "$ctrl" ] && return 0
  echo "$bdf" > /sys/bus/pci/drivers/nvme/bind 2>/dev/null
  local i; for ((i = 0; i < 300; i++)); do [ -b "$dev" ] && break; sleep 0.1; done
  umount -l /mnt/nvme2 2>/dev/null
  mount -t "$TESTVM_FS" "$dev" /mnt/nvme2
}
trap 'rebind; rm -rf "$WORK" "$LOGS" "$hs"' EXIT
w2=$(mktemp -d /mnt/nvme2/unbound.XXXXXX)
data_file "$w2/ro" 4
cp --reflink=never "$w2/ro" "$hs/ro.copy"
data_file "$w2/rw" 2
data_file "$WORK/other" 4
reader='import mmap, os, sys, time
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
n = sum(m[i] for i in range(0, len(m), 4096))
print("cmb", sum(1 for l in open("/proc/self/maps") if "p2pmem" in l), flush=True)
open(sys.argv[2], "w").close()
while not os.path.exists(sys.argv[3]): time.sleep(0.05)
n = sum(m[i] for i in range(0, len(m), 4096))
print("read again", flush=True)'
with_shim ro "$PY" -c "$reader" "$w2/ro" "$hs/ro.ready" "$hs/go" > "$hs/ro.out" 2>&1 & ro=$!
with_shim other "$PY" -c "$reader" "$WORK/other" "$hs/other.ready" "$hs/go" > "$hs/other.out" 2>&1 & other=$!
# The writable one: stores into every page, msync (answers on stdout), then waits.
coproc W { with_wshim rw env CMBMAP_WRITEBACK_MS=0 "$WSTORE" steps "$w2/rw" 5 2> "$LOGS/rw.err"; }
read -r -t 120 first <&"${W[0]}" || fail "wstore did not start: $(cat "$LOGS/rw.err")"
echo msync >&"${W[1]}"; read -r -t 120 synced <&"${W[0]}" || fail "no msync answer"
[ "$synced" = "msync 0 errno 0" ] || fail "msync before the unbind: $synced"
for r in ro other; do
  for _ in $(seq 300); do [ -e "$hs/$r.ready" ] && break; sleep 0.1; done
  [ -e "$hs/$r.ready" ] || fail "$r did not map: $(cat "$hs/$r.out")"
done
grep -q "^served 2097152" "$LOGS/rw.err" || fail "the writable mapping was not served: $(why_not rw)"
grep -q "^cmb [1-9]" "$hs/ro.out" || fail "the read-only mapping was not served: $(cat "$hs/ro.out")"
timeout 60 sh -c "echo $bdf > /sys/bus/pci/drivers/nvme/unbind" || fail "the unbind did not complete in 60 s"
echo "unbound $bdf"
touch "$hs/go"
wait "$ro"; ro_rc=$?
wait "$other"; other_rc=$?
eval "exec ${W[1]}>&-"
wait "$W_PID"; rw_rc=$?
echo "read-only served program: exit $ro_rc ($(tail -n1 "$hs/ro.out")); writable: exit $rw_rc; bystander: exit $other_rc"
[ "$other_rc" = 0 ] || fail "a process with nothing served from that controller was disturbed: $(cat "$hs/other.out")"
[ "$ro_rc" = 0 ] || [ "$ro_rc" = $((128 + 7)) ] || fail "the served program ended otherwise than by SIGBUS: $ro_rc"
rebind || fail "could not bind the controller again and mount $dev"
drop_caches
cmp "$w2/ro" "$hs/ro.copy" || fail "the read-only file changed"
out=$("$WSTORE" check "$w2/rw" 5)
[ "$out" = "pages 512 stored 512 missing 0" ] || fail "msync'd stores lost across the unbind: $out"
echo "after binding again: every msync'd store on disk ($out)"
rm -rf "$w2"
