"""Django 1.2 and later: install() patches nothing in the ORM and routes through
MultiDBRouter, first in DATABASE_ROUTERS; the same application calls land
where they land on Django 1.0/1.1 (the rest of the suite proves that by
reading each database directly).  Skipped on Django 1.0/1.1."""
from __future__ import absolute_import

import unittest

import harness
from base import NATIVE, DatabaseTest
from djpatch_multidb import ReadOnlyError, ShardNotSelected, atomic, readonly, using, using_shard
from testapp.models import Author, Entry, Note, Profile

native_only = unittest.skipIf(not NATIVE, 'Django 1.0/1.1 are patched, not routed')


@native_only
class RouterIsInstalled(DatabaseTest):

    def test_the_router_is_first_in_database_routers_and_in_djangos_router(self):
        from django.conf import settings
        from django.db import router
        from djpatch_multidb.native.router import MultiDBRouter
        self.assertEqual(settings.DATABASE_ROUTERS[0], 'djpatch_multidb.router.MultiDBRouter')
        self.assertTrue(isinstance(router.routers[0], MultiDBRouter))

    def test_nothing_in_the_orm_is_patched(self):
        import djpatch_multidb
        from djpatch_multidb import installation
        from djpatch_multidb.base.patcher import Connect
        names = [record.name for record in installation.applied_patches()
                 if not isinstance(record, Connect)]    # signal receivers change nothing
        self.assertTrue(djpatch_multidb.is_installed())
        self.assertFalse([n for n in names if n.startswith('django.db.models')], names)

    def test_engine_short_names_became_dotted_paths(self):
        from django.conf import settings
        for alias, entry in settings.DATABASES.items():
            self.assertTrue(entry['ENGINE'].startswith('django.db.backends.'), (alias, entry))

    def test_no_repr_of_a_database_entry_shows_the_password(self):
        from django.conf import settings
        from django.db import connections
        self.assertFalse(harness.PASSWORD in repr(settings.DATABASES), 'DATABASES repr')
        self.assertFalse(harness.PASSWORD in repr(connections['unreachable'].settings_dict))


class FakeSettings(object):
    def __init__(self, **values):
        self.__dict__.update(values)


@native_only
class SettingsAreSettledForThisDjango(unittest.TestCase):

    def settle(self, **entries):
        from djpatch_multidb.native import settle
        return settle.databases_from(FakeSettings(DATABASES=entries,
                                                  MULTIDB_REPLICAS={'default': ['r']}))

    def test_test_mirror_is_understood_in_both_spellings(self):
        from djpatch_multidb.base import versions
        style = versions.feature('test_settings')
        for spelling in ({'TEST_MIRROR': 'default'}, {'TEST': {'MIRROR': 'default'}}):
            entry = dict({'ENGINE': 'sqlite3', 'NAME': 'r.db'}, **spelling)
            settled = self.settle(default={'ENGINE': 'sqlite3', 'NAME': 'd.db'}, r=entry)['r']
            if style != 'flat':    # Django 1.7 and later read TEST['MIRROR']
                self.assertEqual(settled['TEST']['MIRROR'], 'default', (spelling, settled))
            if style != 'dict':    # Django 1.2 to 1.8 read TEST_MIRROR
                self.assertEqual(settled['TEST_MIRROR'], 'default', (spelling, settled))

    def test_legacy_database_settings_become_databases(self):
        from djpatch_multidb.native import settle
        settled = settle.databases_from(FakeSettings(
            DATABASES={}, DATABASE_ENGINE='mysql', DATABASE_NAME='legacy',
            DATABASE_USER='u', DATABASE_PASSWORD=harness.PASSWORD, DATABASE_HOST='db1'))
        self.assertEqual(settled['default']['ENGINE'], 'django.db.backends.mysql')
        self.assertEqual((settled['default']['NAME'], settled['default']['HOST']), ('legacy', 'db1'))
        self.assertFalse(harness.PASSWORD in repr(settled))

    def test_a_bad_engine_is_refused_naming_the_alias_and_the_accepted_names(self):
        from django.core.exceptions import ImproperlyConfigured
        try:
            self.settle(default={'ENGINE': 7, 'NAME': 'x'})
        except ImproperlyConfigured as error:
            self.assertTrue("'default'" in str(error) and "'mysql'" in str(error), str(error))
        else:
            self.fail('ENGINE 7 was accepted')


