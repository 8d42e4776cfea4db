"""The djpatch_multidb test suite (nose).

The package sets up the databases once per run (see harness.py): SQLite
files, or MariaDB servers of its own with DJPATCH_TEST_BACKEND=mysql, and
removes them afterwards whether the tests passed or not.
"""
from __future__ import absolute_import
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
for path in (HERE, os.path.join(os.path.dirname(HERE), 'tools')):
    if path not in sys.path:
        sys.path.insert(0, path)


import harness  # noqa: E402

try:
    harness.start()
except Exception:
    harness.stop()
    raise


def setup_package():
    try:
        harness.create_tables()
    except Exception:
        harness.stop()
        raise


def teardown_package():
    import harness
    harness.stop()
