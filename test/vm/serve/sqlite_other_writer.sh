#!/usr/bin/env bash
# One process holds a sqlite database open with PRAGMA mmap_size (served
# from the CMB under a write lease on its own open file); a second sqlite3
# process inserts rows. The second is not stalled; the first then reads the
# new rows through its mapping and PRAGMA integrity_check is ok.
. "$(dirname "$0")/lease_lib.sh"
command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
db=$WORK/db
sqlite3 "$db" >/dev/null <<'SQL' || fail "building the database"
CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 20000)
INSERT INTO t SELECT x, randomblob(200) FROM c;
SQL
dir=$LOGS/sync; mkdir -p "$dir"
reader='import os, sqlite3, sys, time
db, d = sys.argv[1], sys.argv[2]
c = sqlite3.connect(db)
c.execute("PRAGMA mmap_size=268435456")
q = lambda: c.execute("SELECT count(*), sum(length(v)), max(id) FROM t").fetchone()
before = q()
open(d + "/ready", "w").write("ready")
while not os.path.exists(d + "/go"):
    time.sleep(0.01)
after = q()
ok = c.execute("PRAGMA integrity_check").fetchone()[0]
print(before, after, ok)'
with_shim reader "$PY" -c "$reader" "$db" "$dir" > "$LOGS/reader.out" &
pid=$!
wait_for "$dir/ready"
t0=$(date +%s%N)
sqlite3 "$db" "INSERT INTO t SELECT id + 20000, randomblob(300) FROM t WHERE id <= 500;" || fail "the writer"
writer_ms=$((($(date +%s%N) - t0) / 1000000))
touch "$dir/go"
wait "$pid" || fail "the reader failed"
echo "reader (before, after, integrity): $(cat "$LOGS/reader.out"); writer took $writer_ms ms"
[ "$(cat "$LOGS/reader.out")" = "(20000, 4000000, 20000) (20500, 4150000, 20500) ok" ] \
  || fail "the reader does not see the writer's rows"
if expect_served; then
  [ "$(served_bytes reader)" -gt 0 ] || fail "the reader's mapping was not served"
  grep -q "write lease taken" "$LOGS/reader.log" || fail "no write lease"
  grep -q "lease broken" "$LOGS/reader.log" || fail "the writer did not break the reader's lease"
  [ "$writer_ms" -lt $((BREAK_TIME * 1000 / 4)) ] || fail "the writer waited $writer_ms ms"
  grep "lease broken" "$LOGS/reader.log" | head -1
fi