@native_only
class RouterAnswers(DatabaseTest):

    def setUp(self):
        DatabaseTest.setUp(self)
        from djpatch_multidb.native.router import MultiDBRouter
        self.router = MultiDBRouter()

    def test_db_for_read_and_write_follow_placement_and_contexts(self):
        self.assertEqual(self.router.db_for_read(Entry), 'blogdb')
        self.assertEqual(self.router.db_for_write(Author), 'default')
        with using_shard(2):
            self.assertEqual(self.router.db_for_write(Profile), 'shard2')
            self.assertEqual(self.router.db_for_read(Author), 'default')
        with using('blogdb'):
            self.assertEqual(self.router.db_for_read(Author), 'blogdb')

    def test_a_sharded_model_without_a_shard_is_refused_naming_the_group(self):
        try:
            self.router.db_for_read(Profile)
        except ShardNotSelected as error:
            self.assertTrue("'users'" in str(error), str(error))
        else:
            self.fail('a read of a sharded model chose a database')

    def test_a_new_object_goes_to_its_keys_shard(self):
        self.assertEqual(self.router.db_for_write(Profile, instance=Profile(user_id=7)), 'shard3')

    def test_readonly_reads_a_replica_and_refuses_writes(self):
        with readonly():
            self.assertEqual(self.router.db_for_read(Author), 'replica1')
            self.assertRaises(ReadOnlyError, self.router.db_for_write, Author)

    def test_allow_relation_refuses_objects_of_two_shards_and_allows_placed_apart(self):
        one = Profile.objects.shard(1).create(user_id=1, nick='one')
        two = Profile.objects.shard(2).create(user_id=2, nick='two')
        author = Author.objects.create(name='a')
        self.assertEqual(self.router.allow_relation(one, two), False)
        self.assertEqual(self.router.allow_relation(one, Profile.objects.shard(1).get(pk=one.pk)), True)
        self.assertEqual(self.router.allow_relation(author, one), True)

    def test_allow_migrate_in_both_signatures_and_allow_syncdb_agree(self):
        for alias, model, expected in (('blogdb', Entry, True), ('default', Entry, False),
                                       ('shard3', Note, True), ('default', Note, False),
                                       ('default', Author, True), ('shard0', Author, False),
                                       ('replica1', Author, True), ('shard1_replica', Note, True)):
            self.assertEqual(self.router.allow_migrate(alias, model), expected, (alias, model))
            self.assertEqual(self.router.allow_migrate(alias, 'testapp', model._meta.object_name.lower(),
                                                       model=model), expected, (alias, model))
            self.assertEqual(self.router.allow_syncdb(alias, model), expected, (alias, model))
        self.assertEqual(self.router.allow_migrate('default', 'testapp'), None)


@native_only
class SameCallsLandInTheSamePlaces(DatabaseTest):

    def test_shard_n_and_readonly_querysets_are_using(self):
        Profile.objects.shard(3).create(user_id=3, nick='three')
        self.assertOnlyOn('testapp_profile', 'nick', 'three', 'shard3')
        self.assertEqual(Profile.objects.shard(3).db, 'shard3')
        harness.execute('shard1_replica',
                        "INSERT INTO testapp_profile (user_id, nick) VALUES (1, 'on the replica')")
        on_replica = Profile.objects.shard(1).readonly()
        self.assertEqual(on_replica.db, 'shard1_replica')
        self.assertEqual([p.nick for p in on_replica], ['on the replica'])
        self.assertRaises(ReadOnlyError, on_replica.update, nick='x')
        self.assertRaises(ReadOnlyError, on_replica.create, user_id=1, nick='x')
        self.assertEqual(harness.where_is('testapp_profile', 'nick', 'x'), [])

    def test_a_related_object_is_followed_on_its_own_shard(self):
        profile = Profile.objects.create(user_id=6, nick='six')
        Note.objects.create(profile=profile, text='hi')
        self.assertOnlyOn('testapp_note', 'text', 'hi', 'shard2')
        note = Note.objects.shard(2).get(text='hi')
        self.assertEqual(note.profile.nick, 'six')
        self.assertEqual([n.text for n in profile.note_set.all()], ['hi'])


    def test_a_reverse_relation_into_a_shard_group_is_refused_and_all_shards_finds_it(self):
        from testapp.models import Account
        author = Author.objects.create(name='owner')
        account = Account.objects.create(name='acct', author=author)
        self.assertOnlyOn('testapp_account', 'name', 'acct', 'shard%d' % (account.id % 4))
        self.assertRaises(ShardNotSelected, lambda: list(author.account_set.all()))
        self.assertEqual([a.name for a in Account.objects.all_shards().filter(author=author)],
                         ['acct'])


