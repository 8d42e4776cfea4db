"""multidb_status and multidb_syncdb, on the suite's own databases."""
from __future__ import absolute_import
try:
    from StringIO import StringIO
except ImportError:   # Python 3
    from io import StringIO

from django.core.management import call_command

import harness
from django.core.management.base import CommandError
from base import DatabaseTest, patched_only
from djpatch_multidb import status, syncdb
from testapp.models import Account, Author, Entry, Event, Note, Post, Profile, Tag


class Status(DatabaseTest):

    def test_every_alias_is_listed_and_the_unreachable_one_is_reported_down(self):
        Profile.objects.shard(2).create(user_id=2, nick='counted')
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
            except SystemExit as exit:
                code, errors = exit.code, sys.stderr.getvalue()
            except CommandError as error:   # call_command() from Django 1.5 on
                code, errors = 1, str(error)
            else:
                code, errors = 0, ''
        finally:
            sys.stdout, sys.stderr = saved
        self.assertEqual(code, 1)
        self.assertTrue('unreachable' in errors, errors)


class TablesPerDatabase(DatabaseTest):

    @patched_only('syncdb.py is the 1.0/1.1 table maker; router.allow_migrate is tested in test_native')
    def test_each_alias_gets_the_tables_of_the_models_that_live_there(self):
        self.assertEqual(set(syncdb.models_for('blogdb')), set([Entry, Tag, Post]))
        self.assertEqual(set(syncdb.models_for('shard3')), set([Profile, Note, Account]))
        self.assertEqual(syncdb.models_for('eventdb'), [Event])
        self.assertEqual(syncdb.models_for('default'), [Author])
        self.assertTrue(syncdb.is_replica('shard1_replica'))
        self.assertFalse(syncdb.is_replica('shard1'))


def run_command(name, *args, **options):
    """call_command with stdout and stderr captured: (output, errors, exit code)."""
    import sys
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = StringIO(), StringIO()
    code = 0
    try:
        try:
            call_command(name, *args, **options)
        except SystemExit as exit:
            code = exit.code
        return sys.stdout.getvalue(), sys.stderr.getvalue(), code
    finally:
        sys.stdout, sys.stderr = saved


class CommandsTakeDatabase(DatabaseTest):

    def test_dumpdata_and_loaddata_with_database_move_rows_between_shards(self):
        import os
        import tempfile
        Profile.objects.shard(1).create(user_id=5, nick='dumped')
        output, errors, code = run_command('dumpdata', 'testapp', database='shard1')
        self.assertEqual((errors, code), ('', 0))
        self.assertTrue('"dumped"' in output and '"testapp.profile"' in output, output)
        self.assertFalse('testapp.author' in output, output)
        fixture = tempfile.mktemp(suffix='.json')
        open(fixture, 'w').write(output)
        try:
            from djpatch_multidb import resharding
            with resharding():   # the keys of shard1's rows map to shard1
                run_command('loaddata', fixture, database='shard2', verbosity=0)
        finally:
            os.remove(fixture)
        self.assertEqual(harness.where_is('testapp_profile', 'nick', 'dumped'), ['shard1', 'shard2'])

    def test_flush_with_database_empties_only_that_database(self):
        Profile.objects.shard(0).create(user_id=4, nick='flushed')
        Profile.objects.shard(3).create(user_id=3, nick='kept')
        run_command('flush', database='shard0', interactive=False, verbosity=0)
        self.assertEqual(harness.rows('shard0', 'testapp_profile'), [])
        self.assertRows('shard3', 'testapp_profile', [('kept',)], 'nick')

    @patched_only('the native --database option names a bad alias itself')
    def test_an_unknown_database_option_is_refused_naming_it(self):
        output, errors, code = run_command('dumpdata', database='nope')
        self.assertEqual(code, 1)
        self.assertTrue("'nope'" in errors and "'default'" in errors, errors)
