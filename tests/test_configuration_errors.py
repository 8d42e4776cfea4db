"""Configuration mistakes are refused before anything is written, and the
legacy DATABASE_* settings show DATABASES['default'].

The scenarios run in a fresh Python process each, on a small site of their
own (an app 'notes' with the models Memo and Label, SQLite files 'default'
and 'other' whose tables are made with sqlite3 beforehand, so that a
misrouted write would succeed):

    python test_configuration_errors.py SCENARIO WORKDIR

A scenario prints 'OK' on success; any failure raises (non-zero exit).
Where rows are is read with sqlite3, never through the library.
"""
from __future__ import absolute_import
from __future__ import print_function
import os
import sqlite3
import sys
import unittest

import scenarios

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PASSWORD = 'Legacy-s3cret-pw'
TABLES = ('notes_memo', 'notes_label')
MODELS = (
    'from django.db import models\n'
    'class Memo(models.Model):\n'
    '    text = models.CharField(max_length=20)\n'
    'class Label(models.Model):\n'
    '    text = models.CharField(max_length=20)\n')


def native():
    import django
    return django.VERSION[:2] >= (1, 2)


# -- the site -------------------------------------------------------------------

def databases(workdir, **default):
    entry = {'ENGINE': 'sqlite3', 'NAME': os.path.join(workdir, 'default.db')}
    entry.update(default)
    return {'default': entry,
            'other': {'ENGINE': 'django.db.backends.sqlite3',
                      'NAME': os.path.join(workdir, 'other.db')}}


def make_site(workdir):
    """The app 'notes' on the path and its tables on both files, empty."""
    app = os.path.join(workdir, 'notes')
    os.mkdir(app)
    open(os.path.join(app, '__init__.py'), 'w').close()
    open(os.path.join(app, 'models.py'), 'w').write(MODELS)
    for alias in ('default', 'other'):
        conn = sqlite3.connect(os.path.join(workdir, alias + '.db'))
        for table in TABLES:
            conn.execute('CREATE TABLE %s (id integer PRIMARY KEY, text varchar(20) NOT NULL)'
                         % table)
        conn.commit()
        conn.close()
    sys.path.insert(0, workdir)


def configure(workdir, **settings_values):
    """install(), then settings.configure() (as a script or a test run does);
    on Django 1.7 and later django.setup()."""
    import djpatch_multidb
    djpatch_multidb.install()
    from django.conf import settings
    values = dict(DATABASES=databases(workdir), INSTALLED_APPS=['notes'],
                  SECRET_KEY='configuration-errors', DEFAULT_AUTO_FIELD='django.db.models.AutoField')
    values.update(settings_values)
    settings.configure(**values)
    import django
    if hasattr(django, 'setup'):
        django.setup()


def write_settings_module(workdir, body):
    """site_settings.py with install() at the top, as README shows."""
    open(os.path.join(workdir, 'site_settings.py'), 'w').write(
        'import djpatch_multidb\n'
        'djpatch_multidb.install()\n' + body)
    os.environ['DJANGO_SETTINGS_MODULE'] = 'site_settings'


def rows(workdir):
    """{alias: {table: [texts]}}, read with sqlite3."""
    found = {}
    for alias in ('default', 'other'):
        conn = sqlite3.connect(os.path.join(workdir, alias + '.db'))
        found[alias] = dict([(table, [r[0] for r in conn.execute('SELECT text FROM %s' % table)])
                             for table in TABLES])
        conn.close()
    return found


def assert_nothing_written(workdir):
    empty = dict([(table, []) for table in TABLES])
    found = rows(workdir)
    assert found == {'default': empty, 'other': empty}, 'rows were written: %r' % (found,)


def refused(call):
    """The message of the ImproperlyConfigured ``call()`` raises."""
    from django.core.exceptions import ImproperlyConfigured
    try:
        call()
    except ImproperlyConfigured:
        return str(sys.exc_info()[1])
    raise AssertionError('%r raised nothing' % (call,))


def assert_says(message, *parts):
    for part in parts:
        assert part in message, '%r not in %r' % (part, message)


def create_memo():
    from notes.models import Memo
    Memo.objects.create(text='lost')


# -- scenarios: labels of MULTIDB_MODELS that name nothing -------------------------

def scenario_model_label_with_a_typo(workdir):
    make_site(workdir)
    configure(workdir, MULTIDB_MODELS={'notes.Memoo': 'other'})
    message = refused(create_memo)
    assert_says(message, "'notes.Memoo'", "'notes.Memo'", "'notes'")
    again = refused(create_memo)       # refused at every use, not only the first
    assert again == message, (again, message)
    assert_nothing_written(workdir)
    print('OK')


