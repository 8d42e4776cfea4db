"""Bad input gets an error that names the thing, the bad value and what is
accepted; nothing is written and no context is left pushed."""
from __future__ import absolute_import
import unittest

from django.core.exceptions import ImproperlyConfigured
from base import raw_connection, NATIVE, patched_only, rollback_unless_managed
connection = raw_connection()

import harness
from base import DatabaseTest
from djpatch_multidb import (ConnectionDoesNotExist, ShardNotSelected, connections, readonly,
                             using, using_shard)
from djpatch_multidb.base.config import Config
from testapp.models import Author, Entry, Note, Profile, Tag


def error_text(func, *args, **kwargs):
    try:
        func(*args, **kwargs)
    except Exception as error:
        return type(error), str(error)
    raise AssertionError('%r did not raise' % (func,))


class Aliases(DatabaseTest):

    def test_an_unknown_alias_is_refused_where_it_is_named_with_the_aliases_listed(self):
        calls = [lambda: using('nope'), lambda: connections['nope']]
        if not NATIVE:   # Django 1.2+ checks .using() aliases itself, with its own message
            calls += [lambda: Author.objects.using('nope'), lambda: Author.objects.all().using('nope'),
                      lambda: Author(name='x').save(using='nope')]
        for call in calls:
            kind, text = error_text(call)
            self.assertEqual(kind, ConnectionDoesNotExist)
            self.assertTrue("'nope'" in text and "'default'" in text and "'shard3'" in text, text)
        self.assertEqual(harness.where_is('testapp_author', 'name', 'x'), [])

    def test_an_alias_of_the_wrong_type_is_refused(self):
        for bad in (3, None, ['default']):
            kind, text = error_text(using, bad)
            self.assertEqual(kind, ConnectionDoesNotExist)
            self.assertTrue(repr(bad) in text and 'string' in text, text)


class ShardNumbers(DatabaseTest):

    def test_bad_shard_numbers_are_refused_naming_the_group_and_the_range(self):
        for bad in (-1, 4, 99, '1', 1.0, None, True):
            kind, text = error_text(using_shard, bad)
            self.assertEqual(kind, ImproperlyConfigured, (bad, text))
            self.assertTrue(repr(bad) in text and "'users'" in text and '0 to 3' in text, text)
            kind, text = error_text(Profile.objects.shard, bad)
            self.assertEqual(kind, ImproperlyConfigured, (bad, text))

    def test_an_unknown_shard_group_is_refused_with_the_groups_listed(self):
        kind, text = error_text(using_shard, 1, group='people')
        self.assertEqual(kind, ImproperlyConfigured)
        self.assertTrue("'people'" in text and "'users'" in text, text)

    def test_shard_on_a_model_that_is_not_sharded_is_refused(self):
        kind, text = error_text(Entry.objects.shard, 1)
        self.assertEqual(kind, ImproperlyConfigured)
        self.assertTrue('testapp.Entry' in text and "'blogdb'" in text, text)

    def test_a_sharded_model_used_with_no_shard_selected_writes_nothing(self):
        kind, text = error_text(Note.objects.create, profile_id=1, text='lost')
        self.assertEqual(kind, ShardNotSelected)
        self.assertTrue('testapp.Note' in text and "'users'" in text, text)
        self.assertRaises(ShardNotSelected, Profile(user_id=None, nick='lost').save)
        self.assertRaises(ShardNotSelected, Profile.objects.count)
        self.assertEqual(harness.where_is('testapp_profile', 'nick', 'lost'), [])
        self.assertEqual(harness.where_is('testapp_note', 'text', 'lost'), [])