@native_only
class ReadOnlyCoversNamedDatabases(DatabaseTest):
    """Django asks no router when a queryset or a save names its database."""

    def test_inside_readonly_a_named_shard_is_read_from_its_replica(self):
        harness.execute('shard1_replica',
                        "INSERT INTO testapp_profile (user_id, nick) VALUES (1, 'replica row')")
        with readonly():
            self.assertEqual([p.nick for p in Profile.objects.shard(1)], ['replica row'])

    def test_inside_readonly_writes_that_name_their_database_are_refused(self):
        Profile.objects.shard(1).create(user_id=1, nick='kept')
        author = Author.objects.create(name='kept')
        with readonly():
            self.assertRaises(ReadOnlyError, Profile.objects.shard(1).update, nick='changed')
            self.assertRaises(ReadOnlyError, Profile.objects.shard(1).create, user_id=5, nick='x')
            self.assertRaises(ReadOnlyError, Author(name='x').save, using='default')
            self.assertRaises(ReadOnlyError, author.delete)
        self.assertRows('shard1', 'testapp_profile', [('kept',)], 'nick')
        self.assertRows('default', 'testapp_author', [('kept',)], 'name')

    def test_the_save_guard_listens_only_while_a_readonly_block_is_open(self):
        from django.db.models import signals
        from djpatch_multidb.native.writeguard import refuse_in_readonly

        def listening(signal):
            return bool([entry for entry in signal.receivers if refuse_in_readonly in entry])
        self.assertFalse(listening(signals.pre_delete))   # Django's fast deletes stay
        with readonly():
            self.assertTrue(listening(signals.pre_save) and listening(signals.pre_delete))
        self.assertFalse(listening(signals.pre_save))

        @readonly()
        def save_named():
            Author(name='decorated').save(using='default')
        self.assertRaises(ReadOnlyError, save_named)
        self.assertEqual(harness.where_is('testapp_author', 'name', 'decorated'), [])
        self.assertFalse(listening(signals.pre_save))

    def test_values_of_a_readonly_queryset_refuse_writes_too(self):
        Profile.objects.shard(1).create(user_id=1, nick='kept')
        on_replica = Profile.objects.shard(1).readonly()
        self.assertRaises(ReadOnlyError, on_replica.values('nick').update, nick='x')
        self.assertRaises(ReadOnlyError, on_replica.values_list('nick').delete)
        self.assertRows('shard1', 'testapp_profile', [('kept',)], 'nick')

    def test_an_unknown_alias_in_using_is_refused_naming_the_aliases(self):
        from djpatch_multidb import ConnectionDoesNotExist
        try:
            Profile.objects.using('nope')
        except ConnectionDoesNotExist as error:
            self.assertTrue("'nope'" in str(error) and "'shard3'" in str(error), str(error))
        else:
            self.fail('using(nope) was accepted')


@native_only
class ReadsAfterWritesAndInTransactions(DatabaseTest):
    """The router's cache of plain answers never keeps a replica."""

    def setUp(self):
        DatabaseTest.setUp(self)
        from django.conf import settings
        from djpatch_multidb.routing import replicas
        settings.MULTIDB_READ_FROM_REPLICAS = True
        replicas.clear_thread()

    def tearDown(self):
        from django.conf import settings
        from djpatch_multidb.routing import replicas
        settings.MULTIDB_READ_FROM_REPLICAS = False
        replicas.clear_thread()
        DatabaseTest.tearDown(self)

    def test_a_read_after_a_write_and_in_a_transaction_goes_to_the_primary(self):
        from django.db import router
        self.assertEqual(router.db_for_read(Author), 'replica1')
        with atomic():
            self.assertEqual(router.db_for_read(Author), 'default')
        Author.objects.create(name='mine')
        self.assertEqual(router.db_for_read(Author), 'default')     # pinned
        self.assertEqual([a.name for a in Author.objects.all()], ['mine'])


