"""Test databases for every alias: what ``manage.py test`` creates and destroys.

Django 1.0/1.1 create one test database, for the settings' DATABASE_NAME.  With
the library installed, ``connection.creation.create_test_db()`` (what the test
runner calls) creates one for every alias instead: TEST_NAME, or 'test_' +
NAME (':memory:' for SQLite; a temporary file for an SQLite shard, which
all_shards() reads from threads of its own), created with the alias's
TEST_CHARSET / TEST_COLLATION (else the legacy TEST_DATABASE_CHARSET /
TEST_DATABASE_COLLATION), each alias switched to it, and filled as ``syncdb
--all-databases`` fills them (tables, post_syncdb handlers, custom SQL,
indexes, initial_data; a replica gets its primary's tables).  An alias with
TEST_MIRROR shares the connection of the alias it names (as Django 1.2's
runner does), so tests see their own writes, even uncommitted ones, through
the replica path.  If anything fails on the way, the test databases made so
far are removed before the error goes on.  destroy_test_db() removes them and
switches every alias back.
"""
import os
import shutil
import sys
import tempfile

from django.conf import settings

from djpatch_multidb.base import config
from djpatch_multidb.context import selector
from djpatch_multidb.routing import syncdb
from djpatch_multidb.base.compat import ask, reraise
from djpatch_multidb.db.connections import connections

TEST_PREFIX = 'test_'
_saved = {}      # alias -> its settings before the switch
_created = set()  # the aliases whose test database exists now
_files = []       # the folder of SQLite test databases made as files, if any


def test_name(db):
    if db.test_name:
        return db.test_name
    if db.vendor == 'sqlite3':
        if _in_shard_group(db.alias):
            # all_shards() reads the shards from threads of its own, which
            # would each get an empty ':memory:' database: a file instead.
            if not _files:
                _files.append(tempfile.mkdtemp(prefix='djpatch-test-shards-'))
            return os.path.join(_files[0], 'test_%s.db' % db.alias)
        return ':memory:'
    return TEST_PREFIX + db.name


def _in_shard_group(alias):
    for aliases in config.current().shards.values():
        if alias in aliases:
            return True
    return False


def create_all(verbosity=1, autoclobber=False):
    """Create and switch to a test database for every alias; the default's name.
    If anything fails on the way, the test databases made so far are removed
    and every alias is switched back before the error goes on."""
    cfg = config.current()
    if _saved:
        raise RuntimeError('test databases are already in use; destroy them first')
    try:
        return _create_all(cfg, verbosity, autoclobber)
    except BaseException:
        error = sys.exc_info()
        try:
            destroy_all(0)
        except Exception:
            pass    # the set-up error is the one to see
        reraise(*error)


def _create_all(cfg, verbosity, autoclobber):
    for alias in cfg.aliases:
        db = cfg.databases[alias]
        _saved[alias] = dict(db.settings_dict)
        if db.test_mirror:
            continue
        name = test_name(db)
        if verbosity >= 1:
            sys.stdout.write('Creating test database for %r (%s)...\n' % (alias, name))
        _create(alias, db, name, autoclobber)
        _created.add(alias)
        _switch(db, {'DATABASE_NAME': name})
    for alias in cfg.aliases:
        db = cfg.databases[alias]
        if db.test_mirror:
            connections.mirrors[alias] = db.test_mirror
            target = cfg.databases[cfg.check_alias(db.test_mirror)]
            _switch(db, dict([(key, target.settings_dict[key]) for key in
                              ('DATABASE_NAME', 'DATABASE_HOST', 'DATABASE_PORT',
                               'DATABASE_USER', 'DATABASE_PASSWORD')]))
    config.generation[0] += 1  # every thread reconnects, to the test databases
    default = cfg.databases['default']
    settings.DATABASE_NAME = default.name
    aliases = []
    tables_for = {}
    for alias in cfg.aliases:
        db = cfg.databases[alias]
        if db.test_mirror:
            continue
        aliases.append(alias)
        if syncdb.is_replica(alias):
            tables_for[alias] = syncdb.models_for(cfg.primary_for(alias))
    syncdb.sync(aliases, verbosity, False, sys.stdout, tables_for)
    cache_backend = getattr(settings, 'CACHE_BACKEND', '') or ''
    if cache_backend.startswith('db://'):
        from django.core.cache import parse_backend_uri
        from django.core.management import call_command
        cache_table = parse_backend_uri(cache_backend)[1]
        cache_alias = getattr(settings, 'MULTIDB_CACHE_ALIAS', None) or 'default'
        selector.run_in(cache_alias, None, call_command, 'createcachetable', cache_table)
    return default.name


