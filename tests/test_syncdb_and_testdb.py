"""syncdb on every alias, test databases, management commands: each in a
project of its own run in a fresh process (manage.py as a site runs it), its
databases SQLite files read afterwards through sqlite3 directly.

The project: contenttypes, auth and sites on 'default'; a 'shop' app placed
on 'other' with a management module (a post_syncdb handler), an
initial_data fixture, custom SQL (sql/item.sql) and an indexed column; a
'replica' of 'default'.
"""
from __future__ import absolute_import
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import unittest

import django

from base import DatabaseTest, patched_only

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PATCHED = 'syncdb.py and testdb.py are the Django 1.0/1.1 table and test database makers'

SETTINGS = '''
import os
import djpatch_multidb
%(install)s
HERE = os.path.dirname(os.path.abspath(__file__))
DATABASES = {
    'default': {'ENGINE': 'sqlite3', 'NAME': os.path.join(HERE, 'default.db'),
                'TEST_NAME': os.path.join(HERE, 'test_default.db')},
    'other': {'ENGINE': 'sqlite3', 'NAME': os.path.join(HERE, 'other.db'),
              'TEST_NAME': os.environ.get('OTHER_TEST_NAME') or os.path.join(HERE, 'test_other.db')},
    'replica': {'ENGINE': 'sqlite3', 'NAME': os.path.join(HERE, 'replica.db'),
                'TEST_MIRROR': 'default'},
}
MULTIDB_MODELS = {'shop': 'other'}
MULTIDB_REPLICAS = {'default': ['replica']}
INSTALLED_APPS = ['django.contrib.contenttypes', 'django.contrib.auth',
                  'django.contrib.sites', 'shop'] + %(extra_apps)r
SITE_ID = 1
SECRET_KEY = 'syncdb-tests'
'''

MODELS = '''
from django.db import models


class Item(models.Model):
    code = models.CharField(max_length=20, db_index=True)


class Log(models.Model):
    text = models.CharField(max_length=100)
'''

MANAGEMENT = '''
import os
from django.db.models import signals


def record(sender, created_models=(), **kwargs):
    from shop import models
    if sender is models and models.Item in created_models:
        if os.environ.get('SHOP_FAIL_IN_POST_SYNCDB'):
            raise RuntimeError('post_syncdb handler failed on purpose')
        models.Log.objects.create(text='post_syncdb saw Item created')


signals.post_syncdb.connect(record)
'''

FIXTURE = '[{"model": "shop.item", "pk": 7, "fields": {"code": "from-fixture"}}]'
CUSTOM_SQL = "INSERT INTO shop_item (id, code) VALUES (8, 'from-custom-sql');\n"

OWN_DATABASE_OPTION = '''
from optparse import make_option
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    option_list = BaseCommand.option_list + (
        make_option('--database', dest='database', default='the-own-default'),
    )

    def handle(self, *args, **options):
        print('own --database option: %s' % options.get('database'))
'''

THIRD_PARTY_SYNCDB = '''
from django.core.management.base import NoArgsCommand
from django.core.management.commands import syncdb


class Command(NoArgsCommand):
    option_list = syncdb.Command.option_list

    def handle_noargs(self, **options):
        print('third-party syncdb ran')
'''

SHOP_TESTS = '''
import os
import sqlite3

from django.conf import settings
from django.test import TestCase
try:
    from django.test import TransactionTestCase
except ImportError:     # Django 1.0: TestCase flushes, as 1.1's TransactionTestCase does
    TransactionTestCase = TestCase

from shop.models import Item


def direct(alias, sql):
    """The test database of ``alias``, read through sqlite3."""
    connection = sqlite3.connect(settings.DATABASES[alias]['TEST_NAME'])
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


class Isolation(object):
    """Each test starts with what syncdb left and leaves nothing behind."""

    def check(self):
        self.assertEqual(Item.objects.filter(code='made-by-a-test').count(), 0)
        self.assertEqual(Item.objects.filter(code='from-fixture').count(), 1)
        Item.objects.create(code='made-by-a-test')
        self.assertEqual(Item.objects.filter(code='made-by-a-test').count(), 1)

    def test_one(self):
        self.check()

    def test_two(self):
        self.check()


class InsideATransaction(Isolation, TestCase):
    pass


class FlushedBetweenTests(Isolation, TransactionTestCase):
    fixtures = ['items.json']

    def test_fixtures_load_where_their_models_live(self):
        self.assertEqual(direct('other', 'SELECT code FROM shop_item WHERE id = 20'),
                         [('from-a-test-fixture',)])
        self.assertEqual(direct('default', "SELECT name FROM sqlite_master WHERE name = 'shop_item'"),
                         [])
'''

