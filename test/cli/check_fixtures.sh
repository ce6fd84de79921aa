#!/usr/bin/env bash
# `cmbmap check` on fixture trees (test/fixtures/make-check-tree): one fact
# changed per case, each with the exit status and the line it must print.
. "$(dirname "$0")/lib.sh"
tree=$(mktemp -d /tmp/cmbmap-check.XXXXXX)
trap 'rm -rf "$tree"' EXIT
chmod 755 "$tree"
"$ROOT/test/fixtures/make-check-tree" "$tree/base" || fail "make-check-tree"
nvme=$tree/base/sysfs/devices/pci0000:00/0000:00:05.0/0000:01:00.0/0000:02:00.0/0000:03:00.0

# case NAME: a fresh copy of the base tree in $t; edit it, then expect.
case_() { t=$tree/$1; rm -rf "$t"; cp -a "$tree/base" "$t"; n=${nvme/$tree\/base/$t}; }
# expect RC PATTERN [ARGS...]: cmbmap check on $t exits RC and prints a line matching PATTERN.
expect() {
  local rc=$1 pattern=$2; shift 2
  out=$("${RUN_AS[@]}" "$CLI" check --sysfs-root "$t/sysfs" --proc-root "$t/proc" --boot-dir "$t/boot" "$@" 2>&1)
  local got=$?
  [ "$got" = "$rc" ] || fail "case ${t##*/}: exit $got, expected $rc; output:
$out"
  grep -qE -- "$pattern" <<<"$out" || fail "case ${t##*/}: no line matches '$pattern'; output:
$out"
  ! grep -qE '^-> *$' <<<"$out" || fail "case ${t##*/}: a line without an action"
}
RUN_AS=()

case_ good;      expect 0 '^ok +kernel +CONFIG_PCI_P2PDMA=y in /proc/config.gz'
                 expect 0 '^ok +nvme0 +p2pmem published: size 64 MiB, free 65408 KiB'
                 expect 0 'this machine can serve$'
case_ disabled;  printf '# CONFIG_PCI_P2PDMA is not set\n' | gzip > "$t/proc/config.gz"
                 expect 1 '^FAIL +kernel +CONFIG_PCI_P2PDMA is not set in /proc/config.gz'
                 expect 1 'Debian.s kernels are built without it'
case_ boot;      rm "$t/proc/config.gz"
                 expect 0 '^ok +kernel +CONFIG_PCI_P2PDMA=y in /boot/config-6.12.95'
case_ unknown;   rm "$t/proc/config.gz" "$t/boot/config-6.12.95"
                 expect 0 'no config file readable, but p2pmem is published'
                 rm -r "$n/p2pmem"
                 expect 1 '^unknown +kernel +CONFIG_PCI_P2PDMA unknown'
case_ old;       echo 6.1.0-27-amd64 > "$t/proc/sys/kernel/osrelease"
                 expect 1 '^FAIL +kernel +Linux 6.1.0-27-amd64 is older than 6.2'
case_ nocmb;     rm "$n/nvme/nvme0/cmbsz" "$n/nvme/nvme0/cmbloc"; rm -r "$n/p2pmem"
                 expect 1 '^FAIL +nvme0 +no CMB visible'
case_ nords;     echo $(( 0x40205 )) > "$n/nvme/nvme0/cmbsz"
                 expect 1 '^FAIL +nvme0 +CMB 64 MiB in BAR 2, SQS,LISTS: without RDS and WDS'
case_ unpub;     rm -r "$n/p2pmem"
                 expect 1 '^FAIL +nvme0 +CMB not registered as p2pmem'
                 mkdir "$n/p2pmem"; echo 67108864 > "$n/p2pmem/size"; echo 0 > "$n/p2pmem/published"
                 expect 1 '^FAIL +nvme0 +p2pmem registered but not published'
case_ noperm;    chmod -R a+rX "$t"; chmod 0600 "$n/p2pmem/allocate"
                 RUN_AS=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
                 expect 1 '^FAIL +nvme0 +p2pmem/allocate does not open read-write for uid [0-9]+ \(Permission denied\)'
                 expect 1 '60-cmbmap.rules'
                 RUN_AS=()
case_ noleases;  echo 0 > "$t/proc/sys/fs/leases-enable"
                 expect 1 '^FAIL +leases +fs.leases-enable is 0'
case_ lowmap;    echo 1000 > "$t/proc/sys/vm/max_map_count"
                 expect 1 '^FAIL +vm +vm.max_map_count is 1000'
case_ peers
expect 0 '^ok +peer 0000:04:00.0 reaches nvme0 \(0000:03:00.0\) below switch port 0000:01:00.0' --peer 0000:04:00.0
expect 1 '^FAIL +peer 0000:05:00.0 cannot reach nvme0 .* root complex \(pci0000:00\) and the kernel does not allow' \
  --peer 0000:05:00.0
expect 1 '^FAIL +peer 0000:09:00.0 cannot reach .* because ACS redirects at 0000:02:02.0' --peer 0000:09:00.0
expect 0 '^unknown +peer 0000:0b:00.0 .* ACS control of 0000:02:03.0 is unreadable' --peer 0000:0b:00.0
expect 1 '^FAIL +peer 0000:0a:00.0 IOMMU translates its DMA \(default domain DMA-FQ\)' --peer 0000:0a:00.0
expect 1 '^FAIL +peer 0000:77:00.0 no PCI function' --peer 0000:77:00.0
case_ amd;       printf 'vendor_id\t: AuthenticAMD\ncpu family\t: 25\n' > "$t/proc/cpuinfo"
                 expect 0 '^warn +peer 0000:05:00.0 reaches nvme0 .* only through the root complex' --peer 0000:05:00.0

# --json carries the same facts.
case_ json
"$CLI" check --json --sysfs-root "$t/sysfs" --proc-root "$t/proc" --boot-dir "$t/boot" \
  --peer 0000:04:00.0 --peer 0000:09:00.0 > "$t/out.json"
[ $? = 1 ] || fail "json: exit status"
python3 - "$t/out.json" <<'PY' || fail "json content"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["can_serve"] is False
assert j["kernel"] == {"release": "6.12.95", "p2pdma": "yes", "config_source": "/proc/config.gz"}
c = j["controllers"][0]
assert c["name"] == "nvme0" and c["ready"] is True and c["p2pmem"]["available"] == 66977792
assert c["path"] == ["0000:00:05.0", "0000:01:00.0", "0000:02:00.0", "0000:03:00.0"]
assert j["sysctl"] == {"leases_enable": 1, "lease_break_time": 45, "max_map_count": 65530}
r = {p["pci"]: p["routes"][0] for p in j["peers"]}
assert r["0000:04:00.0"]["kind"] == "switch" and r["0000:04:00.0"]["via"] == "0000:01:00.0"
assert r["0000:09:00.0"]["kind"] == "not-supported" and r["0000:09:00.0"]["acs_redirect"] == ["0000:02:02.0"]
assert any(l["status"] == "FAIL" and l["area"] == "peer 0000:09:00.0" for l in j["lines"])
assert all(l["action"] for l in j["lines"])
PY

expect_rc 2 "$CLI" check --bogus
expect_rc 2 "$CLI" check --peer
expect_rc 0 "$CLI" check --help
echo ok
