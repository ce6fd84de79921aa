#!/usr/bin/env bash
# A writable shared mapping of a file opened O_RDWR|O_APPEND (Linux 6.9 and
# later serve it: the writeback through the file uses RWF_NOAPPEND). Stores
# into every page, msync, and the file holds each at its page's offset and
# has not grown: as root (NVMe write from CMB memory) and as a user who may
# allocate CMB memory but not open the namespace (through the file, where a
# plain pwrite on an O_APPEND fd would append instead).
. "$(dirname "$0")/wlib.sh"
expect_served || skip "no p2pmem under the $TESTVM_KERNEL kernel"
alloc="$(nvme_pci nvme0)/p2pmem/allocate"
mode=$(stat -c %a "$alloc")
trap 'chmod "$mode" "$alloc"; rm -rf "$WORK" "$LOGS"' EXIT
chmod 666 "$alloc"; chmod 755 "$WORK"; chmod 777 "$LOGS"
prog='import mmap, os, sys
path, size = sys.argv[1], os.stat(sys.argv[1]).st_size
fd = os.open(path, os.O_RDWR | os.O_APPEND)
m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
for k in range(size // mmap.PAGESIZE):
    m[k * mmap.PAGESIZE + 17: k * mmap.PAGESIZE + 25] = b"APPEND%02d" % (k % 100)
m.flush()
m.close()
os.close(fd)'
check='import mmap, sys
d, n = open(sys.argv[1], "rb").read(), int(sys.argv[2])
ok = sum(d[k * mmap.PAGESIZE + 17: k * mmap.PAGESIZE + 25] == b"APPEND%02d" % (k % 100) for k in range(n // mmap.PAGESIZE))
print("size %d stored %d of %d" % (len(d), ok, n // mmap.PAGESIZE))'
for who in root nobody; do
  f=$WORK/$who; data_file "$f" 4
  size=$(stat -c %s "$f")
  if [ $who = root ]; then
    with_wshim $who "$PY" -c "$prog" "$f" 2> "$LOGS/$who.err" || fail "$who: $(cat "$LOGS/$who.err")"
  else
    chown nobody "$f"
    # shellcheck disable=SC2046
    setpriv --reuid=nobody --regid=nogroup --clear-groups env $(wshim_env $who) "$PY" -c "$prog" "$f" \
      2> "$LOGS/$who.err" || fail "$who: $(cat "$LOGS/$who.err")"
  fi
  out=$("$PY" -c "$check" "$f" "$size")
  wb=$(grep -oE "writeback: .* errors" "$LOGS/$who.log" | tail -1)
  echo "$who: served $(served_bytes $who) bytes; $out; $wb"
  [ "$(served_bytes $who)" = "$size" ] || fail "$who: not served: $(why_not $who)"
  [ "$out" = "size $size stored $((size / 4096)) of $((size / 4096))" ] || fail "$who: $out"
  case $who in
    root) grep -q "writeback: .* [1-9][0-9.]* [KM]iB from CMB by NVMe write" "$LOGS/$who.log" || fail "root: not by NVMe write: $wb" ;;
    nobody) grep -q "writeback: .* 0 B from CMB by NVMe write, [1-9][0-9.]* [KM]iB through the file" "$LOGS/$who.log" \
              || fail "nobody: not through the file: $wb" ;;
  esac
done