DRIVER = '''
import sys
from django.core.management import execute_from_command_line

if sys.argv[1:] == ['create-test-databases']:
    from django.conf import settings
    settings.INSTALLED_APPS     # settings first, as manage.py and the test runner load them
    from django.db import connection
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    print('created')
else:
    execute_from_command_line(sys.argv)
'''


def write(path, text):
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder)
    handle = open(path, 'w')
    try:
        handle.write(text)
    finally:
        handle.close()


class Project(object):
    """A Django project in a temporary folder, run by manage.py in a fresh process."""

    def __init__(self, install=True, extra_apps=()):
        self.folder = tempfile.mkdtemp(prefix='djpatch-syncdb-')
        write(os.path.join(self.folder, 'settings.py'), SETTINGS % {
            'install': install and 'djpatch_multidb.install()' or '',
            'extra_apps': list(extra_apps)})
        write(os.path.join(self.folder, 'manage.py'), DRIVER)
        shop = os.path.join(self.folder, 'shop')
        write(os.path.join(shop, '__init__.py'), '')
        write(os.path.join(shop, 'models.py'), MODELS)
        write(os.path.join(shop, 'management', '__init__.py'), MANAGEMENT)
        write(os.path.join(shop, 'management', 'commands', '__init__.py'), '')
        write(os.path.join(shop, 'management', 'commands', 'owndb.py'), OWN_DATABASE_OPTION)
        write(os.path.join(shop, 'fixtures', 'initial_data.json'), FIXTURE)
        write(os.path.join(shop, 'sql', 'item.sql'), CUSTOM_SQL)
        write(os.path.join(shop, 'fixtures', 'items.json'),
              '[{"model": "shop.item", "pk": 20, "fields": {"code": "from-a-test-fixture"}}]')
        write(os.path.join(shop, 'tests.py'), SHOP_TESTS)
        southlike = os.path.join(self.folder, 'southlike')
        write(os.path.join(southlike, '__init__.py'), '')
        write(os.path.join(southlike, 'models.py'), '')
        write(os.path.join(southlike, 'management', '__init__.py'), '')
        write(os.path.join(southlike, 'management', 'commands', '__init__.py'), '')
        write(os.path.join(southlike, 'management', 'commands', 'syncdb.py'), THIRD_PARTY_SYNCDB)

    def manage(self, *args, **environ):
        env = dict(os.environ)
        env.update(environ)
        env['DJANGO_SETTINGS_MODULE'] = 'settings'
        env['PYTHONPATH'] = os.pathsep.join(
            [self.folder, ROOT] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep) if p])
        process = subprocess.Popen([sys.executable, 'manage.py'] + list(args), cwd=self.folder,
                                   env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = process.communicate()
        return process.returncode, out.decode('utf-8', 'replace'), err.decode('utf-8', 'replace')

    def path(self, name):
        return os.path.join(self.folder, name)

    def rows(self, database, sql):
        """``sql`` on the SQLite file ``database``, read directly."""
        if not os.path.exists(self.path(database)):
            return None
        connection = sqlite3.connect(self.path(database))
        try:
            return connection.execute(sql).fetchall()
        finally:
            connection.close()

    def tables(self, database):
        return sorted([name for (name,) in self.rows(
            database, "SELECT name FROM sqlite_master WHERE type = 'table'") or []])

    def indexes_on(self, database, table):
        return self.rows(database, "SELECT name FROM sqlite_master WHERE type = 'index' "
                                   "AND tbl_name = '%s' AND sql IS NOT NULL" % table) or []

    def remove(self):
        shutil.rmtree(self.folder, ignore_errors=True)


@patched_only(PATCHED)
class SyncdbOnEveryAlias(unittest.TestCase):

    def setUp(self):
        self.project = Project()
        self.addCleanup(self.project.remove)

    def assertSynced(self, code, out, err):
        self.assertEqual(code, 0, out + err)
        project = self.project
        # default: the contrib apps, with the example.com Site, content types
        # and permissions their post_syncdb handlers make; no shop table.
        self.assertEqual(project.rows('default.db', 'SELECT domain FROM django_site'),
                         [('example.com',)])
        self.assertTrue(('shop', 'item') in project.rows(
            'default.db', 'SELECT app_label, model FROM django_content_type'))
        self.assertTrue(('add_item',) in project.rows(
            'default.db', 'SELECT codename FROM auth_permission'))
        self.assertFalse([t for t in project.tables('default.db') if t.startswith('shop_')])
        # other: the shop's tables only, filled by its initial_data fixture and
        # custom SQL, its indexed column indexed, its handler's row written.
        self.assertEqual(project.tables('other.db'), ['shop_item', 'shop_log'])
        self.assertEqual(project.rows('other.db', 'SELECT id, code FROM shop_item ORDER BY id'),
                         [(7, 'from-fixture'), (8, 'from-custom-sql')])
        self.assertEqual(project.rows('other.db', 'SELECT text FROM shop_log'),
                         [('post_syncdb saw Item created',)])
        self.assertEqual(len(project.indexes_on('other.db', 'shop_item')), 1)

    def test_syncdb_all_databases_does_everything_djangos_syncdb_does_on_each_alias(self):
        self.assertSynced(*self.project.manage('syncdb', '--all-databases', '--noinput'))
        self.assertEqual(self.project.tables('replica.db'), [])

    def test_syncdb_database_alias_by_alias_does_everything_djangos_syncdb_does(self):
        code, out, err = self.project.manage('syncdb', '--database=default', '--noinput')
        self.assertEqual(code, 0, out + err)
        self.assertSynced(*self.project.manage('syncdb', '--database=other', '--noinput'))

    def test_syncdb_database_of_a_replica_says_whose_replica_it_is_and_how_to_fill_it(self):
        code, out, err = self.project.manage('syncdb', '--database=replica', '--noinput')
        self.assertEqual(code, 1, out + err)
        self.assertTrue("'replica' is a replica of 'default'" in err, err)
        self.assertTrue('syncdb --database=default' in err, err)
        self.assertTrue("TEST_MIRROR = 'default'" in err, err)
        self.assertEqual(self.project.tables('replica.db'), [])


@patched_only(PATCHED)
class TestDatabases(unittest.TestCase):

    def setUp(self):
        self.project = Project()
        self.addCleanup(self.project.remove)

    def test_test_databases_get_everything_syncdb_gives_each_alias(self):
        code, out, err = self.project.manage('create-test-databases')
        self.assertEqual(code, 0, out + err)
        project = self.project
        self.assertEqual(project.rows('test_default.db', 'SELECT domain FROM django_site'),
                         [('example.com',)])
        self.assertTrue(('shop', 'item') in project.rows(
            'test_default.db', 'SELECT app_label, model FROM django_content_type'))
        self.assertEqual(project.rows('test_other.db', 'SELECT id, code FROM shop_item ORDER BY id'),
                         [(7, 'from-fixture'), (8, 'from-custom-sql')])
        self.assertEqual(project.rows('test_other.db', 'SELECT text FROM shop_log'),
                         [('post_syncdb saw Item created',)])
        self.assertEqual(len(project.indexes_on('test_other.db', 'shop_item')), 1)
        self.assertFalse(os.path.exists(project.path('default.db')))
        self.assertFalse(os.path.exists(project.path('other.db')))

    def test_between_tests_every_alias_is_rolled_back_or_flushed_as_default_is(self):
        code, out, err = self.project.manage('test', 'shop', '--noinput')
        self.assertEqual(code, 0, out + err)
        self.assertTrue('Ran 5 tests' in err and '\nOK' in err, err)
        self.assertFalse(os.path.exists(self.project.path('test_default.db')))
        self.assertFalse(os.path.exists(self.project.path('test_other.db')))

    def test_a_test_database_that_cannot_be_made_leaves_none_of_the_others_behind(self):
        unreachable = self.project.path(os.path.join('no-such-folder', 'test_other.db'))
        code, out, err = self.project.manage('create-test-databases', OTHER_TEST_NAME=unreachable)
        self.assertNotEqual(code, 0, out + err)
        self.assertTrue('unable to open database file' in err, err)
        self.assertFalse(os.path.exists(self.project.path('test_default.db')))

    def test_a_failure_while_setting_up_test_databases_leaves_none_behind(self):
        code, out, err = self.project.manage('create-test-databases',
                                             SHOP_FAIL_IN_POST_SYNCDB='1')
        self.assertNotEqual(code, 0, out + err)
        self.assertTrue('post_syncdb handler failed on purpose' in err, err)
        self.assertFalse(os.path.exists(self.project.path('test_default.db')))
        self.assertFalse(os.path.exists(self.project.path('test_other.db')))


@patched_only(PATCHED)
class ManagementCommands(unittest.TestCase):

    def test_a_command_with_its_own_database_option_keeps_it(self):
        project = Project()
        self.addCleanup(project.remove)
        code, out, err = project.manage('owndb', '--database=other')
        self.assertEqual(code, 0, out + err)
        self.assertEqual(out.strip(), 'own --database option: other')
        code, out, err = project.manage('owndb')
        self.assertEqual(out.strip(), 'own --database option: the-own-default', out + err)

    def test_dumpdata_database_dumps_the_named_apps_models_that_live_on_that_alias(self):
        import json
        project = Project()
        self.addCleanup(project.remove)
        code, out, err = project.manage('syncdb', '--all-databases', '--noinput')
        self.assertEqual(code, 0, out + err)
        code, out, err = project.manage('dumpdata', 'shop', 'sites', '--database=other')
        self.assertEqual(code, 0, out + err)
        self.assertEqual(sorted([(o['model'], o['pk']) for o in json.loads(out)]),
                         [('shop.item', 7), ('shop.item', 8), ('shop.log', 1)])
        code, out, err = project.manage('dumpdata', '--database=default')
        self.assertEqual(code, 0, out + err)
        dumped = json.loads(out)
        self.assertTrue(('sites.site', 1) in [(o['model'], o['pk']) for o in dumped], out)
        self.assertEqual([o for o in dumped if o['model'].startswith('shop.')], [])

    def test_dbshell_database_opens_that_alias(self):
        project = Project()
        self.addCleanup(project.remove)
        bin_folder = project.path('bin')
        write(os.path.join(bin_folder, 'sqlite3'), '#!/bin/sh\necho "sqlite3 opened $1"\n')
        os.chmod(os.path.join(bin_folder, 'sqlite3'), 0o755)
        path = bin_folder + os.pathsep + os.environ.get('PATH', '')
        code, out, err = project.manage('dbshell', '--database=other', PATH=path)
        self.assertEqual((code, out.strip()), (0, 'sqlite3 opened ' + project.path('other.db')),
                         err)
        code, out, err = project.manage('dbshell', PATH=path)
        self.assertEqual((code, out.strip()), (0, 'sqlite3 opened ' + project.path('default.db')),
                         err)

    def test_a_third_party_syncdb_is_never_replaced_by_the_librarys(self):
        project = Project(extra_apps=['southlike'])
        self.addCleanup(project.remove)
        code, out, err = project.manage('syncdb', '--database=other', '--noinput')
        self.assertEqual(code, 0, out + err)
        self.assertEqual(out.strip(), 'third-party syncdb ran')
        self.assertEqual(project.tables('other.db'), [])


MYSQL_SETTINGS = '''
import djpatch_multidb
djpatch_multidb.install()
SERVER = %(server)r
DATABASES = {
    'default': dict(SERVER, NAME='djp_h6_default', TEST_NAME='djp_h6_test_default',
                    TEST_CHARSET='latin1', TEST_COLLATION='latin1_german1_ci'),
    'other': dict(SERVER, NAME='djp_h6_other', TEST_NAME='djp_h6_test_other',
                  TEST={'CHARSET': 'utf8', 'COLLATION': 'utf8_bin'}),
}
MULTIDB_MODELS = {'shop': 'other'}
INSTALLED_APPS = ['django.contrib.contenttypes', 'django.contrib.sites', 'shop']
SECRET_KEY = 'syncdb-tests'
'''

FLUSH_AND_LOOK = '''
import sys
from django.conf import settings
settings.INSTALLED_APPS
from django.core.management import call_command
from django.db import connection
connection.creation.create_test_db(verbosity=0, autoclobber=True)
from shop.models import Item
from django.contrib.sites.models import Site
Site.objects.create(domain='kept.example', name='kept')
Item.objects.create(code='flushed')
call_command('flush', database='other', verbosity=0, interactive=False)
print('created')
'''


SHARDED_SETTINGS = '''
import djpatch_multidb
djpatch_multidb.install()
DATABASES = {
    'default': {'ENGINE': 'sqlite3', 'NAME': 'default.db'},
    'shard0': {'ENGINE': 'sqlite3', 'NAME': 'shard0.db'},
    'shard1': {'ENGINE': 'sqlite3', 'NAME': 'shard1.db'},
}
MULTIDB_SHARDS = {'users': {'SHARDS': ['shard0', 'shard1']}}
MULTIDB_MODELS = {'notes': 'shards:users'}
INSTALLED_APPS = ['notes']
SECRET_KEY = 'syncdb-tests'
'''

NOTES_MODELS = '''
from django.db import models
import djpatch_multidb


class Note(models.Model):
    text = models.CharField(max_length=20)
    objects = djpatch_multidb.MultiDBManager()
'''

NOTES_TESTS = '''
from django.test import TestCase
try:
    from django.test import TransactionTestCase
except ImportError:     # Django 1.0
    TransactionTestCase = TestCase
from djpatch_multidb import using_shard
from notes.models import Note


class AcrossShards(TransactionTestCase):

    def test_all_shards_reads_every_shards_test_database(self):
        with using_shard(0):
            Note.objects.create(text='on shard 0')
        with using_shard(1):
            Note.objects.create(text='on shard 1')
        self.assertEqual(sorted([n.text for n in Note.objects.all_shards()]),
                         ['on shard 0', 'on shard 1'])
        self.assertEqual(Note.objects.all_shards().count(), 2)
'''


@patched_only(PATCHED)
class ShardedTestDatabases(unittest.TestCase):

    def test_all_shards_works_on_sqlite_test_databases_made_without_test_name(self):
        project = Project()
        self.addCleanup(project.remove)
        write(project.path('settings.py'), SHARDED_SETTINGS)
        write(project.path(os.path.join('notes', '__init__.py')), '')
        write(project.path(os.path.join('notes', 'models.py')), NOTES_MODELS)
        write(project.path(os.path.join('notes', 'tests.py')), NOTES_TESTS)
        code, out, err = project.manage('test', 'notes', '--noinput')
        self.assertEqual(code, 0, out + err)
        self.assertTrue('Ran 1 test' in err and '\nOK' in err, err)


@patched_only(PATCHED)
class MySQLTestDatabases(unittest.TestCase):

    def setUp(self):
        import harness
        if not harness.is_mysql('default'):
            raise unittest.SkipTest('MariaDB only (DJPATCH_TEST_BACKEND=mysql)')
        self.harness = harness
        entry = harness.DATABASES['default']
        server = dict([(key, entry[key]) for key in ('ENGINE', 'HOST', 'PORT', 'USER', 'PASSWORD')])
        self.project = Project()
        self.addCleanup(self.project.remove)
        write(self.project.path('settings.py'), MYSQL_SETTINGS % {'server': server})
        write(self.project.path('flush_and_look.py'), FLUSH_AND_LOOK)
        self.addCleanup(self.drop)
        for name in ('djp_h6_default', 'djp_h6_other'):
            self.harness.execute('default', 'CREATE DATABASE IF NOT EXISTS %s' % name)

    def drop(self):
        for name in ('djp_h6_test_default', 'djp_h6_test_other', 'djp_h6_default',
                     'djp_h6_other'):
            self.harness.execute('default', 'DROP DATABASE IF EXISTS %s' % name)

    def schema(self, name):
        return self.harness.execute(
            'default', 'SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME '
                       'FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s', (name,))

    def test_each_test_database_gets_its_aliases_charset_and_collation(self):
        code, out, err = self.project.manage('create-test-databases')
        self.assertEqual(code, 0, out + err)
        self.assertEqual(self.schema('djp_h6_test_default'), [('latin1', 'latin1_german1_ci')])
        (charset, collation), = self.schema('djp_h6_test_other')
        self.assertEqual((charset.replace('utf8mb3', 'utf8'), collation.replace('utf8mb3', 'utf8')),
                         ('utf8', 'utf8_bin'))

    def test_flushing_one_alias_empties_only_that_alias_tables(self):
        env = dict(os.environ)
        process = subprocess.Popen([sys.executable, 'flush_and_look.py'], cwd=self.project.folder,
                                   env=dict(env, DJANGO_SETTINGS_MODULE='settings',
                                            PYTHONPATH=os.pathsep.join(
                                                [self.project.folder, ROOT] +
                                                [p for p in env.get('PYTHONPATH', '').split(
                                                    os.pathsep) if p])),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = process.communicate()[0].decode('utf-8', 'replace')
        self.assertEqual(process.returncode, 0, out)
        rows = self.harness.execute('default', 'SELECT domain FROM djp_h6_test_default.django_site '
                                               'ORDER BY id')
        self.assertEqual([r[0] for r in rows], ['example.com', 'kept.example'])
        self.assertEqual(self.harness.execute(
            'default', 'SELECT code FROM djp_h6_test_other.shop_item ORDER BY id'),
            [('from-fixture',)])


    def test_a_join_table_to_a_model_of_another_database_gets_no_constraint_to_it(self):
        write(self.project.path(os.path.join('shop', 'models.py')), MODELS + """

from django.contrib.auth.models import User


class Team(models.Model):
    members = models.ManyToManyField(User)
""")
        code, out, err = self.project.manage('syncdb', '--all-databases', '--noinput')
        self.assertEqual(code, 0, out + err)
        tables = [name for (name,) in self.harness.execute(
            'default', "SELECT TABLE_NAME FROM information_schema.TABLES "
                       "WHERE TABLE_SCHEMA = 'djp_h6_other' ORDER BY TABLE_NAME")]
        self.assertTrue('shop_team_members' in tables, tables)
        self.assertFalse('auth_user' in tables, tables)
        self.assertEqual(self.harness.execute(
            'default', "SELECT REFERENCED_TABLE_NAME FROM information_schema.KEY_COLUMN_USAGE "
                       "WHERE TABLE_SCHEMA = 'djp_h6_other' AND TABLE_NAME = 'shop_team_members' "
                       "AND REFERENCED_TABLE_NAME = 'auth_user'"), [])


@patched_only('Django 1.2+ has --database of its own')
class MissingInstall(unittest.TestCase):

    def test_database_options_without_install_say_that_install_is_missing(self):
        project = Project(install=False)
        self.addCleanup(project.remove)
        for args in (['syncdb', '--database=other'], ['syncdb', '--all-databases'],
                     ['dumpdata', 'shop', '--database', 'other']):
            code, out, err = project.manage(*args)
            self.assertNotEqual(code, 0, out + err)
            self.assertTrue('djpatch_multidb.install()' in err and 'was not called' in err, err)
            flag = [arg for arg in args if arg.startswith('--')][0].split('=')[0]
            self.assertTrue(flag in err.split('djpatch_multidb: ')[-1], err)
        self.assertEqual(os.listdir(project.folder).count('other.db'), 0)


class ImportingTheTestsPackage(unittest.TestCase):

    def test_importing_the_tests_package_configures_nothing_and_leaves_sys_path_alone(self):
        code = ('import sys; before = list(sys.path); import tests; '
                'from django.conf import settings; '
                'print(settings.configured, sys.path == before, '
                '"djpatch_multidb.patched.registry" in sys.modules)')
        env = dict(os.environ)
        env.pop('DJANGO_SETTINGS_MODULE', None)
        process = subprocess.Popen([sys.executable, '-c', code], cwd=ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        out = process.communicate()[0].decode('utf-8', 'replace')
        self.assertEqual(process.returncode, 0, out)
        self.assertEqual(out.strip(), '(False, True, False)' if sys.version_info[0] < 3
                         else 'False True False')


class PassingCallsThrough(DatabaseTest):

    @patched_only('Django 1.2+ routes aggregate() natively: nothing of the library is in the call')
    @unittest.skipIf(django.VERSION[:2] < (1, 1), 'Django 1.0 has no aggregate()')
    def test_aggregate_hands_djangos_method_the_callers_keyword_arguments_unchanged(self):
        from django.db.models import Avg, Count, Max
        from django.db.models.query import QuerySet
        from testapp.models import Author
        Author.objects.create(name='a')
        django_own = QuerySet.__dict__['aggregate'].djpatch_original
        expected = django_own(Author.objects.all(), num_authors=Count('id'), avg_authors=Avg('id'),
                              max_authors=Max('id'), max_price=Max('id'), max_rating=Max('id'))
        got = Author.objects.all().aggregate(num_authors=Count('id'), avg_authors=Avg('id'),
                                             max_authors=Max('id'), max_price=Max('id'),
                                             max_rating=Max('id'))
        self.assertEqual(list(got.items()), list(expected.items()))
