#!/usr/bin/env bash
# Each namespace carries a fresh filesystem of the asked type at /mnt/nvme (/mnt/nvme2), writable.
. "$(dirname "$0")/../helpers.sh"; in_guest
n=${TESTVM_CONTROLLERS:-1}
for ((i = 0; i < n; i++)); do
  mnt=/mnt/nvme; [ "$i" = 0 ] || mnt=/mnt/nvme$((i + 1))
  line=$(awk -v m="$mnt" '$2 == m' /proc/mounts)
  echo "$line"
  dev=/dev/nvme${i}n1; [ "${TESTVM_PARTITION:-0}" = 1 ] && dev=/dev/nvme${i}n1p1
  [ "$(echo "$line" | awk '{print $1}')" = "$dev" ] || fail "$mnt is not $dev"
  [ "$(echo "$line" | awk '{print $3}')" = "${TESTVM_FS:-ext4}" ] || fail "$mnt is not ${TESTVM_FS:-ext4}"
  echo hello > "$mnt/.probe" && [ "$(cat "$mnt/.probe")" = hello ] || fail "$mnt not writable"
  rm -f "$mnt/.probe"
done
