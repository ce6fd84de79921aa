#!/usr/bin/env bash
# Each namespace carries a fresh filesystem of the asked type at /mnt/nvme (/mnt/nvme2), writable.
. "$(dirname "$0")/../helpers.sh"; in_guest
n=${TESTVM_CONTROLLERS:-1}
for ((i = 0; i < n; i++)); do
  mnt=/mnt/nvme; [ "$i" = 0 ] || mnt=/mnt/nvme$((i + 1))
  line=$(awk -v m="$mnt" '$2 == m' /proc/mounts)
  echo "$line"
  [ "$(echo "$line" | awk '{print $1}')" = "/dev/nvme${i}n1" ] || fail "$mnt is not /dev/nvme${i}n1"
  [ "$(echo "$line" | awk '{print $3}')" = "${TESTVM_FS:-ext4}" ] || fail "$mnt is not ${TESTVM_FS:-ext4}"
  echo hello > "$mnt/.probe" && [ "$(cat "$mnt/.probe")" = hello ] || fail "$mnt not writable"
  rm -f "$mnt/.probe"
done
