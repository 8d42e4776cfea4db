"""Test databases for every alias: what ``manage.py test`` creates and destroys.

Django 1.0/1.1 create one test database, for the settings' DATABASE_NAME.  With
the library installed, ``connection.creation.create_test_db()`` (what the test
runner calls) creates one for every alias instead: TEST_NAME, or 'test_' +
NAME (':memory:' for SQLite), each alias switched to it, its tables created as
``syncdb --all-databases`` makes them.  An alias with TEST_MIRROR shares the
connection of the alias it names (as Django 1.2's runner does), so tests see
their own writes, even uncommitted ones, through the replica path.  destroy_test_db() removes them and
switches every alias back.
"""
import os
import sys

from django.conf import settings

from djpatch_multidb import config, syncdb
from djpatch_multidb.compat import ask
from djpatch_multidb.connections import connections

TEST_PREFIX = 'test_'
_saved = {}


def test_name(db):
    if db.test_name:
        return db.test_name
    if db.vendor == 'sqlite3':
        return ':memory:'
    return TEST_PREFIX + db.name


def create_all(verbosity=1, autoclobber=False):
    """Create and switch to a test database for every alias; the default's name."""
    cfg = config.current()
    if _saved:
        raise RuntimeError('test databases are already in use; destroy them first')
    for alias in cfg.aliases:
        db = cfg.databases[alias]
        _saved[alias] = dict(db.settings_dict)
        if db.test_mirror:
            continue
        name = test_name(db)
        if verbosity >= 1:
            sys.stdout.write('Creating test database for %r (%s)...\n' % (alias, name))
        _create(alias, db, name, autoclobber)
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
    created = []
    for alias in cfg.aliases:
        db = cfg.databases[alias]
        if db.test_mirror:
            continue
        if syncdb.is_replica(alias):
            primary = cfg.primary_for(alias)
            created.extend(syncdb.create_tables(alias, verbosity - 1, sys.stdout,
                                                models=syncdb.models_for(primary)))
        else:
            created.extend(syncdb.create_tables(alias, verbosity - 1, sys.stdout))
    from django.core.management.sql import emit_post_sync_signal
    emit_post_sync_signal(set(created), verbosity, False)
    default = cfg.databases['default']
    settings.DATABASE_NAME = default.name
    return default.name


def destroy_all(verbosity=1):
    """Remove every test database and switch every alias back."""
    cfg = config.current()
    connections.close_all()
    for alias in cfg.aliases:
        db = cfg.databases[alias]
        original = _saved.get(alias)
        if original is None:
            continue
        name = db.name
        _switch(db, original)
        if not db.test_mirror:
            if verbosity >= 1:
                sys.stdout.write('Destroying test database for %r (%s)...\n' % (alias, name))
            _destroy(alias, db, name)
    _saved.clear()
    connections.mirrors.clear()
    config.generation[0] += 1
    settings.DATABASE_NAME = cfg.databases['default'].name


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
        suffix = wrapper.creation.sql_table_creation_suffix()
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