def scenario_app_label_with_a_typo(workdir):
    make_site(workdir)
    configure(workdir, MULTIDB_MODELS={'note': 'other'})
    from notes.models import Label
    message = refused(lambda: Label.objects.create(text='lost'))
    assert_says(message, "'note'", "'notes'")
    assert_nothing_written(workdir)
    print('OK')


def scenario_label_close_to_nothing(workdir):
    make_site(workdir)
    configure(workdir, MULTIDB_MODELS={'notes.Memo': 'other', 'billing.Invoice': 'other'})
    message = refused(create_memo)
    assert_says(message, "'billing.Invoice'", 'nothing installed is close', "'notes'")
    assert "'notes.Memo'" not in message, message
    assert_nothing_written(workdir)
    print('OK')


def scenario_labels_in_any_case_are_accepted(workdir):
    make_site(workdir)
    configure(workdir, MULTIDB_MODELS={'NOTES.memo': 'other', 'Notes': 'default'})
    from notes.models import Label, Memo
    Memo.objects.create(text='memo')
    Label.objects.create(text='label')
    found = rows(workdir)
    assert found['other'] == {'notes_memo': ['memo'], 'notes_label': []}, found
    assert found['default'] == {'notes_memo': [], 'notes_label': ['label']}, found
    print('OK')


def scenario_label_typo_in_a_settings_module_is_refused_at_the_first_database_use(workdir):
    """install() at the top of settings.py; reading the settings, importing
    django.db and the models raise nothing: the first write does."""
    make_site(workdir)
    write_settings_module(workdir, 'DATABASES = %r\n'
                                   "MULTIDB_MODELS = {'notes.Memmo': 'other'}\n"
                                   "INSTALLED_APPS = ['notes']\n" % databases(workdir))
    from django.conf import settings
    assert settings.MULTIDB_MODELS == {'notes.Memmo': 'other'}
    import django.db  # noqa
    from notes.models import Memo
    message = refused(lambda: Memo.objects.create(text='lost'))
    assert_says(message, "'notes.Memmo'", "'notes.Memo'")
    assert_nothing_written(workdir)
    print('OK')


# -- scenarios: a misspelt 'shards:<group>' -------------------------------------------

def scenario_misspelt_shards_prefix_is_refused_with_the_right_spelling(workdir):
    make_site(workdir)

    def start_and_write():
        # The configuration is read at the first database use: on Django 1.7
        # and later that may already be inside django.setup().
        configure(workdir, MULTIDB_SHARDS={'pool': ['default', 'other']},
                  MULTIDB_MODELS={'notes.Memo': 'shard:pool'})
        create_memo()
    message = refused(start_and_write)
    assert_says(message, "'notes.Memo'", "'shard:pool'", "'shards:pool'", "'default'", "'other'")
    assert_nothing_written(workdir)
    print('OK')


# -- scenarios: legacy settings readers (Django 1.0/1.1) -------------------------------

def check_legacy_names(workdir, test_name):
    from django.conf import settings
    expected = {
        'DATABASE_ENGINE': 'sqlite3',
        'DATABASE_NAME': os.path.join(workdir, 'default.db'),
        'DATABASE_USER': 'site',
        'DATABASE_PASSWORD': PASSWORD,
        'DATABASE_HOST': 'db.example',
        'DATABASE_PORT': '3306',
        'DATABASE_OPTIONS': {'timeout': 7},
        'TEST_DATABASE_NAME': test_name,
        'TEST_DATABASE_CHARSET': 'utf8',
        'TEST_DATABASE_COLLATION': None,
    }
    found = dict([(name, getattr(settings, name)) for name in expected])
    assert found == expected, found


def legacy_entry(workdir):
    return dict(USER='site', PASSWORD=PASSWORD, HOST='db.example', PORT=3306,
                OPTIONS={'timeout': 7}, TEST_NAME=os.path.join(workdir, 'test_default.db'),
                TEST_CHARSET='utf8')


