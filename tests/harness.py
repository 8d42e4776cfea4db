"""The databases the suite runs against, and direct DB-API access to them.

DJPATCH_TEST_BACKEND=sqlite (the default): every alias is an SQLite file in a
temporary folder.  DJPATCH_TEST_BACKEND=mysql: two MariaDB servers of the
suite's own (fresh data directories, free ports on 127.0.0.1) hold the aliases,
spread over both; 'eventdb' stays an SQLite file so that one process uses two
engines.  The library connects as a user with a password, which must never
show up in an error message.

``rows()`` and ``execute()`` read and write a database through a DB-API
connection of their own (sqlite3 or MySQLdb), never through the library:
that is how the tests prove where rows really are.
"""
from __future__ import absolute_import
import os
import shutil

import django
import sqlite3
import tempfile

BACKEND = os.environ.get('DJPATCH_TEST_BACKEND', 'sqlite')
NATIVE = django.VERSION[:2] >= (1, 2)   # Django's own multi-db: the library routes, patches nothing
PASSWORD = 's3cret-Pa55word'
USER = 'djpatch'

ALIASES = ('default', 'blogdb', 'shard0', 'shard1', 'shard2', 'shard3', 'replica1',
           'shard1_replica', 'eventdb')
SHARDS = ('shard0', 'shard1', 'shard2', 'shard3')

MULTIDB_SHARDS = {'users': {'SHARDS': list(SHARDS), 'KEY': 'mod'}}
MULTIDB_MODELS = {
    'testapp.Entry': 'blogdb',
    'testapp.Tag': 'blogdb',
    'testapp.Profile': 'shards:users',
    'testapp.Note': 'shards:users',
    'testapp.Account': 'shards:users',
    'testapp.Post': 'blogdb',
    'testapp.Event': 'eventdb',
}
MULTIDB_REPLICAS = {'default': ['replica1'], 'shard1': ['shard1_replica']}

TABLES = ('testapp_author', 'testapp_tag', 'testapp_entry', 'testapp_entry_tags',
          'testapp_profile', 'testapp_note', 'testapp_event', 'testapp_account', 'testapp_post')

_tmpdir = None
_servers = []
DATABASES = {}


def start():
    """Create the databases, install the library and configure Django.

    Runs when the test package is imported, before nose imports the test
    modules (they import models, which needs settings)."""
    global _tmpdir
    _tmpdir = tempfile.mkdtemp(prefix='djpatch-tests-')
    for alias in ALIASES:
        DATABASES[alias] = {'ENGINE': 'sqlite3', 'NAME': os.path.join(_tmpdir, alias + '.db')}
    DATABASES['unreachable'] = {
        'ENGINE': 'mysql', 'NAME': 'nothing', 'USER': USER, 'PASSWORD': PASSWORD,
        'HOST': '127.0.0.1', 'PORT': str(closed_port())}
    if BACKEND == 'mysql':
        _start_mysql()
    elif BACKEND != 'sqlite':
        raise ValueError('DJPATCH_TEST_BACKEND must be sqlite or mysql, not %r' % BACKEND)

    import djpatch_multidb
    djpatch_multidb.install()
    from django.conf import settings
    settings.configure(
        DATABASES=DATABASES,
        MULTIDB_SHARDS=MULTIDB_SHARDS,
        MULTIDB_MODELS=MULTIDB_MODELS,
        MULTIDB_REPLICAS=MULTIDB_REPLICAS,
        # replapp: only test_replicas uses it; Django 1.7 and later want every
        # models module in an installed app.
        INSTALLED_APPS=['djpatch_multidb', 'testapp'] + (NATIVE and ['replapp'] or []),
        DEBUG=False,
        SECRET_KEY='djpatch-multidb-tests',
    )
    import django
    if hasattr(django, 'setup'):   # Django 1.7 and later
        django.setup()


