"""using(), using_shard() and readonly(): scope, nesting, threads, precedence."""
from __future__ import absolute_import
import threading

from base import raw_connection
connection = raw_connection()

import harness
from base import NATIVE, DatabaseTest, commit_unless_managed, patched_only
from djpatch_multidb import ReadOnlyError, ShardNotSelected, readonly, using, using_shard
from testapp.models import Author, Entry, Note, Profile


def raw_count(table):
    cursor = connection.cursor()
    cursor.execute('SELECT COUNT(*) FROM %s' % table)
    return cursor.fetchone()[0]


class ContextScope(DatabaseTest):

    def test_using_shard_works_as_a_decorator(self):
        @using_shard(3)
        def create(user_id):
            return Profile.objects.create(user_id=user_id, nick='d')
        create(11)
        create(15)
        self.assertEqual(harness.column('shard3', 'testapp_profile', 'user_id'), [11, 15])

    def test_nested_contexts_restore_the_outer_one(self):
        with using_shard(0):
            Profile.objects.create(user_id=4, nick='outer')
            with using_shard(1):
                Profile.objects.create(user_id=5, nick='inner')
            Profile.objects.create(user_id=8, nick='outer again')
        self.assertEqual(harness.column('shard0', 'testapp_profile', 'user_id'), [4, 8])
        self.assertEqual(harness.column('shard1', 'testapp_profile', 'user_id'), [5])

    def test_a_block_ended_by_an_exception_restores_the_outer_context(self):
        with using_shard(2):
            try:
                with using_shard(0):
                    raise KeyError('boom')
            except KeyError:
                pass
            Profile.objects.create(user_id=6, nick='after')
        self.assertOnlyOn('testapp_profile', 'user_id', 6, 'shard2')

    def test_a_decorated_function_that_raises_restores_the_context(self):
        @using('blogdb')
        def fail():
            raise ValueError('no')
        self.assertRaises(ValueError, fail)
        Author.objects.create(name='back on default')
        self.assertOnlyOn('testapp_author', 'name', 'back on default', 'default')

    def test_one_context_object_can_be_reused_and_nested(self):
        shard1 = using_shard(1)
        with shard1:
            with shard1:
                Profile.objects.create(user_id=1, nick='x')
            Profile.objects.create(user_id=5, nick='y')
        with shard1:
            Profile.objects.create(user_id=9, nick='z')
        self.assertEqual(harness.column('shard1', 'testapp_profile', 'user_id'), [1, 5, 9])

    def test_using_shard_leaves_unsharded_models_where_they_live(self):
        with using_shard(2):
            Author.objects.create(name='a')
            Entry.objects.create(title='e')
        self.assertOnlyOn('testapp_author', 'name', 'a', 'default')
        self.assertOnlyOn('testapp_entry', 'title', 'e', 'blogdb')

    def test_contexts_are_strictly_per_thread(self):
        ready = threading.Event()
        go = threading.Event()
        errors = []

        def other_thread():
            try:
                with using_shard(3):
                    ready.set()
                    go.wait(10)
                    Profile.objects.create(user_id=303, nick='thread')
            except Exception as e:
                errors.append(e)
        worker = threading.Thread(target=other_thread)
        worker.start()
        ready.wait(10)
        with using_shard(0):
            Profile.objects.create(user_id=100, nick='main')
            go.set()
            worker.join(10)
        self.assertEqual(errors, [])
        self.assertOnlyOn('testapp_profile', 'user_id', 100, 'shard0')
        self.assertOnlyOn('testapp_profile', 'user_id', 303, 'shard3')


