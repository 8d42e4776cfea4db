"""One benchmark variant in a long-lived process, driven by bench.py.

    python worker.py        (bench.py starts it; never run by hand)

Protocol: one JSON object per line on stdin (a command), one JSON object per
line on the original stdout (the answer); everything the worker or Django
prints goes to stderr.  The first command is always "setup", which configures
Django for the variant, creates the tables and puts the seed rows in.

Variants (the "kind" of the setup command):
  vanilla    Django 1.1.4 as it is, one database (legacy DATABASE_* settings)
  installed  Django 1.1.4 + djpatch_multidb.install(), DATABASES with several
             aliases; ctx None (no context) or 'using_shard' (each operation
             inside its own ``with using_shard(1):`` block); touch_all: the
             thread keeps a connection open to every alias
  dj111      Django 1.11, DATABASES; router None (none configured),
             'placement' (a router that looks the model up in a placement map)
             and ctx 'router_shard' (that router reading a thread-local shard
             number set by a minimal context manager around each operation);
             router 'oneline': a router whose every method is one line
             (db_for_read/db_for_write return 'default'), the least any
             router costs; shim: djpatch_multidb.install() instead, its
             router from the MULTIDB_* settings, ctx 'using_shard'

The library is found through its public names (djpatch_multidb.install,
using_shard, connections, ...); the few internal functions measured alone
(the alias resolution of the ORM path, the selector stack) are looked up in
each module they have lived in (library_function()).

Python 2.6/2.7.
"""
import gc
import json
import os
import sys
import threading
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# The protocol channel is the original stdout; prints go to stderr.
_proto_out = os.fdopen(os.dup(sys.stdout.fileno()), 'w')
sys.stdout = sys.stderr

warnings.simplefilter('ignore')

now = time.time

SEED_ROWS = 1000      # rows of the seed; grp = i % 10, so each group has 100
GROUPS = 10
INSERT_GRP = 99       # rows inserted (and deleted again) by each cycle


def reply(obj):
    _proto_out.write(json.dumps(obj) + '\n')
    _proto_out.flush()


def rss_kb():
    f = open('/proc/self/status')
    try:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    finally:
        f.close()
    return 0


class Barrier(object):
    """threading.Barrier for Python 2."""

    def __init__(self, parties):
        self.parties = parties
        self.count = 0
        self.cond = threading.Condition()

    def wait(self):
        self.cond.acquire()
        try:
            self.count += 1
            if self.count >= self.parties:
                self.cond.notify_all()
            else:
                while self.count < self.parties:
                    self.cond.wait(60)
        finally:
            self.cond.release()


# ---------------------------------------------------------------- Django 1.11 router
_router_state = threading.local()


class RouterShard(object):
    """Django 1.11's counterpart of using_shard(n): a thread-local shard number
    that the placement router reads (the usual pattern with native routers)."""

    def __init__(self, number):
        self.number = number

    def __enter__(self):
        try:
            stack = _router_state.stack
        except AttributeError:
            stack = _router_state.stack = []
        stack.append(self.number)
        return self

    def __exit__(self, *exc):
        _router_state.stack.pop()
        return False


class PlacementRouter(object):
    """A Django 1.11 router doing what MULTIDB_MODELS does: model label -> alias,
    or 'shards:<group>' -> the shard the thread selected."""
    placement = {}
    shards = {}

    def _db(self, model):
        place = self.placement.get(model._meta.label_lower)
        if place is None:
            return None
        if place.startswith('shards:'):
            try:
                number = _router_state.stack[-1]
            except (AttributeError, IndexError):
                raise LookupError('%s is sharded and no shard is selected' % model._meta.label)
            return self.shards[place[7:]][number]
        return place

    def db_for_read(self, model, **hints):
        return self._db(model)

    def db_for_write(self, model, **hints):
        return self._db(model)

    def allow_relation(self, obj1, obj2, **hints):
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return None