def _start_mysql():
    from mariadb_server import MariaDBServer
    for number in (1, 2):
        server = MariaDBServer(server_id=number)
        server.start()
        server.create_user(USER, PASSWORD)
        _servers.append(server)
    for index, alias in enumerate(ALIASES):
        if alias == 'eventdb':
            continue
        server = _servers[index % 2]
        name = 'djp_' + alias
        server.create_database(name)
        DATABASES[alias] = {
            'ENGINE': 'django.db.backends.mysql', 'NAME': name,
            'USER': USER, 'PASSWORD': PASSWORD,
            'HOST': server.host, 'PORT': server.port,
        }


def closed_port():
    """A TCP port on 127.0.0.1 that nothing listens on."""
    import socket
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def server_for(alias):
    """The MariaDBServer holding ``alias`` (mysql backend only)."""
    for server in _servers:
        if DATABASES[alias].get('PORT') == server.port:
            return server
    return None


def create_tables():
    """Each alias gets its own models' tables from syncdb --database=ALIAS, on
    empty databases (replicas: their primary's); then, so that tests can put any model
    anywhere on purpose, every other table too, without foreign-key constraints.
    On Django 1.2 and later: every table on every alias, by Django's own DDL."""
    if NATIVE:
        for alias in ALIASES:
            create_native_tables(alias, all_models())
        return
    from django.core.management import call_command
    from djpatch_multidb.routing import syncdb
    for alias in ALIASES:
        if not syncdb.is_replica(alias):
            call_command('syncdb', database=alias, verbosity=0, interactive=False)
    for primary, replicas in MULTIDB_REPLICAS.items():
        for replica in replicas:
            syncdb.create_tables(replica, verbosity=0, models=syncdb.models_for(primary))
    for alias in ALIASES:
        syncdb.create_tables(alias, verbosity=0, models=all_models(), constraints=False)


def all_models(module=None):
    """Every installed model (of a models ``module``), auto-created many-to-many tables included."""
    try:
        from django.apps import apps
    except ImportError:
        from django.db.models import get_models
        extra = NATIVE and {'include_auto_created': True} or {}   # Django 1.2 to 1.6
        if module is None:
            return get_models(**extra)
        return get_models(module, **extra)
    found = apps.get_models(include_auto_created=True)
    if module is not None:
        found = [m for m in found if m.__module__ == module.__name__]
    return found


def create_model_tables(alias, models, constraints=True):
    """The tables of ``models`` on ``alias``, again (a test dropped them);
    constraints=False: no foreign-key constraint (to a table the suite put
    there only so that tests can place any model anywhere)."""
    if NATIVE:
        create_native_tables(alias, models)
    else:
        from djpatch_multidb.routing import syncdb
        syncdb.create_tables(alias, verbosity=0, models=models, constraints=constraints)


def create_native_tables(alias, models):
    """``models``' tables on ``alias`` with Django's own DDL (no foreign-key
    constraints: the tests put rows of related models in different databases)."""
    from django.db import connections
    connection = connections[alias]
    if hasattr(connection, 'schema_editor'):     # Django 1.7 and later
        editor = connection.schema_editor()
        editor.sql_create_inline_fk = None
        editor.__enter__()
        try:
            for model in models:
                if not model._meta.auto_created:
                    editor.create_model(model)     # creates its many-to-many tables too
            # Django 2.0+ keeps Statements (.template; SQLite's foreign key template is None)
            editor.deferred_sql = [sql for sql in editor.deferred_sql
                                   if getattr(sql, 'template', sql) is not None
                                   and 'FOREIGN KEY' not in str(getattr(sql, 'template', sql))]
        finally:
            editor.__exit__(None, None, None)
        return
    from django.core.management.color import no_style
    cursor = connection.cursor()
    for model in models:
        for sql in connection.creation.sql_create_model(model, no_style(), set())[0]:
            cursor.execute(sql)
    from django.db import transaction
    transaction.commit_unless_managed(using=alias)   # Django 1.2 to 1.6