class QuerysetMemory(DatabaseTest):

    def test_a_queryset_built_inside_a_context_reads_that_shard_after_the_block(self):
        Profile.objects.shard(2).create(user_id=2, nick='two')
        Profile.objects.shard(1).create(user_id=1, nick='one')
        with using_shard(2):
            built_inside = Profile.objects.all()
        with using_shard(1):
            self.assertEqual([p.nick for p in built_inside], ['two'])
        self.assertEqual(built_inside.count(), 1)

    def test_a_queryset_built_outside_any_context_resolves_when_evaluated(self):
        Profile.objects.shard(0).create(user_id=0, nick='zero')
        Profile.objects.shard(3).create(user_id=3, nick='three')
        built_outside = Profile.objects.all()
        with using_shard(3):
            self.assertEqual([p.nick for p in built_outside.all()], ['three'])
        with using_shard(0):
            self.assertEqual([p.nick for p in built_outside.all()], ['zero'])
            self.assertEqual(built_outside.count(), 1)

    def test_an_object_loaded_from_a_shard_is_saved_back_there_outside_any_context(self):
        Profile.objects.shard(2).create(user_id=6, nick='before')
        profile = Profile.objects.shard(2).get(user_id=6)
        profile.nick = 'after'
        profile.save()
        self.assertRows('shard2', 'testapp_profile', [('after',)], 'nick')
        self.assertEqual(harness.where_is('testapp_profile', 'user_id', 6), ['shard2'])

    def test_an_object_loaded_from_a_shard_is_deleted_there_outside_any_context(self):
        with using_shard(1):
            profile = Profile.objects.create(user_id=5, nick='bye')
        profile.delete()
        self.assertEqual(harness.where_is('testapp_profile', 'user_id', 5), [])

    def test_an_explicit_queryset_choice_beats_the_context(self):
        Profile.objects.shard(1).create(user_id=1, nick='one')
        with using_shard(2):
            self.assertEqual([p.nick for p in Profile.objects.shard(1).all()], ['one'])
            self.assertEqual(Profile.objects.using('shard1').count(), 1)

    def test_the_context_beats_the_database_an_object_came_from(self):
        author = Author.objects.create(name='copied')
        with using('blogdb'):
            author.save(force_insert=True)
        self.assertEqual(harness.where_is('testapp_author', 'name', 'copied'), ['default', 'blogdb'])

    def test_save_and_delete_take_django_1_2_using(self):
        author = Author(name='explicit')
        author.save(using='blogdb')
        self.assertOnlyOn('testapp_author', 'name', 'explicit', 'blogdb')
        author.delete(using='blogdb')
        self.assertEqual(harness.where_is('testapp_author', 'name', 'explicit'), [])


class RawSQL(DatabaseTest):

    def test_raw_sql_inside_using_shard_goes_to_that_shard(self):
        harness.execute('shard2', "INSERT INTO testapp_profile (user_id, nick) VALUES (1, 'r')")
        with using_shard(2):
            self.assertEqual(raw_count('testapp_profile'), 1)
        with using_shard(2, group='users'):
            self.assertEqual(raw_count('testapp_profile'), 1)
        if harness.NATIVE:
            self.assertEqual(raw_count('testapp_profile'), 0)   # Django's 'default'
        else:
            # outside any block, raw SQL naming a sharded table picks no shard
            self.assertRaises(ShardNotSelected, raw_count, 'testapp_profile')

    def test_raw_writes_inside_using_are_committed_on_that_database(self):
        with using('blogdb'):
            connection.cursor().execute("INSERT INTO testapp_author (name) VALUES ('raw')")
            commit_unless_managed('blogdb')
        self.assertOnlyOn('testapp_author', 'name', 'raw', 'blogdb')

    def test_each_connection_records_its_own_queries_with_debug(self):
        from django.conf import settings
        from djpatch_multidb import connections
        settings.DEBUG = True
        try:
            Entry.objects.create(title='logged')
            Profile.objects.shard(1).count()
            blog_sql = ' '.join([q['sql'] for q in connections['blogdb'].queries])
            shard_sql = ' '.join([q['sql'] for q in connections['shard1'].queries])
            self.assertTrue('INSERT' in blog_sql and 'testapp_entry' in blog_sql, blog_sql)
            self.assertTrue('COUNT' in shard_sql and 'testapp_profile' in shard_sql, shard_sql)
            self.assertEqual(connections['default'].queries, [])
            with using('blogdb'):
                self.assertEqual(connection.queries, connections['blogdb'].queries)
        finally:
            settings.DEBUG = False


