#!/usr/bin/env bash
# CMBMAP_BUDGET caps what one process serves (a mapping larger than the
# budget stays ordinary, reason BUDGET; the least recently used range makes
# room for a new one), and a user who may not open p2pmem's allocator gets
# ordinary mappings (NO_PERMISSION): bytes are right either way.
. "$(dirname "$0")/lib.sh"
expect_served || skip "no p2pmem under the $TESTVM_KERNEL kernel"
random_file "$WORK/a" $((3 << 20))
random_file "$WORK/b" $((3 << 20))
random_file "$WORK/c" $((5 << 20))
chmod 755 "$WORK"; chmod 644 "$WORK/a" "$WORK/b"
check='import hashlib, mmap, sys
ok = True
keep = []
for p in sys.argv[1:]:
    f = open(p, "rb"); m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ); keep.append(m)
    ok &= hashlib.sha256(m).digest() == hashlib.sha256(open(p, "rb").read()).digest()
print(ok)'
out=$(CMBMAP_BUDGET=4M with_shim budget "$PY" -c "$check" "$WORK/a" "$WORK/b" "$WORK/c") || fail "budget run"
[ "$out" = True ] || fail "bytes differ under a budget"
[ "$(served_bytes budget)" = $((6 << 20)) ] || fail "served $(served_bytes budget) bytes under a 4 MiB budget"
grep -q "revoked 3 MiB .*: BUDGET" "$LOGS/budget.log" || fail "a was not evicted to serve b"
grep -q "info: mmap .*/c .*ordinary, BUDGET" "$LOGS/budget.log" || fail "c (5 MiB) not left ordinary (BUDGET)"
echo "budget 4 MiB: a served, then evicted for b; c (larger than the budget) ordinary (BUDGET)"
ls -l "$(nvme_pci nvme0)/p2pmem/allocate"
chmod 777 "$LOGS"
as_nobody() {  # as_nobody LOGNAME FILE
  setpriv --reuid=nobody --regid=nogroup --clear-groups env LD_PRELOAD="$LIB" CMBMAP_MIN_SIZE=0 \
    CMBMAP_LOG="info:$LOGS/$1.log" "$PY" -c "$check" "$2"
}
# A file nobody does not own: no lease (only the owner or CAP_LEASE may take one).
out=$(as_nobody lease "$WORK/a") || fail "run as nobody"
[ "$out" = True ] || fail "bytes differ for an unprivileged user"
grep -q "LEASE_DENIED" "$LOGS/lease.log" || fail "no LEASE_DENIED: $(cat "$LOGS/lease.log")"
echo "user nobody, a file it does not own: ordinary mapping, LEASE_DENIED"
# Its own file: the lease is granted, p2pmem's allocator is not.
chown nobody "$WORK/b"
out=$(as_nobody perm "$WORK/b") || fail "run as nobody"
[ "$out" = True ] || fail "bytes differ for an unprivileged user"
grep -q "NO_PERMISSION" "$LOGS/perm.log" || fail "no NO_PERMISSION: $(cat "$LOGS/perm.log")"
echo "user nobody, its own file: ordinary mapping, NO_PERMISSION"