def stop():
    from djpatch_multidb import connections
    connections.close_all()
    for server in _servers:
        server.destroy()
    del _servers[:]
    if _tmpdir:
        shutil.rmtree(_tmpdir, ignore_errors=True)


def is_mysql(alias):
    return 'mysql' in DATABASES[alias]['ENGINE']


def connect(alias):
    """A DB-API connection of the test's own to ``alias``."""
    entry = DATABASES[alias]
    if is_mysql(alias):
        import MySQLdb
        return MySQLdb.connect(host=entry['HOST'], port=int(entry['PORT']), user=entry['USER'],
                               passwd=entry['PASSWORD'], db=entry['NAME'])
    return sqlite3.connect(entry['NAME'])


def execute(alias, sql, params=()):
    """Run ``sql`` on ``alias`` directly, commit, return the rows."""
    if is_mysql(alias):
        sql = sql.replace('?', '%s')
    conn = connect(alias)
    try:
        cursor = conn.cursor()
        cursor.execute(sql, params)
        try:
            result = [tuple(r) for r in cursor.fetchall()]
        except Exception:
            result = []
        conn.commit()
        return result
    finally:
        conn.close()


def rows(alias, table, columns='*', order='id'):
    """Every row of ``table`` on ``alias``, read directly."""
    return execute(alias, 'SELECT %s FROM %s ORDER BY %s' % (columns, table, order))


def column(alias, table, name, order='id'):
    return [r[0] for r in rows(alias, table, name, order)]


def where_is(table, column_name, value):
    """The aliases whose ``table`` has a row with ``column_name`` = ``value``."""
    found = []
    for alias in ALIASES:
        if execute(alias, 'SELECT COUNT(*) FROM %s WHERE %s = ?' % (table, column_name), (value,))[0][0]:
            found.append(alias)
    return found


def clear():
    """Empty every test table on every alias, directly."""
    for alias in ALIASES:
        conn = connect(alias)
        try:
            cursor = conn.cursor()
            for table in reversed(TABLES):
                cursor.execute('DELETE FROM %s' % table)
            conn.commit()
        finally:
            conn.close()


# -- the replication set of tests/test_replicas.py -------------------------------
#
# 'rprimary' and its replicas 'rrep1', 'rrep2'.  mysql mode: three MariaDB
# servers of their own, the primary with a binary log, the replicas
# replicating it (CHANGE MASTER TO ...; START SLAVE).  sqlite mode: three
# SQLite files, no replication.  Only test_replicas adds these aliases to the
# settings, for the length of its module.

REPL_PRIMARY = 'rprimary'
REPL_REPLICAS = ('rrep1', 'rrep2')
REPL_ALIASES = (REPL_PRIMARY,) + REPL_REPLICAS
REPL_DB = 'djp_repl'
REPL_TABLES = ('replapp_reading', 'replapp_whoami')
REPL_MODELS = {'replapp.Reading': REPL_PRIMARY, 'replapp.Whoami': REPL_PRIMARY}
repl_servers = {}       # alias -> MariaDBServer (mysql mode)