class OneLineRouter(object):
    """The cheapest useful Django 1.11 router: every method one line."""

    def db_for_read(self, model, **hints):
        return 'default'

    def db_for_write(self, model, **hints):
        return 'default'

    def allow_relation(self, obj1, obj2, **hints):
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return None


# ---------------------------------------------------------------- the library's internals
# Where the internal functions measured alone live, newest layout first.
ROUTING_MODULES = ('djpatch_multidb.routing.precedence', 'djpatch_multidb.routing')
SELECTOR_MODULES = ('djpatch_multidb.context.selector', 'djpatch_multidb.selector')
PROXY_MODULES = ('djpatch_multidb.routing.proxy', 'djpatch_multidb.proxy')
ORM_PATCH_MODULES = ('djpatch_multidb.patched.orm', 'djpatch_multidb.orm_patches')
SYNCDB_MODULES = ('djpatch_multidb.routing.syncdb', 'djpatch_multidb.syncdb')


def selector_modules():
    """SELECTOR_MODULES, the module the public using_shard comes from first."""
    import djpatch_multidb
    return (djpatch_multidb.using_shard.__module__,) + SELECTOR_MODULES


def library_function(name, modules):
    """``name`` from the first of ``modules`` that has it, preferring those
    the library has already imported (the ones its own code calls, should an
    old and a new copy both be importable while it is being moved);
    ImportError naming every module tried when none does."""
    for module in modules:
        value = getattr(sys.modules.get(module), name, None)
        if value is not None:
            return value
    tried = []
    for module in modules:
        try:
            __import__(module)
        except ImportError:
            tried.append('%s (%s)' % (module, sys.exc_info()[1]))
            continue
        value = getattr(sys.modules[module], name, None)
        if value is not None:
            return value
        tried.append('%s (no %s)' % (module, name))
    raise ImportError('%s not found: %s' % (name, '; '.join(tried)))


def optional_function(name, modules):
    try:
        return library_function(name, modules)
    except ImportError:
        return None


