#!/usr/bin/env bash
# sqlite3 with PRAGMA mmap_size (reads through mmap): the same query results
# and a clean integrity check with and without the shim.
. "$(dirname "$0")/lib.sh"
command -v sqlite3 >/dev/null || skip "sqlite3 not installed"
cat > "$WORK/build.sql" <<'SQL'
PRAGMA journal_mode=WAL;
CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v BLOB);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 30000)
INSERT INTO t SELECT x, printf('key%08d', (x * 7919) % 30000), randomblob(100) FROM c;
CREATE INDEX tk ON t(k);
SQL
sqlite3 "$WORK/db" < "$WORK/build.sql" > /dev/null || fail "building the database"
cat > "$WORK/query.sql" <<'SQL'
PRAGMA mmap_size=268435456;
SELECT count(*), sum(id), min(k), max(k) FROM t;
SELECT id, k, hex(substr(v, 1, 8)) FROM t WHERE k BETWEEN 'key00001000' AND 'key00001010' ORDER BY k;
SELECT count(*) FROM t WHERE k LIKE 'key0002%';
UPDATE t SET k = k || 'x' WHERE id % 1000 = 0;
SELECT count(*) FROM t WHERE k LIKE '%x';
UPDATE t SET k = substr(k, 1, 11) WHERE id % 1000 = 0;
PRAGMA integrity_check;
SQL
variants sqlite sqlite3 "$WORK/db" ".read $WORK/query.sql"
grep -qx ok "$WORK/sqlite.plain.out" || fail "integrity_check did not say ok"
saw_mappings sqlite 1
