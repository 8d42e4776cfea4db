"""What every test starts and ends with."""
from __future__ import absolute_import
import unittest

import harness
from djpatch_multidb import connections
from djpatch_multidb.context import selector

NATIVE = harness.NATIVE


def patched_only(why):
    """For a test of what only the patches of Django 1.0/1.1 do (``why``: what
    Django 1.2 and later do instead); skipped there."""
    return unittest.skipIf(NATIVE, 'Django 1.2+ routes natively: ' + why)


def raw_connection():
    """The connection raw SQL uses: django.db.connection, which the patches make
    follow the contexts; on Django 1.2 and later djpatch_multidb.connection does."""
    if NATIVE:
        from djpatch_multidb import connection
    else:
        from django.db import connection
    return connection


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


def commit_unless_managed(alias='default'):
    """Commit raw SQL outside a transaction block: Django 1.0 to 1.5 wait for
    this call; from 1.6 every statement outside atomic() commits by itself."""
    _unless_managed('commit_unless_managed', alias)


def rollback_unless_managed(alias='default'):
    _unless_managed('rollback_unless_managed', alias)


def _unless_managed(name, alias):
    from django.db import transaction
    function = getattr(transaction, name, None)
    if function is None:
        return
    if NATIVE:
        function(using=alias)
    else:
        function()
