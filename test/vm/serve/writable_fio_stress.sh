#!/usr/bin/env bash
# fio's mmap engine writing checksummed blocks through a writable shared
# mapping and verifying them, and stress-ng's file-backed mmap stressor with
# --verify, both under the shim with CMBMAP_WRITABLE=1 on /mnt/nvme. fio
# lays its file out first (blocks allocated), so its mapping is served.
. "$(dirname "$0")/wlib.sh"
command -v fio >/dev/null || skip "fio not installed"
f=$WORK/fio.dat
with_wshim fio fio --name=w --filename="$f" --size=8M --bs=16k --ioengine=mmap --rw=randwrite \
  --verify=crc32c --do_verify=1 --randrepeat=1 --verify_state_save=0 > "$LOGS/fio.out" 2>&1 \
  || { tail -20 "$LOGS/fio.out"; fail "fio write+verify under the shim"; }
grep -q "err= *0" "$LOGS/fio.out" || { tail -20 "$LOGS/fio.out"; fail "fio reported errors"; }
# And the file on disk verifies without the shim.
fio --name=w --filename="$f" --size=8M --bs=16k --ioengine=psync --rw=randwrite --verify=crc32c \
  --verify_only=1 --randrepeat=1 --verify_state_load=0 > "$LOGS/fio.check" 2>&1 \
  || { tail -20 "$LOGS/fio.check"; fail "the file does not verify without the shim"; }
if expect_served; then
  grep -qE "info: mmap .*fio.dat .* served from CMB" "$LOGS/fio.log" || fail "fio's mapping was not served"
fi
echo "fio: 8 MiB written and verified through a served writable mapping"
if command -v stress-ng >/dev/null; then
  with_wshim stress stress-ng --mmap 1 --mmap-file --mmap-bytes 4M --mmap-ops 20 --verify \
    --temp-path "$WORK" --timeout 15 > "$LOGS/stress.out" 2>&1 \
    || { tail -20 "$LOGS/stress.out"; fail "stress-ng --mmap-file --verify under the shim"; }
  grep -q "successful run completed" "$LOGS/stress.out" || { tail -20 "$LOGS/stress.out"; fail "stress-ng did not succeed"; }
  echo "stress-ng mmap-file verified; its mappings: $(grep -E 'info: mmap .*/stress-ng' "$LOGS/stress.log" \
    | sed -E 's/.*: //' | sort | uniq -c | tr -s ' ' | head -3 | paste -sd ';')"
else
  echo "stress-ng not installed: its part skipped"
fi
