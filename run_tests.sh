#!/usr/bin/env bash
# Runs every djpatch_multidb test.
#
# On a fresh Debian 12 machine (as root) it first sets up what the tests need
# (tools/bootstrap.sh: Python 2.7, the machine's Python 3, one virtualenv per
# Django version with nose and mysqlclient, MariaDB); when that is done
# already it takes seconds.  For each of Django 1.1.4 (patched), 1.4.22, 1.8.19,
# 1.11.29 (Python 2.7) and 4.2.x (Python 3), all routed natively, it runs the
# nose suite twice: on SQLite files, and on MariaDB servers the suite starts
# itself (own data directory and port on 127.0.0.1, removed afterwards); then
# the legacy_site demo check on both.  It ends with a matrix of the results.
#
#   ./run_tests.sh                           # every version
#   DJPATCH_MULTIDB_STACKS="1.1 4.2" ./run_tests.sh   # some of them
#   DJANGO_SRC=/path/to/django-1.0.4 ./run_tests.sh
#                                            # any Django source tree instead (Python 2.7)
#   ./run_tests.sh tests.test_contexts       # extra arguments go to nose
#
# Exits non-zero if any test fails.
set -eu
cd "$(dirname "$0")"

# The Django versions the suite runs on (tools/bootstrap.sh builds one
# virtualenv per stack): 1.0/1.1 are patched, the others route natively.
STACKS=${DJPATCH_MULTIDB_STACKS:-"1.1 1.4 1.8 1.11 4.2"}

if [ -n "${DJANGO_SRC:-}" ]; then
    if [ ! -f "$DJANGO_SRC/django/__init__.py" ]; then
        echo "run_tests.sh: DJANGO_SRC=$DJANGO_SRC has no django/__init__.py;" \
             "point it at the folder that contains the django package" >&2
        exit 2
    fi
    export PYTHONPATH="$(cd "$DJANGO_SRC" && pwd)${PYTHONPATH:+:$PYTHONPATH}"
    STACKS=1.1     # the tree shadows the stack's own Django; Python 2.7
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
passed=0
failed=0
status=0
matrix=""

# check NAME COMMAND...: one more check counted as a test; its output is shown
# only when it fails.  Sets $checked to ok or FAILED.
check() {
    echo "run_tests.sh: $1"
    shift
    if "$@" > "$log" 2>&1; then
        tail -n 1 "$log"
        passed=$((passed + 1))
        checked=ok
    else
        cat "$log"
        failed=$((failed + 1))
        status=1
        checked=FAILED
    fi
}