# ---------------------------------------------------------------- the worker
class Worker(object):

    def __init__(self):
        self.cfg = None
        self.Item = None
        self.ctx = None
        self.seed_pks = []
        self.cursor_pos = 0
        self.inserted = []

    # -- setup --------------------------------------------------------------
    def setup(self, cfg):
        self.cfg = cfg
        kind = cfg['kind']
        global ROOT
        if cfg.get('lib_dir'):
            ROOT = cfg['lib_dir']    # another copy of the library (bench.py --lib)
        for path in (os.path.join(os.path.dirname(HERE), 'tools'), ROOT, HERE):
            if path not in sys.path:
                sys.path.insert(0, path)
        if kind == 'installed' or cfg.get('shim'):
            import djpatch_multidb
            djpatch_multidb.install()
        from django.conf import settings
        apps = cfg.get('apps', ['benchapp'])
        if kind == 'vanilla':
            default = cfg['databases']['default']
            settings.configure(
                DATABASE_ENGINE=default['ENGINE'].split('.')[-1],
                DATABASE_NAME=default['NAME'],
                DATABASE_USER=default.get('USER', ''),
                DATABASE_PASSWORD=default.get('PASSWORD', ''),
                DATABASE_HOST=default.get('HOST', ''),
                DATABASE_PORT=str(default.get('PORT', '')),
                INSTALLED_APPS=apps, DEBUG=False)
        elif kind == 'installed':
            settings.configure(
                DATABASES=cfg['databases'],
                MULTIDB_SHARDS=cfg.get('shards', {}),
                MULTIDB_MODELS=cfg.get('models', {}),
                INSTALLED_APPS=apps, DEBUG=False)
        elif kind == 'dj111':
            databases = {}
            for alias, entry in cfg['databases'].items():
                entry = dict(entry)
                if 'mysql' in entry['ENGINE']:
                    entry['ENGINE'] = 'django.db.backends.mysql'
                else:
                    entry['ENGINE'] = 'django.db.backends.sqlite3'
                if 'PORT' in entry:
                    entry['PORT'] = str(entry['PORT'])
                databases[alias] = entry
            routers = []
            extra = {}
            if cfg.get('shim'):    # the library's router, from the MULTIDB_* settings
                extra = {'MULTIDB_SHARDS': cfg.get('shards', {}),
                         'MULTIDB_MODELS': cfg.get('models', {})}
            if cfg.get('router') == 'placement':
                PlacementRouter.placement = dict(cfg.get('placement', {}))
                PlacementRouter.shards = dict(cfg.get('shards', {}))
                routers = [PlacementRouter()]
            elif cfg.get('router') == 'oneline':
                routers = [OneLineRouter()]
            elif cfg.get('router'):
                raise ValueError('unknown router %r' % (cfg['router'],))
            settings.configure(DATABASES=databases, DATABASE_ROUTERS=routers,
                               INSTALLED_APPS=apps, DEBUG=False, USE_TZ=False, **extra)
            import django
            django.setup()
        else:
            raise ValueError('unknown kind %r' % (kind,))

        ctx = cfg.get('ctx')
        number = cfg.get('shard_number', 1)
        if ctx == 'using_shard':
            from djpatch_multidb import using_shard
            self.ctx = lambda: using_shard(number)
        elif ctx == 'router_shard':
            self.ctx = lambda: RouterShard(number)
        elif ctx:
            raise ValueError('unknown ctx %r' % (ctx,))

        if 'benchapp' in apps:
            from benchapp.models import Item
            self.Item = Item
        self.create_tables()
        if 'benchapp' in apps and cfg.get('seed', True):
            self.seed()
        # Setting up opened connections to every alias; the operations start
        # with none open, as a request does.
        self.close_connections()
        if cfg.get('touch_all'):
            # ... except in the variant of a thread that has already used
            # every alias (one SELECT 1 on each, committed).
            for alias in sorted(cfg['databases']):
                cursor, commit = self.raw_cursor(alias)
                cursor.execute('SELECT 1')
                cursor.fetchall()
                commit()
        import django
        info = {'django': django.get_version(), 'python': sys.version.split()[0],
                'pid': os.getpid()}
        return info

    def create_tables(self):
        kind = self.cfg['kind']
        from django.core.management import call_command
        if kind == 'vanilla':
            call_command('syncdb', interactive=False, verbosity=0)
        elif kind == 'installed':
            from djpatch_multidb import using
            create_tables = library_function('create_tables', SYNCDB_MODULES)
            for alias in sorted(self.cfg['databases']):
                if self.cfg.get('syncdb_everywhere'):
                    with using(alias):
                        call_command('syncdb', interactive=False, verbosity=0)
                else:
                    create_tables(alias, verbosity=0)
        else:
            for alias in sorted(self.cfg['databases']):
                call_command('migrate', run_syncdb=True, interactive=False, verbosity=0,
                             database=alias)

    def close_connections(self):
        kind = self.cfg['kind']
        if kind == 'vanilla':
            from django.db import connection
            connection.close()
        elif kind == 'installed':
            from djpatch_multidb import connections
            connections.close_all()
        else:
            from django.db import connections
            for wrapper in connections.all():
                wrapper.close()

    def raw_cursor(self, alias):
        """A cursor on ``alias`` and a function that commits it."""
        kind = self.cfg['kind']
        if kind == 'vanilla':
            from django.db import connection, transaction
            return connection.cursor(), transaction.commit_unless_managed
        if kind == 'installed':
            from djpatch_multidb import connections
            wrapper = connections[alias]
            return wrapper.cursor(), wrapper._commit
        from django.db import connections
        wrapper = connections[alias]
        return wrapper.cursor(), lambda: None   # autocommit

    def seed(self):
        target = self.cfg.get('target', 'default')
        cursor, commit = self.raw_cursor(target)
        table = self.Item._meta.db_table
        rows = [(i % GROUPS, 'seed%d' % i, i) for i in range(SEED_ROWS)]
        cursor.execute('DELETE FROM %s' % table)
        cursor.executemany('INSERT INTO %s (grp, name, value) VALUES (%%s, %%s, %%s)' % table, rows)
        commit()
        cursor.execute('SELECT id FROM %s ORDER BY id' % table)
        self.seed_pks = [r[0] for r in cursor.fetchall()]
        commit()
        if len(self.seed_pks) != SEED_ROWS:
            raise AssertionError('seeded %d rows, expected %d' % (len(self.seed_pks), SEED_ROWS))

    # -- the ORM operations ---------------------------------------------------
    def next_pks(self, n):
        pks = self.seed_pks
        start = self.cursor_pos
        self.cursor_pos = (start + 7 * n) % len(pks)
        return [pks[(start + 7 * i) % len(pks)] for i in range(n)]

    def phase(self, op, n, m):
        """n (m for filter100) operations of one kind; seconds per operation.

        insert saves n new rows, get reads n seed rows by primary key,
        filter100 lists the 100 rows of a group m times, update changes n
        seed rows through filter(pk=...).update(), delete deletes the rows the
        last insert phase saved (one instance delete() each)."""
        Item = self.Item
        ctx = self.ctx
        gc.collect()
        if op == 'insert':
            objs = []
            t0 = now()
            if ctx is None:
                for i in range(n):
                    obj = Item(grp=INSERT_GRP, name='new', value=i)
                    obj.save()
                    objs.append(obj)
            else:
                for i in range(n):
                    with ctx():
                        obj = Item(grp=INSERT_GRP, name='new', value=i)
                        obj.save()
                    objs.append(obj)
            elapsed = (now() - t0) / n
            self.inserted.extend(objs)
            return elapsed

        if op == 'get':
            pks = self.next_pks(n)
            t0 = now()
            if ctx is None:
                for pk in pks:
                    obj = Item.objects.get(pk=pk)
            else:
                for pk in pks:
                    with ctx():
                        obj = Item.objects.get(pk=pk)
            elapsed = (now() - t0) / n
            if obj.pk != pks[-1]:
                raise AssertionError('get(pk=%r) returned %r' % (pks[-1], obj.pk))
            return elapsed

        if op == 'filter100':
            t0 = now()
            if ctx is None:
                for j in range(m):
                    rows = list(Item.objects.filter(grp=j % GROUPS))
            else:
                for j in range(m):
                    with ctx():
                        rows = list(Item.objects.filter(grp=j % GROUPS))
            elapsed = (now() - t0) / m
            if len(rows) != 100:
                raise AssertionError('filter(grp=...) gave %d rows, expected 100' % len(rows))
            return elapsed

        if op == 'update':
            pks = self.next_pks(n)
            t0 = now()
            if ctx is None:
                for pk in pks:
                    Item.objects.filter(pk=pk).update(value=pk + 1)
            else:
                for pk in pks:
                    with ctx():
                        Item.objects.filter(pk=pk).update(value=pk + 1)
            return (now() - t0) / n

        if op == 'delete':
            objs = self.inserted
            self.inserted = []
            if not objs:
                raise AssertionError('delete phase without an insert phase before it')
            t0 = now()
            if ctx is None:
                for obj in objs:
                    obj.delete()
            else:
                for obj in objs:
                    with ctx():
                        obj.delete()
            return (now() - t0) / len(objs)
        raise ValueError('unknown operation %r' % (op,))

    # -- the selector alone -----------------------------------------------------
    def selector(self, n):
        """Microseconds per call of what resolves the database of one query.

        'alias': the alias of a read of Item as the ORM path asks the library
        for it (routing's db_for(model, False), which the Django 1.0/1.1
        patches and, on Django 1.2+, MultiDBRouter.db_for_read call), inside
        the variant's block (entered once, around the loop) or with no context;
        'router_alias': Django 1.11's router.db_for_read(Item) likewise;
        'resolve': the connection of that alias (connections[...]);
        'context_alias': the selector's innermost-context lookup alone.
        Each is checked to give the variant's target alias first."""
        kind = self.cfg['kind']
        target = self.cfg.get('target', 'default')
        Item = self.Item
        out = {}
        r = range(n)
        t0 = now()
        for _ in r:
            pass
        empty = now() - t0

        def per_call(t):
            return max(t - empty, 0.0) / n * 1e6

        def check(what, got):
            if got != target:
                raise AssertionError('%s gave %r, expected %r' % (what, got, target))

        if kind == 'vanilla':
            from django.db import connection
            t0 = now()
            for _ in r:
                connection.ops
            out['connection_attr'] = per_call(now() - t0)
            return out

        library = kind == 'installed' or self.cfg.get('shim')
        db_for = context_alias = None
        if library:
            import djpatch_multidb
            connections = djpatch_multidb.connections
            db_for = library_function('db_for', ROUTING_MODULES)
            context_alias = optional_function('context_alias', selector_modules())
        if kind != 'installed':
            from django.db import connections, router
        from django.db import connection
        block = self.ctx and self.ctx() or None
        if block is not None:
            block.__enter__()
        try:
            if db_for is not None:
                check('db_for(Item, False)', db_for(Item, False))
                t0 = now()
                for _ in r:
                    db_for(Item, False)
                out['alias'] = per_call(now() - t0)
                t0 = now()
                for _ in r:
                    connections[db_for(Item, False)]
                out['resolve'] = per_call(now() - t0)
            if context_alias is not None and block is not None:
                check('context_alias(Item)', context_alias(Item))
                t0 = now()
                for _ in r:
                    context_alias(Item)
                out['context_alias'] = per_call(now() - t0)
            if kind != 'installed':
                check('router.db_for_read(Item)', router.db_for_read(Item))
                t0 = now()
                for _ in r:
                    router.db_for_read(Item)
                out['router_alias'] = per_call(now() - t0)
                t0 = now()
                for _ in r:
                    connections[router.db_for_read(Item)]
                out['router_resolve'] = per_call(now() - t0)
            t0 = now()
            for _ in r:
                connection.ops
            out['connection_attr'] = per_call(now() - t0)
        finally:
            if block is not None:
                block.__exit__(None, None, None)
        ctx = self.ctx
        if ctx is not None:
            if db_for is not None:
                t0 = now()
                for _ in r:
                    with ctx():
                        db_for(Item, False)
                out['alias_with_block'] = per_call(now() - t0)
            else:
                t0 = now()
                for _ in r:
                    with ctx():
                        router.db_for_read(Item)
                out['alias_with_block'] = per_call(now() - t0)
            t0 = now()
            for _ in r:
                with ctx():
                    pass
            out['shard_block'] = per_call(now() - t0)
        elif kind == 'installed':
            self._library_pieces(n, r, empty, per_call, out)
        return out

    def _library_pieces(self, n, r, empty, per_call, out):
        """Pieces of the library's per-query path on Django 1.0/1.1, for the
        profile notes; each skipped when the library no longer has it."""
        run_in = optional_function('run_in', selector_modules())
        if run_in is not None:
            noop = _noop
            t0 = now()
            for _ in r:
                noop()
            call = now() - t0
            t0 = now()
            for _ in r:
                run_in('default', None, noop)
            out['run_in'] = per_call(now() - t0 - call + empty)
        QueryConnection = optional_function('QueryConnection', PROXY_MODULES)
        if QueryConnection is not None:
            qc = QueryConnection('default')
            t0 = now()
            for _ in r:
                qc.ops
            out['query_connection_attr'] = per_call(now() - t0)
        _remembering = optional_function('_remembering', ORM_PATCH_MODULES)
        if _remembering is not None:
            rows = [_Plain() for _ in range(100)]
            rounds = range(max(n // 100, 1))
            t0 = now()
            for _ in rounds:
                for o in rows:
                    o.__dict__.pop('_state', None)
                list(iter(rows))
            base = now() - t0
            t0 = now()
            for _ in rounds:
                for o in rows:
                    o.__dict__.pop('_state', None)
                list(_remembering(iter(rows), 'default', False))
            out['remember_per_row'] = max(now() - t0 - base, 0.0) / len(rounds) / 100 * 1e6

    # -- profile ----------------------------------------------------------------
    def profile(self, n, m, top):
        """cProfile each operation on its own; the library's functions, per operation."""
        import cProfile
        import pstats
        results = {}
        ops = ('insert', 'get', 'filter100', 'update', 'delete')
        for op in ops:
            prof = cProfile.Profile()
            # Each op on its own: the whole cycle runs, only `op` is profiled.
            self._profiled_cycle(n, m, op, prof)
            stats = pstats.Stats(prof)
            count = op == 'filter100' and m or n
            rows = []
            total = 0.0
            libdir = os.path.join(ROOT, 'djpatch_multidb') + os.sep
            for func, (cc, nc, tt, ct, callers) in stats.stats.items():
                filename, line, name = func
                total += tt
                if not os.path.abspath(filename).startswith(libdir):
                    continue
                rows.append({'func': '%s:%d(%s)' % (filename[len(libdir):], line, name),
                             'calls': float(nc) / count,
                             'tottime_us': tt / count * 1e6,
                             'cumtime_us': ct / count * 1e6,
                             'percall_us': nc and tt / nc * 1e6 or 0.0})
            rows.sort(key=lambda d: -d['tottime_us'])
            lib_own = sum([d['tottime_us'] for d in rows])
            results[op] = {'total_us': total / count * 1e6, 'library_own_us': lib_own,
                           'top': rows[:top]}
        return results

    def _profiled_cycle(self, n, m, op, prof):
        Item = self.Item
        ctx = self.ctx or _NullContext
        objs = []
        gc.collect()
        if op == 'insert':
            prof.enable()
        for i in range(n):
            with ctx():
                obj = Item(grp=INSERT_GRP, name='new', value=i)
                obj.save()
            objs.append(obj)
        prof.disable()
        if op == 'get':
            prof.enable()
        for pk in self.next_pks(n):
            with ctx():
                Item.objects.get(pk=pk)
        prof.disable()
        if op == 'filter100':
            prof.enable()
        for j in range(m):
            with ctx():
                list(Item.objects.filter(grp=j % GROUPS))
        prof.disable()
        if op == 'update':
            prof.enable()
        for pk in self.next_pks(n):
            with ctx():
                Item.objects.filter(pk=pk).update(value=pk + 1)
        prof.disable()
        if op == 'delete':
            prof.enable()
        for obj in objs:
            with ctx():
                obj.delete()
        prof.disable()

    # -- connections --------------------------------------------------------------
    def conns(self, threads_list, aliases_list, server):
        """T threads each using the first A of the N aliases: connections opened,
        per thread and as the server (or the file system) sees them."""
        kind = self.cfg['kind']
        names = self.cfg['conn_aliases']
        # The main thread created the tables: close what it opened.
        self.close_connections()
        out = []
        for T in threads_list:
            for A in aliases_list:
                if kind == 'vanilla' and A != 1:
                    continue
                out.append(self._conn_case(T, A, names, server))
        return out

    def _count_open(self, server):
        """(connections the server / file system sees, extra info)."""
        if server:
            import MySQLdb
            conn = MySQLdb.connect(host=server['host'], port=server['port'], user='root', passwd='')
            try:
                cur = conn.cursor()
                cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s",
                            (server['user'],))
                count = int(cur.fetchall()[0][0])
                cur.execute("SHOW GLOBAL STATUS LIKE 'Memory_used'")
                row = cur.fetchall()
                mem = row and int(row[0][1]) or None
            finally:
                conn.close()
            return count, mem
        folder = self.cfg['db_dir']
        count = 0
        for fd in os.listdir('/proc/self/fd'):
            try:
                target = os.readlink('/proc/self/fd/' + fd)
            except OSError:
                continue
            if target.startswith(folder) and target.endswith('.db'):
                count += 1
        return count, None

    def _conn_case(self, T, A, names, server):
        kind = self.cfg['kind']
        Item = self.Item
        parked_barrier = Barrier(T + 1)
        parked_barrier2 = Barrier(T + 1)
        opened_barrier = Barrier(T + 1)
        release_barrier = Barrier(T + 1)
        closed_barrier = Barrier(T + 1)
        per_thread = []
        errors = []
        lock = threading.Lock()

        def body():
            try:
                parked_barrier.wait()        # everything started, nothing opened
                parked_barrier2.wait()
                if kind == 'vanilla':
                    Item.objects.count()
                    from django.db import connection
                    wrappers, live = 1, int(connection.connection is not None)
                else:
                    from djpatch_multidb import using, connections
                    for alias in names[:A]:
                        with using(alias):
                            Item.objects.count()
                    opened = connections.opened()
                    wrappers = len(opened)
                    live = len([w for a, w in opened if w.connection is not None])
                lock.acquire()
                per_thread.append((wrappers, live))
                lock.release()
            except Exception:
                import traceback
                errors.append(traceback.format_exc())
            opened_barrier.wait()
            release_barrier.wait()
            try:
                if kind == 'vanilla':
                    from django.db import connection
                    connection.close()
                else:
                    from djpatch_multidb import connections
                    connections.close_all()
            finally:
                closed_barrier.wait()

        workers = [threading.Thread(target=body) for _ in range(T)]
        for w in workers:
            w.start()
        parked_barrier.wait()
        gc.collect()
        rss_before = rss_kb()
        before, mem_before = self._count_open(server)
        parked_barrier2.wait()
        opened_barrier.wait()
        gc.collect()
        rss_after = rss_kb()
        during, mem_after = self._count_open(server)
        release_barrier.wait()
        closed_barrier.wait()
        for w in workers:
            w.join()
        after, _ = self._count_open(server)
        if errors:
            raise RuntimeError(errors[0])
        count = len(per_thread)
        result = {
            'threads': T, 'aliases_used': A, 'aliases_configured': len(names),
            'expected': T * (kind == 'vanilla' and 1 or A),
            'open_before': before, 'open_during': during - before, 'open_after': after - before,
            'wrappers_per_thread': sorted(set([p[0] for p in per_thread])),
            'live_per_thread': sorted(set([p[1] for p in per_thread])),
            'threads_reporting': count,
            'rss_delta_kb': rss_after - rss_before,
        }
        if mem_before is not None and mem_after is not None:
            result['server_mem_delta_bytes'] = mem_after - mem_before
        return result

    # -- all_shards() fan-out -------------------------------------------------------
    def fanout_setup(self, per_shard_rows, sleep):
        from djpatch_multidb import connections
        from fanapp.models import PROBES
        groups = self.cfg['shards']
        for k, model in sorted(PROBES.items()):
            table = model._meta.db_table
            for number, alias in enumerate(groups['g%d' % k]):
                wrapper = connections[alias]
                cursor = wrapper.cursor()
                cursor.execute('DROP VIEW IF EXISTS %s' % table)
                cursor.execute("SELECT COUNT(*) FROM information_schema.TABLES "
                               "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s", [table])
                if cursor.fetchall()[0][0]:
                    cursor.execute('DROP TABLE IF EXISTS %s_base' % table)
                    cursor.execute('RENAME TABLE %s TO %s_base' % (table, table))
                cursor.execute('DELETE FROM %s_base' % table)
                cursor.executemany('INSERT INTO %s_base (shard, name) VALUES (%%s, %%s)' % table,
                                   [(number, 'row%d' % i) for i in range(per_shard_rows)])
                cursor.execute(
                    'CREATE VIEW %s AS SELECT b.id AS id, b.shard AS shard, b.name AS name '
                    'FROM (SELECT SLEEP(%s) AS s LIMIT 1) t JOIN %s_base b ON t.s = 0'
                    % (table, float(sleep), table))
                wrapper._commit()
        probe = PROBES[8]
        return {'all_shards': hasattr(probe.objects, 'all_shards')}

    def fanout(self, ks, per_shard_rows):
        """Per k: the k shards one after another; all_shards() with no work
        pending in the thread (as at the start of a request); all_shards()
        right after this thread has read from those shards."""
        from django.db import transaction
        from djpatch_multidb import using_shard
        from fanapp.models import PROBES
        out = {}
        for k in ks:
            model = PROBES[k]
            group = 'g%d' % k
            has_all = hasattr(model.objects, 'all_shards')
            if has_all:
                # Nothing pending in this thread: what a request starts with.
                transaction.commit_unless_managed()
                t0 = now()
                rows = list(model.objects.all_shards())
                out['all%d' % k] = now() - t0
                self._check_fanout(rows, k, per_shard_rows)
            t0 = now()
            total = 0
            for number in range(k):
                with using_shard(number, group=group):
                    total += len(list(model.objects.all()))
            out['seq%d' % k] = now() - t0
            if total != k * per_shard_rows:
                raise AssertionError('sequential over %d shards gave %d rows' % (k, total))
            if has_all:
                # The same right after reading those shards in this thread.
                t0 = now()
                rows = list(model.objects.all_shards())
                out['after_reads%d' % k] = now() - t0
                self._check_fanout(rows, k, per_shard_rows)
            transaction.commit_unless_managed()
        return out

    def _check_fanout(self, rows, k, per_shard_rows):
        if len(rows) != k * per_shard_rows:
            raise AssertionError('all_shards() over %d shards gave %d rows, expected %d'
                                 % (k, len(rows), k * per_shard_rows))
        shards_seen = sorted(set([r.shard for r in rows]))
        if shards_seen != list(range(k)):
            raise AssertionError('all_shards() over %d shards saw shards %r' % (k, shards_seen))


def _noop():
    pass


class _Plain(object):
    pass


class _NullContext(object):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main():
    worker = Worker()
    stdin = sys.stdin
    while True:
        line = stdin.readline()
        if not line:
            break
        cmd = json.loads(line)
        name = cmd.pop('cmd')
        if name == 'quit':
            reply({'ok': True})
            break
        try:
            if name == 'setup':
                result = worker.setup(cmd['config'])
            elif name == 'phase':
                result = worker.phase(cmd['op'], cmd['n'], cmd['m'])
            elif name == 'selector':
                result = worker.selector(cmd['n'])
            elif name == 'profile':
                result = worker.profile(cmd['n'], cmd['m'], cmd.get('top', 15))
            elif name == 'conns':
                result = worker.conns(cmd['threads'], cmd['aliases'], cmd.get('server'))
            elif name == 'fanout_setup':
                result = worker.fanout_setup(cmd['rows'], cmd['sleep'])
            elif name == 'fanout':
                result = worker.fanout(cmd['ks'], cmd['rows'])
            else:
                raise ValueError('unknown command %r' % (name,))
        except Exception:
            import traceback
            reply({'ok': False, 'error': traceback.format_exc()})
            continue
        reply({'ok': True, 'result': result})


if __name__ == '__main__':
    main()
