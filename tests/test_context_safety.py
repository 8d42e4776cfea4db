"""Contexts that end with the request or in another thread, raw SQL inside
readonly(), raw SQL with a literal %, shard keys against the block, and the
errors that say which alias or attribute is at fault."""
from __future__ import absolute_import
import threading

from base import raw_connection
connection = raw_connection()

import harness
from base import DatabaseTest, commit_unless_managed, patched_only, rollback_unless_managed
from djpatch_multidb import (CrossDatabaseQuery, ReadOnlyError, ShardKeyError,
                             ShardNotSelected, readonly, resharding, use_primary, using,
                             using_shard)
from harness import SHARDS
from testapp.models import Author, Note, Profile, Tag


def open_block(context):
    """A generator that opens ``context`` at its first next() and leaves it
    open until it is exhausted, closed or collected."""
    def body():
        with context:
            yield 'inside'
            yield 'still inside'
    generator = body()
    next(generator)
    return generator


def in_thread(function):
    """Run ``function`` in a thread of its own; the errors it raised."""
    errors = []

    def run():
        try:
            function()
        except Exception as error:
            errors.append(error)
    worker = threading.Thread(target=run)
    worker.start()
    worker.join(30)
    return errors


def send(signal_name, sender=None):
    from django.core import signals
    getattr(signals, signal_name).send(sender=sender)


class RequestBoundaries(DatabaseTest):

    def test_request_started_leaves_the_thread_with_no_context_open(self):
        left_open = open_block(using_shard(2))
        send('request_started')
        Profile.objects.create(user_id=7, nick='next request')
        self.assertEqual(harness.where_is('testapp_profile', 'user_id', 7), ['shard3'])
        left_open.close()

    def test_request_finished_leaves_the_thread_with_no_context_open(self):
        left_open = open_block(using('blogdb'))
        send('request_finished')
        Author.objects.create(name='after the request')
        self.assertEqual(harness.where_is('testapp_author', 'name', 'after the request'),
                         ['default'])
        left_open.close()

    def test_a_block_left_open_by_a_generator_closed_after_the_request_changes_nothing(self):
        left_open = open_block(using_shard(2))
        send('request_finished')
        send('request_started')
        with using('blogdb'):
            left_open.close()
            Author.objects.create(name='inside the new block')
        self.assertEqual(harness.where_is('testapp_author', 'name', 'inside the new block'),
                         ['blogdb'])

    def test_a_block_left_open_by_a_generator_collected_after_the_request_changes_nothing(self):
        left_open = open_block(using_shard(1))
        send('request_finished')
        with using('blogdb'):
            del left_open
            Author.objects.create(name='still blogdb')
        Author.objects.create(name='default again')
        self.assertEqual(harness.where_is('testapp_author', 'name', 'still blogdb'), ['blogdb'])
        self.assertEqual(harness.where_is('testapp_author', 'name', 'default again'),
                         ['default'])


    def test_a_test_client_request_runs_inside_the_blocks_open_around_it(self):
        from django.test.client import ClientHandler
        with using('blogdb'):
            send('request_started', ClientHandler)
            left_open = open_block(using_shard(2))
            Author.objects.create(name='in the request')
            send('request_finished')   # Django 4.2's test client sends it as None's
            Author.objects.create(name='after the request')
            Profile.objects.create(user_id=5, nick='no shard block left')
            left_open.close()
        self.assertEqual(harness.where_is('testapp_author', 'name', 'in the request'),
                         ['blogdb'])
        self.assertEqual(harness.where_is('testapp_author', 'name', 'after the request'),
                         ['blogdb'])
        # using_shard(2), left open inside the request, ended with it
        self.assertEqual(harness.where_is('testapp_profile', 'user_id', 5), ['blogdb'])


class BlocksClosedInAnotherThread(DatabaseTest):

    def test_a_block_closed_in_another_thread_is_removed_from_the_thread_that_opened_it(self):
        left_open = open_block(using('blogdb'))
        self.assertEqual(in_thread(left_open.close), [])
        Author.objects.create(name='opener after the close')
        self.assertEqual(harness.where_is('testapp_author', 'name', 'opener after the close'),
                         ['default'])

    def test_a_block_exhausted_in_another_thread_leaves_the_outer_block_of_its_opener(self):
        with using_shard(1):
            left_open = open_block(using('blogdb'))
            self.assertEqual(in_thread(lambda: list(left_open)), [])
            Profile.objects.create(user_id=5, nick='outer block')
        self.assertEqual(harness.where_is('testapp_profile', 'user_id', 5), ['shard1'])

    def test_a_block_closed_in_another_thread_leaves_that_threads_own_blocks_alone(self):
        left_open = open_block(using('blogdb'))
        written = []

        def close_inside_own_block():
            with using('eventdb'):
                left_open.close()
                Author.objects.create(name='closer inside eventdb')
                written.append(True)
        self.assertEqual(in_thread(close_inside_own_block), [])
        self.assertEqual(written, [True])
        self.assertEqual(harness.where_is('testapp_author', 'name', 'closer inside eventdb'),
                         ['eventdb'])


