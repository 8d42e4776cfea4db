"""What every test starts and ends with."""
import unittest

import harness
from djpatch_multidb import connections, selector


class DatabaseTest(unittest.TestCase):
    """Empty tables on every alias, fresh connections; no context left behind."""

    def setUp(self):
        connections.close_all()
        harness.clear()

    def tearDown(self):
        leaked = selector.clear_thread()
        connections.close_all()
        self.assertEqual(leaked, [], 'contexts left pushed: %r' % (leaked,))

    def assertRows(self, alias, table, expected, columns='*'):
        """``table`` on ``alias``, read directly, holds exactly ``expected``."""
        self.assertEqual(harness.rows(alias, table, columns), expected)

    def assertOnlyOn(self, table, column, value, alias):
        self.assertEqual(harness.where_is(table, column, value), [alias])
