#!/usr/bin/env bash
# The PostgreSQL pairs without any Java: pgbench (C, prepared statements) sends the statements of
# each design straight to the server, 1 client and 8, random keys out of 100,000. It answers what the
# JMH suite cannot: how fast a design can be on this server before any client library, and so what
# the targets of the durable mode can be measured against. See docs/design-notes.md, "The floor
# of a durable design".
#
#   locking-bench/pgbench/run.sh          # 15 s per row, about 4 minutes
#   locking-bench/pgbench/run.sh 30       # 30 s per row
#
# The server is PGHOST / PGPORT / PGUSER / PGDATABASE, else 127.0.0.1:5432, user postgres, database
# test (the one the tests use). It works in a schema of its own, bench_pgbench, dropped first. Our
# functions come from the provider's migrations, applied by the CLI (built if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-15}
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres} PGDATABASE=${PGDATABASE:-test}
SCHEMA=bench_pgbench
command -v pgbench >/dev/null || PATH="$PATH:$(ls -d /usr/lib/postgresql/*/bin | tail -1)"
command -v pgbench >/dev/null || { echo "pgbench not found: it ships with the PostgreSQL server packages (Debian: postgresql-15)" >&2; exit 2; }

[ -f locking-cli/target/locking.jar ] || mvn -B -q install -DskipTests
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export PGOPTIONS="-c client_min_messages=warning"
psql -q -v ON_ERROR_STOP=1 -c "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null
cat > "$WORK/application.conf" <<EOF
locking.providers = [{ resolve = "locking-postgres", options {
  url = "jdbc:postgresql://$PGHOST:$PGPORT/$PGDATABASE", user = "$PGUSER", password = \${?PGPASSWORD}, schema = $SCHEMA } }]
EOF
java -jar locking-cli/target/locking.jar migrate -c "$WORK/application.conf" >/dev/null
psql -q -v ON_ERROR_STOP=1 >/dev/null <<EOF
CREATE TABLE $SCHEMA.shedlock (name VARCHAR(64) NOT NULL, lock_until TIMESTAMP NOT NULL,
    locked_at TIMESTAMP NOT NULL, locked_by VARCHAR(255) NOT NULL, PRIMARY KEY (name));
INSERT INTO $SCHEMA.shedlock SELECT 'k' || i, now() - interval '1 s', now(), 'none' FROM generate_series(1, 100000) i;
VACUUM ANALYZE $SCHEMA.shedlock;
EOF
for f in locking-bench/pgbench/*.sql; do sed "s/{schema}/$SCHEMA/g" "$f" > "$WORK/$(basename "$f")"; done

# pairs/s of one script: tps x pairs per transaction
pairs() { # script clients pairs-per-transaction [PGOPTIONS]
    local tps
    tps=$(PGOPTIONS="$PGOPTIONS ${4:-}" pgbench -n -M prepared -T "$SECS" -c "$2" -j "$(( $2 < 2 ? $2 : 2 ))" -f "$WORK/$1" 2>&1 \
        | awk '/^tps = /{print $3}')
    awk -v t="$tps" -v p="$3" 'BEGIN { printf "%.0f", t * p }'
}
echo "Each row ${SECS} s; pgbench $(pgbench --version | awk '{print $3}'), PostgreSQL $(psql -Atc 'SHOW server_version'), $(nproc) cores shared by server and pgbench." >&2
declare -A R
ASYNC="-c synchronous_commit=off"
R[raw1]=$(pairs raw.sql 1 1);                     R[raw8]=$(pairs raw.sql 8 1)
R[shed1]=$(pairs shedlock.sql 1 1);               R[shed8]=$(pairs shedlock.sql 8 1)
R[floor1]=$(pairs floor.sql 1 1);                 R[floor8]=$(pairs floor.sql 8 1)
R[ours1]=$(pairs ours.sql 1 1);                   R[ours8]=$(pairs ours.sql 8 1)
R[together1]=-;                                   R[together8]=$(pairs ours-4-together.sql 2 4)
R[shedoff1]=$(pairs shedlock.sql 1 1 "$ASYNC");   R[shedoff8]=$(pairs shedlock.sql 8 1 "$ASYNC")
R[oursoff1]=$(pairs ours.sql 1 1 "$ASYNC");       R[oursoff8]=$(pairs ours.sql 8 1 "$ASYNC")
R[session1]=$(pairs session.sql 1 1);             R[session8]=$(pairs session.sql 8 1)

ratio() { if [ "$1" = - ]; then echo -; else awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; fi; }
row() { # label key
    printf '| %s | %s | %s | %s | %s |\n' "$1" "${R[${2}1]}" "${R[${2}8]}" \
        "$(ratio "${R[${2}1]}" "${R[shed1]}")" "$(ratio "${R[${2}8]}" "${R[shed8]}")"
}
echo "| pgbench, pairs/s | 1 caller | 8 callers | / ShedLock, 1 | / ShedLock, 8 |"
echo "|---|---:|---:|---:|---:|"
row '`raw.sql`: advisory lock, nothing written' raw
row '`shedlock.sql`: ShedLock JDBC, two durable commits' shed
row '`floor.sql`: the same, release not flushed (one flush per pair)' floor
row '`ours.sql`: our functions, `grants` mode' ours
row '`ours-4-together.sql`: group commit, 4 acquires per statement (8 callers: 2 clients)' together
row '`shedlock.sql`, no flush at all (`synchronous_commit = off`)' shedoff
row '`ours.sql`, no flush at all (`synchronous-commit = off`)' oursoff
row '`session.sql`: our functions, `mode = "session"` (nothing written)' session
psql -q -c "DROP SCHEMA $SCHEMA CASCADE" >/dev/null
