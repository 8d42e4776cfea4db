"""Install / uninstall scenarios, each run by test_install.py in a fresh process.

    python install_scenarios.py SCENARIO WORKDIR

Prints 'OK <details>' on success; any failure raises (non-zero exit).
"""
from __future__ import absolute_import
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

MISSING = object()


def configure(workdir):
    from django.conf import settings
    settings.configure(
        DATABASES={'default': {'ENGINE': 'sqlite3', 'NAME': os.path.join(workdir, 'default.db')},
                   'other': {'ENGINE': 'sqlite3', 'NAME': os.path.join(workdir, 'other.db')}},
        INSTALLED_APPS=[])


def import_django_db():
    import django.db.models  # noqa
    import django.db.models.query  # noqa
    import django.db.models.sql.subqueries  # noqa
    import django.db.backends.sqlite3.base  # noqa
    import django.db.transaction  # noqa
    import django.contrib.auth.backends  # noqa
    import django.test.client  # noqa
    import django.contrib.contenttypes.generic  # noqa


def snapshot():
    """(record name, target object, attribute) -> the value in the owner's own dict."""
    from djpatch_multidb.patched.registry import REGISTRY
    from djpatch_multidb.base.patcher import AliasSites
    state = {}
    for record in REGISTRY:
        if isinstance(record, AliasSites):
            for name, module in sorted(sys.modules.items()):
                if name.startswith('djpatch_multidb'):
                    continue
                if module is not None and record.attr in getattr(module, '__dict__', {}):
                    state[(name, record.attr)] = module.__dict__[record.attr]
            continue
        target = record.target()
        if target is None:
            continue
        state[(record.name, record.attr)] = target.__dict__.get(record.attr, MISSING)
    return state


def from_django(value):
    """Whether ``value`` is Django's own object, not one of the library's."""
    import djpatch_multidb
    library = os.path.dirname(os.path.abspath(djpatch_multidb._module.__file__))
    code = getattr(getattr(value, '__func__', value), '__code__', None)
    if code is not None:
        return not os.path.abspath(code.co_filename).startswith(library)
    return not type(value).__module__.startswith('djpatch_multidb')


def scenario_uninstall_restores_identity(workdir):
    """Installed after Django is imported: every attribute is the same object again."""
    configure(workdir)
    import_django_db()
    before = snapshot()
    import djpatch_multidb
    from djpatch_multidb import installation
    djpatch_multidb.install()
    patched = snapshot()
    changed = [key for key in before if patched[key] is not before[key]]
    assert len(changed) >= 30, 'only %d attributes patched: %r' % (len(changed), changed)
    djpatch_multidb.install()
    again = snapshot()
    assert [k for k in patched if again[k] is not patched[k]] == [], 'second install changed things'
    waiting = [r for r in installation.pending_patches() if r.module in sys.modules]
    assert waiting == [], 'not applied although imported: %r' % waiting
    djpatch_multidb.uninstall()
    after = snapshot()
    different = [key for key in before if after.get(key, MISSING) is not before[key]]
    assert different == [], 'not restored: %r' % different
    assert not djpatch_multidb.is_installed()
    print('OK patched=%d restored' % len(changed))


def scenario_install_before_django_is_imported(workdir):
    """Installed first (as at the top of settings.py): patched as Django loads, restored after."""
    import djpatch_multidb
    djpatch_multidb.install()
    configure(workdir)
    import_django_db()
    import django.db
    import django.db.models.query as query
    assert type(django.db.connection).__name__ == 'ConnectionProxy'
    assert query.connection is django.db.connection
    assert not from_django(query.QuerySet.__dict__['iterator'])
    from django.db import connection
    from djpatch_multidb import using
    with using('other'):
        connection.cursor().execute('CREATE TABLE t (x integer)')
    djpatch_multidb.uninstall()
    patched_left = [key for key, value in snapshot().items() if not from_django(value)]
    assert patched_left == [], 'still patched: %r' % patched_left
    assert type(django.db.connection).__name__ == 'DatabaseWrapper'
    assert query.connection is django.db.connection
    import sqlite3
    tables = sqlite3.connect(os.path.join(workdir, 'other.db')).execute(
        "SELECT name FROM sqlite_master").fetchall()
    assert tables == [(u't',)], tables
    print('OK')


def scenario_copies_taken_before_install_are_patched(workdir):
    """A module that did `from django.db import connection` before install() uses the proxy."""
    configure(workdir)
    import_django_db()
    module = type(sys)('early_user_module')
    exec('from django.db import connection', module.__dict__)
    sys.modules['early_user_module'] = module
    original = module.connection
    import djpatch_multidb
    djpatch_multidb.install()
    assert type(module.connection).__name__ == 'ConnectionProxy', module.connection
    djpatch_multidb.uninstall()
    assert module.connection is original
    print('OK')


