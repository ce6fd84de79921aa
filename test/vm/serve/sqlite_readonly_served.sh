#!/usr/bin/env bash
# sqlite3 -readonly with PRAGMA mmap_size on a database on /mnt/nvme: the
# same results as without the shim, and its reads were served from the CMB.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
db=$WORK/db
sqlite3 "$db" >/dev/null <<'SQL' || fail "building the database"
CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 40000)
INSERT INTO t SELECT x, printf('key%08d', (x * 7919) % 40000), randomblob(200) FROM c;
CREATE INDEX tk ON t(k);
SQL
q="PRAGMA mmap_size=268435456; SELECT count(*), sum(id), min(k), max(k) FROM t;
SELECT id, k, hex(substr(v,1,8)) FROM t WHERE k BETWEEN 'key00001000' AND 'key00001020' ORDER BY k;
SELECT sum(length(v)) FROM t; PRAGMA integrity_check;"
drop_caches
sqlite3 -readonly "$db" "$q" > "$LOGS/sql.plain" || fail "plain sqlite3"
drop_caches
with_shim sql sqlite3 -readonly "$db" "$q" > "$LOGS/sql.shim" || fail "sqlite3 under the shim"
cmp -s "$LOGS/sql.plain" "$LOGS/sql.shim" || { diff "$LOGS/sql.plain" "$LOGS/sql.shim"; fail "results differ"; }
grep -qx ok "$LOGS/sql.shim" || fail "integrity_check"
if expect_served; then
  [ "$(served_bytes sql)" -gt 0 ] || fail "sqlite3's mapping was not served: $(grep 'info: mmap' "$LOGS/sql.log")"
fi
echo "identical; served $(served_bytes sql) bytes"