class UsePrimaryQuerysets(DatabaseTest):

    def setUp(self):
        DatabaseTest.setUp(self)
        from django.conf import settings
        self.saved = getattr(settings, 'MULTIDB_READ_FROM_REPLICAS', None)
        settings.MULTIDB_READ_FROM_REPLICAS = True

    def tearDown(self):
        from django.conf import settings
        settings.MULTIDB_READ_FROM_REPLICAS = self.saved
        DatabaseTest.tearDown(self)

    @patched_only("a plain manager's queryset does not know the block it was built in")
    def test_a_queryset_built_inside_use_primary_reads_the_primary_after_the_block(self):
        harness.execute('default', "INSERT INTO testapp_author (name) VALUES ('on primary')")
        harness.execute('replica1', "INSERT INTO testapp_author (name) VALUES ('on replica')")
        with use_primary():
            built_inside = Author.objects.filter(name__startswith='on')
        self.assertEqual([a.name for a in built_inside], ['on primary'])
        self.assertEqual(built_inside.count(), 1)
        self.assertEqual(list(built_inside.values_list('name', flat=True)), ['on primary'])
        self.assertEqual([a.name for a in Author.objects.all()], ['on replica'])

    @patched_only("a plain manager's queryset does not know the block it was built in")
    def test_a_queryset_built_inside_readonly_and_use_primary_keeps_both(self):
        harness.execute('default', "INSERT INTO testapp_author (name) VALUES ('on primary')")
        harness.execute('replica1', "INSERT INTO testapp_author (name) VALUES ('on replica')")
        with readonly():
            with use_primary():
                built_inside = Author.objects.all()
        self.assertEqual([a.name for a in built_inside], ['on primary'])
        self.assertRaises(ReadOnlyError, built_inside.update, name='x')
        self.assertRows('default', 'testapp_author', [('on primary',)], 'name')


WRITES = [
    "INSERT INTO testapp_author (name) VALUES ('raw')",
    "update testapp_author SET name = 'changed'",
    "   /* a comment */ DELETE FROM testapp_author",
    "-- a comment\n  Replace INTO testapp_author (id, name) VALUES (1, 'replaced')",
    "\n\tCREATE TABLE djp_readonly_probe (id integer)",
    "DROP TABLE testapp_author",
    "ALTER TABLE testapp_author ADD COLUMN extra integer",
    "truncate TABLE testapp_author",
    "WITH gone AS (SELECT 1) DELETE FROM testapp_author",
    "/*!40000 DELETE FROM testapp_author */",
    "CALL wipe_authors()",
    "PRAGMA user_version = 7",
]


