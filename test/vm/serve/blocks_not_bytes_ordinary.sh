#!/usr/bin/env bash
# Files whose block addresses are not their bytes stay ordinary (issue 14):
# on the NVMe namespace itself, an fscrypt file, a chattr +j file, every file
# of an ext4 mounted data=journal, and an XFS realtime file (realtime device
# on a loop file) are mapped by python3 and hashed with the NVMe passthrough
# fill forced (which would read ciphertext, stale or foreign blocks): the
# bytes equal the file, `cmbmap inspect` and the log give the reason, and
# nothing is served; a plain file on the same filesystem is served (the
# control). Then the commit check: a served writable mapping whose file gets
# FS_JOURNAL_DATA_FL through the program's own fd (no lease break) is written
# back through the file, never by NVMe write. /mnt/nvme is made again as the
# machine had it afterwards.
. "$(dirname "$0")/lib.sh"
p2p_kernel || skip "needs the P2PDMA kernel: elsewhere nothing is served, with or without these reasons"
FSCRYPT=$ROOT/build/test/host/fscrypt_dir
[ -x "$FSCRYPT" ] || skip "build/test/host/fscrypt_dir not built (make test-helpers)"
for t in mkfs.ext4 mkfs.xfs xfs_io chattr losetup; do command -v $t >/dev/null || skip "$t missing"; done
DEV=/dev/nvme0n1 MNT=/mnt/nvme
RT_IMG=/dev/shm/rt.img RTDEV=
missing=()

restore() {
  cd /
  umount "$MNT" 2>/dev/null
  [ -n "$RTDEV" ] && losetup -d "$RTDEV"
  rm -f "$RT_IMG"
  case ${TESTVM_FS:-ext4} in
    ext4) mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=1,lazy_journal_init=1 "$DEV" ;;
    xfs) mkfs.xfs -q -f -K "$DEV" ;;
  esac && mount -t "${TESTVM_FS:-ext4}" "$DEV" "$MNT"
  rm -rf "$LOGS"
}
rm -rf "$WORK"
umount "$MNT" || fail "cannot unmount $MNT"
trap restore EXIT

hash_py='import hashlib, mmap, sys
for p in sys.argv[1:]:
    with open(p, "rb") as f:
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        print(p, hashlib.sha256(m).hexdigest())
        m.close()'

