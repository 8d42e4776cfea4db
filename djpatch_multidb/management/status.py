"""What multidb_status reports: problems first, then versions, patches,
aliases, replicas, shards.

Problems are what needs an operator: an alias that does not answer, a replica
that lags or does not replicate, a placed model whose table is missing on its
database, a model with a shard key that MULTIDB_MODELS puts on no shard group.
Notes are worth knowing but not wrong (an empty table, a lag that cannot be
measured).  Every function returns plain data; ``report()`` turns it into
text.  Nothing here ever shows a password.
"""
import os
import sys
import time

from djpatch_multidb.base import compat, config, patcher
from djpatch_multidb.base import versions as django_versions
from djpatch_multidb.db.connections import connections

MASK = '***'
MAX_LAG = 10   # seconds a replica may be behind before it is a problem


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
    rows = [(r.name, 'in place') for r in patcher.applied_records()]
    rows.extend([(r.name, 'waiting for its module to be imported')
                 for r in patcher.pending_records()])
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


def same_sqlite_file(alias, other):
    """Whether two SQLite aliases open the same file."""
    databases = config.current().databases
    a, b = databases[alias], databases[other]
    if a.vendor != 'sqlite3' or b.vendor != 'sqlite3':
        return False
    if ':memory:' in (a.name, b.name):
        return False
    return os.path.realpath(a.name) == os.path.realpath(b.name)


def replica_state(primary, replica, max_lag=MAX_LAG):
    """(lag as shown, problem or None, note or None) for a replica that answers."""
    db = config.current().databases[replica]
    if same_sqlite_file(replica, primary):
        return 'none (the same SQLite file as %s)' % primary, None, None
    if db.vendor != 'mysql':
        return ('not measurable', None,
                "replica %r of %r is a %s database of its own (not the file of %r): "
                "its lag cannot be measured" % (replica, primary, db.vendor, primary))
    lag = _safe(replica_lag, replica)
    if lag == 'not replicating':
        return lag, ("replica %r of %r is not replicating (SHOW SLAVE STATUS is empty)"
                     % (replica, primary)), None
    if lag == 'stopped':
        return lag, "replica %r of %r: replication is stopped" % (replica, primary), None
    if lag is None:
        return 'unknown', ("replica %r of %r: Seconds_Behind_Master is unknown"
                           % (replica, primary)), None
    if isinstance(lag, str):
        return lag, None, "replica %r of %r: lag not read: %s" % (replica, primary, lag)
    if int(lag) > max_lag:
        return '%ss' % lag, ("replica %r of %r lags %s seconds behind (more than %s)"
                             % (replica, primary, lag, max_lag)), None
    return '%ss' % lag, None, None


def sharded_models():
    """(model, group) for every installed model placed on a shard group."""
    get_models = compat.get_models
    cfg = config.current()
    found = []
    for model in get_models():
        place = cfg.placement(model)
        if place is not None and place[0] == 'shards':
            found.append((model, place[1]))
    return found


def model_label(model):
    return '%s.%s' % (model._meta.app_label, model._meta.object_name)


def shard_key_of(model):
    """What makes ``model`` a sharded model by its own definition: its
    ``shard_key`` attribute or a ShardedIdField; None when neither."""
    name = getattr(model, 'shard_key', None)
    if name is not None:
        return 'shard_key = %r' % (name,)
    from djpatch_multidb.api.ids import ShardedIdField
    for field in model._meta.fields:
        if isinstance(field, ShardedIdField):
            return 'ShardedIdField %r' % field.name
    return None


def keyed_but_not_sharded():
    """(model, what keys it, where it lives instead) for every model that has a
    shard key but is placed on no shard group."""
    get_models = compat.get_models
    cfg = config.current()
    found = []
    for model in get_models():
        key = shard_key_of(model)
        if key is None:
            continue
        place = cfg.placement(model)
        if place is not None and place[0] == 'shards':
            continue
        if place is None:
            where = cfg.router_paths and 'DATABASE_ROUTERS decide' or "it lives on 'default'"
        else:
            where = 'it is placed on %r' % place[1]
        found.append((model, key, where))
    return found


def homes(model):
    """The aliases whose ``model`` table must exist: its alias, the shards of its
    group, or 'default' when it is not placed (unless routers decide), and the
    replicas of each that are not the same SQLite file; an empty list when unknown."""
    cfg = config.current()
    place = cfg.placement(model)
    if place is None:
        aliases = not cfg.router_paths and ['default'] or []
    elif place[0] == 'alias':
        aliases = [place[1]]
    else:
        aliases = list(cfg.shards[place[1]])
    found = []
    for alias in aliases:
        for name in [alias] + list(cfg.replicas.get(alias, [])):
            if name != alias and same_sqlite_file(name, alias):
                continue    # the primary's own file, looked at already
            if name in cfg.databases and name not in found:
                found.append(name)
    return found


def table_names(alias):
    """The lower-cased table names on ``alias``, or None when the engine is
    not one this can list."""
    vendor = config.current().databases[alias].vendor
    if vendor == 'sqlite3':
        sql = "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
    elif vendor == 'mysql':
        sql = 'SHOW TABLES'
    else:
        return None
    wrapper = connections[alias]
    cursor = wrapper.cursor()
    try:
        cursor.execute(sql)
        return set([str(row[0]).lower() for row in cursor.fetchall()])
    finally:
        wrapper._rollback()


def is_empty(alias, table):
    vendor = config.current().databases[alias].vendor
    quoted = vendor == 'mysql' and '`%s`' % table or '"%s"' % table
    wrapper = connections[alias]
    cursor = wrapper.cursor()
    try:
        cursor.execute('SELECT 1 FROM %s LIMIT 1' % quoted)
        return not cursor.fetchall()
    finally:
        wrapper._rollback()


