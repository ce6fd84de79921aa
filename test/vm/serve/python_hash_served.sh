#!/usr/bin/env bash
# An unmodified python3 maps a 16 MiB file (less with a small CMB) PROT_READ and hashes it: the same
# digest as sha256sum, the range is backed by p2pmem, and the page cache
# holds <= 1% of the file (a plain mmap: ~100%).
. "$(dirname "$0")/lib.sh"
f=$WORK/blob
mib=$(cmb_fit 16)
random_file "$f" $((mib << 20))
want=$(sha256sum < "$f" | cut -d' ' -f1)
script='import hashlib, mmap, sys
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
print(hashlib.sha256(m).hexdigest())
print("p2pmem" if any("p2pmem" in l for l in open("/proc/self/maps")) else "file")'
drop_caches
plain=$("$PY" -c "$script" "$f") || fail "plain python"
plain_cache=$(page_cache_bytes "$f")
drop_caches
shim=$(with_shim py "$PY" -c "$script" "$f") || fail "python under the shim"
shim_cache=$(page_cache_bytes "$f")
[ "$(head -1 <<<"$plain")" = "$want" ] || fail "plain digest wrong"
[ "$(head -1 <<<"$shim")" = "$want" ] || fail "digest under the shim differs: $shim"
echo "page cache after a full read: plain $plain_cache, shim $shim_cache of $((mib << 20)) bytes"
[ "$plain_cache" -ge $(((mib - 1) << 20)) ] || fail "baseline did not fill the page cache ($plain_cache)"
if expect_served; then
  [ "$(tail -1 <<<"$shim")" = p2pmem ] || fail "/proc/self/maps shows no p2pmem range"
  [ "$shim_cache" -le $(((mib << 20) / 100)) ] || fail "page cache grew to $shim_cache bytes"
  [ "$(served_bytes py)" -ge $((mib << 20)) ] || fail "log does not report $mib MiB served"
else
  grep -q "NO_P2PDMA\|NO_CMB" "$LOGS/py.log" || fail "stock kernel: no NO_P2PDMA/NO_CMB reason in the log"
fi
