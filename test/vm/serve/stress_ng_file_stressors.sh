#!/usr/bin/env bash
# stress-ng's file-backed stressors (Debian's package), all at once on the
# NVMe filesystem with --verify: they pass plain, under the shim, and under
# the shim with writable mappings allowed. Their own mappings stay ordinary
# (their reasons are printed: they open a file, then fork the worker that
# writes through the mapping, or map sparse files), so meanwhile a reader of
# our own keeps served mappings of other files on the same filesystem and
# checks every byte against the file, while the stressors break leases,
# FIEMAP, msync and churn mappings around it: it must be served and never
# differ.
. "$(dirname "$0")/lib.sh"
command -v stress-ng > /dev/null || skip "stress-ng is not installed (make deps)"
secs=12
stressors=(--mmap 1 --mmap-file --mmap-bytes 4M --mmap-mprotect --msync 1 --msync-bytes 4M
           --msyncmany 1 --madvise 1 --fiemap 1 --lease 1 --lease-breakers 1 --copy-file 1
           --copy-file-bytes 128M --file-ioctl 1)
mkdir -p "$WORK/sng"
# run_sng NAME [ENV...]: the stressors for $secs s; their summary in $LOGS/NAME.out
run_sng() {
  local name=$1; shift
  (cd "$WORK/sng" && env "$@" stress-ng "${stressors[@]}" --verify --temp-path "$WORK/sng" --timeout "$secs" \
     --metrics-brief > "$LOGS/$name.out" 2>&1)
  local rc=$?
  grep -E "passed:|failed:|skipped:|successful run|unsuccessful" "$LOGS/$name.out" | sed "s/^/$name: /" | tail -3
  if [ $rc != 0 ]; then
    # What failed: stress-ng's own fail/error lines (the metrics table says nothing), the
    # kernel's last words, and whether our files are still there.
    grep -iE "fail|error|warn|abort" "$LOGS/$name.out" | grep -v "metrc" | head -30
    dmesg | tail -30
    ls -la "$WORK" "$WORK/sng"
    fail "$name: stress-ng exited $rc"
  fi
  ! grep -qiE "verif.*fail|: fail" "$LOGS/$name.out" || fail "$name: a verification failed"
}
run_sng plain
reader='import hashlib, mmap, os, sys, time
d, files, until = sys.argv[1], sys.argv[2:], time.time() + float(os.environ["SECS"])
want = [hashlib.sha256(open(p, "rb").read()).digest() for p in files]
rounds = bad = served = 0
while time.time() < until:
    for p, w in zip(files, want):
        fd = os.open(p, os.O_RDONLY)
        m = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        served += sum(int(h, 16) - int(l, 16) for l, h in (x.split()[0].split("-") for x in open("/proc/self/maps") if "p2pmem" in x))
        bad += hashlib.sha256(m).digest() != w
        m.close(); os.close(fd)
    rounds += 1
print(rounds, served, bad)'
for i in 1 2 3 4; do random_file "$WORK/r$i" $((2 << 20)); done
for variant in shim wshim; do
  extra=(); [ $variant = wshim ] && extra=(CMBMAP_WRITABLE=1)
  SECS=$secs with_shim "$variant-reader" "$PY" -c "$reader" "$WORK" "$WORK"/r? > "$LOGS/$variant-reader.out" &
  rpid=$!
  run_sng "$variant" LD_PRELOAD="$LIB" CMBMAP_MIN_SIZE=0 CMBMAP_LOG="info:$LOGS/$variant.log" "${extra[@]}"
  wait "$rpid" || fail "$variant: the reader failed"
  read -r rounds served bad < "$LOGS/$variant-reader.out"
  echo "$variant: stressors' mappings: $(grep -oE 'ordinary, [A-Z_]+|served from CMB' "$LOGS/$variant.log" | sort | uniq -c | sort -rn | tr -s ' ' | tr '\n' ';')"
  echo "$variant: reader: $rounds rounds, $served bytes served, $bad mappings differing"
  [ "$bad" = 0 ] || fail "$variant: served mappings differ from their files under the stressors"
  if expect_served; then [ "$served" -gt 0 ] || fail "$variant: the reader was never served"; fi
done