def start_replication_set():
    """Start the servers (mysql) or files (sqlite) and fill DATABASES for
    REPL_ALIASES; tables are made by create_replication_tables()."""
    if BACKEND != 'mysql':
        for alias in REPL_ALIASES:
            DATABASES[alias] = {'ENGINE': 'django.db.backends.sqlite3',
                                'NAME': os.path.join(_tmpdir, alias + '.db')}
        refresh_native_databases()
        return
    from mariadb_server import MariaDBServer
    servers = [MariaDBServer(server_id=10 + index, log_bin=(index == 0))
               for index in range(len(REPL_ALIASES))]
    _servers.extend(servers)
    # One at a time, from this thread: parallel mariadb-install-db runs collide
    # in /tmp, and a server dies with the thread that started it (PDEATHSIG).
    for server in servers:
        server.start()
    primary, replicas = servers[0], servers[1:]
    primary.execute(["CREATE USER 'repl'@'%' IDENTIFIED BY 'repl-pw'",
                     "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'"])
    status = primary.execute('SHOW MASTER STATUS')[0]
    for replica in replicas:
        replica.execute([
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='repl', "
            "MASTER_PASSWORD='repl-pw', MASTER_LOG_FILE='%s', MASTER_LOG_POS=%d, "
            "MASTER_CONNECT_RETRY=1" % (primary.port, status[0], int(status[1])),
            'START SLAVE'])
    # Made on the primary only: the user and database reach the replicas by replication.
    primary.create_user(USER, PASSWORD)
    primary.create_database(REPL_DB)
    for alias, server in zip(REPL_ALIASES, servers):
        repl_servers[alias] = server
        DATABASES[alias] = {
            'ENGINE': 'django.db.backends.mysql', 'NAME': REPL_DB,
            'USER': USER, 'PASSWORD': PASSWORD, 'HOST': server.host, 'PORT': server.port,
        }
    wait_for_replicas()
    refresh_native_databases()


def refresh_native_databases():
    """Django 3.2 and later fill in the defaults of every DATABASES entry once:
    entries added later (the replication set) need them too."""
    if NATIVE:
        from django.db import connections
        connections.__dict__.pop('settings', None)


def create_replication_tables():
    """The replapp tables on rprimary, by what syncdb --database=rprimary runs
    (replapp is not in INSTALLED_APPS; replicated to the replicas in mysql
    mode), then each server's own Whoami row, written directly, not replicated."""
    import replapp.models
    models = all_models(replapp.models)
    if NATIVE:
        create = create_native_tables
    else:
        from djpatch_multidb.routing import syncdb

        def create(alias, models):
            syncdb.create_tables(alias, verbosity=0, models=models)
    create(REPL_PRIMARY, models)
    if BACKEND == 'mysql':
        wait_for_replicas()
    else:
        for alias in REPL_REPLICAS:
            create(alias, models)
    for alias in REPL_ALIASES:
        if BACKEND == 'mysql':
            repl_servers[alias].execute(['SET sql_log_bin = 0',
                                         "INSERT INTO replapp_whoami (name) VALUES ('%s')" % alias],
                                        db=REPL_DB)
        else:
            execute(alias, 'INSERT INTO replapp_whoami (name) VALUES (?)', (alias,))


def wait_for_replicas(timeout=30):
    """mysql: until every running replica has applied all the primary wrote."""
    if BACKEND != 'mysql':
        return
    import time
    target = repl_servers[REPL_PRIMARY].execute('SELECT @@gtid_binlog_pos')[0][0]
    for alias in REPL_REPLICAS:
        server = repl_servers[alias]
        deadline = time.time() + timeout
        while server.execute("SELECT MASTER_GTID_WAIT('%s', 1)" % target)[0][0] != 0:
            if time.time() > deadline:
                raise RuntimeError('replica %s did not catch up within %ss: %r' % (
                    alias, timeout, server.execute('SHOW SLAVE STATUS')))


def repair_replication():
    """Every replica running and replicating again, caught up."""
    if BACKEND != 'mysql':
        return
    for alias in REPL_REPLICAS:
        server = repl_servers[alias]
        if not server.is_running():
            server.start()
        server.execute('START SLAVE')
    wait_for_replicas()


def clear_replication_set():
    """Empty replapp_reading everywhere (through the primary in mysql mode)."""
    if BACKEND == 'mysql':
        execute(REPL_PRIMARY, 'DELETE FROM replapp_reading')
        wait_for_replicas()
    else:
        for alias in REPL_ALIASES:
            execute(alias, 'DELETE FROM replapp_reading')


def stop_replication_set():
    for alias in REPL_ALIASES:
        DATABASES.pop(alias, None)
        server = repl_servers.pop(alias, None)
        if server is not None:
            server.destroy()
            if server in _servers:
                _servers.remove(server)