for stack in $STACKS; do
    PYTHON=$(DJPATCH_MULTIDB_STACK=$stack tools/bootstrap.sh | tail -n 1)
    if [ ! -x "$PYTHON" ]; then
        echo "run_tests.sh: tools/bootstrap.sh did not give a Python for stack $stack" >&2
        exit 1
    fi
    django_version=$("$PYTHON" -c 'import django, os, sys; print("%s on Python %s from %s" % (django.get_version(), sys.version.split()[0], os.path.dirname(django.__file__)))')
    echo "run_tests.sh: Django $django_version"
    row=$(printf '%-8s' "$("$PYTHON" -c 'import django; print(django.get_version())')")
    for backend in sqlite mysql; do
        echo "run_tests.sh: the suite on $backend, Django $stack"
        set +e
        DJPATCH_TEST_BACKEND=$backend "$PYTHON" -m nose --verbosity=2 "${@:-tests}" 2>&1 | tee "$log"
        code=${PIPESTATUS[0]}
        set -e
        # nose ends with "Ran N tests in ..." and "OK" or "FAILED (errors=E, failures=F)",
        # either with "SKIP=S" among them.
        ran=$(awk '/^Ran [0-9]+ tests? in /{n=$2} END{print n+0}' "$log")
        bad=$(awk '/^FAILED \(/{b=0; s=$0; while (match(s, /(errors|failures)=[0-9]+/)) {t=substr(s, RSTART, RLENGTH); sub(/.*=/, "", t); b+=t; s=substr(s, RSTART+RLENGTH)}} END{print b+0}' "$log")
        skip=$(awk '/^(OK|FAILED) \(/{if (match($0, /SKIP=[0-9]+/)) print substr($0, RSTART+5, RLENGTH-5)+0}' "$log" | tail -n 1)
        skip=${skip:-0}
        if [ "$code" -ne 0 ] && [ "$bad" -eq 0 ]; then
            bad=1
        fi
        passed=$((passed + ran - skip - bad))
        failed=$((failed + bad))
        if [ "$code" -ne 0 ] || [ "$ran" -eq 0 ]; then
            status=1
        fi
        row="$row  $(printf '%-26s' "$backend $((ran - skip - bad)) ok, $bad failed, $skip skipped")"
    done
    if [ $# -eq 0 ]; then
        # The demo's own check: the legacy_site pages over HTTP, every row on its shard.
        check "./run_demo.sh --check (Django $stack)" "$PYTHON" legacy_site/demo.py --check --users 200
        row="$row  demo sqlite $checked"
        check "./run_demo.sh --check --mysql (Django $stack)" "$PYTHON" legacy_site/demo.py --check --users 200 --mysql
        row="$row, mysql $checked"
    fi
    matrix="$matrix$row
"
done

if [ $# -eq 0 ] && [ -z "${DJANGO_SRC:-}" ]; then
    # A very short run of the benchmarks, so that they cannot rot (it asserts
    # nothing about time).  It builds its own Django 1.11 virtualenv on first use.
    check "bench/run.sh --smoke" bench/run.sh --smoke
fi

if [ $# -eq 0 ]; then
    # The package's layers (.importlinter): each imports only the layers below
    # it, and patched/ and native/ never import each other; checked by
    # import-linter, which runs on Python 3 (the 4.2 stack's virtualenv).
    # tests/test_layers.py, in every stack's suite, fails on import cycles.
    PYTHON3=$(DJPATCH_MULTIDB_STACK=4.2 tools/bootstrap.sh | tail -n 1)
    check "import layers (lint-imports, .importlinter)" \
        env PYTHONPATH=. "$(dirname "$PYTHON3")/lint-imports" --config .importlinter
fi

if [ $# -eq 0 ]; then
    # README.txt's quick start followed word for word in a fresh virtualenv
    # (Django 1.1.4 from the package index, or the DJANGO_SRC tree): the
    # library installed from a checkout and from an sdist, the project made,
    # syncdb --all-databases, the view requested, each order read back from
    # its shard's SQLite file (tools/quickstart_check.py).
    PYTHON=$(DJPATCH_MULTIDB_STACK=1.1 tools/bootstrap.sh | tail -n 1)
    check "README quick start (tools/quickstart_check.py)" \
        "$PYTHON" tools/quickstart_check.py ${DJANGO_SRC:+--django-src "$DJANGO_SRC"}
fi

# Django's own test suite (runtests.py of the 1.1.4 release tarball, taken
# from the package index; with DJANGO_SRC, that tree's), vanilla and with
# install() at the top and at the bottom of legacy settings and of settings
# with two aliases, compared test by test with the vanilla run
# (tools/django_suite.py).  Each installed configuration counts as one test,
# passed when no test differs from vanilla.
case " $STACKS " in
    *" 1.1 "*)
        if [ $# -eq 0 ]; then
            PYTHON=$(DJPATCH_MULTIDB_STACK=1.1 tools/bootstrap.sh | tail -n 1)
            echo "run_tests.sh: Django's own suite, vanilla and installed (tools/django_suite.py)"
            set +e
            "$PYTHON" tools/django_suite.py ${DJANGO_SRC:+--django-src "$DJANGO_SRC"} 2>&1 | tee "$log"
            code=${PIPESTATUS[0]}
            set -e
            # last line: "django_suite: tests beyond vanilla: legacy-top 0, legacy-bottom 0, ..."
            beyond=$(awk '/^django_suite: tests beyond vanilla: /{sub(/^django_suite: tests beyond vanilla: /, ""); line=$0} END{print line}' "$log")
            suite_ok=$(printf '%s\n' "$beyond" | tr ',' '\n' | awk '$2 == "0"{n++} END{print n+0}')
            suite_bad=$(printf '%s\n' "$beyond" | tr ',' '\n' | awk 'NF == 2 && $2 != "0"{n++} END{print n+0}')
            if [ "$code" -ne 0 ] && [ "$suite_bad" -eq 0 ]; then
                suite_bad=1
            fi
            passed=$((passed + suite_ok))
            failed=$((failed + suite_bad))
            [ "$code" -eq 0 ] || status=1
            matrix="${matrix}django    own suite, tests beyond vanilla: ${beyond:-no result} (tools/django_suite.py)
"
        fi
        ;;
esac

# Real applications of 2009-2010 (South, django-tagging, django-voting,
# django-registration, django-threadedcomments), taken from the package index
# unchanged: their own suites on vanilla Django, with their models on another
# alias, and in a shard group, on SQLite and MariaDB, compared test by test
# (tools/apps_matrix.py; with DJANGO_SRC, on that Django).  Each run counts as
# one test.
case " $STACKS " in
    *" 1.1 "*)
        if [ $# -eq 0 ]; then
            PYTHON=$(DJPATCH_MULTIDB_STACK=1.1 tools/bootstrap.sh | tail -n 1)
            echo "run_tests.sh: real applications' own suites (tools/apps_matrix.py)"
            set +e
            "$PYTHON" tools/apps_matrix.py 2>&1 | tee "$log"
            code=${PIPESTATUS[0]}
            set -e
            apps_ok=$(awk '/^apps_matrix: [0-9]+ passed, [0-9]+ failed$/{n=$2} END{print n+0}' "$log")
            apps_bad=$(awk '/^apps_matrix: [0-9]+ passed, [0-9]+ failed$/{n=$4} END{print n+0}' "$log")
            if [ "$code" -ne 0 ] && [ "$apps_bad" -eq 0 ]; then
                apps_bad=1
            fi
            passed=$((passed + apps_ok))
            failed=$((failed + apps_bad))
            [ "$code" -eq 0 ] || status=1
            matrix="${matrix}apps      $apps_ok runs with install() as on vanilla Django, $apps_bad not (tools/apps_matrix.py)
"
        fi
        ;;
esac

echo
echo "run_tests.sh: results per Django version (passed / failed / skipped as not applying)"
printf '%s' "$matrix"
echo "tests: $passed passed, $failed failed"
exit $status