def scenario_settings_module_installs_at_the_top(workdir):
    """settings.py calls install() before defining DATABASES; Django loads it lazily."""
    settings_file = os.path.join(workdir, 'site_settings.py')
    open(settings_file, 'w').write(
        'import djpatch_multidb\n'
        'djpatch_multidb.install()\n'
        'DATABASES = {\n'
        "    'default': {'ENGINE': 'sqlite3', 'NAME': %r},\n"
        "    'other': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': %r},\n"
        '}\n'
        "MULTIDB_MODELS = {'auth': 'other'}\n"
        "INSTALLED_APPS = ['django.contrib.auth', 'django.contrib.contenttypes']\n"
        % (os.path.join(workdir, 'default.db'), os.path.join(workdir, 'other.db')))
    sys.path.insert(0, workdir)
    os.environ['DJANGO_SETTINGS_MODULE'] = 'site_settings'
    from django.core.management import call_command
    from djpatch_multidb import using
    for alias in ('default', 'other'):
        with using(alias):
            call_command('syncdb', interactive=False, verbosity=0)
    from django.contrib.auth.models import Group
    Group.objects.create(name='editors')
    import sqlite3
    found = {}
    for alias in ('default', 'other'):
        found[alias] = sqlite3.connect(os.path.join(workdir, alias + '.db')).execute(
            'SELECT name FROM auth_group').fetchall()
    assert found == {'default': [], 'other': [(u'editors',)]}, found
    print('OK')


def scenario_manage_py_imports_settings_before_django(workdir):
    """manage.py imports settings (and so install()) before DJANGO_SETTINGS_MODULE is set."""
    project = os.path.join(workdir, 'mysite')
    os.mkdir(project)
    open(os.path.join(project, '__init__.py'), 'w').close()
    open(os.path.join(project, 'settings.py'), 'w').write(
        'import djpatch_multidb\n'
        'djpatch_multidb.install()\n'
        "DATABASES = {'default': {'ENGINE': 'sqlite3', 'NAME': %r}}\n"
        "INSTALLED_APPS = ['django.contrib.contenttypes']\n"
        % os.path.join(workdir, 'managed.db'))
    sys.path[:0] = [workdir, project]
    import settings
    from django.core.management import execute_manager
    try:
        execute_manager(settings, ['manage.py', 'syncdb', '--noinput', '--verbosity=0'])
    except SystemExit as exit:
        assert not exit.code, exit.code
    import sqlite3
    tables = sqlite3.connect(os.path.join(workdir, 'managed.db')).execute(
        "SELECT name FROM sqlite_master WHERE name = 'django_content_type'").fetchall()
    assert tables, 'syncdb wrote nothing'
    print('OK')