def scenario_legacy_names_follow_databases_in_a_settings_module(workdir):
    """install() at the top of settings.py, DATABASES only: the legacy names
    read like DATABASES['default'], before django.db is imported (a reader
    such as South may come first) and after; the ORM still writes to 'default'."""
    make_site(workdir)
    write_settings_module(workdir, 'DATABASES = %r\n'
                                   "MULTIDB_MODELS = {'notes.Label': 'other'}\n"
                                   "INSTALLED_APPS = ['notes']\n"
                          % databases(workdir, **legacy_entry(workdir)))
    test_name = os.path.join(workdir, 'test_default.db')
    assert 'django.db' not in sys.modules
    check_legacy_names(workdir, test_name)
    module = type(sys)('legacy_reader')
    exec('from django.conf import settings\n'
         "adapter = 'south.db.%s' % settings.DATABASE_ENGINE\n", module.__dict__)
    assert module.adapter == 'south.db.sqlite3', module.adapter
    import django.db  # noqa
    check_legacy_names(workdir, test_name)
    from notes.models import Label, Memo
    Memo.objects.create(text='memo')
    Label.objects.create(text='label')
    found = rows(workdir)
    assert found['default'] == {'notes_memo': ['memo'], 'notes_label': []}, found
    assert found['other'] == {'notes_memo': [], 'notes_label': ['label']}, found
    # django.db now holds the sqlite3 backend itself: its errors are still caught.
    from django.db import DatabaseError, connection
    try:
        connection.cursor().execute('SELECT text FROM no_such_table')
    except DatabaseError:
        pass
    print('OK')


def scenario_legacy_names_follow_databases_with_configure(workdir):
    make_site(workdir)
    configure(workdir, DATABASES=databases(workdir, **legacy_entry(workdir)))
    check_legacy_names(workdir, os.path.join(workdir, 'test_default.db'))
    print('OK')


def scenario_legacy_names_follow_databases_when_install_comes_after_django_db(workdir):
    """django.db imported first wrote 'dummy' into DATABASE_ENGINE; install()
    then shows the real engine."""
    make_site(workdir)
    from django.conf import settings
    settings.configure(DATABASES=databases(workdir, **legacy_entry(workdir)),
                       INSTALLED_APPS=['notes'])
    import django.db  # noqa
    assert settings.DATABASE_ENGINE == 'dummy', settings.DATABASE_ENGINE
    import djpatch_multidb
    djpatch_multidb.install()
    check_legacy_names(workdir, os.path.join(workdir, 'test_default.db'))
    print('OK')


def scenario_legacy_names_the_site_sets_itself_are_kept(workdir):
    make_site(workdir)
    configure(workdir, DATABASE_ENGINE='sqlite3', DATABASE_NAME=os.path.join(workdir, 'old.db'))
    from django.conf import settings
    found = (settings.DATABASE_ENGINE, settings.DATABASE_NAME, settings.DATABASE_USER)
    assert found == ('sqlite3', os.path.join(workdir, 'old.db'), ''), found
    print('OK')


def scenario_errors_of_other_kinds_pass_through_except_database_error(workdir):
    """With DATABASE_ENGINE set, django.db holds a real backend, whose
    DatabaseError and IntegrityError are the library's replacements too:
    an error of another kind passes an except clause for them at once."""
    import signal
    signal.alarm(30)        # the failure this guards against is a check that never ends
    make_site(workdir)
    configure(workdir, DATABASE_ENGINE='sqlite3', DATABASE_NAME=os.path.join(workdir, 'default.db'))
    from django.db import DatabaseError, IntegrityError, connection
    try:
        try:
            raise ValueError('not a database error')
        except (IntegrityError, DatabaseError):
            raise AssertionError('caught as a database error')
    except ValueError:
        pass
    try:
        connection.cursor().execute('SELECT text FROM no_such_table')
    except DatabaseError:
        pass
    print('OK')


def scenario_the_legacy_password_shows_in_no_message_of_the_library(workdir):
    """The real password is in settings.DATABASE_PASSWORD, and in none of the
    library's reprs and error messages."""
    make_site(workdir)
    configure(workdir, DATABASES=databases(workdir, **legacy_entry(workdir)),
              MULTIDB_MODELS={'notes.Memoo': 'other'})
    from django.conf import settings
    assert settings.DATABASE_PASSWORD == PASSWORD
    from djpatch_multidb.base import config
    shown = [refused(create_memo)]
    cfg = config._current
    for db in cfg.databases.values():
        shown.extend([repr(db), str(db.settings_dict), repr(db.settings_dict), db.describe()])
    import django.db
    shown.append(repr(django.db.connection))
    for text in shown:
        assert PASSWORD not in text, text
    print('OK')


# -- the tests --------------------------------------------------------------------------

class ScenarioCase(scenarios.ScenarioCase):

    def run_scenario(self, name):
        return scenarios.run_scenario(__file__, name)


patched_only = unittest.skipIf(native(), 'Django 1.2 and later read DATABASES themselves')


