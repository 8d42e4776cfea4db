"""The hot path on Django 1.0/1.1: one wrapper per alias for the process,
querysets that hold a wrapper, the ORM's statements marked by its
replacements, the one-connection commit, using_shard()'s caches and the side
table of instance databases.  Placement is read back through each database's
own DB-API connection."""
from __future__ import absolute_import
import threading

from nose.plugins.skip import SkipTest

import harness
from base import DatabaseTest, commit_unless_managed, patched_only, raw_connection
from django.db import transaction
from django.core.exceptions import ImproperlyConfigured
from djpatch_multidb import connections, resharding, using, using_shard
from djpatch_multidb.base import config
from testapp.models import Author, Entry, Profile


def mysql_only():
    if harness.BACKEND != 'mysql':
        raise SkipTest('needs the MariaDB servers of the mysql run')


def in_thread(func, *args):
    """Run ``func`` in a thread of its own; its result, or its error raised here."""
    box = {}

    def run():
        try:
            box['result'] = func(*args)
        except BaseException as error:
            box['error'] = error
        finally:
            connections.close_all()
    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if 'error' in box:
        raise box['error']
    return box.get('result')


def managed(func):
    """Run ``func`` inside Django 1.0/1.1's transaction management."""
    transaction.enter_transaction_management()
    transaction.managed(True)
    try:
        return func()
    finally:
        try:
            transaction.rollback()
        finally:
            transaction.leave_transaction_management()


class NoReplicaOfDefault(DatabaseTest):
    """'default' without a replica: Author is read and written by Django's own
    code.  With ``one_engine``, every alias uses the same engine (the suite's
    'unreachable' MySQL alias, and on the mysql run the SQLite 'eventdb', left
    out), as on most sites: the path where a queryset built outside any block
    holds the 'default' wrapper itself."""
    one_engine = True

    def setUp(self):
        from django.conf import settings
        self.saved = (settings.MULTIDB_REPLICAS, settings.DATABASES, settings.MULTIDB_MODELS)
        settings.MULTIDB_REPLICAS = {'shard1': ['shard1_replica']}
        if self.one_engine:
            settings.DATABASES = dict(settings.DATABASES)
            settings.DATABASES.pop('unreachable', None)
            if harness.is_mysql('default'):
                settings.DATABASES.pop('eventdb', None)
                settings.MULTIDB_MODELS = dict(settings.MULTIDB_MODELS)
                settings.MULTIDB_MODELS.pop('testapp.Event', None)
        config.reload()
        self.assertEqual(config.current().single_engine, self.one_engine)
        DatabaseTest.setUp(self)

    def tearDown(self):
        from django.conf import settings
        try:
            DatabaseTest.tearDown(self)
        finally:
            (settings.MULTIDB_REPLICAS, settings.DATABASES, settings.MULTIDB_MODELS) = self.saved
            config.reload()


class TwoEngines(NoReplicaOfDefault):
    one_engine = False


@patched_only('querysets hold wrappers only in the 1.0/1.1 patches')
class QuerysetsBuiltBeforeAReload(NoReplicaOfDefault):
    """A queryset kept across config.reload() (a module-level one, a test
    that changes settings) runs on the configuration in force when it runs."""

    def test_an_update_through_a_queryset_built_before_a_reload_is_committed(self):
        harness.execute('default', "INSERT INTO testapp_author (name) VALUES ('old')")
        kept = Author.objects.filter(name='old')      # built with no block open
        held = kept.query.connection
        config.reload()
        try:
            self.assertEqual(kept.update(name='new'), 1)
            commit_unless_managed()
            self.assertEqual(harness.column('default', 'testapp_author', 'name'), ['new'])
        finally:
            if 'djpatch_alias' in held.__dict__:
                held.close()     # the old wrapper's connection, if the update went there

    def test_an_update_through_a_queryset_built_before_a_reload_in_another_thread_is_committed(self):
        harness.execute('default', "INSERT INTO testapp_author (name) VALUES ('old')")
        kept = Author.objects.filter(name='old')
        config.reload()

        def update():
            count = kept.update(name='new')
            commit_unless_managed()
            return count
        self.assertEqual(in_thread(update), 1)
        self.assertEqual(harness.column('default', 'testapp_author', 'name'), ['new'])