@native_only
class TheProjectsOwnRouters(unittest.TestCase):

    def test_allow_migrate_is_called_the_way_the_router_is_written(self):
        from djpatch_multidb.base import config
        from djpatch_multidb.routing import precedence
        calls = []

        class NewStyle(object):
            def allow_migrate(self, db, app_label, model_name=None, **hints):
                calls.append((db, app_label, model_name, hints.get('model')))
                return None

        class OldStyle(object):
            def allow_migrate(self, db, model):
                calls.append((db, model))
                return None
        cfg = config.current()
        saved = cfg._routers
        cfg._routers = [NewStyle(), OldStyle()]
        try:
            precedence.ask_table_routers(cfg, 'blogdb', Entry)
        finally:
            cfg._routers = saved
        self.assertEqual(calls, [('blogdb', 'testapp', 'entry', Entry), ('blogdb', Entry)])


@native_only
class AtomicMapsOntoDjangosTransactions(DatabaseTest):

    def test_a_block_that_raises_leaves_nothing_on_the_contexts_alias(self):
        try:
            with using_shard(1):
                with atomic():
                    Profile.objects.create(user_id=5, nick='lost')
                    raise ValueError('boom')
        except ValueError:
            pass
        self.assertEqual(harness.where_is('testapp_profile', 'nick', 'lost'), [])

    def test_a_block_commits_on_each_alias_named(self):
        @atomic(using=['default', 'blogdb'])
        def write():
            Author.objects.create(name='kept')
            Entry.objects.create(title='kept too')
        write()
        self.assertOnlyOn('testapp_author', 'name', 'kept', 'default')
        self.assertOnlyOn('testapp_entry', 'title', 'kept too', 'blogdb')

    def test_an_unknown_alias_is_refused_before_anything_starts(self):
        from djpatch_multidb import ConnectionDoesNotExist
        from django.core.exceptions import ImproperlyConfigured
        self.assertRaises(ConnectionDoesNotExist, atomic, using='nope')
        self.assertRaises(ImproperlyConfigured, atomic, using=5)

    def test_atomic_without_parentheses_decorates(self):
        @atomic
        def write():
            Author.objects.create(name='bare')
            raise ValueError('boom')
        self.assertRaises(ValueError, write)
        self.assertEqual(harness.where_is('testapp_author', 'name', 'bare'), [])


class ExportedSettings(DatabaseTest):
    """multidb_export_settings (on every version: it is how a site plans its upgrade)."""

    def export(self):
        from djpatch_multidb.management import export
        return export.settings_text(), export.router_text()

    def test_the_settings_name_every_alias_with_a_dotted_engine_and_no_password(self):
        settings_text, router_text = self.export()
        namespace = {}
        exec(settings_text, namespace)
        self.assertEqual(sorted(namespace['DATABASES']), sorted(harness.DATABASES))
        self.assertEqual(namespace['DATABASE_ROUTERS'], ['multidb_router.PlacementRouter'])
        self.assertEqual(namespace['DATABASES']['replica1']['TEST']['MIRROR'], 'default')
        for entry in namespace['DATABASES'].values():
            self.assertTrue(entry['ENGINE'].startswith('django.db.backends.'), entry)
        self.assertFalse(harness.PASSWORD in settings_text + router_text)

    def test_the_exported_router_places_like_the_library(self):
        settings_text, router_text = self.export()
        namespace = {'__name__': 'multidb_router'}
        exec(router_text, namespace)
        router = namespace['PlacementRouter']()
        self.assertEqual(router.db_for_write(Entry), 'blogdb')
        self.assertEqual(router.db_for_write(Profile, instance=Profile(user_id=6)), 'shard2')
        self.assertEqual(router.db_for_write(Author), None)
        self.assertEqual(router.allow_syncdb('shard2', Note), True)
        self.assertEqual(router.allow_migrate('default', 'testapp', 'note', model=Note), False)