def destroy_all(verbosity=1):
    """Remove every test database and switch every alias back."""
    cfg = config.current()
    connections.close_all()
    failed = None
    for alias in cfg.aliases:
        db = cfg.databases[alias]
        original = _saved.get(alias)
        if original is None:
            continue
        name = db.name
        _switch(db, original)
        if alias in _created:
            if verbosity >= 1:
                sys.stdout.write('Destroying test database for %r (%s)...\n' % (alias, name))
            try:
                _destroy(alias, db, name)
            except Exception:   # the others are removed all the same
                failed = failed or sys.exc_info()
    _saved.clear()
    _created.clear()
    if _files:
        shutil.rmtree(_files.pop(), ignore_errors=True)
    connections.mirrors.clear()
    config.generation[0] += 1
    settings.DATABASE_NAME = cfg.databases['default'].name
    if failed:
        reraise(*failed)


def _switch(db, values):
    db.settings_dict.update(values)
    db.name = db.settings_dict['DATABASE_NAME']
    db.host = db.settings_dict['DATABASE_HOST']
    db.port = db.settings_dict['DATABASE_PORT']
    db.user = db.settings_dict['DATABASE_USER']
    db.password = db.settings_dict['DATABASE_PASSWORD']


def _create(alias, db, name, autoclobber):
    if db.vendor == 'sqlite3':
        if name != ':memory:' and os.access(name, os.F_OK):
            if not autoclobber and not _confirm(name):
                sys.exit(1)
            os.remove(name)
        return
    wrapper = connections.dedicated(alias)
    try:
        qn = wrapper.ops.quote_name
        suffix = creation_suffix(alias, wrapper)
        cursor = wrapper.cursor()
        try:
            cursor.execute('CREATE DATABASE %s %s' % (qn(name), suffix))
        except Exception:
            if not autoclobber and not _confirm(name):
                sys.exit(1)
            cursor.execute('DROP DATABASE %s' % qn(name))
            cursor.execute('CREATE DATABASE %s %s' % (qn(name), suffix))
    finally:
        wrapper.close()


TEST_CHARSET_KEYS = (('TEST_DATABASE_CHARSET', 'TEST_CHARSET', 'CHARSET'),
                     ('TEST_DATABASE_COLLATION', 'TEST_COLLATION', 'COLLATION'))


def creation_suffix(alias, wrapper):
    """What follows CREATE DATABASE for ``alias``'s test database: the
    backend's own suffix, made with the alias's TEST_CHARSET and
    TEST_COLLATION (or TEST['CHARSET'], TEST['COLLATION']) where DATABASES
    gives them, else the legacy TEST_DATABASE_CHARSET and
    TEST_DATABASE_COLLATION settings (Django 1.0/1.1's backends read only
    those)."""
    entry = (getattr(settings, 'DATABASES', None) or {}).get(alias) or {}
    test = entry.get('TEST') or {}
    values = {}
    for legacy, key, test_key in TEST_CHARSET_KEYS:
        value = entry.get(key) or test.get(test_key)
        if value:
            values[legacy] = value
    if not values:
        return wrapper.creation.sql_table_creation_suffix()
    return config.with_settings(values, wrapper.creation.sql_table_creation_suffix)


def _destroy(alias, db, name):
    if db.vendor == 'sqlite3':
        if name != ':memory:' and os.access(name, os.F_OK):
            os.remove(name)
        return
    wrapper = connections.dedicated(alias)
    try:
        wrapper.cursor().execute('DROP DATABASE %s' % wrapper.ops.quote_name(name))
    finally:
        wrapper.close()


def _confirm(name):
    answer = ask("Type 'yes' if you would like to try deleting the test database %r, "
                       "or 'no' to cancel: " % name)
    return answer == 'yes'


def make_create_test_db(original):
    """BaseDatabaseCreation.create_test_db: every alias, when the library routes."""
    def create_test_db(self, verbosity=1, autoclobber=False):
        if 'djpatch_alias' not in getattr(self.connection, '__dict__', {}):
            return original(self, verbosity, autoclobber)
        name = create_all(verbosity, autoclobber)
        if hasattr(self, '_rollback_works'):  # Django 1.1: TestCase rolls back if it can
            can_rollback = connections['default'].creation._rollback_works()
            settings.DATABASE_SUPPORTS_TRANSACTIONS = can_rollback
            connections['default'].settings_dict['DATABASE_SUPPORTS_TRANSACTIONS'] = can_rollback
        return name
    create_test_db.djpatch_original = original
    return create_test_db


def make_destroy_test_db(original):
    def destroy_test_db(self, old_database_name, verbosity=1):
        if 'djpatch_alias' not in getattr(self.connection, '__dict__', {}):
            return original(self, old_database_name, verbosity)
        destroy_all(verbosity)
    destroy_test_db.djpatch_original = original
    return destroy_test_db
