"""multidb_status and multidb_syncdb, on the suite's own databases."""
from StringIO import StringIO

from django.core.management import call_command

import harness
from base import DatabaseTest
from djpatch_multidb import status, syncdb
from testapp.models import Account, Author, Entry, Event, Note, Post, Profile, Tag


class Status(DatabaseTest):

    def test_every_alias_is_listed_and_the_unreachable_one_is_reported_down(self):
        Profile.objects.shard(2).create(user_id=1, nick='counted')
        out = StringIO()
        down = status.report(out=out)
        text = out.getvalue()
        self.assertEqual(down, ['unreachable'])
        for alias in harness.ALIASES:
            self.assertTrue('\n  %s ' % alias in text, alias)
        self.assertTrue('DOES NOT ANSWER' in text, text)
        self.assertTrue('testapp.Profile: shard0: 0, shard1: 0, shard2: 1, shard3: 0' in text, text)
        self.assertTrue('password ***' in text, text)
        self.assertFalse(harness.PASSWORD in text)

    def test_the_command_exits_non_zero_naming_an_alias_that_does_not_answer(self):
        import sys
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = StringIO(), StringIO()
        try:
            try:
                call_command('multidb_status', counts=False)
            except SystemExit, exit:
                code, errors = exit.code, sys.stderr.getvalue()
            else:
                code, errors = 0, ''
        finally:
            sys.stdout, sys.stderr = saved
        self.assertEqual(code, 1)
        self.assertTrue('unreachable' in errors, errors)


class TablesPerDatabase(DatabaseTest):

    def test_each_alias_gets_the_tables_of_the_models_that_live_there(self):
        self.assertEqual(set(syncdb.models_for('blogdb')), set([Entry, Tag, Post]))
        self.assertEqual(set(syncdb.models_for('shard3')), set([Profile, Note, Account]))
        self.assertEqual(syncdb.models_for('eventdb'), [Event])
        self.assertEqual(syncdb.models_for('default'), [Author])
        self.assertTrue(syncdb.is_replica('shard1_replica'))
        self.assertFalse(syncdb.is_replica('shard1'))
