#!/usr/bin/env bash
# Runs every djpatch_multidb test.
#
# On a fresh Debian 12 machine (as root) it first sets up what the tests need
# (tools/bootstrap.sh: Python 2.7, a virtualenv with Django 1.1.4, nose and
# mysqlclient, MariaDB); when that is done already it takes a second.  Then it
# runs the nose suite twice: on SQLite files, and on MariaDB servers the suite
# starts itself (own data directory and port on 127.0.0.1, removed afterwards).
#
#   ./run_tests.sh                           # Django 1.1.4 from the package index
#   DJANGO_SRC=/path/to/django-1.0.4 ./run_tests.sh
#                                            # any Django source tree instead
#   ./run_tests.sh tests.test_contexts       # extra arguments go to nose
#
# Exits non-zero if any test fails.
set -eu
cd "$(dirname "$0")"

PYTHON=$(tools/bootstrap.sh | tail -n 1)
if [ ! -x "$PYTHON" ]; then
    echo "run_tests.sh: tools/bootstrap.sh did not give a Python" >&2
    exit 1
fi

if [ -n "${DJANGO_SRC:-}" ]; then
    if [ ! -f "$DJANGO_SRC/django/__init__.py" ]; then
        echo "run_tests.sh: DJANGO_SRC=$DJANGO_SRC has no django/__init__.py;" \
             "point it at the folder that contains the django package" >&2
        exit 2
    fi
    export PYTHONPATH="$(cd "$DJANGO_SRC" && pwd)${PYTHONPATH:+:$PYTHONPATH}"
fi

django_version=$("$PYTHON" -c 'import django, os; print("%s from %s" % (django.get_version(), os.path.dirname(django.__file__)))')
echo "run_tests.sh: Django $django_version"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0
failed=0
status=0
for backend in sqlite mysql; do
    echo "run_tests.sh: the suite on $backend"
    set +e
    DJPATCH_TEST_BACKEND=$backend "$PYTHON" -m nose --verbosity=2 "${@:-tests}" 2>&1 | tee "$log"
    code=${PIPESTATUS[0]}
    set -e
    # nose ends with "Ran N tests in ..." and "OK" or "FAILED (errors=E, failures=F)".
    ran=$(awk '/^Ran [0-9]+ tests? in /{n=$2} END{print n+0}' "$log")
    bad=$(awk '/^FAILED \(/{b=0; s=$0; while (match(s, /=[0-9]+/)) {b+=substr(s, RSTART+1, RLENGTH-1); s=substr(s, RSTART+RLENGTH)}} END{print b+0}' "$log")
    if [ "$code" -ne 0 ] && [ "$bad" -eq 0 ]; then
        bad=1
    fi
    passed=$((passed + ran - bad))
    failed=$((failed + bad))
    if [ "$code" -ne 0 ] || [ "$ran" -eq 0 ]; then
        status=1
    fi
done

# check NAME COMMAND...: one more check counted as a test; its output is shown
# only when it fails.
check() {
    echo "run_tests.sh: $1"
    shift
    if "$@" > "$log" 2>&1; then
        tail -n 1 "$log"
        passed=$((passed + 1))
    else
        cat "$log"
        failed=$((failed + 1))
        status=1
    fi
}

if [ $# -eq 0 ]; then
    # The demo's own check: the legacy_site pages over HTTP, every row on its shard.
    check "./run_demo.sh --check" "$PYTHON" legacy_site/demo.py --check --users 500
    check "./run_demo.sh --check --mysql" "$PYTHON" legacy_site/demo.py --check --users 500 --mysql
    # A very short run of the benchmarks, so that they cannot rot (it asserts
    # nothing about time).  It builds its own Django 1.11 virtualenv on first
    # use; skipped with DJANGO_SRC, whose tree would shadow that Django.
    if [ -z "${DJANGO_SRC:-}" ]; then
        check "bench/run.sh --smoke" bench/run.sh --smoke
    fi
fi

echo "tests: $passed passed, $failed failed"
exit $status