class Passwords(DatabaseTest):

    def test_a_failed_connection_names_alias_and_host_but_never_the_password(self):
        entry = harness.DATABASES['unreachable']
        with using('unreachable'):
            kind, text = error_text(lambda: connection.cursor())
        if not NATIVE:   # Django 1.2+ raises the driver's own error, which names neither
            self.assertTrue("'unreachable'" in text, text)
            self.assertTrue('127.0.0.1:%s' % entry['PORT'] in text, text)
        self.assertFalse(harness.PASSWORD in text, text)

    def test_reprs_of_settings_and_connections_never_show_the_password(self):
        from djpatch_multidb.base import config
        wrapper = connections['unreachable']
        shown = [repr(config.current().databases['unreachable']), repr(wrapper.__dict__),
                 repr(getattr(wrapper, 'settings_dict', None)),
                 repr(getattr(wrapper, 'djpatch_settings', None)), repr(connection)]
        for text in shown:
            self.assertFalse(harness.PASSWORD in text, text)


class PasswordsEverywhere(DatabaseTest):
    """A recognisable password, configured on 'unreachable' (and on every
    MariaDB alias in the mysql run), shows up in no message, log line or repr."""

    def test_no_message_log_line_or_repr_contains_the_password(self):
        import logging
        try:
            from StringIO import StringIO
        except ImportError:   # Python 3
            from io import StringIO
        from djpatch_multidb import ReadOnlyError
        from djpatch_multidb.management import status
        from djpatch_multidb.base import config
        from djpatch_multidb.routing import replicas
        seen = []
        log = StringIO()
        handler = logging.StreamHandler(log)
        logging.getLogger('djpatch_multidb').addHandler(handler)
        try:
            with using('unreachable'):
                seen.append(error_text(lambda: connection.cursor())[1])
            replicas.mark_down('unreachable', Exception('test'))
            replicas.reset()
            seen.append(error_text(using, 'nope')[1])
            with readonly():
                seen.append(error_text(Author.objects.create, name='x')[1])
            out = StringIO()
            status.report(counts=False, out=out)
            seen.append(out.getvalue())
        finally:
            logging.getLogger('djpatch_multidb').removeHandler(handler)
        seen.append(log.getvalue())
        cfg = config.current()
        for alias in cfg.aliases:
            seen.append(repr(cfg.databases[alias]))
            seen.append(repr(connections[alias].__dict__))
            seen.append(repr(getattr(connections[alias], 'settings_dict', None)))
        self.assertTrue('unreachable' in log.getvalue(), log.getvalue())
        for text in seen:
            self.assertFalse(harness.PASSWORD in text, text)


class FakeSettings(object):
    def __init__(self, **values):
        self.__dict__.update(values)


SQLITE = {'ENGINE': 'sqlite3', 'NAME': '/tmp/x.db'}


