"""What multidb_status reports: versions, patches, aliases, replicas, shards.

Every function returns plain data; ``report()`` turns it into text.  Nothing
here ever shows a password.
"""
import sys
import time

from djpatch_multidb import config, installation
from djpatch_multidb.connections import connections

MASK = '***'


def versions():
    import django
    found = [('Django', django.get_version())]
    try:
        import MySQLdb
        version = getattr(MySQLdb, '__version__', None)   # mysqlclient 2.x: version_info only
        if version is None:
            version = '.'.join([str(part) for part in MySQLdb.version_info[:3]])
        found.append(('MySQLdb', version))
    except ImportError:
        found.append(('MySQLdb', 'not installed'))
    try:
        import sqlite3
        found.append(('sqlite3', sqlite3.sqlite_version))
    except ImportError:
        pass
    return found


def patches():
    """(name, 'in place' / 'waiting for import') for every patch record."""
    rows = [(r.name, 'in place') for r in installation.applied_patches()]
    rows.extend([(r.name, 'waiting for its module to be imported')
                 for r in installation.pending_patches()])
    return rows


def probe(alias):
    """(answers, seconds, error text) for one alias, over this thread's connection."""
    wrapper = connections[alias]
    started = time.time()
    try:
        cursor = wrapper.cursor()
        cursor.execute('SELECT 1')
        cursor.fetchall()
        wrapper._rollback()
    except Exception:
        error = sys.exc_info()[1]
        return False, time.time() - started, '%s: %s' % (type(error).__name__, error)
    return True, time.time() - started, ''


def replica_lag(alias):
    """Seconds_Behind_Master of a MySQL replica, 'stopped', or None where not known."""
    db = config.current().databases[alias]
    if db.vendor != 'mysql':
        return None
    cursor = connections[alias].cursor()
    cursor.execute('SHOW SLAVE STATUS')
    row = cursor.fetchone()
    if row is None:
        return 'not replicating'
    names = [d[0] for d in cursor.description]
    status = dict(zip(names, row))
    if status.get('Slave_SQL_Running') != 'Yes' or status.get('Slave_IO_Running') != 'Yes':
        return 'stopped'
    return status.get('Seconds_Behind_Master')


def sharded_models():
    """(model, group) for every installed model placed on a shard group."""
    from djpatch_multidb.compat import get_models
    cfg = config.current()
    found = []
    for model in get_models():
        place = cfg.placement(model)
        if place is not None and place[0] == 'shards':
            found.append((model, place[1]))
    return found


def describe_alias(alias):
    db = config.current().databases[alias]
    return {'alias': alias, 'engine': db.engine, 'host': db.host or '-',
            'port': db.port or '-', 'name': db.name, 'user': db.user or '-',
            'password': db.password and MASK or '-'}


def report(counts=True, out=None):
    """Write the status to ``out``; returns the aliases that did not answer."""
    from djpatch_multidb.compat import load_all_models
    load_all_models()  # import every models module, which applies the remaining patches
    out = out or sys.stdout
    cfg = config.current()
    write = lambda line='': out.write(line + '\n')

    write('Versions: ' + ', '.join(['%s %s' % pair for pair in versions()]))
    from djpatch_multidb import versions as django_versions
    if django_versions.is_native():
        from django.conf import settings
        write('Routing: Django\'s own multiple databases; DATABASE_ROUTERS %s'
              % ', '.join([str(r) for r in settings.DATABASE_ROUTERS]))
    applied = installation.applied_patches()
    write('Patches: %s, %d in place, %d waiting for their module'
          % (installation.is_installed() and 'installed' or 'NOT INSTALLED', len(applied),
             len(installation.pending_patches())))
    for name, state in patches():
        write('  %-70s %s' % (name, state))
    write()
    write('Aliases:')
    down = []
    for alias in cfg.aliases:
        info = describe_alias(alias)
        answers, seconds, error = probe(alias)
        if not answers:
            down.append(alias)
        write('  %(alias)-16s %(engine)-26s host %(host)s port %(port)s name %(name)s '
              'user %(user)s password %(password)s' % info)
        write('  %-16s %s' % ('', answers and 'answers in %.1f ms' % (seconds * 1000)
                              or 'DOES NOT ANSWER: ' + error))
    if cfg.replicas:
        write()
        write('Replicas:')
        for primary in sorted(cfg.replicas):
            for replica in cfg.replicas[primary]:
                if replica in down:
                    lag = 'down'
                else:
                    lag = _safe(replica_lag, replica)
                    if lag is None:
                        lag = 'n/a (not MySQL)'
                write('  %-16s of %-16s lag %s' % (replica, primary, lag))
    if cfg.shards:
        write()
        write('Shard groups:')
        for group in sorted(cfg.shards):
            write('  %-16s key %-10s %s' % (group, cfg.shard_keys.get(group) or 'none',
                                          ', '.join(cfg.shards[group])))
    if counts and cfg.shards:
        write()
        write('Rows per sharded model per shard:')
        for model, group in sharded_models():
            cells = []
            for alias in cfg.shards[group]:
                if alias in down:
                    cells.append('%s: down' % alias)
                else:
                    cells.append('%s: %s' % (alias, _safe(model.objects.using(alias).count)))
            write('  %s.%s: %s' % (model._meta.app_label, model._meta.object_name,
                                   ', '.join(cells)))
    connections.close_all()
    return down


def _safe(func, *args):
    try:
        return func(*args)
    except Exception:
        error = sys.exc_info()[1]
        return 'error (%s: %s)' % (type(error).__name__, error)