class UnknownLabelsInMultidbModels(ScenarioCase):

    def test_a_model_label_with_a_typo_is_refused_naming_the_closest_model_and_nothing_is_written(self):
        self.assertScenario('model_label_with_a_typo')

    def test_an_app_label_with_a_typo_is_refused_naming_the_closest_app(self):
        self.assertScenario('app_label_with_a_typo')

    def test_a_label_close_to_nothing_installed_is_refused_listing_the_apps(self):
        self.assertScenario('label_close_to_nothing')

    def test_labels_are_matched_in_any_case(self):
        self.assertScenario('labels_in_any_case_are_accepted')

    @patched_only
    def test_a_typo_in_settings_py_is_refused_at_the_first_database_use_not_at_install_or_import(self):
        self.assertScenario('label_typo_in_a_settings_module_is_refused_at_the_first_database_use')


class MisspeltShardGroups(ScenarioCase):

    def config_error(self, models, shards=None):
        from django.core.exceptions import ImproperlyConfigured
        from djpatch_multidb.base.config import Config

        class Settings(object):
            DATABASES = {'default': {'ENGINE': 'sqlite3', 'NAME': 'x'},
                         'shard0': {'ENGINE': 'sqlite3', 'NAME': 'y'},
                         'shard1': {'ENGINE': 'sqlite3', 'NAME': 'z'}}
            MULTIDB_SHARDS = shards is None and {'users': ['shard0', 'shard1'],
                                                 'comments': ['shard0', 'shard1']} or shards
            MULTIDB_MODELS = models
        try:
            Config(Settings())
        except ImproperlyConfigured:
            return str(sys.exc_info()[1])
        self.fail('%r was accepted' % (models,))

    def assertHint(self, value, meant, shards=None):
        message = self.config_error({'accounts.Comment': value}, shards)
        for part in ("'accounts.Comment'", repr(value), "'shards:<group>'", meant,
                     "'comments'", "'users'", "'shard0'"):
            self.assertTrue(part in message, '%r not in %r' % (part, message))

    def test_a_misspelt_prefix_gets_the_right_syntax_and_the_groups(self):
        self.assertHint('shard:comments', "'shards:comments'")
        self.assertHint('shards comments', "'shards:comments'")
        self.assertHint('Shards:users', "'shards:users'")
        self.assertHint('shards_users', "'shards:users'")
        self.assertHint('shards: users', "'shards:users'")

    def test_an_unknown_group_gets_the_closest_group_and_the_groups(self):
        self.assertHint('shards:coments', "'shards:comments'")
        self.assertHint('shards:Users', "'shards:users'")
        self.assertHint('shards:', 'The shard groups are')

    def test_a_group_named_without_the_prefix_gets_the_prefix(self):
        self.assertHint('comments', "'shards:comments'")

    def test_a_misspelt_prefix_without_any_group_says_multidb_shards_defines_none(self):
        message = self.config_error({'accounts.Comment': 'shard:comments'}, shards={})
        for part in ("'shards:<group>'", 'defines none', "'shard0'"):
            self.assertTrue(part in message, '%r not in %r' % (part, message))

    def test_an_alias_with_a_typo_names_the_closest_alias(self):
        message = self.config_error({'accounts.Comment': 'defualt'})
        self.assertTrue("Did you mean 'default'?" in message and "'defualt'" in message, message)
        self.assertFalse('shards:<group>' in message, message)

    def test_a_misspelt_prefix_at_the_first_database_use_writes_nothing(self):
        self.assertScenario('misspelt_shards_prefix_is_refused_with_the_right_spelling')


class LegacySettingsReaders(ScenarioCase):

    @patched_only
    def test_settings_py_with_only_databases_shows_the_default_under_the_legacy_names(self):
        self.assertScenario('legacy_names_follow_databases_in_a_settings_module')

    @patched_only
    def test_configured_settings_with_only_databases_show_the_default_under_the_legacy_names(self):
        self.assertScenario('legacy_names_follow_databases_with_configure')

    @patched_only
    def test_install_after_django_db_replaces_the_dummy_engine(self):
        self.assertScenario('legacy_names_follow_databases_when_install_comes_after_django_db')

    @patched_only
    def test_legacy_names_the_site_sets_itself_are_kept(self):
        self.assertScenario('legacy_names_the_site_sets_itself_are_kept')

    @patched_only
    def test_with_a_real_backend_in_django_db_other_errors_pass_except_database_error(self):
        self.assertScenario('errors_of_other_kinds_pass_through_except_database_error')

    @patched_only
    def test_the_legacy_password_is_real_and_shows_in_no_message_or_repr(self):
        self.assertScenario('the_legacy_password_shows_in_no_message_of_the_library')


if __name__ == '__main__':
    sys.path.insert(0, ROOT)
    globals()['scenario_' + sys.argv[1]](sys.argv[2])