def model_tables(down=()):
    """(missing, empty): [(model, table, [aliases])] of the tables that placed
    models lack on their databases, and of those that are there but empty.
    Aliases in ``down`` are skipped."""
    get_models = compat.get_models
    listed = {}
    missing, empty = [], []
    for model in get_models():
        meta = model._meta
        if not getattr(meta, 'managed', True) or getattr(meta, 'proxy', False):
            continue
        table = meta.db_table
        lacking, bare = [], []
        for alias in homes(model):
            if alias in down:
                continue
            if alias not in listed:
                listed[alias] = _quiet(table_names, alias)
            if listed[alias] is None:
                continue
            if table.lower() not in listed[alias]:
                lacking.append(alias)
            elif _quiet(is_empty, alias, table):
                bare.append(alias)
        if lacking:
            missing.append((model, table, lacking))
        if bare:
            empty.append((model, table, bare))
    return missing, empty


def describe_alias(alias):
    db = config.current().databases[alias]
    return {'alias': alias, 'engine': db.engine, 'host': db.host or '-',
            'port': db.port or '-', 'name': db.name, 'user': db.user or '-',
            'password': db.password and MASK or '-'}


def report(counts=True, out=None, verbosity=1, max_lag=MAX_LAG):
    """Write the status to ``out``, problems first; returns the problems found
    (a list of one-line texts, empty when there are none)."""
    compat.load_all_models()  # import every models module, which applies the remaining patches
    out = out or sys.stdout
    cfg = config.current()
    problems, notes, overview = [], [], []
    write = overview.append

    # Every alias is probed first: the other checks skip those that do not answer.
    down, answered = [], {}
    for alias in cfg.aliases:
        answers, seconds, error = probe(alias)
        answered[alias] = (answers, seconds, error)
        if not answers:
            down.append(alias)
            problems.append('alias %r does not answer: %s' % (alias, error))

    lags = {}
    for primary in sorted(cfg.replicas):
        for replica in cfg.replicas[primary]:
            if replica in down:
                lags[replica] = 'down'
                continue
            lag, problem, note = replica_state(primary, replica, max_lag)
            lags[replica] = lag
            if problem:
                problems.append(problem)
            if note:
                notes.append(note)

    missing, empty = model_tables(down)
    for model, table, aliases in missing:
        problems.append('table %s of %s is missing on %s'
                        % (table, model_label(model), ', '.join(aliases)))
    for model, key, where in keyed_but_not_sharded():
        problems.append('%s has a shard key (%s) but MULTIDB_MODELS puts it on no shard '
                        'group: %s' % (model_label(model), key, where))
    for model, table, aliases in empty:
        notes.append('table %s of %s is empty on %s'
                     % (table, model_label(model), ', '.join(aliases)))

    write('Versions: ' + ', '.join(['%s %s' % pair for pair in versions()]))
    if django_versions.is_native():
        from django.conf import settings
        write('Routing: Django\'s own multiple databases; DATABASE_ROUTERS %s'
              % ', '.join([str(r) for r in settings.DATABASE_ROUTERS]))
    applied = patcher.applied_records()
    write('Patches: %s, %d in place, %d waiting for their module%s'
          % (patcher.is_installed() and 'installed' or 'NOT INSTALLED', len(applied),
             len(patcher.pending_records()), verbosity < 2 and ' (-v 2 lists them)' or ''))
    if verbosity >= 2:
        for name, state in patches():
            write('  %-70s %s' % (name, state))
    write('')
    write('Aliases:')
    for alias in cfg.aliases:
        info = describe_alias(alias)
        answers, seconds, error = answered[alias]
        write('  %(alias)-16s %(engine)-26s host %(host)s port %(port)s name %(name)s '
              'user %(user)s password %(password)s' % info)
        write('  %-16s %s' % ('', answers and 'answers in %.1f ms' % (seconds * 1000)
                              or 'DOES NOT ANSWER: ' + error))
    if cfg.replicas:
        write('')
        write('Replicas:')
        for primary in sorted(cfg.replicas):
            for replica in cfg.replicas[primary]:
                write('  %-16s of %-16s lag %s' % (replica, primary, lags[replica]))
    if cfg.shards:
        write('')
        write('Shard groups:')
        for group in sorted(cfg.shards):
            write('  %-16s key %-10s %s' % (group, cfg.shard_keys.get(group) or 'none',
                                          ', '.join(cfg.shards[group])))
    if counts and cfg.shards:
        write('')
        write('Rows per sharded model per shard:')
        lacking = dict([(model, aliases) for model, table, aliases in missing])
        for model, group in sharded_models():
            cells = []
            for alias in cfg.shards[group]:
                if alias in down:
                    cells.append('%s: down' % alias)
                elif alias in lacking.get(model, ()):
                    cells.append('%s: no table' % alias)
                else:
                    cells.append('%s: %s' % (alias, _safe(model.objects.using(alias).count)))
            write('  %s: %s' % (model_label(model), ', '.join(cells)))
    connections.close_all()

    lines = []
    if problems:
        lines.append('Problems (%d):' % len(problems))
        lines.extend(['  - ' + problem for problem in problems])
    else:
        lines.append('No problems found.')
    if notes:
        lines.append('Notes:')
        lines.extend(['  - ' + note for note in notes])
    lines.append('')
    out.write('\n'.join(lines + overview) + '\n')
    return problems


def _safe(func, *args):
    try:
        return func(*args)
    except Exception:
        error = sys.exc_info()[1]
        return 'error (%s: %s)' % (type(error).__name__, error)


def _quiet(func, *args):
    """``func(*args)``, or None if it raised."""
    try:
        return func(*args)
    except Exception:
        return None