class RawSQLInsideReadonly(DatabaseTest):

    def setUp(self):
        DatabaseTest.setUp(self)
        for alias in ('default', 'replica1'):
            harness.execute(alias, "INSERT INTO testapp_author (name) VALUES ('kept')")

    def assertNothingChanged(self):
        for alias in ('default', 'replica1'):
            self.assertRows(alias, 'testapp_author', [('kept',)], 'name')
            self.assertEqual(len(harness.execute(alias, 'SELECT * FROM testapp_author')[0]), 2)
            harness.execute(alias, 'CREATE TABLE djp_readonly_probe (id integer)')
            harness.execute(alias, 'DROP TABLE djp_readonly_probe')

    def test_raw_sql_that_writes_inside_readonly_raises_and_runs_nothing(self):
        for sql in WRITES:
            with readonly():
                cursor = connection.cursor()
                try:
                    cursor.execute(sql)
                except ReadOnlyError as error:
                    self.assertTrue('readonly()' in str(error), str(error))
                else:
                    self.fail('no ReadOnlyError for %r' % sql)
            self.assertNothingChanged()

    def test_raw_executemany_that_writes_inside_readonly_raises_and_runs_nothing(self):
        with readonly():
            cursor = connection.cursor()
            self.assertRaises(ReadOnlyError, cursor.executemany,
                              'INSERT INTO testapp_author (name) VALUES (%s)', [('a',), ('b',)])
        self.assertNothingChanged()

    def test_a_script_or_a_procedure_inside_readonly_raises_and_runs_nothing(self):
        with readonly():
            cursor = connection.cursor()
            self.assertRaises(ReadOnlyError, cursor.executescript, 'DELETE FROM testapp_author;')
            self.assertRaises(ReadOnlyError, cursor.callproc, 'wipe_authors')
        self.assertNothingChanged()

    def test_raw_sql_that_reads_inside_readonly_still_runs_on_the_replica(self):
        with readonly():
            cursor = connection.cursor()
            cursor.execute("  /* which */ SELECT name FROM testapp_author WHERE name = 'kept'")
            self.assertEqual([tuple(r) for r in cursor.fetchall()], [('kept',)])

    def test_the_same_raw_write_runs_once_the_readonly_block_is_over(self):
        with readonly():
            pass
        connection.cursor().execute("INSERT INTO testapp_author (name) VALUES ('after')")
        commit_unless_managed()
        self.assertRows('default', 'testapp_author', [('kept',), ('after',)], 'name')


class RawSQLWithAPercentSign(DatabaseTest):

    def setUp(self):
        import django
        from nose.plugins.skip import SkipTest
        if django.VERSION[:2] == (1, 0) and not harness.is_mysql('default'):
            raise SkipTest("Django 1.0's SQLite cursor formats every statement itself: "
                           "a literal % is written %% there, with or without the library")
        DatabaseTest.setUp(self)

    def test_raw_sql_with_a_literal_percent_and_no_parameters_runs_as_on_django(self):
        cursor = connection.cursor()
        cursor.execute("INSERT INTO testapp_author (name) VALUES ('100% sure')")
        commit_unless_managed()
        cursor.execute("SELECT name FROM testapp_author WHERE name LIKE '100%'")
        self.assertEqual([tuple(r) for r in cursor.fetchall()], [('100% sure',)])
        self.assertRows('default', 'testapp_author', [('100% sure',)], 'name')

    def test_raw_sql_with_a_literal_percent_inside_a_block_runs_on_the_blocks_database(self):
        with using('blogdb'):
            connection.cursor().execute("INSERT INTO testapp_author (name) VALUES ('50%')")
            commit_unless_managed('blogdb')
        self.assertEqual(harness.where_is('testapp_author', 'name', '50%'), ['blogdb'])

    def test_raw_sql_with_parameters_still_formats_them(self):
        connection.cursor().execute('INSERT INTO testapp_author (name) VALUES (%s)', ['a % b'])
        commit_unless_managed()
        self.assertRows('default', 'testapp_author', [('a % b',)], 'name')


