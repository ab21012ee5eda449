#!/usr/bin/env bash
# Builds the project, runs the benchmark suite (JMH + hand-over + parked waiters) against the
# PostgreSQL, PgBouncer and Redis the tests use, and writes docs/BENCHMARKS.md.
#
#   locking-bench/run.sh                        # the full suite, about 15 minutes on 2 cores
#   locking-bench/run.sh -Dbench.size=quick     # a smoke run, a few minutes
#   locking-bench/run.sh -Dbench.size=long      # 3 forks per target, longer iterations: about 70 minutes
#   locking-bench/run.sh -Dbench.only=pairs -Dbench.targets=postgres,raw-postgres
#   locking-bench/run.sh -Dbench.prof=jfr       # JFR recording per JMH fork (in the working directory)
#
# Arguments are JVM options of the suite (see dev.locking.bench.BenchSuite). MVN_FLAGS=-o builds
# offline. Servers are found like the tests find them: LOCKING_TEST_POSTGRES_URL /
# LOCKING_TEST_REDIS_URL, else 127.0.0.1:5432 (user postgres, database test) and 127.0.0.1:6379;
# PgBouncer is started from /usr/sbin/pgbouncer (or LOCKING_TEST_PGBOUNCER) on a free port.
set -euo pipefail
cd "$(dirname "$0")/.."
MVN_FLAGS=${MVN_FLAGS:-}
# Compiled in one reactor build, the suite runs on this checkout's classes: nothing is installed, so
# another checkout that shares ~/.m2 can neither overwrite what is measured nor be overwritten.
echo "Building (mvn compile -pl locking-bench -am)..." >&2
mvn -B -q $MVN_FLAGS compile dependency:build-classpath -pl locking-bench -am \
    -Dmdep.outputFile=target/classpath.txt >/dev/null
CLASSPATH="locking-bench/target/classes:$(cat locking-bench/target/classpath.txt)"
export CLASSPATH
JAVA="${JAVA_HOME:+$JAVA_HOME/bin/}java"
exec "$JAVA" -Xmx2g -Dbench.command="locking-bench/run.sh${*:+ $*}" "$@" dev.locking.bench.BenchSuite
