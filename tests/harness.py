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
import os
import shutil
import sqlite3
import tempfile

BACKEND = os.environ.get('DJPATCH_TEST_BACKEND', 'sqlite')
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
        INSTALLED_APPS=['djpatch_multidb', 'testapp'],
        DEBUG=False,
    )


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
    anywhere on purpose, every other table too, without foreign-key constraints."""
    from django.core.management import call_command
    from django.db.models import get_models
    from djpatch_multidb import syncdb
    for alias in ALIASES:
        if not syncdb.is_replica(alias):
            call_command('syncdb', database=alias, verbosity=0, interactive=False)
    for primary, replicas in MULTIDB_REPLICAS.items():
        for replica in replicas:
            syncdb.create_tables(replica, verbosity=0, models=syncdb.models_for(primary))
    for alias in ALIASES:
        syncdb.create_tables(alias, verbosity=0, models=get_models(), constraints=False)


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
