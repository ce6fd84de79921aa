#!/usr/bin/env bash
# Fill bandwidth of served mappings vs raw O_DIRECT pread into p2pmem of the
# same file, per engine and size, interleaved, REPS repetitions; run inside the
# test machine (tools/vm/run -- tools/bench/fill_ratio.sh). Prints a table and
# writes JSON to $OUT (default /tmp/cmbmap-fill-ratio.json).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
fb=$root/build/bench/fillbench
REPS=${REPS:-5}
SIZES=${SIZES:-"1 4 16 32"}
OUT=${OUT:-/tmp/cmbmap-fill-ratio.json}
[ -x "$fb" ] || { echo "build/bench/fillbench missing (make bench-host builds it)"; exit 1; }
[ -d /mnt/nvme ] || { echo "run inside the test machine"; exit 1; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "{" > "$OUT"
first=1
printf '%-9s %6s %10s %10s %10s %7s %7s %7s %9s\n' engine MiB raw_MB/s fill_MB/s mmap_MB/s min med max mmap_med
for mib in $SIZES; do
  f=/mnt/nvme/fill-$mib
  head -c $((mib << 20)) /dev/urandom > "$f"; sync
  for e in pread uring passthru; do
    ratios=() raws=() fills=() mmaps=() mratios=()
    for r in $(seq "$REPS"); do
      echo 3 > /proc/sys/vm/drop_caches
      raw=$("$fb" raw "$f" | cut -d' ' -f1)
      echo 3 > /proc/sys/vm/drop_caches
      out=$(LD_PRELOAD=$root/build/libcmbmap.so CMBMAP_FILL=$e CMBMAP_MIN_SIZE=0 "$fb" mapped "$f")
      [ "${out##* }" = served ] || { echo "$e $mib MiB: not served ($out)"; exit 1; }
      read -r fill whole _ <<<"$out"
      raws+=("$raw") fills+=("$fill") mmaps+=("$whole")
      ratios+=("$(echo "scale=4; $fill / $raw" | bc)")
      mratios+=("$(echo "scale=4; $whole / $raw" | bc)")
    done
    min=$(printf '%s\n' "${ratios[@]}" | sort -n | head -1)
    max=$(printf '%s\n' "${ratios[@]}" | sort -n | tail -1)
    med=$(printf '%s\n' "${ratios[@]}" | median)
    mmed=$(printf '%s\n' "${mratios[@]}" | median)
    printf '%-9s %6s %10s %10s %10s %7.3f %7.3f %7.3f %9.3f\n' "$e" "$mib" "$(printf '%s\n' "${raws[@]}" | median)" \
      "$(printf '%s\n' "${fills[@]}" | median)" "$(printf '%s\n' "${mmaps[@]}" | median)" "$min" "$med" "$max" "$mmed"
    [ $first = 1 ] || echo "," >> "$OUT"; first=0
    printf '"%s_%sMiB": {"raw_mbps": %s, "fill_mbps": %s, "mmap_mbps": %s, "ratio_min": %s, "ratio_median": %s, "ratio_max": %s, "mmap_ratio_median": %s}' \
      "$e" "$mib" "$(printf '%s\n' "${raws[@]}" | median)" "$(printf '%s\n' "${fills[@]}" | median)" \
      "$(printf '%s\n' "${mmaps[@]}" | median)" "$min" "$med" "$max" "$mmed" >> "$OUT"
  done
  rm -f "$f"
done
echo "}" >> "$OUT"