class Configuration(unittest.TestCase):

    def assertConfigError(self, expected_parts, **settings):
        kind, text = error_text(Config, FakeSettings(**settings))
        self.assertEqual(kind, ImproperlyConfigured, text)
        for part in expected_parts:
            self.assertTrue(part in text, '%r not in %r' % (part, text))

    def test_an_alias_without_engine_or_name_is_named_with_the_missing_key(self):
        self.assertConfigError(["'logs'", "'ENGINE'"],
                               DATABASES={'default': SQLITE, 'logs': {'NAME': 'x'}})
        self.assertConfigError(["'logs'", "'NAME'"],
                               DATABASES={'default': SQLITE, 'logs': {'ENGINE': 'mysql'}})

    def test_a_group_given_as_a_list_keys_by_mod(self):
        cfg = Config(FakeSettings(DATABASES={'default': SQLITE},
                                  MULTIDB_SHARDS={'users': ['default']}))
        self.assertEqual(cfg.shard_keys, {'users': 'mod'})

    def test_databases_without_default_is_refused(self):
        self.assertConfigError(["'default'", "'logs'"], DATABASES={'logs': SQLITE})

    @patched_only('Django 1.2+ has keys of its own in DATABASES entries and checks them')
    def test_an_unknown_key_is_refused_with_the_accepted_keys(self):
        self.assertConfigError(["'HOSTNAME'", 'HOST', 'PORT'],
                               DATABASES={'default': dict(SQLITE, HOSTNAME='x')})

    def test_a_shard_group_naming_an_unknown_alias_is_refused(self):
        self.assertConfigError(["'users'", "'shard9'"], DATABASES={'default': SQLITE},
                               MULTIDB_SHARDS={'users': ['default', 'shard9']})

    def test_models_placed_on_an_unknown_alias_or_group_are_refused(self):
        self.assertConfigError(["'blog.Entry'", "'blogdb'"], DATABASES={'default': SQLITE},
                               MULTIDB_MODELS={'blog.Entry': 'blogdb'})
        self.assertConfigError(["'blog.Entry'", "'people'"], DATABASES={'default': SQLITE},
                               MULTIDB_MODELS={'blog.Entry': 'shards:people'})

    def test_a_replica_naming_itself_or_a_chain_is_refused(self):
        self.assertConfigError(["'default'", 'own replica'], DATABASES={'default': SQLITE},
                               MULTIDB_REPLICAS={'default': ['default']})
        self.assertConfigError(["'r1'", 'cycles'],
                               DATABASES={'default': SQLITE, 'r1': SQLITE},
                               MULTIDB_REPLICAS={'default': ['r1'], 'r1': ['default']})

    def test_legacy_settings_make_the_default_alias(self):
        config = Config(FakeSettings(DATABASE_ENGINE='sqlite3', DATABASE_NAME='/tmp/legacy.db'))
        self.assertEqual(config.aliases, ('default',))
        self.assertEqual(config.databases['default'].name, '/tmp/legacy.db')

    def test_databases_overrides_the_legacy_settings(self):
        config = Config(FakeSettings(DATABASE_ENGINE='mysql', DATABASE_NAME='legacy',
                                     DATABASES={'default': SQLITE}))
        self.assertEqual(config.databases['default'].vendor, 'sqlite3')


class SeveralShardGroups(DatabaseTest):
    """With a second group, raw SQL in using_shard(n) must be told which group."""

    def setUp(self):
        from django.conf import settings
        from djpatch_multidb.base import config
        DatabaseTest.setUp(self)
        settings.MULTIDB_SHARDS = dict(harness.MULTIDB_SHARDS, archive=['shard2', 'shard3'])
        config.reload()

    def tearDown(self):
        from django.conf import settings
        from djpatch_multidb.base import config
        settings.MULTIDB_SHARDS = harness.MULTIDB_SHARDS
        config.reload()
        DatabaseTest.tearDown(self)

    def test_raw_sql_in_using_shard_without_a_group_is_refused_naming_the_groups(self):
        with using_shard(1):
            kind, text = error_text(lambda: connection.cursor())
            Profile.objects.create(user_id=1, nick='model still routed')
        self.assertEqual(kind, ImproperlyConfigured)
        self.assertTrue("'archive'" in text and "'users'" in text and 'group=' in text, text)
        self.assertOnlyOn('testapp_profile', 'user_id', 1, 'shard1')

    def test_raw_sql_in_using_shard_with_a_group_goes_to_that_groups_shard(self):
        harness.execute('shard3', "INSERT INTO testapp_author (name) VALUES ('archived')")
        with using_shard(1, group='archive'):
            cursor = connection.cursor()
            cursor.execute('SELECT name FROM testapp_author')
            self.assertEqual([tuple(r) for r in cursor.fetchall()], [('archived',)])


class DriverErrors(DatabaseTest):

    def test_django_db_integrity_error_catches_every_backends_error(self):
        from django.db import DatabaseError, IntegrityError, transaction
        Tag.objects.create(label='unique')
        try:
            Tag.objects.create(label='unique')
        except IntegrityError as error:
            self.assertTrue(isinstance(error, DatabaseError))
        else:
            self.fail('a duplicate was accepted')
        rollback_unless_managed('blogdb')
        with using('eventdb'):
            self.assertRaises(DatabaseError, lambda: connection.cursor().execute('SELECT nonsense FROM nowhere'))
        self.assertEqual(harness.column('blogdb', 'testapp_tag', 'label'), ['unique'])
