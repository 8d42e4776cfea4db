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
    _stopping_on_error(harness.start)
    _limit_each_test()


def _stopping_on_error(step):
    """Run ``step``; if it fails, stop what the harness started and raise the
    step's own error, even when stopping fails too (that is only printed)."""
    try:
        step()
    except Exception:
        error = sys.exc_info()
        try:
            import harness
            harness.stop()
        except Exception:
            import traceback
            sys.stderr.write('tests: stopping the databases after a failed start failed too:\n')
            traceback.print_exc()
        _reraise(*error)


if sys.version_info[0] >= 3:
    def _reraise(exc_type, value, traceback):
        raise value.with_traceback(traceback)
else:
    exec("def _reraise(exc_type, value, traceback):\n"
         "    raise exc_type, value, traceback\n")


# A test that runs longer than this fails (TestTookTooLong) instead of
# holding the suite: one that errs holding a database lock would otherwise
# leave the next test waiting on it.  DJPATCH_TEST_TIMEOUT=0 turns it off.
TEST_TIMEOUT = int(os.environ.get('DJPATCH_TEST_TIMEOUT', '300'))


class TestTookTooLong(Exception):
    pass


def _limit_each_test():
    import signal
    import threading
    import unittest
    if not TEST_TIMEOUT or not hasattr(signal, 'SIGALRM') or \
            getattr(unittest.TestCase.run, 'djpatch_limited', False):
        return
    original = unittest.TestCase.run

    def run(self, *args, **kwargs):
        if threading.current_thread().name != 'MainThread':
            return original(self, *args, **kwargs)

        def too_long(signum, frame):
            raise TestTookTooLong('%s ran for more than %d s (DJPATCH_TEST_TIMEOUT)'
                                  % (self.id(), TEST_TIMEOUT))
        previous = signal.signal(signal.SIGALRM, too_long)
        signal.alarm(TEST_TIMEOUT)
        try:
            return original(self, *args, **kwargs)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
    run.djpatch_limited = True
    unittest.TestCase.run = run


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
    _stopping_on_error(harness.create_tables)


def teardown_package():
    if _started:
        import harness
        harness.stop()