class ReadOnly(DatabaseTest):

    def test_reads_inside_readonly_come_from_the_replica(self):
        Author.objects.create(name='primary only')
        harness.execute('replica1', "INSERT INTO testapp_author (name) VALUES ('on replica')")
        with readonly():
            self.assertEqual([a.name for a in Author.objects.all()], ['on replica'])
            self.assertEqual(raw_count('testapp_author'), 1)
        self.assertEqual([a.name for a in Author.objects.all()], ['primary only'])

    def test_readonly_queryset_reads_the_replica_of_its_shard(self):
        harness.execute('shard1_replica', "INSERT INTO testapp_profile (user_id, nick) VALUES (3, 'r')")
        self.assertEqual([p.nick for p in Profile.objects.shard(1).readonly()], ['r'])
        self.assertEqual(Profile.objects.shard(1).count(), 0)
        with using_shard(1):
            self.assertEqual(Profile.objects.readonly().count(), 1)

    def test_a_model_without_a_replica_is_read_from_its_primary(self):
        Entry.objects.create(title='no replica')
        with readonly():
            self.assertEqual(Entry.objects.count(), 1)

    def test_writes_inside_readonly_raise_and_write_nothing(self):
        author = Author.objects.create(name='kept')
        with readonly():
            self.assertRaises(ReadOnlyError, Author.objects.create, name='new')
            self.assertRaises(ReadOnlyError, Author(name='new').save)
            self.assertRaises(ReadOnlyError, Author.objects.filter(name='kept').update, name='x')
            self.assertRaises(ReadOnlyError, Author.objects.filter(name='kept').delete)
            self.assertRaises(ReadOnlyError, author.delete)
        for alias in ('default', 'replica1'):
            self.assertRows(alias, 'testapp_author', alias == 'default' and [('kept',)] or [], 'name')

    def test_a_write_through_a_readonly_queryset_raises_naming_model_and_alias(self):
        try:
            Profile.objects.shard(2).readonly().update(nick='x')
        except ReadOnlyError as error:
            self.assertTrue('testapp.Profile' in str(error), str(error))
            self.assertTrue("'shard2'" in str(error), str(error))
        else:
            self.fail('ReadOnlyError not raised')


class NoWriteReachesAReplica(DatabaseTest):
    """An alias MULTIDB_REPLICAS names as a replica is filled by replication:
    a write sent there by a block raises (a ReadOnlyError naming the replica
    and its primary) and writes nothing on either; reads there still work."""

    def assertNothingWritten(self):
        for alias in ('default', 'replica1'):
            self.assertEqual(harness.column(alias, 'testapp_author', 'name'), [], alias)
        for alias in ('shard1', 'shard1_replica'):
            self.assertEqual(harness.column(alias, 'testapp_profile', 'nick'), [], alias)

    def assertRefused(self, replica, primary, operation, func, *args, **kwargs):
        try:
            func(*args, **kwargs)
        except ReadOnlyError as error:
            message = str(error)
            if NATIVE:
                operation = 'write'     # Django's router is asked the alias, not the operation
            for part in (repr(replica), repr(primary), 'Cannot ' + operation):
                self.assertTrue(part in message, message)
        else:
            self.fail('%s on %r was not refused' % (operation, replica))
        self.assertNothingWritten()

    def test_saves_and_queryset_writes_inside_a_block_of_a_replica_raise(self):
        def save_author():
            with using('replica1'):
                Author(name='a').save()

        def save_profile():
            with using('shard1_replica'):
                Profile(user_id=1, nick='p').save()

        def update_authors():
            with using('replica1'):
                Author.objects.filter(name='x').update(name='y')
        self.assertRefused('replica1', 'default', 'save', save_author)
        self.assertRefused('shard1_replica', 'shard1', 'save', save_profile)
        self.assertRefused('replica1', 'default', 'update', update_authors)

    def test_a_block_of_a_replica_still_reads_it(self):
        harness.execute('replica1', "INSERT INTO testapp_author (name) VALUES ('replicated')")
        with using('replica1'):
            self.assertEqual([a.name for a in Author.objects.all()], ['replicated'])
        self.assertEqual(harness.column('default', 'testapp_author', 'name'), [])

    @patched_only("Django names the database itself for using= and .using(): no router is asked")
    def test_using_a_replica_by_name_raises_for_each_write(self):
        harness.execute('replica1', "INSERT INTO testapp_author (name) VALUES ('r')")
        replicated = Author.objects.using('replica1').get(name='r')
        harness.execute('replica1', "DELETE FROM testapp_author")
        self.assertRefused('replica1', 'default', 'create',
                           Author.objects.using('replica1').create, name='a')
        self.assertRefused('replica1', 'default', 'save', Author(name='b').save,
                           using='replica1')
        self.assertRefused('shard1_replica', 'shard1', 'create',
                           Profile.objects.using('shard1_replica').create, user_id=1, nick='p')
        self.assertRefused('replica1', 'default', 'delete',
                           Author.objects.using('replica1').all().delete)
        self.assertRefused('replica1', 'default', 'delete', replicated.delete, using='replica1')
