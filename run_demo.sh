#!/usr/bin/env bash
# The legacy_site demo: a Django 1.0-era site with users on four shards, a
# blog in its own database and a replica of 'default'.
#
#   ./run_demo.sh                 SQLite files; serves http://127.0.0.1:8000/
#   ./run_demo.sh --port 8080     another port
#   ./run_demo.sh --mysql         MariaDB servers of its own, with real replication
#   ./run_demo.sh --check         set up, walk every page and the create form over
#                                 HTTP, check every row directly, stop (exit 1 on a problem)
#
# The same site runs unchanged on every Django tools/bootstrap.sh builds: 1.1
# by default (patched by djpatch_multidb), or DJPATCH_MULTIDB_STACK=1.4, 1.8,
# 1.11 (Python 2.7) or 4.2 (Python 3) on Django's own multiple databases:
#   DJPATCH_MULTIDB_STACK=4.2 ./run_demo.sh --check
#   DJANGO_SRC=/path/to/django-1.0.4 ./run_demo.sh --check    (a Django source tree)
#
# Does all of its set-up (tools/bootstrap.sh) on a fresh Debian 12 machine as
# root.  Ctrl-C, SIGTERM or SIGHUP stops the site and everything it started.
set -eu
cd "$(dirname "$0")"
PYTHON=$(tools/bootstrap.sh | tail -n 1)
if [ -n "${DJANGO_SRC:-}" ]; then
    export PYTHONPATH="$(cd "$DJANGO_SRC" && pwd)${PYTHONPATH:+:$PYTHONPATH}"
fi
exec "$PYTHON" legacy_site/demo.py "$@"