class ShardKeyAgainstTheBlock(DatabaseTest):

    def assertRefused(self, call, *args, **kwargs):
        try:
            call(*args, **kwargs)
        except ShardKeyError as error:
            message = str(error)
            for part in ('1', "'shard1'", "'shard0'"):
                self.assertTrue(part in message, message)
        else:
            self.fail('no ShardKeyError')
        self.assertEqual(harness.where_is('testapp_profile', 'user_id', 1), [])

    def test_create_inside_another_shards_block_raises_naming_key_and_shards(self):
        with using_shard(0):
            self.assertRefused(Profile.objects.create, user_id=1, nick='misplaced')

    def test_save_inside_another_shards_block_raises_and_writes_nothing(self):
        with using_shard(0):
            self.assertRefused(Profile(user_id=1, nick='misplaced').save)

    def test_get_or_create_inside_another_shards_block_raises_and_writes_nothing(self):
        with using_shard(0):
            self.assertRefused(Profile.objects.get_or_create, user_id=1,
                               defaults={'nick': 'misplaced'})

    def test_get_or_create_with_no_defaults_inside_the_keys_shard_creates_then_gets(self):
        with using_shard(0):
            created = Profile.objects.get_or_create(user_id=4)[1]
            created_again = Profile.objects.get_or_create(user_id=4)[1]
        self.assertEqual((created, created_again), (True, False))
        self.assertEqual(harness.where_is('testapp_profile', 'user_id', 4), ['shard0'])

    def test_a_key_given_as_text_is_checked_as_the_number_django_stores(self):
        with using_shard(1):
            Profile.objects.create(user_id=u'5', nick='text key')
            self.assertRaises(ShardKeyError, Profile.objects.create, user_id=u'6', nick='x')
        self.assertEqual(harness.where_is('testapp_profile', 'user_id', 5), ['shard1'])
        self.assertEqual(harness.where_is('testapp_profile', 'user_id', 6), [])

    def test_create_through_shard_n_raises_and_writes_nothing(self):
        self.assertRefused(Profile.objects.shard(0).create, user_id=1, nick='misplaced')

    @patched_only("Django's own update() is not routed by instance")
    def test_an_update_that_moves_keys_off_the_shard_raises_and_writes_nothing(self):
        Profile.objects.shard(0).create(user_id=4, nick='home')
        self.assertRaises(ShardKeyError, Profile.objects.shard(0).update, user_id=1)
        with using_shard(0):
            self.assertRaises(ShardKeyError, Profile.objects.all().update, user_id=1)
        self.assertRows('shard0', 'testapp_profile', [(4, 'home')], 'user_id, nick')

    def test_a_key_that_maps_to_the_blocks_shard_is_written_there(self):
        with using_shard(0):
            Profile.objects.create(user_id=8, nick='home')
        Profile.objects.shard(0).filter(user_id=8).update(user_id=12)
        self.assertEqual(harness.where_is('testapp_profile', 'user_id', 12), ['shard0'])

    def test_resharding_lets_a_tool_write_a_key_on_another_shard(self):
        with resharding():
            with using_shard(0):
                Profile.objects.create(user_id=1, nick='copied')
            Profile.objects.shard(2).create(user_id=1, nick='copied too')
        self.assertEqual(harness.where_is('testapp_profile', 'user_id', 1), ['shard0', 'shard2'])


class DeletesInsideAnotherDatabasesBlock(DatabaseTest):

    def setUp(self):
        DatabaseTest.setUp(self)
        for alias, text in (('shard0', 'zero'), ('shard1', 'one')):
            harness.execute(alias, "INSERT INTO testapp_profile (id, user_id, nick) "
                                   "VALUES (1, %d, 'p')" % SHARDS.index(alias))
            harness.execute(alias, "INSERT INTO testapp_note (id, profile_id, text) "
                                   "VALUES (1, 1, '%s')" % text)

    def test_an_object_of_one_shard_deleted_inside_another_shards_block_deletes_nothing(self):
        note = Note.objects.shard(1).get(id=1)
        with using_shard(0):
            self.assertRaises(CrossDatabaseQuery, note.delete)
        self.assertRows('shard0', 'testapp_note', [('zero',)], 'text')
        self.assertRows('shard1', 'testapp_note', [('one',)], 'text')

    def test_an_object_deleted_outside_any_block_is_deleted_where_it_was_loaded(self):
        Note.objects.shard(1).get(id=1).delete()
        self.assertRows('shard0', 'testapp_note', [('zero',)], 'text')
        self.assertRows('shard1', 'testapp_note', [], 'text')


class ErrorsNameTheirPlace(DatabaseTest):

    def test_the_key_is_none_message_names_the_shard_key_attribute(self):
        try:
            Profile.objects.create(nick='no key')
        except ShardNotSelected as error:
            self.assertTrue("Profile.shard_key" in str(error), str(error))
            self.assertTrue("'user_id'" in str(error), str(error))
        else:
            self.fail('ShardNotSelected not raised')

    @patched_only("Django's own cursors raise the driver's errors as they are")
    def test_an_error_raised_by_a_query_names_the_alias_it_ran_on(self):
        from django.db import DatabaseError
        with using('blogdb'):
            cursor = connection.cursor()
            try:
                cursor.execute('SELECT * FROM djp_no_such_table')
            except DatabaseError as error:
                self.assertTrue("alias 'blogdb'" in str(error), str(error))
                self.assertFalse(harness.PASSWORD in str(error), str(error))
            else:
                self.fail('DatabaseError not raised')

    @patched_only("Django's own cursors raise the driver's errors as they are")
    def test_an_integrity_error_of_the_orm_names_the_alias_and_stays_an_integrity_error(self):
        from django.db import IntegrityError
        Tag.objects.create(label='once')
        try:
            Tag.objects.create(label='once')
        except IntegrityError as error:
            self.assertTrue("alias 'blogdb'" in str(error), str(error))
            rollback_unless_managed('blogdb')
        else:
            self.fail('IntegrityError not raised')
        self.assertRows('blogdb', 'testapp_tag', [('once',)], 'label')
