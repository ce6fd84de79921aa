#!/usr/bin/env bash
# Where stores in a writable served mapping go when nobody calls msync:
#   - return from main, _exit, quick_exit, or munmap or fsync(fd) then
#     SIGKILL: written back,
#     all in the file, and the page cache holds none of it (the drive took
#     the pages from CMB);
#   - CMBMAP_WRITEBACK_MS=200, then SIGKILL a second later: the periodic
#     writeback had written them;
#   - another process opens the file while they are still in CMB memory: the
#     lease break writes them back first, and it reads every one;
#   - CMBMAP_WRITEBACK_MS=0 and SIGKILL at once: lost (the documented
#     difference from the page cache; it shows the stores really were in CMB).
. "$(dirname "$0")/wlib.sh"
f=$WORK/data
data_file "$f" 8
ending() {  # ending NAME SEED HOW EXPECT(all|none) [ENV...]
  local name=$1 seed=$2 how=$3 expect=$4; shift 4
  with_wshim "$name" env "$@" "$WSTORE" fill "$f" "$seed" "$how" 2> "$LOGS/$name.err"
  local served; served=$(sed -n 's/^served //p' "$LOGS/$name.err")
  # The writeback goes from CMB memory to the blocks: no page cache.
  if [ "$name" = exit ] && expect_served; then
    local cached; cached=$(page_cache_bytes "$f")
    [ "$cached" = 0 ] || fail "exit: the writeback filled the page cache ($cached bytes)"
  fi
  local out; out=$("$WSTORE" check "$f" "$seed")
  echo "$name: served $served, $out"
  if expect_served; then
    [ "$served" -ge 8380000 ] || fail "$name: not served from the CMB"
    if [ "$expect" = none ]; then
      [ "$out" = "pages 2048 stored 0 missing 2048" ] || fail "$name: stores reached the file without a writeback"
      return
    fi
  fi
  case $out in *" missing 0") ;; *) fail "$name: stores lost" ;; esac
}
drop_caches
ending exit 11 exit all
# A file that ends inside a block: the last block goes from a bounce of its
# bytes (zeros past EOF), still by NVMe write, and the file keeps its size.
odd=$((8 * 1048576 - 1000))
truncate -s "$odd" "$f" && sync
ending odd-size 16 exit all
[ "$(stat -c %s "$f")" = "$odd" ] || fail "the file's size changed"
if expect_served; then
  grep -q "writeback: .* 0 B through the file" "$LOGS/odd-size.log" \
    || fail "the odd-sized file was written through the file: $(grep writeback "$LOGS/odd-size.log")"
fi
data_file "$f" 8
ending munmap 12 munmap all
ending _exit 18 _exit all CMBMAP_WRITEBACK_MS=0
ending quick_exit 19 quick_exit all CMBMAP_WRITEBACK_MS=0
ending fsync 17 fsync all CMBMAP_WRITEBACK_MS=0
ending periodic 13 sleep:1200 all CMBMAP_WRITEBACK_MS=200
ending killed 14 kill none CMBMAP_WRITEBACK_MS=0

# A second process while the stores are in CMB memory.
# shellcheck disable=SC2046
env $(wshim_env holder) CMBMAP_WRITEBACK_MS=0 "$WSTORE" fill "$f" 15 "hold:$LOGS/ready" 2> "$LOGS/holder.err" &
pid=$!
for _ in $(seq 600); do [ -s "$LOGS/ready" ] && break; sleep 0.1; done
[ -s "$LOGS/ready" ] || { kill -9 $pid; fail "the holder did not get ready"; }
out=$("$WSTORE" check "$f" 15)
kill -9 $pid; wait $pid 2>/dev/null
echo "second opener: holder $(cat "$LOGS/ready"), reader $out"
[ "$out" = "pages 2048 stored 2048 missing 0" ] || fail "the second process did not see the first one's stores"
if expect_served; then
  grep -q "served 8388608" "$LOGS/ready" || fail "the holder's mapping was not served"
  grep -q "revoked 8 MiB .*LEASE_BROKEN" "$LOGS/holder.log" || fail "no LEASE_BROKEN revocation logged"
  grep -q "writeback: .* 8 MiB from CMB by NVMe write" "$LOGS/exit.log" \
    || fail "the exit writeback did not go by NVMe write: $(grep writeback "$LOGS/exit.log")"
fi