# mapped LOGNAME FILE:REASON...: python3 hashes each FILE through a mapping under the
# shim (passthrough fill); each digest must be the file's; REASON "served" must be served
# whole, any other must be the file's verdict in inspect and its log line, nothing served.
mapped() {
  local name=$1; shift
  local files=() fr f r want got controls=0
  for fr in "$@"; do files+=("${fr%%:*}"); done
  sync
  echo 3 > /proc/sys/vm/drop_caches
  with_shim "$name" env CMBMAP_FILL=passthru "$PY" -c "$hash_py" "${files[@]}" > "$LOGS/$name.out" \
    || fail "python3 under the shim ($name)"
  "$CLI" inspect --json "${files[@]}" > "$LOGS/$name.json" || fail "cmbmap inspect ($name)"
  for fr in "$@"; do
    f=${fr%%:*} r=${fr#*:}
    want=$(sha256sum < "$f" | cut -d' ' -f1)
    got=$(awk -v p="$f" '$1 == p {print $2}' "$LOGS/$name.out")
    [ "$got" = "$want" ] || fail "$f: python3 read other bytes through the mapping ($got, file $want)"
    line=$(grep -F " info: mmap $f offset" "$LOGS/$name.log") || fail "$f: no mmap line in the log"
    echo "  $line"
    if [ "$r" = served ]; then
      grep -qE ": 4 MiB served from CMB" <<<"$line" || fail "$f: the control was not served whole: $line"
      controls=$((controls + 1))
    else
      grep -qE ": ordinary, $r\$" <<<"$line" || fail "$f: log says '$line', want ordinary, $r"
      json_check "$LOGS/$name.json" \
        "[x['verdict'] for x in j['files'] if x['path'] == '$f'] == ['$r']" \
        "all(s['reason'] == '$r' for x in j['files'] if x['path'] == '$f' for s in x['segments'] if s['physical'] is not None)" \
        || fail "$f: inspect"
    fi
  done
  # Nothing but the controls was served, in this process at all.
  got=$(served_bytes "$name")
  [ "$got" = $((controls * (4 << 20))) ] || fail "$name: $got bytes served, the controls have $((controls * 4)) MiB"
}

# --- ext4 with the encrypt feature, ordered data ----------------------------------------
mkfs.ext4 -q -F -O encrypt -E nodiscard,lazy_itable_init=1,lazy_journal_init=1 "$DEV" || fail "mkfs.ext4 -O encrypt"
mount -t ext4 "$DEV" "$MNT" || fail "mount ext4"
random_file "$MNT/plain" $((4 << 20))
files=("$MNT/plain:served")
mkdir "$MNT/enc"
if out=$("$FSCRYPT" "$MNT/enc"); then
  random_file "$MNT/enc/secret" $((4 << 20))
  files+=("$MNT/enc/secret:ENCRYPTED")
else
  [ $? = 77 ] || fail "fscrypt_dir: $out"
  missing+=("fscrypt ($(tail -1 <<<"$out" | tr '\n' ' '))")
fi
: > "$MNT/jfile"
chattr +j "$MNT/jfile" || fail "chattr +j"
random_file "$MNT/jfile" $((4 << 20))
files+=("$MNT/jfile:JOURNALLED_DATA")
echo "ext4, ordered:"
mapped ext4 "${files[@]}"

# --- the same filesystem mounted data=journal ---------------------------------------------
umount "$MNT" && mount -t ext4 -o data=journal "$DEV" "$MNT" || fail "mount -o data=journal"
random_file "$MNT/journalled" $((4 << 20))
echo "ext4, data=journal:"
mapped journal "$MNT/journalled:JOURNALLED_DATA" "$MNT/plain:JOURNALLED_DATA"
umount "$MNT"

# --- xfs on the namespace with a realtime device on a loop file --------------------------
truncate -s 64M "$RT_IMG"
RTDEV=$(losetup --find --show "$RT_IMG") || fail "losetup for the realtime device"
mkfs.xfs -q -f -K -r rtdev="$RTDEV" "$DEV" || fail "mkfs.xfs -r rtdev"
if mount -t xfs -o rtdev="$RTDEV" "$DEV" "$MNT" 2>"$LOGS/rtmount"; then
  random_file "$MNT/plain" $((4 << 20))
  : > "$MNT/rt"
  xfs_io -c "chattr +r" "$MNT/rt" || fail "xfs_io chattr +r"
  random_file "$MNT/rt" $((4 << 20))
  echo "xfs with a realtime device:"
  mapped xfsrt "$MNT/plain:served" "$MNT/rt:REALTIME_DEVICE"
  umount "$MNT"
else
  missing+=("XFS realtime ($( (tail -1 "$LOGS/rtmount"; dmesg | tail -1) | tr '\n' ' '))")
fi

# --- the commit check: the flag comes while the writable range is served ---------------
mkfs.ext4 -q -F -E nodiscard,lazy_itable_init=1,lazy_journal_init=1 "$DEV" && mount -t ext4 "$DEV" "$MNT" \
  || fail "mkfs/mount ext4 for the commit check"
random_file "$MNT/w" $((4 << 20))
cp "$MNT/w" /dev/shm/w.want && sync
commit_py='import fcntl, mmap, struct, sys
FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_JOURNAL_DATA_FL = 0x80086601, 0x40086602, 0x4000
with open(sys.argv[1], "r+b") as f:
    m = mmap.mmap(f.fileno(), 0)
    flags = struct.unpack("i", fcntl.ioctl(f.fileno(), FS_IOC_GETFLAGS, b"\0" * 4))[0]
    fcntl.ioctl(f.fileno(), FS_IOC_SETFLAGS, struct.pack("i", flags | FS_JOURNAL_DATA_FL))
    for k in range(0, len(m), 65536):
        m[k:k + 7] = b"stored!"
    m.flush()
    m.close()'
"$PY" - <<'PY'
data = bytearray(open("/dev/shm/w.want", "rb").read())
for k in range(0, len(data), 65536):
    data[k:k + 7] = b"stored!"
open("/dev/shm/w.want", "wb").write(data)
PY
with_shim commit env CMBMAP_WRITABLE=1 "$PY" -c "$commit_py" "$MNT/w" || fail "python3 writable mapping"
cmp "$MNT/w" /dev/shm/w.want || { rm -f /dev/shm/w.want; fail "the file does not hold the stores"; }
rm -f /dev/shm/w.want
grep -E "info: mmap $MNT/w .* served from CMB" "$LOGS/commit.log" || fail "the writable mapping was not served"
grep -E "commit check: .* moved" "$LOGS/commit.log" || fail "the commit check let the writeback through"
grep -E "stats: +writeback: .* 0 B from CMB by NVMe write" "$LOGS/commit.log" \
  || fail "NVMe writes to a journalled file: $(grep writeback: "$LOGS/commit.log")"

[ ${#missing[@]} = 0 ] || skip "the rest passed; this kernel lacks: ${missing[*]}"
echo "guest time: ${SECONDS} s"
echo "fscrypt, chattr +j, data=journal, XFS realtime: same bytes, ordinary with their reason; commit check refuses"