def scenario_test_runner_creates_a_test_database_for_every_alias(workdir):
    """manage.py test: every alias on its own test database; TEST_MIRROR shares one."""
    import sqlite3
    import subprocess
    project = os.path.join(workdir, 'notesite')
    app = os.path.join(project, 'notes')
    os.makedirs(app)
    for path in (os.path.join(project, '__init__.py'), os.path.join(app, '__init__.py')):
        open(path, 'w').close()
    real = dict([(alias, os.path.join(workdir, alias + '.db')) for alias in ('default', 'other')])
    open(os.path.join(project, 'settings.py'), 'w').write(
        'import djpatch_multidb\n'
        'djpatch_multidb.install()\n'
        'DATABASES = {\n'
        "    'default': {'ENGINE': 'sqlite3', 'NAME': %r, 'TEST_NAME': %r},\n"
        "    'other': {'ENGINE': 'sqlite3', 'NAME': %r, 'TEST_NAME': %r},\n"
        "    'mirror': {'ENGINE': 'sqlite3', 'NAME': %r, 'TEST_MIRROR': 'default'},\n"
        '}\n'
        "MULTIDB_MODELS = {'notes.Memo': 'other'}\n"
        "MULTIDB_REPLICAS = {'default': ['mirror']}\n"
        "INSTALLED_APPS = ['django.contrib.contenttypes', 'notes']\n"
        % (real['default'], os.path.join(workdir, 'test_default.db'), real['other'],
           os.path.join(workdir, 'test_other.db'), real['default']))
    open(os.path.join(app, 'models.py'), 'w').write(
        'from django.db import models\n'
        'class Note(models.Model):\n'
        '    text = models.CharField(max_length=20)\n'
        'class Memo(models.Model):\n'
        '    text = models.CharField(max_length=20)\n')
    open(os.path.join(app, 'tests.py'), 'w').write(
        'from django.test import TestCase\n'
        'from djpatch_multidb import readonly\n'
        'from notes.models import Memo, Note\n'
        'class OnTestDatabases(TestCase):\n'
        '    def test_writes_go_to_the_test_databases(self):\n'
        "        Note.objects.create(text='in test')\n"
        "        Memo.objects.create(text='in test')\n"
        '        self.assertEqual(Note.objects.count(), 1)\n'
        '        self.assertEqual(Memo.objects.count(), 1)\n'
        '        with readonly():\n'
        '            self.assertEqual(Note.objects.count(), 1)\n')
    open(os.path.join(project, 'manage.py'), 'w').write(
        'import sys\n'
        'sys.path.insert(0, %r)\n'
        'from django.core.management import execute_manager\n'
        'import settings\n'
        'execute_manager(settings)\n' % os.path.dirname(HERE))
    for alias, path in real.items():
        table = alias == 'default' and 'notes_note' or 'notes_memo'
        conn = sqlite3.connect(path)
        conn.execute('CREATE TABLE %s (id integer PRIMARY KEY, text varchar(20))' % table)
        conn.execute("INSERT INTO %s (text) VALUES ('PRODUCTION')" % table)
        conn.commit()
        conn.close()
    run = subprocess.Popen([sys.executable, 'manage.py', 'test', 'notes', '--noinput'],
                           cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = run.communicate()[0]
    assert run.returncode == 0, output
    assert 'Ran 1 test' in output and 'OK' in output, output
    for alias, path in real.items():
        table = alias == 'default' and 'notes_note' or 'notes_memo'
        rows = sqlite3.connect(path).execute('SELECT text FROM %s' % table).fetchall()
        assert rows == [(u'PRODUCTION',)], (alias, rows)
    left = [n for n in os.listdir(workdir) if n.startswith('test_')]
    assert left == [], 'test databases left behind: %r' % left
    print('OK')


def scenario_syncdb_all_databases_creates_each_databases_own_tables(workdir):
    """syncdb --all-databases: each database gets its own models' tables, no
    constraint into another database; replicas get none."""
    import sqlite3
    import djpatch_multidb
    djpatch_multidb.install()
    from django.conf import settings
    sys.path.insert(0, HERE)
    names = ('default', 'blogdb', 'shard0', 'shard1', 'shard2', 'shard3', 'replica1')
    settings.configure(
        DATABASES=dict([(n, {'ENGINE': 'sqlite3', 'NAME': os.path.join(workdir, n + '.db')})
                        for n in names]),
        MULTIDB_SHARDS={'users': {'SHARDS': ['shard0', 'shard1', 'shard2', 'shard3'], 'KEY': 'mod'}},
        MULTIDB_MODELS={'testapp.Entry': 'blogdb', 'testapp.Tag': 'blogdb', 'testapp.Post': 'blogdb',
                        'testapp.Profile': 'shards:users', 'testapp.Note': 'shards:users',
                        'testapp.Account': 'shards:users', 'testapp.Event': 'blogdb'},
        MULTIDB_REPLICAS={'default': ['replica1']},
        INSTALLED_APPS=['testapp'])
    from django.core.management import call_command
    call_command('syncdb', all_databases=True, verbosity=0, interactive=False)
    found = {}
    for name in names:
        conn = sqlite3.connect(os.path.join(workdir, name + '.db'))
        found[name] = dict(conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name LIKE 'testapp%'"
        ).fetchall())
    expected = {
        'default': ['testapp_author'],
        'blogdb': ['testapp_entry', 'testapp_entry_tags', 'testapp_event', 'testapp_post',
                   'testapp_tag'],
        'replica1': [],
    }
    for shard in ('shard0', 'shard1', 'shard2', 'shard3'):
        expected[shard] = ['testapp_account', 'testapp_note', 'testapp_profile']
    for name in names:
        assert sorted(found[name]) == expected[name], (name, sorted(found[name]))
        for table, sql in found[name].items():
            for reference in sql.split('REFERENCES')[1:]:
                target = reference.split('(')[0].strip().strip('"')
                assert target in found[name], '%s.%s references %s' % (name, table, target)
    print('OK')


def scenario_install_reads_no_setting(workdir):
    """install() with no settings at all: no error, nothing read, nothing opened."""
    import djpatch_multidb
    from djpatch_multidb.base import config
    djpatch_multidb.install()
    assert config._current is None
    from django.conf import settings
    assert not settings.configured
    print('OK')


def scenario_unsupported_django(workdir):
    import django
    django.VERSION = (0, 96, 0, 'final', 0)
    import djpatch_multidb
    from django.core.exceptions import ImproperlyConfigured
    try:
        djpatch_multidb.install()
    except ImproperlyConfigured as error:
        message = str(error)
        assert '1.0, 1.1' in message and '1.2' in message, message
        assert not djpatch_multidb.is_installed()
        print('OK ' + message)
    else:
        raise AssertionError('install() accepted Django 0.96')


def scenario_uninstall_without_install(workdir):
    import djpatch_multidb
    try:
        djpatch_multidb.uninstall()
    except RuntimeError as error:
        assert 'install()' in str(error)
        print('OK ' + str(error))
    else:
        raise AssertionError('uninstall() without install() passed silently')


if __name__ == '__main__':
    globals()['scenario_' + sys.argv[1]](sys.argv[2])