@patched_only('registry cursors and commits are the 1.0/1.1 patches')
class RegistryCursors(NoReplicaOfDefault):
    """connections[alias] is this thread's connection for the alias
    (docs/configuration.txt): raw SQL through its cursor takes part in the
    thread's transactions like any other statement."""

    def test_statements_on_a_registry_cursor_after_a_commit_are_committed(self):
        cursor = connections['shard1'].cursor()
        cursor.execute("INSERT INTO testapp_profile (user_id, nick) VALUES (1, 'first')")
        commit_unless_managed()
        cursor.execute("INSERT INTO testapp_profile (user_id, nick) VALUES (5, 'second')")
        commit_unless_managed()
        self.assertEqual(harness.column('shard1', 'testapp_profile', 'nick'), ['first', 'second'])

    def test_a_registry_cursor_write_is_committed_with_an_orm_write_on_another_alias(self):
        cursor = connections['shard2'].cursor()
        cursor.execute('SELECT COUNT(*) FROM testapp_profile')
        cursor.fetchall()
        commit_unless_managed()

        def work():
            Profile.objects.shard(1).create(user_id=1, nick='orm')
            cursor.execute("INSERT INTO testapp_profile (user_id, nick) VALUES (2, 'raw')")
            transaction.commit()
        managed(work)
        self.assertEqual(harness.column('shard1', 'testapp_profile', 'nick'), ['orm'])
        self.assertEqual(harness.column('shard2', 'testapp_profile', 'nick'), ['raw'])

    def test_statements_on_django_db_connection_cursor_after_a_commit_are_committed(self):
        connection = raw_connection()
        with using_shard(1):
            cursor = connection.cursor()
            cursor.execute("INSERT INTO testapp_profile (user_id, nick) VALUES (1, 'first')")
            commit_unless_managed()
            cursor.execute("INSERT INTO testapp_profile (user_id, nick) VALUES (5, 'second')")
            commit_unless_managed()
        self.assertEqual(harness.column('shard1', 'testapp_profile', 'nick'), ['first', 'second'])

    def test_raw_sql_after_orm_writes_in_a_managed_block_commits_both(self):
        def work():
            Profile.objects.shard(1).create(user_id=1, nick='orm')
            Author.objects.create(name='orm author')
            with using_shard(2):
                raw_connection().cursor().execute(
                    "INSERT INTO testapp_profile (user_id, nick) VALUES (2, 'raw')")
            transaction.commit()
        managed(work)
        self.assertOnlyOn('testapp_profile', 'nick', 'orm', 'shard1')
        self.assertOnlyOn('testapp_profile', 'nick', 'raw', 'shard2')
        self.assertOnlyOn('testapp_author', 'name', 'orm author', 'default')

    def test_a_registry_cursor_write_lost_with_its_connection_is_not_silently_reconnected(self):
        mysql_only()
        server = harness.server_for('shard0')

        def work():
            cursor = connections['shard0'].cursor()
            cursor.execute("INSERT INTO testapp_profile (user_id, nick) VALUES (4, 'raw')")
            cursor.execute('SELECT CONNECTION_ID()')
            server.execute('KILL %d' % cursor.fetchone()[0])
            Profile.objects.shard(0).create(user_id=8, nick='orm')
            transaction.commit()
        try:
            managed(work)
        except Exception as error:
            self.assertTrue("'shard0'" in str(error), str(error))
        else:
            self.fail('the lost raw write went unnoticed: shard0 holds %r'
                      % (harness.column('shard0', 'testapp_profile', 'nick'),))
        self.assertEqual(harness.rows('shard0', 'testapp_profile'), [])


@patched_only('querysets hold wrappers only in the 1.0/1.1 patches')
class QuerysetsAcrossThreads(NoReplicaOfDefault):

    def make_profiles(self):
        for number in range(4):
            harness.execute('shard%d' % number, 'INSERT INTO testapp_profile (user_id, nick) '
                            "VALUES (?, 'p')", (number,))

    def test_a_queryset_built_idle_in_one_thread_follows_using_shard_in_another(self):
        self.make_profiles()
        kept = Profile.objects.filter(nick='p')

        def count_and_update(number):
            with using_shard(number):
                found = (kept.count(), [p.user_id for p in kept],
                         list(kept.values_list('user_id', flat=True)))
                kept.update(nick='seen%d' % number)
            commit_unless_managed()
            return found
        for number in (2, 3):
            self.assertEqual(in_thread(count_and_update, number), (1, [number], [number]))
        for number in range(4):
            expected = number in (2, 3) and ['seen%d' % number] or ['p']
            self.assertEqual(harness.column('shard%d' % number, 'testapp_profile', 'nick'),
                             expected)

    def test_a_queryset_built_in_using_shard_keeps_its_shard_in_another_thread(self):
        self.make_profiles()
        with using_shard(3):
            kept = Profile.objects.filter(nick='p')

        def inside_other_shard():
            with using_shard(1):
                found = (kept.count(), [p.user_id for p in kept])
                kept.update(nick='changed')
            commit_unless_managed()
            return found
        self.assertEqual(in_thread(inside_other_shard), (1, [3]))
        self.assertEqual(harness.column('shard3', 'testapp_profile', 'nick'), ['changed'])
        self.assertEqual(harness.column('shard1', 'testapp_profile', 'nick'), ['p'])


