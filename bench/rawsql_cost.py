"""What routing raw SQL by its tables costs (MULTIDB_ROUTE_RAW_SQL), side by side.

    bench/rawsql_cost.py [--rounds R] [--number N]
    bench/run.sh --rawsql [...]

One process, Django 1.0/1.1 with install(), two SQLite files (on /dev/shm
when there is one): benchapp.Item placed on 'placed' by MULTIDB_MODELS, and
a table no model owns (plain_rows) on 'default'.  Each round measures every
operation once with MULTIDB_ROUTE_RAW_SQL on and once off, in alternating
order, N calls each; the medians over R rounds and their ratio (on / off)
are printed:

  raw, unplaced table   connection.cursor(), a SELECT on plain_rows, fetchone()
  raw, placed table     the same on benchapp_item (on: it runs on 'placed')
  ORM count()           Item.objects.filter(id=1).count()
  ORM get()             Item.objects.get(id=1)

Raw cursors opened outside Django pay for the routing; the ORM's queries
never look at their SQL, so their ratio is the noise of the run.  Prints,
writes nothing, asserts nothing about time.
"""
import optparse
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def main():
    parser = optparse.OptionParser(usage=__doc__.strip().splitlines()[2].strip())
    parser.add_option('--rounds', type='int', default=15)
    parser.add_option('--number', type='int', default=2000)
    options, args = parser.parse_args()
    for path in (ROOT, HERE):
        if path not in sys.path:
            sys.path.insert(0, path)
    folder = tempfile.mkdtemp(prefix='djpatch-rawsql-bench-',
                              dir=os.path.isdir('/dev/shm') and '/dev/shm' or None)
    try:
        run(folder, options)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(folder, options):
    import djpatch_multidb
    djpatch_multidb.install()
    from django.conf import settings
    settings.configure(
        DATABASES={'default': {'ENGINE': 'sqlite3', 'NAME': os.path.join(folder, 'default.db')},
                   'placed': {'ENGINE': 'sqlite3', 'NAME': os.path.join(folder, 'placed.db')}},
        MULTIDB_MODELS={'benchapp.Item': 'placed'}, INSTALLED_APPS=['benchapp'], DEBUG=False)
    import django
    if django.VERSION[:2] >= (1, 2):
        sys.exit('bench/rawsql_cost.py: raw SQL is routed by its tables on Django 1.0/1.1 only '
                 '(this is %s)' % django.get_version())
    from django.db import connection
    from benchapp.models import Item
    import sqlite3
    try:
        from djpatch_multidb.routing.syncdb import create_tables
    except ImportError:
        from djpatch_multidb.syncdb import create_tables
    # Item's table on both files: with the setting off, its raw SQL runs on 'default'.
    for alias in ('placed', 'default'):
        create_tables(alias, verbosity=0, models=[Item])
    direct = sqlite3.connect(os.path.join(folder, 'default.db'))
    direct.execute('CREATE TABLE plain_rows (id integer PRIMARY KEY, name varchar(20))')
    direct.execute("INSERT INTO plain_rows (id, name) VALUES (1, 'one')")
    direct.commit()
    direct.close()
    item = Item.objects.create(grp=1, name='one', value=1)

    def raw_unplaced():
        cursor = connection.cursor()
        cursor.execute('SELECT COUNT(*) FROM plain_rows WHERE id = %s', [1])
        cursor.fetchone()

    def raw_placed():
        cursor = connection.cursor()
        cursor.execute('SELECT COUNT(*) FROM benchapp_item WHERE id = %s', [item.id])
        cursor.fetchone()

    def orm_count():
        Item.objects.filter(id=item.id).count()

    def orm_get():
        Item.objects.get(id=item.id)

    operations = [('raw, unplaced table', raw_unplaced), ('raw, placed table', raw_placed),
                  ('ORM count()', orm_count), ('ORM get()', orm_get)]
    times = dict(((name, on), []) for name, op in operations for on in (True, False))
    for round_number in range(options.rounds):
        order = round_number % 2 and (False, True) or (True, False)
        for name, operation in operations:
            for on in order:
                settings.MULTIDB_ROUTE_RAW_SQL = on
                started = time.time()
                for _ in range(options.number):
                    operation()
                times[(name, on)].append((time.time() - started) / options.number * 1e6)
    print('raw SQL routed by its tables (MULTIDB_ROUTE_RAW_SQL), Django %s, Python %s, '
          'SQLite; medians of %d alternated rounds of %d calls'
          % (django.get_version(), sys.version.split()[0], options.rounds, options.number))
    print('%-22s %10s %10s %8s' % ('operation', 'on (us)', 'off (us)', 'on/off'))
    for name, operation in operations:
        on, off = median(times[(name, True)]), median(times[(name, False)])
        print('%-22s %10.2f %10.2f %8.3f' % (name, on, off, on / off))


def median(values):
    values = sorted(values)
    middle = len(values) // 2
    if len(values) % 2:
        return values[middle]
    return (values[middle - 1] + values[middle]) / 2.0


if __name__ == '__main__':
    main()
