"""Memory of Model.objects.all_shards() iteration: 4 shards x 25,000 rows.

    bench/allshards_memory.py [--backend sqlite|mysql|both] [--rows N] [--lib DIR]

For each backend it fills four shards (SQLite files, or four databases on one
throw-away MariaDB server), then, in a fresh child process per query, iterates
benchapp.Item across the shards (unordered, ordered by id, ordered by the text
column name) and reads the process's resident memory from /proc/self/status:

  first row   MB added between the start of the iteration and the first row
  all rows    MB added at the peak of the whole iteration (each row dropped
              as soon as it is read, as a loop over the rows does)

VmHWM (the peak) is reset through /proc/self/clear_refs before each
measurement.  --lib DIR measures the djpatch_multidb package in DIR instead of
this tree's (e.g. an older commit, exported with git archive).  Python 2.6+
with Django 1.1 (the library's virtualenv: DJPATCH_MULTIDB_STACK=1.1
tools/bootstrap.sh prints it), or any stack the library supports.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHARDS = ['mem0', 'mem1', 'mem2', 'mem3']
QUERIES = ('unordered', 'order_by_id', 'order_by_name')
NAMES = [u'\xc9mile', u'emily', u'Zo\xeb', u'zoe', u'\xc5sa', u'ant', u'Bob', u'bob']
PASSWORD = 'bench-pw'


def memory():
    """(VmRSS, VmHWM) of this process in MB."""
    found = {}
    for line in open('/proc/self/status'):
        name, _, value = line.partition(':')
        if name in ('VmRSS', 'VmHWM'):
            found[name] = int(value.split()[0]) / 1024.0
    return found['VmRSS'], found['VmHWM']


def reset_peak():
    try:
        handle = open('/proc/self/clear_refs', 'w')
        handle.write('5')
        handle.close()
        return True
    except (IOError, OSError):
        return False


def databases(backend, place):
    """DATABASES for the four shards (and 'default'); ``place``: a folder (sqlite)
    or 'host:port' (mysql)."""
    result = {}
    for alias in ['default'] + SHARDS:
        if backend == 'sqlite':
            result[alias] = {'ENGINE': 'django.db.backends.sqlite3',
                             'NAME': os.path.join(place, alias + '.db')}
        else:
            host, port = place.split(':')
            result[alias] = {'ENGINE': 'django.db.backends.mysql', 'NAME': 'bench_' + alias,
                             'USER': 'bench', 'PASSWORD': PASSWORD, 'HOST': host, 'PORT': port}
    return result


def configure(backend, place):
    sys.path.insert(0, HERE)
    import djpatch_multidb
    djpatch_multidb.install()
    from django.conf import settings
    settings.configure(
        DATABASES=databases(backend, place),
        MULTIDB_SHARDS={'mem': {'SHARDS': SHARDS}},
        MULTIDB_MODELS={'benchapp.Item': 'shards:mem'},
        INSTALLED_APPS=['djpatch_multidb', 'benchapp'],
        DEBUG=False, SECRET_KEY='bench')
    import django
    if hasattr(django, 'setup'):
        django.setup()


def connect(backend, place, alias):
    entry = databases(backend, place)[alias]
    if backend == 'sqlite':
        import sqlite3
        return sqlite3.connect(entry['NAME'])
    import MySQLdb
    return MySQLdb.connect(host=entry['HOST'], port=int(entry['PORT']), user='bench',
                           passwd=PASSWORD, db=entry['NAME'], charset='utf8', use_unicode=True)


def fill(backend, place, rows):
    for number, alias in enumerate(SHARDS):
        conn = connect(backend, place, alias)
        cursor = conn.cursor()
        if backend == 'sqlite':
            cursor.execute('CREATE TABLE benchapp_item (id INTEGER PRIMARY KEY, grp INTEGER NOT NULL, '
                           'name VARCHAR(40) NOT NULL, value INTEGER NOT NULL)')
            mark = '?'
        else:
            cursor.execute('CREATE TABLE benchapp_item (id INTEGER AUTO_INCREMENT PRIMARY KEY, '
                           'grp INTEGER NOT NULL, name VARCHAR(40) NOT NULL, '
                           'value INTEGER NOT NULL) ENGINE=InnoDB')
            mark = '%s'
        batch = []
        for n in range(rows):
            ident = number * rows + n + 1
            batch.append((ident, n % 7, u'%s %08d' % (NAMES[ident % len(NAMES)], ident), ident))
            if len(batch) == 5000:
                cursor.executemany('INSERT INTO benchapp_item (id, grp, name, value) VALUES '
                                   '(%s, %s, %s, %s)' % ((mark,) * 4), batch)
                batch = []
        if batch:
            cursor.executemany('INSERT INTO benchapp_item (id, grp, name, value) VALUES '
                               '(%s, %s, %s, %s)' % ((mark,) * 4), batch)
        conn.commit()
        conn.close()


def child(backend, place, query, expected):
    """Measure one query in this (fresh) process; print one result line."""
    configure(backend, place)
    from djpatch_multidb import MultiDBQuerySet
    from benchapp.models import Item

    def build():
        across = MultiDBQuerySet(Item).all_shards('mem')
        if query == 'order_by_id':
            across = across.order_by('id')
        elif query == 'order_by_name':
            across = across.order_by('name', 'id')
        return across
    # Warm up: modules imported, connections and the ORM's caches made.
    list(build()[:10])
    import gc
    gc.collect()
    before, _ = memory()
    reset_peak()
    started = time.time()
    rows = iter(build())
    first = next(rows)
    first_seconds = time.time() - started
    _, first_peak = memory()
    count = 1
    previous = None
    ordered = query != 'unordered'
    in_order = True
    for row in rows:
        count += 1
        if ordered and query == 'order_by_id' and previous is not None and row.id < previous:
            in_order = False
        previous = row.id
    total_seconds = time.time() - started
    _, all_peak = memory()
    if count != expected or not in_order:
        raise SystemExit('%s gave %d rows (expected %d), in order: %s'
                         % (query, count, expected, in_order))
    del first
    print('%-8s %-14s first row %6.1f MB  %6.3f s   all rows %6.1f MB  %6.2f s   (%d rows, '
          'RSS before %.1f MB)' % (backend, query, first_peak - before, first_seconds,
                                   all_peak - before, total_seconds, count, before))
    sys.stdout.flush()


def run(backend, rows, lib):
    folder = tempfile.mkdtemp(prefix='djpatch-allshards-mem-')
    server = None
    try:
        if backend == 'sqlite':
            place = folder
        else:
            sys.path.insert(0, os.path.join(ROOT, 'tools'))
            from mariadb_server import MariaDBServer
            server = MariaDBServer()
            server.start()
            server.create_user('bench', PASSWORD)
            for alias in ['default'] + SHARDS:
                server.create_database('bench_' + alias)
            place = '%s:%s' % (server.host, server.port)
        fill(backend, place, rows)
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(
            [p for p in [lib, ROOT, env.get('PYTHONPATH')] if p])
        for query in QUERIES:
            code = subprocess.call([sys.executable, os.path.abspath(__file__), '--child', backend,
                                    place, query, str(rows * len(SHARDS))], env=env)
            if code:
                raise SystemExit('the %s %s measurement failed' % (backend, query))
    finally:
        if server is not None:
            server.destroy()
        shutil.rmtree(folder, ignore_errors=True)


def main(argv):
    if argv[:1] == ['--child']:
        child(argv[1], argv[2], argv[3], int(argv[4]))
        return
    backends = ['sqlite', 'mysql']
    rows = 25000
    lib = None
    args = list(argv)
    while args:
        option = args.pop(0)
        if option == '--backend':
            value = args.pop(0)
            backends = value == 'both' and ['sqlite', 'mysql'] or [value]
        elif option == '--rows':
            rows = int(args.pop(0))
        elif option == '--lib':
            lib = os.path.abspath(args.pop(0))
        else:
            raise SystemExit(__doc__)
    print('all_shards() iteration, %d shards x %d rows, djpatch_multidb from %s'
          % (len(SHARDS), rows, lib or ROOT))
    for backend in backends:
        run(backend, rows, lib)


if __name__ == '__main__':
    main(sys.argv[1:])