@patched_only("QuerySet.using() on 1.0/1.1 is the patches'")
class ExplicitDefault(NoReplicaOfDefault):
    """.using('default') stays on 'default' through Django's own clones, even
    inside a block that sends the model elsewhere."""

    def test_using_default_survives_djangos_clones_inside_another_block(self):
        harness.execute('default', "INSERT INTO testapp_author (name) VALUES ('home')")
        harness.execute('blogdb', "INSERT INTO testapp_author (name) VALUES ('away')")
        chosen = Author.objects.using('default')
        with using('blogdb'):
            self.assertEqual(chosen.count(), 1)
            self.assertEqual(list(chosen.values_list('name', flat=True)), ['home'])
            self.assertEqual([a.name for a in chosen.filter(name__startswith='h')], ['home'])
            self.assertEqual(chosen.latest('id').name, 'home')
            pk = chosen.get(name='home').pk
            self.assertEqual(chosen.in_bulk([pk])[pk].name, 'home')
            obj, created = chosen.get_or_create(name='made')
            self.assertTrue(created)
            self.assertEqual(chosen.filter(name='home').update(name='home2'), 1)
        commit_unless_managed()
        self.assertOnlyOn('testapp_author', 'name', 'made', 'default')
        self.assertOnlyOn('testapp_author', 'name', 'home2', 'default')
        self.assertEqual(harness.column('blogdb', 'testapp_author', 'name'), ['away'])

    def test_a_queryset_built_inside_using_default_stays_there_when_evaluated_elsewhere(self):
        harness.execute('default', "INSERT INTO testapp_author (name) VALUES ('home')")
        harness.execute('blogdb', "INSERT INTO testapp_author (name) VALUES ('away')")
        with using('default'):
            kept = Author.objects.all()
        with using('blogdb'):
            self.assertEqual([a.name for a in kept], ['home'])
            self.assertEqual(kept.count(), 1)
            self.assertEqual(kept.update(name='home2'), 1)
        commit_unless_managed()
        self.assertEqual(harness.column('blogdb', 'testapp_author', 'name'), ['away'])
        self.assertEqual(harness.column('default', 'testapp_author', 'name'), ['home2'])


@patched_only('the side table and using_shard() caches are the 1.0/1.1 patches')
class CachesAndSideTable(NoReplicaOfDefault):

    def test_using_shard_refuses_a_bool_or_float_after_the_int_was_cached(self):
        with using_shard(1):
            Profile.objects.count()
        for number in (True, 1.0, '1'):
            self.assertRaises(ImproperlyConfigured, using_shard, number)

    def test_objects_loaded_after_many_dropped_ones_save_back_where_they_came_from(self):
        for number in range(4):
            harness.execute('shard%d' % number, 'INSERT INTO testapp_profile (id, user_id, nick) '
                            "VALUES (1, ?, 'p')", (number,))
        for round in range(3000):
            with using_shard(round % 4):
                list(Profile.objects.all())
        loaded = []
        for number in range(4):
            with using_shard(number):
                loaded.append(Profile.objects.get(pk=1))
        for obj in loaded:
            obj.nick = 'saved%d' % obj.user_id
            obj.save()
        commit_unless_managed()
        for number in range(4):
            self.assertEqual(harness.column('shard%d' % number, 'testapp_profile', 'nick'),
                             ['saved%d' % number])


class KeyChecksAndNewThreads(NoReplicaOfDefault):
    """What the hot path works out once (a model's shard key field) or takes
    for granted (a thread's empty block stack from its start)."""

    def test_resharding_writes_a_model_whose_shard_key_names_no_field(self):
        # resharding() turns the key check off before the key field is
        # looked up, so a bad shard_key does not stop a copying tool.
        Profile.shard_key = 'no_such_field'
        try:
            with resharding():
                with using_shard(1):
                    Profile.objects.create(user_id=2, nick='moved')
                    Profile.objects.filter(nick='moved').update(user_id=4)
            commit_unless_managed()
        finally:
            Profile.shard_key = 'user_id'
        self.assertEqual(harness.rows('shard1', 'testapp_profile', 'user_id, nick'),
                         [(4, 'moved')])
        for number in (0, 2, 3):
            self.assertEqual(harness.rows('shard%d' % number, 'testapp_profile'), [])

    def test_a_new_threads_first_write_with_no_block_then_in_a_block_land_where_they_belong(self):
        def work():
            Author.objects.create(name='first use')      # no block: the thread's first
            with using_shard(2):
                Profile.objects.create(user_id=2, nick='in the block')
            commit_unless_managed()
        in_thread(work)
        self.assertEqual(harness.column('default', 'testapp_author', 'name'), ['first use'])
        self.assertEqual(harness.column('shard2', 'testapp_profile', 'nick'), ['in the block'])
        for alias in ('shard0', 'shard1', 'shard3'):
            self.assertEqual(harness.rows(alias, 'testapp_profile'), [])


class KeyChecksAndNewThreadsTwoEngines(TwoEngines, KeyChecksAndNewThreads):
    pass


class QuerysetsBuiltBeforeAReloadTwoEngines(TwoEngines, QuerysetsBuiltBeforeAReload):
    pass


class RegistryCursorsTwoEngines(TwoEngines, RegistryCursors):
    pass


class QuerysetsAcrossThreadsTwoEngines(TwoEngines, QuerysetsAcrossThreads):
    pass


class ExplicitDefaultTwoEngines(TwoEngines, ExplicitDefault):
    pass


class CachesAndSideTableTwoEngines(TwoEngines, CachesAndSideTable):
    pass
