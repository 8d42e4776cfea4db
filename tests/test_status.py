"""multidb_status and multidb_syncdb, on the suite's own databases."""
from __future__ import absolute_import
import os
try:
    from StringIO import StringIO
except ImportError:   # Python 3
    from io import StringIO

from django.core.management import call_command

import harness
from django.core.management.base import CommandError
from base import NATIVE, DatabaseTest, patched_only
from djpatch_multidb import connections
from djpatch_multidb.management import status
from djpatch_multidb.base import config
from djpatch_multidb.routing import syncdb
from testapp.models import Account, Author, Entry, Event, Note, Post, Profile, Tag


def problems_section(text):
    """The lines of the report before its overview (which starts at 'Versions:')."""
    return text[:text.index('\nVersions: ')]


def capture(name, **options):
    """call_command(name, **options): (stdout, stderr or the CommandError's text, exit code)."""
    import sys
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = StringIO(), StringIO()
    try:
        try:
            call_command(name, **options)
        except SystemExit as exit:
            return sys.stdout.getvalue(), sys.stderr.getvalue(), exit.code
        except CommandError as error:   # call_command() from Django 1.5 on
            return sys.stdout.getvalue(), str(error), 1
        return sys.stdout.getvalue(), sys.stderr.getvalue(), 0
    finally:
        sys.stdout, sys.stderr = saved


