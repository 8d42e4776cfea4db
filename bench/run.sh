#!/usr/bin/env bash
# djpatch_multidb benchmarks.
#
#   bench/run.sh              full run, a few minutes; writes bench/RESULTS.txt
#   bench/run.sh --smoke      every part for a few seconds; asserts nothing
#                             about time, writes nothing (run_tests.sh runs it)
#   bench/run.sh --quick      SQLite, vanilla / vanilla_b / installed / using_shard,
#                             11 rounds, the ORM table, the selector and the
#                             targets on stdout (under a minute); writes nothing
#   bench/run.sh --only sqlite|mysql, --rounds N, --out FILE, --no-profile,
#                --variants A,B,... (their baselines added), --no-conns, --no-fanout
#   bench/run.sh --allshards-memory [--backend sqlite|mysql|both] [--rows N] [--lib DIR]
#                             memory of all_shards() iteration, 4 shards x 25,000
#                             rows (bench/allshards_memory.py); prints, writes nothing
#   bench/run.sh --rawsql [--rounds R] [--number N]
#                             raw SQL routed by its tables, on against off, side by
#                             side (bench/rawsql_cost.py); prints, writes nothing
#   bench/run.sh --instructions [--lib DIR] [--variants A,B,...] [--ops OP,...]
#                             instructions per ORM operation under valgrind's
#                             callgrind, each variant against its baseline
#                             (bench/instructions.py): free of the machine's load;
#                             prints, writes nothing
#
# Sets up what it needs through tools/bootstrap.sh: the Python 2.7 virtualenv
# with Django 1.1.4 (the library's), and a second one with Django 1.11 for the
# native-router comparison.  MariaDB servers are started by the run itself
# (fresh data directories, free ports on 127.0.0.1) and removed afterwards.
set -eu
cd "$(dirname "$0")/.."

PYTHON=$(tools/bootstrap.sh | tail -n 1)
if [ ! -x "$PYTHON" ]; then
    echo "bench/run.sh: tools/bootstrap.sh did not give a Python" >&2
    exit 1
fi
if [ "${1:-}" = "--allshards-memory" ]; then
    shift
    exec "$PYTHON" bench/allshards_memory.py "$@"
fi
if [ "${1:-}" = "--rawsql" ]; then
    shift
    exec "$PYTHON" bench/rawsql_cost.py "$@"
fi
# The Django 1.11 virtualenv, the one the test suite runs on.
PYTHON_111=$(env -u PYTHONPATH DJPATCH_MULTIDB_STACK=1.11 tools/bootstrap.sh | tail -n 1)
if [ ! -x "$PYTHON_111" ]; then
    echo "bench/run.sh: tools/bootstrap.sh did not give the Django 1.11 Python" >&2
    exit 1
fi
export BENCH_PYTHON_DJANGO111="$PYTHON_111"
if [ "${1:-}" = "--instructions" ]; then
    shift
    exec "$PYTHON" bench/instructions.py "$@"
fi
exec "$PYTHON" bench/bench.py "$@"
