#!/usr/bin/env bash
# LMDB with writemap (python3-lmdb, writemap=True): its data file is a
# writable shared mapping, and commits are msync(MS_SYNC). Rounds of
# transactions under the shim, each ended by SIGKILL at a random moment;
# then, without the shim: every transaction the writer saw committed is
# there with its values, and the environment reads back whole (mdb_dump,
# a full scan). The data file's allocated pages were served in every round.
. "$(dirname "$0")/wlib.sh"
"$PY" -c "import lmdb" 2>/dev/null || skip "python3-lmdb not installed"
env_dir=$WORK/env; mkdir -p "$env_dir"
J=$(mktemp -d /run/lmdb.XXXXXX); trap 'rm -rf "$WORK" "$LOGS" "$J"' EXIT  # journal on the guest's tmpfs
# Blocks for the data file first (pages LMDB has written once and reuses),
# then free them: a sparse file's holes would stay ordinary pages.
"$PY" - "$env_dir" <<'PY' || fail "populating the environment"
import lmdb, sys
env = lmdb.open(sys.argv[1], map_size=64 << 20, writemap=True)
with env.begin(write=True) as t:
    for i in range(2000):
        t.put(b"seed%05d" % i, bytes([i % 251]) * 3000)
with env.begin(write=True) as t:
    for i in range(2000):
        t.delete(b"seed%05d" % i)
env.close()
PY
writer='import lmdb, os, random, sys
d, journal, r = sys.argv[1], sys.argv[2], int(sys.argv[3])
env = lmdb.open(d, map_size=64 << 20, writemap=True)
j = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
rnd = random.Random(r)
for n in range(1000000):
    with env.begin(write=True) as t:
        for k in range(rnd.randint(1, 20)):
            key = b"r%02d-%06d-%02d" % (r, n, k)
            t.put(key, key * rnd.randint(1, 60))
    os.write(j, b"%d %d\n" % (r, n))  # committed'
rounds=${LMDB_ROUNDS:-4}
for r in $(seq 1 "$rounds"); do
  # shellcheck disable=SC2046
  env $(wshim_env "lmdb$r") "$PY" -c "$writer" "$env_dir" "$J/journal" "$r" 2> "$LOGS/lmdb$r.err" &
  pid=$!
  for _ in $(seq 600); do grep -q "^$r " "$J/journal" 2>/dev/null && break; sleep 0.1; done
  sleep "1.$((RANDOM % 9))"
  kill -9 "$pid"; wait "$pid" 2>/dev/null
  n=$(grep -c "^$r " "$J/journal")
  [ "$n" -gt 0 ] || fail "round $r committed nothing: $(tail -3 "$LOGS/lmdb$r.err")"
  served=$(grep -E "info: mmap .*/data.mdb .* served from CMB" "$LOGS/lmdb$r.log" | head -1)
  echo "round $r: $n transactions committed; ${served:-data.mdb not served}"
  if expect_served; then [ -n "$served" ] || fail "round $r: data.mdb was not served from the CMB: $(why_not "lmdb$r")"; fi
done
"$PY" - "$env_dir" "$J/journal" <<'PY' || fail "committed transactions missing"
import lmdb, random, sys
env = lmdb.open(sys.argv[1], map_size=64 << 20, readonly=True, lock=False)
want = {}
for line in open(sys.argv[2]):
    r, n = map(int, line.split())
    want.setdefault(r, set()).add(n)
missing = 0
with env.begin() as t:
    for r, ns in want.items():
        rnd = random.Random(r)
        for n in range(max(ns) + 1):
            count = rnd.randint(1, 20)
            for k in range(count):
                key = b"r%02d-%06d-%02d" % (r, n, k)
                size = rnd.randint(1, 60)
                if n in ns and t.get(key) != key * size:
                    missing += 1
    entries = sum(1 for _ in t.cursor())
print("committed transactions:", sum(len(v) for v in want.values()), "entries:", entries, "missing:", missing)
sys.exit(1 if missing else 0)
PY
command -v mdb_dump >/dev/null && { mdb_dump "$env_dir" > /dev/null || fail "mdb_dump cannot read the environment"; }
command -v mdb_stat >/dev/null && mdb_stat "$env_dir" | sed -n 's/^ *Entries: /entries (mdb_stat): /p'