class Status(DatabaseTest):

    def setUp(self):
        DatabaseTest.setUp(self)
        self._saved = {}
        self._added = []
        self._removed = {}

    def tearDown(self):
        from django.conf import settings
        for name, value in self._saved.items():
            setattr(settings, name, value)
        for alias in self._added:
            harness.DATABASES.pop(alias, None)
        harness.DATABASES.update(self._removed)
        if self._saved or self._added or self._removed:
            connections.close_all()
            harness.refresh_native_databases()
            config.reload()
        DatabaseTest.tearDown(self)

    def configure(self, add=None, remove=(), **values):
        """Settings and DATABASES entries for this test only."""
        from django.conf import settings
        connections.close_all()
        for alias, entry in (add or {}).items():
            self._added.append(alias)
            harness.DATABASES[alias] = entry
        for alias in remove:
            self._removed[alias] = harness.DATABASES.pop(alias)
        for name, value in values.items():
            if name not in self._saved:
                self._saved[name] = getattr(settings, name)
            setattr(settings, name, value)
        harness.refresh_native_databases()
        config.reload()

    def test_every_alias_is_listed_and_the_unreachable_one_is_reported_down(self):
        Profile.objects.shard(2).create(user_id=2, nick='counted')
        out = StringIO()
        problems = status.report(out=out)
        text = out.getvalue()
        self.assertTrue(text.startswith('Problems ('), text)
        self.assertTrue("alias 'unreachable' does not answer" in problems[0], problems)
        self.assertTrue("  - alias 'unreachable' does not answer" in problems_section(text), text)
        for alias in harness.ALIASES:
            self.assertTrue('\n  %s ' % alias in text, alias)
        self.assertTrue('DOES NOT ANSWER' in text, text)
        self.assertTrue('testapp.Profile: shard0: 0, shard1: 0, shard2: 1, shard3: 0' in text, text)
        self.assertTrue('password ***' in text, text)
        self.assertFalse(harness.PASSWORD in text)

    def test_the_command_exits_non_zero_naming_an_alias_that_does_not_answer(self):
        output, errors, code = capture('multidb_status', counts=False)
        self.assertEqual(code, 1)
        self.assertTrue('unreachable' in errors, errors)

    def test_an_sqlite_alias_whose_file_cannot_be_opened_comes_first_under_problems(self):
        import tempfile
        folder = tempfile.mkdtemp(prefix='djpatch-status-')
        path = os.path.join(folder, 'no-such-folder', 'x.db')
        try:
            self.configure(add={'nowhere': {'ENGINE': 'django.db.backends.sqlite3',
                                            'NAME': path}})
            out = StringIO()
            problems = status.report(counts=False, out=out)
        finally:
            os.rmdir(folder)
        text = out.getvalue()
        head = problems_section(text)
        self.assertTrue("  - alias 'nowhere' does not answer: " in head, text)
        self.assertTrue(head.index("'nowhere'") < head.index('\nNotes:'), text)
        self.assertTrue("alias 'nowhere' does not answer" in ' '.join(problems), problems)
        self.assertTrue('DOES NOT ANSWER' in text[text.index('\n  nowhere '):], text)

    def test_a_missing_table_is_a_problem_and_an_empty_one_a_note(self):
        Profile.objects.shard(2).create(user_id=2, nick='here')
        harness.execute('eventdb', 'DROP TABLE testapp_event')
        try:
            out = StringIO()
            problems = status.report(out=out)
        finally:
            harness.create_model_tables('eventdb', [Event])
        text = out.getvalue()
        head = problems_section(text)
        problems_part, notes_part = head.split('\nNotes:\n')
        self.assertTrue('  - table testapp_event of testapp.Event is missing on eventdb\n'
                        in problems_part + '\n', text)
        self.assertTrue('table testapp_event of testapp.Event is missing on eventdb' in problems,
                        problems)
        self.assertTrue('  - table testapp_profile of testapp.Profile is empty on shard0, '
                        'shard1, shard1_replica, shard3\n' in notes_part + '\n', text)
        self.assertTrue('testapp_author of testapp.Author is empty on default' in notes_part, text)
        self.assertFalse('missing' in notes_part or 'is empty on' in problems_part, text)

    def test_with_nothing_wrong_it_says_so_and_exits_zero_then_one_for_a_missing_table(self):
        self.configure(remove=['unreachable'], MULTIDB_REPLICAS={})
        output, errors, code = capture('multidb_status', counts=False)
        self.assertEqual((code, errors), (0, ''))
        self.assertTrue(output.startswith('No problems found.\n'), output)
        harness.execute('blogdb', 'DROP TABLE testapp_post')
        try:
            output, errors, code = capture('multidb_status', counts=False)
        finally:
            harness.create_model_tables('blogdb', [Post], constraints=False)
        self.assertEqual(code, 1)
        self.assertTrue('testapp_post' in errors and 'blogdb' in errors, errors)
        self.assertTrue(output.startswith('Problems (1):\n  - table testapp_post of testapp.Post '
                                          'is missing on blogdb\n'), output)

    def test_models_with_a_shard_key_placed_on_no_shard_group_are_problems(self):
        out = StringIO()
        status.report(counts=False, out=out)
        self.assertFalse('has a shard key' in out.getvalue(), out.getvalue())
        models = dict(harness.MULTIDB_MODELS)
        del models['testapp.Profile'], models['testapp.Account']
        models['testapp.Account'] = 'blogdb'
        self.configure(MULTIDB_MODELS=models)
        out = StringIO()
        status.report(counts=False, out=out)
        head = problems_section(out.getvalue())
        self.assertTrue("  - testapp.Profile has a shard key (shard_key = 'user_id') but "
                        "MULTIDB_MODELS puts it on no shard group: it lives on 'default'"
                        in head, head)
        self.assertTrue("  - testapp.Account has a shard key (ShardedIdField 'id') but "
                        "MULTIDB_MODELS puts it on no shard group: it is placed on 'blogdb'"
                        in head, head)
        self.assertFalse('testapp.Note has a shard key' in head, head)

    def test_replica_lag_where_it_can_be_measured(self):
        entry = dict(harness.DATABASES['eventdb'])     # SQLite in both runs
        self.configure(add={'eventdb_copy': entry},
                       MULTIDB_REPLICAS=dict(harness.MULTIDB_REPLICAS, eventdb=['eventdb_copy']))
        out = StringIO()
        problems = status.report(counts=False, out=out)
        text = out.getvalue()
        head = problems_section(text)
        self.assertTrue('  eventdb_copy     of eventdb          lag none (the same SQLite file '
                        'as eventdb)' in text, text)
        self.assertFalse('eventdb_copy' in head, head)
        if harness.BACKEND == 'mysql':
            # replica1 is a database of its own that nothing replicates into
            self.assertTrue("replica 'replica1' of 'default' is not replicating "
                            "(SHOW SLAVE STATUS is empty)" in problems, problems)
            self.assertTrue('  replica1         of default          lag not replicating' in text,
                            text)
        else:
            notes = head[head.index('\nNotes:'):]
            self.assertTrue("  - replica 'replica1' of 'default' is a sqlite3 database of its own "
                            "(not the file of 'default'): its lag cannot be measured" in notes, text)
            self.assertFalse('replica1' in head[:head.index('\nNotes:')], text)

    def test_the_patches_are_listed_at_verbosity_2_only(self):
        names = [name for name, state in status.patches()]
        counted = capture('multidb_status', counts=False)[0]
        listed = capture('multidb_status', counts=False, verbosity=2)[0]
        self.assertTrue('(-v 2 lists them)' in counted, counted)
        self.assertFalse('(-v 2 lists them)' in listed, listed)
        self.assertEqual(len(listed.splitlines()) - len(counted.splitlines()), len(names))
        for name in names:
            self.assertFalse(name in counted, name)
            self.assertTrue('\n  %s ' % name in listed, name)
        if not NATIVE:
            self.assertTrue(names, 'Django 1.0/1.1 are patched: the list is not empty')


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
