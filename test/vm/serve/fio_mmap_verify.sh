#!/usr/bin/env bash
# fio writes a file with checksummed blocks (no shim), then verifies it
# through its mmap engine under the shim: every block's checksum matches.
. "$(dirname "$0")/lib.sh"
command -v fio >/dev/null || skip "fio not installed"
f=$WORK/fio.dat
mib=$(cmb_fit 16)
common=(--name=v --filename="$f" --size=${mib}M --bs=64k --verify=crc32c --do_verify=1 --randrepeat=1)
fio "${common[@]}" --ioengine=psync --rw=write --verify_state_save=0 > "$LOGS/fio.write" 2>&1 \
  || { tail "$LOGS/fio.write"; fail "fio write phase"; }
drop_caches
with_shim fio fio "${common[@]}" --ioengine=mmap --rw=read --verify_only=1 --verify_state_load=0 \
  > "$LOGS/fio.read" 2>&1 || { tail -20 "$LOGS/fio.read"; fail "fio verify under the shim"; }
grep -q "err= *0" "$LOGS/fio.read" || { tail -20 "$LOGS/fio.read"; fail "fio reported errors"; }
if expect_served; then
  [ "$(served_bytes fio)" -gt 0 ] || fail "fio's mappings were not served: $(grep 'info: mmap' "$LOGS/fio.log" | head -3)"
fi
echo "fio verified $mib MiB through mmap; served $(served_bytes fio) bytes"
