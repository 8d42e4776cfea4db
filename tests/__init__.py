"""The djpatch_multidb test suite (nose).

Imported by nose's test loader, the package sets up the databases once per
run (see harness.py): SQLite files, or MariaDB servers of its own with
DJPATCH_TEST_BACKEND=mysql, and settings for them, before nose imports the
test modules (they import models, which needs settings).
teardown_package() removes them whether the tests passed or not.

Imported any other way (``import tests`` from a site or another test runner)
it does nothing: no setting configured, no database made, nothing installed,
sys.path unchanged.  start() sets the suite up by hand.
"""
from __future__ import absolute_import
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FOLDERS = (HERE, os.path.join(os.path.dirname(HERE), 'tools'))
_started = []


def start():
    """The suite's databases and settings (once).  The tests' own modules
    (harness, base, testapp...) are imported by their bare names."""
    if _started:
        return
    _started.append(True)
    for path in FOLDERS:
        if path not in sys.path:
            sys.path.insert(0, path)
    import harness
    try:
        harness.start()
    except Exception:
        harness.stop()
        raise


def _imported_by_nose():
    """Whether nose's importer is importing this package (a test run of it)."""
    frame = sys._getframe(1)
    while frame is not None:
        parts = os.path.normpath(frame.f_code.co_filename).split(os.sep)
        if parts[-2:] in (['nose', 'importer.py'], ['nose', 'importer.pyc']):
            return True
        frame = frame.f_back
    return False


if _imported_by_nose():
    start()


def setup_package():
    start()
    import harness
    try:
        harness.create_tables()
    except Exception:
        harness.stop()
        raise


def teardown_package():
    if _started:
        import harness
        harness.stop()
