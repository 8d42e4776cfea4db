"""djpatch_multidb benchmarks: what the patches cost next to vanilla Django,
next to Django 1.11's native routing, and how queries across shards scale.

Run through bench/run.sh, which sets up the two virtualenvs:

    bench/run.sh              full run (a few minutes), writes bench/RESULTS.txt
                              and every sample to bench/RESULTS.json
    bench/run.sh --smoke      a few seconds of everything, asserts nothing
                              about time, writes nothing
    bench/run.sh --quick      SQLite only, variants vanilla, vanilla_b, installed
                              and using_shard, 11 rounds, items 1 and 2 only (no
                              profile, fan-out or connections): the table and
                              the targets on stdout in under a minute, no file

Every variant runs in a long-lived worker process of its own (worker.py);
this driver alternates them: each round goes operation by operation, and
for each operation every variant takes one sample, in a fresh random order,
so that all variants see the same machine at the same time.  Each number is
the median over the rounds; each ratio is the median of a variant over the
median of its baseline in the same run.

  1. ORM operations on SQLite files and on MariaDB (throw-away servers):
     vanilla Django 1.1.4 with one database, twice (vanilla_b against vanilla
     is the noise floor of the run); install() with no context; each
     operation inside using_shard(1); and install() with no context in a
     thread that has a connection open to each of the 5 aliases.
  2. The selector alone: microseconds to resolve the alias of a query (the
     library's db_for(), which the ORM path calls) inside a using_shard(1)
     block and with no context, and the connection of that alias.
  3. The same operations on Django 1.11: without a router (twice, for its
     noise floor), with a one-line router, with a placement router, with
     that router reading a thread-local shard number; and the library
     installed there (its router), with no context and inside using_shard(1).
  4. Model.objects.all_shards() over 1, 2, 4 and 8 shards whose every query
     takes ~20 ms on the server, against asking the shards one by one
     (skipped while all_shards() does not exist).
  5. Connections opened by T threads using A of N aliases, and memory per
     idle connection.

Targets (ratios to the baseline measured side by side in the same run):
  install(), no context / vanilla: geomean <= 1.02 (SQLite), <= 1.01
    (MariaDB), no operation above 1.04;
  inside using_shard(n) / vanilla: geomean <= 1.06 (SQLite), <= 1.04
    (MariaDB), no operation above 1.10;
  the alias of a query inside a using_shard block (db_for()): < 0.5 us;
  Django 1.11: the library's router with no context at parity with a
    one-line router (dj111_shim against dj111_oneline), and inside
    using_shard(n) at parity with a router reading a thread-local shard
    (dj111_shim_shard against dj111_router_shard).  Parity: the variant's
    geomean ratio to Django 1.11 without a router is at most the other's
    plus the tolerance, which is the noise floor of the same run (how far
    the geomean of dj111_b / dj111, or of vanilla_b / vanilla without it,
    is from 1), and never less than 0.01.
  all_shards() over 8 shards <= 1.5 x one shard's query; connections: one
    per thread per alias used.

Options:
  --smoke            tiny sizes, no timing claims, writes no file
  --quick            see above
  --variants A,B,... only these variants in items 1-3 (their baselines are
                     added); writes no file unless --out
  --no-conns, --no-fanout   skip item 5, item 4
  --rounds N         rounds per backend (default 31; 11 with --quick)
  --only sqlite|mysql
  --out FILE         the report (default bench/RESULTS.txt after a full run)
  --json FILE        every sample, as JSON
  --no-profile       skip the cProfile section
  --no-pin           do not put the workers and the MariaDB server on one CPU
  --settle SECONDS   pause before each MariaDB sample (default 0.03)
  --lib DIR          measure the djpatch_multidb package in DIR, not this tree's
  --report-from JSON [--out FILE]
                     write the report again from saved samples (bench/RESULTS.json,
                     which a full run writes beside bench/RESULTS.txt), e.g. after
                     editing bench/NOTES.txt
Python 2.6/2.7 (the Django 1.1.4 virtualenv's python).
"""
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKER = os.path.join(HERE, 'worker.py')
sys.path.insert(0, os.path.join(ROOT, 'tools'))

OPS = ('insert', 'get', 'filter100', 'update', 'delete')
OP_TITLES = {
    'insert': 'save() as insert',
    'get': 'get(pk=...)',
    'filter100': 'filter(), iterate 100 rows',
    'update': 'filter(pk=...).update()',
    'delete': 'instance delete()',
}
SHARDS = ['shard0', 'shard1', 'shard2', 'shard3']
CONN_ALIASES = ['c%d' % i for i in range(8)]
FAN_SHARDS = ['f%d' % i for i in range(8)]
DB_USER = 'bench'
DB_PASSWORD = 'bench-Pa55'

# Targets (ratios against the baseline measured in the same run).
TARGET_INSTALLED = {'sqlite': 1.02, 'mysql': 1.01}     # geomean, install(), no context
TARGET_INSTALLED_OP = 1.04                             # any one operation
TARGET_SHARD = {'sqlite': 1.06, 'mysql': 1.04}         # geomean, inside using_shard(n)
TARGET_SHARD_OP = 1.10                                 # any one operation
TARGET_SELECTOR_US = 0.5      # the alias of a query inside a using_shard block
TARGET_FANOUT = 1.5
# Django 1.11 "parity": ours <= theirs + tolerance (geomeans of the ratios to
# dj111), the tolerance being the run's noise floor (how far the geomean of
# dj111_b / dj111, else of vanilla_b / vanilla, is from 1), at least
# PARITY_FLOOR.
PARITY_FLOOR = 0.01
PARITY = (('dj111_shim', 'dj111_oneline'), ('dj111_shim_shard', 'dj111_router_shard'))
# Noise floors: a second worker identical to the baseline.
NOISE = (('vanilla_b', 'vanilla'), ('dj111_b', 'dj111'))
QUICK_VARIANTS = ['vanilla', 'vanilla_b', 'installed', 'using_shard']

# name, python ('dj11' = Django 1.1.4 venv, 'dj111' = Django 1.11 venv), baseline, settings
VARIANTS = [
    ('vanilla', 'dj11', None,
     {'kind': 'vanilla', 'aliases': ['default'], 'target': 'default'}),
    # The same as 'vanilla' in a worker of its own: the noise floor.
    ('vanilla_b', 'dj11', 'vanilla',
     {'kind': 'vanilla', 'aliases': ['default'], 'target': 'default'}),
    ('installed', 'dj11', 'vanilla',
     {'kind': 'installed', 'aliases': ['default'] + SHARDS, 'target': 'default',
      'shards': {'users': SHARDS}, 'models': {}}),
    ('using_shard', 'dj11', 'vanilla',
     {'kind': 'installed', 'aliases': ['default'] + SHARDS, 'target': 'shard1',
      'shards': {'users': SHARDS}, 'models': {'benchapp.Item': 'shards:users'},
      'ctx': 'using_shard', 'shard_number': 1}),
    ('installed_allopen', 'dj11', 'vanilla',
     {'kind': 'installed', 'aliases': ['default'] + SHARDS, 'target': 'default',
      'shards': {'users': SHARDS}, 'models': {}, 'touch_all': True}),
    ('dj111', 'dj111', None,
     {'kind': 'dj111', 'aliases': ['default'], 'target': 'default'}),
    ('dj111_b', 'dj111', 'dj111',
     {'kind': 'dj111', 'aliases': ['default'], 'target': 'default'}),
    ('dj111_oneline', 'dj111', 'dj111',
     {'kind': 'dj111', 'aliases': ['default'] + SHARDS, 'target': 'default',
      'router': 'oneline'}),
    ('dj111_router', 'dj111', 'dj111',
     {'kind': 'dj111', 'aliases': ['default'] + SHARDS, 'target': 'default',
      'router': 'placement', 'shards': {'users': SHARDS}, 'placement': {}}),
    ('dj111_router_shard', 'dj111', 'dj111',
     {'kind': 'dj111', 'aliases': ['default'] + SHARDS, 'target': 'shard1',
      'router': 'placement', 'shards': {'users': SHARDS},
      'placement': {'benchapp.item': 'shards:users'},
      'ctx': 'router_shard', 'shard_number': 1}),
    # After the upgrade: the library on Django 1.11 is a router (MultiDBRouter).
    ('dj111_shim', 'dj111', 'dj111',
     {'kind': 'dj111', 'shim': True, 'aliases': ['default'] + SHARDS, 'target': 'default',
      'shards': {'users': SHARDS}, 'models': {}}),
    ('dj111_shim_shard', 'dj111', 'dj111',
     {'kind': 'dj111', 'shim': True, 'aliases': ['default'] + SHARDS, 'target': 'shard1',
      'shards': {'users': SHARDS}, 'models': {'benchapp.Item': 'shards:users'},
      'ctx': 'using_shard', 'shard_number': 1}),
]
VARIANT_TITLES = {
    'vanilla': 'Django 1.1.4, vanilla, one database',
    'vanilla_b': 'the same again (noise floor)',
    'installed': 'Django 1.1.4 + install(), no context',
    'using_shard': 'Django 1.1.4 + install(), inside using_shard(1)',
    'installed_allopen': 'install(), no context, 5 connections open',
    'dj111': 'Django 1.11, no router, one database',
    'dj111_b': 'the same again (noise floor)',
    'dj111_oneline': 'Django 1.11, one-line router',
    'dj111_router': 'Django 1.11, placement router',
    'dj111_router_shard': 'Django 1.11, router + thread-local shard',
    'dj111_shim': 'Django 1.11 + install() (router), no context',
    'dj111_shim_shard': 'Django 1.11 + install(), using_shard(1)',
}


def log(msg):
    sys.stderr.write('bench: %s\n' % msg)
    sys.stderr.flush()


LIB_DIR = [None]   # --lib: the folder holding the djpatch_multidb package to measure
PIN_PREFIX = []    # ['taskset', '-c', CPU] when the workers and the server share one CPU
PIN_CPU = [None]


def find_taskset():
    for folder in os.environ.get('PATH', '').split(os.pathsep) + ['/usr/bin', '/bin']:
        path = os.path.join(folder, 'taskset')
        if folder and os.access(path, os.X_OK):
            return path
    return None


def pin_pid(pid):
    """Every thread of ``pid`` (a MariaDB server) on the workers' CPU."""
    if PIN_PREFIX:
        subprocess.check_call([PIN_PREFIX[0], '-a', '-p', '-c', PIN_CPU[0], str(pid)],
                              stdout=open(os.devnull, 'w'))


class WorkerError(RuntimeError):
    pass


class Worker(object):
    """A worker.py process: send a command, read its answer."""

    def __init__(self, name, python, config):
        if LIB_DIR[0]:
            config = dict(config, lib_dir=LIB_DIR[0])
        self.name = name
        self.python = python
        env = dict(os.environ)
        if python != sys.executable and 'PYTHONPATH' in env:
            # The Django 1.11 venv must not see a DJANGO_SRC tree.
            del env['PYTHONPATH']
        self.proc = subprocess.Popen(PIN_PREFIX + [python, WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, cwd=HERE, env=env,
                                     close_fds=True)
        self.config = config
        self.info = None

    def send(self, cmd, **kw):
        kw['cmd'] = cmd
        self.proc.stdin.write(json.dumps(kw) + '\n')
        self.proc.stdin.flush()

    def receive(self):
        line = self.proc.stdout.readline()
        if not line:
            raise WorkerError('worker %s died (exit %s); see its stderr above'
                              % (self.name, self.proc.wait()))
        answer = json.loads(line)
        if not answer.get('ok'):
            raise WorkerError('worker %s failed:\n%s' % (self.name, answer.get('error')))
        return answer.get('result')

    def call(self, cmd, **kw):
        self.send(cmd, **kw)
        return self.receive()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send('quit')
                self.proc.stdin.close()
            except (IOError, OSError):
                pass
            deadline = time.time() + 10
            while self.proc.poll() is None and time.time() < deadline:
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def start_workers(specs):
    """Start every worker and set them up in parallel; [Worker]."""
    workers = []
    try:
        for name, python, config in specs:
            workers.append(Worker(name, python, config))
        for w in workers:
            w.send('setup', config=w.config)
        for w in workers:
            w.info = w.receive()
    except Exception:
        for w in workers:
            w.close()
        raise
    return workers


# ---------------------------------------------------------------- statistics
def median(values):
    values = sorted(values)
    n = len(values)
    if not n:
        return float('nan')
    if n % 2:
        return values[n // 2]
    return (values[n // 2 - 1] + values[n // 2]) / 2.0


def quantile(values, q):
    values = sorted(values)
    if not values:
        return float('nan')
    pos = (len(values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def geomean(values):
    import math
    values = [v for v in values if v > 0]
    if not values:
        return float('nan')
    return math.exp(sum([math.log(v) for v in values]) / len(values))


# ---------------------------------------------------------------- databases
class Backend(object):
    """Where the variants' databases are: SQLite files or one MariaDB server."""

    def __init__(self, kind, tmpdir):
        self.kind = kind
        self.tmpdir = tmpdir
        self.server = None
        self.version = None
        if kind == 'mysql':
            from mariadb_server import MariaDBServer
            # The data directory beside the SQLite files (tmpfs when there
            # is one): disk flushes are noise, not library overhead.
            self.server = MariaDBServer(base_dir=tmpdir)
            self.server.start()
            pin_pid(self.server.proc.pid)
            self.server.create_user(DB_USER, DB_PASSWORD)
            self.version = self.server.execute('SELECT VERSION()')[0][0]
        else:
            import sqlite3
            self.version = sqlite3.sqlite_version

    def databases(self, prefix, aliases):
        dbs = {}
        for alias in aliases:
            if self.kind == 'mysql':
                name = 'b_%s_%s' % (prefix, alias)
                self.server.create_database(name)
                self.server.execute("GRANT ALL ON `%s`.* TO '%s'@'%%'" % (name, DB_USER))
                dbs[alias] = {'ENGINE': 'mysql', 'NAME': name, 'USER': DB_USER,
                              'PASSWORD': DB_PASSWORD, 'HOST': self.server.host,
                              'PORT': self.server.port}
            else:
                folder = os.path.join(self.tmpdir, prefix)
                if not os.path.isdir(folder):
                    os.makedirs(folder)
                dbs[alias] = {'ENGINE': 'sqlite3', 'NAME': os.path.join(folder, alias + '.db')}
        return dbs

    def count_rows(self, entry, table):
        if self.kind == 'mysql':
            exists = self.server.execute(
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '%s' "
                "AND TABLE_NAME = '%s'" % (entry['NAME'], table))
            if not int(exists[0][0]):
                return None   # no such table
            rows = self.server.execute('SELECT COUNT(*) FROM `%s`.%s' % (entry['NAME'], table))
            return int(rows[0][0])
        import sqlite3
        conn = sqlite3.connect(entry['NAME'])
        try:
            try:
                return conn.execute('SELECT COUNT(*) FROM %s' % table).fetchone()[0]
            except sqlite3.OperationalError:
                return None   # no such table
        finally:
            conn.close()

    def server_info(self):
        if self.server is None:
            return None
        return {'host': self.server.host, 'port': self.server.port, 'user': DB_USER}

    def destroy(self):
        if self.server is not None:
            self.server.destroy()
            self.server = None


def variant_specs(backend, pythons, names=None):
    specs = []
    for name, py, baseline, settings in VARIANTS:
        if names is not None and name not in names:
            continue
        if pythons.get(py) is None:
            continue
        config = dict(settings)
        config['databases'] = backend.databases(name, config.pop('aliases'))
        specs.append((name, pythons[py], config))
    return specs


# ---------------------------------------------------------------- 1, 2, 3
def run_orm(backend, pythons, p, results):
    """Items 1-3 on one backend: every variant, round-robin."""
    specs = variant_specs(backend, pythons, p.get('variants'))
    log('%s: starting %d workers (%s)' % (backend.kind, len(specs),
                                          ', '.join([s[0] for s in specs])))
    workers = start_workers(specs)
    try:
        samples = {}
        selector = {}
        for w in workers:
            samples[w.name] = dict([(op, []) for op in OPS])
            selector[w.name] = {}
        total = p['warmup'] + p['rounds']
        t_start = time.time()
        shuffle = random.Random(7).shuffle
        for r in range(total):
            # Operation by operation, every variant in a fresh random order:
            # each variant's sample is taken next to the others' samples of
            # the same operation, and no variant always follows the same one.
            for op in OPS:
                order = list(workers)
                shuffle(order)
                for w in order:
                    if p['settle']:
                        # Let the server finish what the last sample left
                        # behind (purge, log writes) before the next one.
                        time.sleep(p['settle'])
                    t = w.call('phase', op=op, n=p['n'], m=p['m'])
                    if r >= p['warmup']:
                        samples[w.name][op].append(t)
            if p['selector_n'] and backend.kind == 'sqlite':
                for w in workers:
                    if w.name == 'installed_allopen' or w.name in dict(NOISE):
                        continue    # the same selector as 'installed' / the baseline
                    sel = w.call('selector', n=p['selector_n'])
                    if r >= p['warmup']:
                        for key, value in sel.items():
                            selector[w.name].setdefault(key, []).append(value)
            if r == 0 or (r + 1) % 10 == 0 or r + 1 == total:
                log('%s: round %d/%d (%.0f s)' % (backend.kind, r + 1, total,
                                                  time.time() - t_start))
        # Every row where it belongs: the seed on the target alias, nothing
        # left over from the cycles, no Item rows on the other aliases.
        placement = {}
        for w in workers:
            counts = {}
            for alias, entry in sorted(w.config['databases'].items()):
                counts[alias] = backend.count_rows(entry, 'benchapp_item')
            placement[w.name] = counts
            target = w.config['target']
            if counts[target] != 1000:
                raise AssertionError('%s: %r holds %r rows of benchapp_item, expected 1000'
                                     % (w.name, target, counts[target]))
            for alias, count in counts.items():
                if alias != target and count:
                    raise AssertionError('%s: %r holds %r rows of benchapp_item, expected none'
                                         % (w.name, alias, count))
        profiles = {}
        if p['profile'] and backend.kind == 'sqlite':
            for w in workers:
                if w.name in ('vanilla', 'installed', 'using_shard'):
                    profiles[w.name] = w.call('profile', n=p['profile_n'], m=p['profile_m'],
                                              top=p['profile_top'])
        infos = dict([(w.name, w.info) for w in workers])
    finally:
        for w in workers:
            w.close()
    results['orm'][backend.kind] = {'samples': samples, 'infos': infos,
                                    'placement': placement}
    if backend.kind == 'sqlite':
        results['selector'] = selector
        results['profile'] = profiles


# ---------------------------------------------------------------- 5
def run_conns(backend, pythons, p, results):
    """Connections opened by T threads using A of the N aliases; memory."""
    out = {}
    specs = [
        ('conns_installed', pythons['dj11'],
         {'kind': 'installed', 'databases': backend.databases('conns', ['default'] + CONN_ALIASES),
          'target': 'default', 'seed': False, 'syncdb_everywhere': True,
          'conn_aliases': CONN_ALIASES, 'db_dir': os.path.join(backend.tmpdir, 'conns')}),
        ('conns_vanilla', pythons['dj11'],
         {'kind': 'vanilla', 'databases': backend.databases('connsv', ['default']),
          'target': 'default', 'seed': False, 'conn_aliases': ['default'],
          'db_dir': os.path.join(backend.tmpdir, 'connsv')}),
    ]
    workers = start_workers(specs)
    try:
        server = backend.server_info()
        out['installed'] = workers[0].call('conns', threads=p['conn_threads'],
                                           aliases=p['conn_aliases'], server=server)
        out['vanilla'] = workers[1].call('conns', threads=p['conn_threads_vanilla'],
                                         aliases=[1], server=server)
    finally:
        for w in workers:
            w.close()
    results['conns'][backend.kind] = out


# ---------------------------------------------------------------- 4
def run_fanout(backend, pythons, p, results):
    groups = {'g1': FAN_SHARDS[:1], 'g2': FAN_SHARDS[:2], 'g4': FAN_SHARDS[:4],
              'g8': FAN_SHARDS[:8]}
    models = {}
    for k in (1, 2, 4, 8):
        models['fanapp.Probe%d' % k] = 'shards:g%d' % k
    config = {'kind': 'installed', 'apps': ['fanapp'],
              'databases': backend.databases('fan', ['default'] + FAN_SHARDS),
              'shards': groups, 'models': models, 'seed': False}
    workers = start_workers([('fanout', pythons['dj11'], config)])
    w = workers[0]
    try:
        setup = w.call('fanout_setup', rows=p['fan_rows'], sleep=p['fan_sleep'])
        samples = {}
        if not setup['all_shards']:
            print('skipped: all_shards() not available')
            log('skipped: all_shards() not available (measuring the sequential baseline only)')
        for r in range(p['fan_warmup'] + p['fan_rounds']):
            got = w.call('fanout', ks=p['fan_ks'], rows=p['fan_rows'])
            if r >= p['fan_warmup']:
                for key, value in got.items():
                    samples.setdefault(key, []).append(value)
    finally:
        w.close()
    results['fanout'] = {'available': setup['all_shards'], 'samples': samples,
                         'sleep': p['fan_sleep'], 'rows': p['fan_rows']}


# ---------------------------------------------------------------- report
def machine_info(pythons):
    info = {}
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'):
                info['cpu'] = line.split(':', 1)[1].strip()
                break
    except IOError:
        pass
    try:
        info['cpus'] = os.sysconf('SC_NPROCESSORS_ONLN')
    except (ValueError, OSError, AttributeError):
        pass
    try:
        for line in open('/proc/meminfo'):
            if line.startswith('MemTotal'):
                info['memory'] = '%.1f GiB' % (int(line.split()[1]) / 1024.0 / 1024.0)
    except IOError:
        pass
    info['kernel'] = platform.release()
    try:
        info['debian'] = open('/etc/debian_version').read().strip()
    except IOError:
        pass
    try:
        import MySQLdb
        info['mysqlclient'] = getattr(MySQLdb, '__version__', '?')
    except ImportError:
        pass

    def git(*args):
        try:
            p = subprocess.Popen(['git'] + list(args), cwd=ROOT, stdout=subprocess.PIPE,
                                 stderr=open(os.devnull, 'w'))
            return p.communicate()[0].decode('utf-8', 'replace').strip()
        except OSError:
            return ''
    info['commit'] = git('rev-parse', '--short', 'HEAD')
    info['dirty'] = git('status', '--porcelain', '--', 'djpatch_multidb')
    return info


def library_line(m):
    if LIB_DIR[0]:
        return 'Library: the djpatch_multidb package in %s (--lib).' % LIB_DIR[0]
    line = 'Library: this tree, commit %s' % (m.get('commit') or '?')
    if m.get('dirty'):
        import textwrap
        # 'XY path' or 'XY old -> new': the file as it is now.
        changed = [l.split(None, 1)[-1].split(' -> ')[-1].strip()
                   for l in m['dirty'].splitlines() if l.strip()]
        wrapped = textwrap.wrap(' '.join(changed), 76)
        more = ''
        if len(wrapped) > 4:
            more = ' and more'
            wrapped = wrapped[:4]
        line += ', with uncommitted changes in %d files of djpatch_multidb/:\n  ' % len(changed) + \
            '\n  '.join(wrapped) + more
    return line + '.'


def loadavg():
    try:
        return open('/proc/loadavg').read().split()[0]
    except (IOError, IndexError):
        return '?'


def fmt_us(seconds):
    return '%.1f' % (seconds * 1e6)


def verdict(ok):
    if ok == 'n/a':
        return ok
    return ok and 'met' or 'MISSED'


def noise_floor(ratios):
    """(report lines, parity tolerance, where the tolerance comes from) from the
    ratios of the variants identical to their baselines (NOISE)."""
    lines = []
    deviation = {}
    for twin, base in NOISE:
        if twin not in ratios:
            continue
        rs = ratios[twin]
        deviation[twin] = max([abs(rs[op] - 1) for op in OPS])
        lines.append('  %-48s' % ('noise floor (%s against %s)' % (base, base)) +
                     ''.join(['%12.3f' % rs[op] for op in OPS]) + '%10.3f' % rs['geomean'])
        lines.append('  %-48s%12.3f' % ('    largest deviation from 1 of one operation',
                                         deviation[twin]))
    for twin, base in reversed(NOISE):      # Django 1.11's own twin first
        if twin in deviation:
            tolerance = max(abs(ratios[twin]['geomean'] - 1), PARITY_FLOOR)
            return lines, tolerance, '%.3f (geomean noise floor of %s, at least %.2f)' % (
                tolerance, base, PARITY_FLOOR)
    return lines, PARITY_FLOOR, '%.3f (no noise floor measured: the minimum)' % PARITY_FLOOR


def report(results, p, pythons, elapsed):
    lines = []
    add = lines.append
    m = results['machine']
    add('djpatch_multidb benchmarks (bench/run.sh%s)' % (
        p['smoke'] and ' --smoke' or p.get('quick') and ' --quick' or ''))
    add('=' * 60)
    add('')
    add('Run: %s, %.0f s.' % (
        time.strftime('%Y-%m-%d %H:%M', time.localtime(results['started'])), elapsed))
    add(library_line(m))
    if results.get('load'):
        add('Load average (1 min) at the start and the end of the run: %s and %s (the machine'
            % tuple(results['load']))
        add('  is shared; other work running meanwhile shows up as noise).')
    add('Machine: %s, %s CPUs, %s RAM, Linux %s, Debian %s.' % (
        m.get('cpu', '?'), m.get('cpus', '?'), m.get('memory', '?'), m.get('kernel', '?'),
        m.get('debian', '?')))
    versions = []
    for backend in ('sqlite', 'mysql'):
        infos = results['orm'].get(backend, {}).get('infos', {})
        for name in ('vanilla', 'dj111'):
            if name in infos:
                versions.append('Django %s' % infos[name]['django'])
        if infos:
            versions.append('Python %s' % infos.values()[0]['python'])
            break
    if results.get('sqlite_version'):
        versions.append('SQLite %s' % results['sqlite_version'])
    if results.get('mariadb_version'):
        versions.append('MariaDB %s' % results['mariadb_version'])
    if m.get('mysqlclient'):
        versions.append('mysqlclient %s' % m['mysqlclient'])
    add('Versions: %s.' % ', '.join(versions))
    if p.get('only') == 'sqlite':
        add('Settings: %d rounds after %d warm-up rounds on SQLite.  A round goes'
            % (p['rounds'], p['warmup']))
    else:
        add('Settings: %d rounds after %d warm-up rounds on SQLite, %d after %d on MariaDB.  A '
            'round goes' % (p['rounds'], p['warmup'], p['rounds_mysql'], p['warmup_mysql']))
    add('  operation by operation; for each, every variant takes one sample, in a fresh '
        'random order')
    add('  (on MariaDB after a %.0f ms pause that lets the server settle).  A sample is %d '
        'inserts,' % (p['settle_mysql'] * 1000, p['n']))
    add('  %d get(), %d filter+iterate of 100 rows, %d update() or %d delete(); times are '
        'per' % (p['n'], p['m'], p['n'], p['n']))
    add('  operation, the median over the rounds.  Table of 1,000 rows (+ the inserted ones). '
        ' DEBUG = False.')
    if results.get('sqlite_dir'):
        add('  SQLite files in %s.  MariaDB: a throw-away server on 127.0.0.1 started by '
            'the run' % results['sqlite_dir'])
        add('  (tools/mariadb_server.py, data directory in %s too), client over TCP.'
            % results['sqlite_dir'])
    if results.get('pinned_cpu') is not None:
        add('  Workers and MariaDB server pinned to CPU %s (taskset); the driver is not.'
            % results['pinned_cpu'])
    else:
        add('  Not pinned to a CPU (--no-pin, or no taskset / one CPU).')
    add('  using_shard(1): each operation in its own "with using_shard(1):" block; likewise '
        'the')
    add('  Django 1.11 thread-local shard context.  "p25-p75" is the spread of the per-round '
        'ratios.')
    add('')

    targets = []   # (label, value, target, ok)

    # -- items 1 and 3 --------------------------------------------------------
    for backend in ('sqlite', 'mysql'):
        data = results['orm'].get(backend)
        if not data:
            continue
        samples = data['samples']
        med = {}
        for name in samples:
            med[name] = dict([(op, median(samples[name][op])) for op in OPS])
        title = backend == 'sqlite' and 'SQLite' or 'MariaDB'
        add('1/3. ORM operations on %s: median microseconds per operation, ratio to the '
            'baseline' % title)
        add('-' * 78)
        header = '  %-48s' % 'variant' + ''.join(['%12s' % op for op in OPS]) + '%10s' % 'geomean'
        add(header)
        ratios = {}
        for name, py, baseline, settings in VARIANTS:
            if name not in med:
                continue
            row = '  %-48s' % VARIANT_TITLES[name] + ''.join(
                ['%12s' % fmt_us(med[name][op]) for op in OPS])
            add(row)
            if baseline and baseline in med:
                rs = dict([(op, med[name][op] / med[baseline][op]) for op in OPS])
                rs['geomean'] = geomean([rs[op] for op in OPS])
                ratios[name] = rs
                add('  %-48s' % ('    ratio to %s' % baseline) + ''.join(
                    ['%12.3f' % rs[op] for op in OPS]) + '%10.3f' % rs['geomean'])
                spread = []
                for op in OPS:
                    per_round = [a / b for a, b in zip(samples[name][op], samples[baseline][op])]
                    spread.append('%5.3f-%5.3f' % (quantile(per_round, 0.25),
                                                   quantile(per_round, 0.75)))
                add('  %-48s' % '    p25-p75 of per-round ratios' +
                    ''.join(['%12s' % s for s in spread]))
        add('')
        noise_lines, tolerance, tol_from = noise_floor(ratios)
        for line in noise_lines:
            add(line)
        if noise_lines:
            add('')
        for name, geo_limits, op_limit, what in (
                ('installed', TARGET_INSTALLED, TARGET_INSTALLED_OP,
                 'Django 1.1 + install(), no context / vanilla'),
                ('using_shard', TARGET_SHARD, TARGET_SHARD_OP,
                 'inside using_shard(n) / vanilla')):
            if name not in ratios:
                continue
            rs = ratios[name]
            limit = geo_limits[backend]
            targets.append(('%s, %s: geomean' % (what, title), '%.3f' % rs['geomean'],
                            '<= %.2f' % limit, rs['geomean'] <= limit))
            worst = max(OPS, key=lambda op: rs[op])
            targets.append(('%s, %s: worst operation (%s)' % (what, title, worst),
                            '%.3f' % rs[worst], '<= %.2f' % op_limit, rs[worst] <= op_limit))
        for ours, theirs in (('installed', 'dj111_router'), ('using_shard', 'dj111_router_shard'),
                             ('dj111_shim', 'dj111_oneline'), ('dj111_shim', 'dj111_router'),
                             ('dj111_shim_shard', 'dj111_router_shard')):
            if ours in ratios and theirs in ratios:
                add('  overhead ratios, ours / Django 1.11 router (%s / %s):' % (ours, theirs))
                add('  %-48s' % '' + ''.join(
                    ['%12s' % ('%.3f/%.3f' % (ratios[ours][op], ratios[theirs][op]))
                     for op in OPS]) + '%12s' % ('%.3f/%.3f' % (ratios[ours]['geomean'],
                                                                ratios[theirs]['geomean'])))
        for ours, theirs in PARITY:
            if ours in ratios and theirs in ratios:
                diff = ratios[ours]['geomean'] - ratios[theirs]['geomean']
                beyond = [op for op in OPS if ratios[ours][op] - ratios[theirs][op] > tolerance]
                targets.append(('%s / dj111 at parity with %s / dj111, %s: geomean %.3f '
                                'against %.3f, tolerance %s%s'
                                % (ours, theirs, title, ratios[ours]['geomean'],
                                   ratios[theirs]['geomean'], tol_from,
                                   beyond and ' (beyond it on ' + ', '.join(beyond) + ')' or ''),
                                '%+.3f' % diff, '<= +%.3f' % tolerance, diff <= tolerance))
        add('')

    # -- item 2 ----------------------------------------------------------------
    sel = results.get('selector') or {}
    if sel:
        add('2. The selector alone (microseconds per call, median over rounds, loop cost '
            'subtracted;')
        add('   "in the block": the variant\'s block entered once around the loop, none for '
            'no context)')
        add('-' * 78)
        labels = {
            'alias': 'the alias of a read: db_for(Item, False), as the ORM path asks it',
            'resolve': 'its connection: connections[db_for(Item, False)]',
            'context_alias': 'the selector alone: context_alias(Item) in the block',
            'router_alias': 'Django\'s router.db_for_read(Item)',
            'router_resolve': 'connections[router.db_for_read(Item)]',
            'alias_with_block': 'the alias, inside a fresh block each call',
            'resolve_with_block': 'the connection, inside a fresh block each call',
            'shard_block': 'the block alone (with using_shard(1): pass)',
            'connection_attr': 'django.db.connection.ops (an attribute of the connection)',
            'query_connection_attr': 'a routed query\'s query.connection.ops (QueryConnection)',
            'run_in': 'selector.run_in(alias, None, f): a Frame pushed and popped',
            'remember_per_row': 'per row read: _remembering() (the instance\'s _state.db)',
        }
        keys = ('alias', 'resolve', 'context_alias', 'router_alias', 'router_resolve',
                'alias_with_block', 'resolve_with_block', 'shard_block', 'connection_attr',
                'query_connection_attr', 'run_in', 'remember_per_row')
        for name, py, baseline, settings in VARIANTS:
            if not sel.get(name):
                continue
            add('  %s:' % VARIANT_TITLES[name])
            for key in keys:
                if key in sel[name]:
                    add('    %-72s %6.2f' % (labels[key], median(sel[name][key])))
        add('')
        for name, django in (('using_shard', 'Django 1.1'), ('dj111_shim_shard', 'Django 1.11')):
            if sel.get(name, {}).get('alias'):
                value = median(sel[name]['alias'])
                targets.append(('selector: the alias of a query inside using_shard(1), '
                                'db_for(Item, False), %s' % django,
                                '%.2f us' % value, '< %.1f us' % TARGET_SELECTOR_US,
                                value < TARGET_SELECTOR_US))

    # -- item 4 ----------------------------------------------------------------
    fan = results.get('fanout')
    if fan:
        add('4. Queries across shards: each shard query takes %.0f ms on the server '
            '(SLEEP in a view), %d rows per shard' % (fan['sleep'] * 1000, fan['rows']))
        add('-' * 78)
        s = fan['samples']
        one = median(s['seq1'])
        add('  %-7s %14s %17s %14s %11s %22s' % (
            'shards', 'sequential ms', 'all_shards() ms', 'all / 1 shard', 'all / seq',
            'after reads ms (/1)'))
        for k in p['fan_ks']:
            seq = median(s['seq%d' % k])
            if fan['available'] and ('all%d' % k) in s:
                allk = median(s['all%d' % k])
                after = median(s['after_reads%d' % k])
                add('  %-7d %14.1f %17.1f %14.2f %11.2f %15.1f (%4.2f)' % (
                    k, seq * 1000, allk * 1000, allk / one, allk / seq, after * 1000,
                    after / one))
            else:
                add('  %-7d %14.1f %17s %14s %11s %22s' % (k, seq * 1000, '-', '-', '-', '-'))
        if fan['available']:
            add('  all_shards() runs with nothing pending in the thread (after a commit, as at '
                'the start')
            add('  of a request); "after reads" runs it right after the same thread has read '
                'those shards.')
        if not fan['available']:
            add('  all_shards(): skipped: all_shards() not available (sequential baseline only)')
            targets.append(('all_shards() over 8 shards / one shard query', 'skipped',
                            '<= %.1f' % TARGET_FANOUT, None))
        elif 'all8' in s:
            value = median(s['all8']) / one
            targets.append(('all_shards() over 8 shards / one shard query', '%.2f' % value,
                            '<= %.1f' % TARGET_FANOUT, value <= TARGET_FANOUT))
        add('')

    # -- item 5 ----------------------------------------------------------------
    conns = results.get('conns') or {}
    if conns:
        add('5. Connections: T threads each using the first A of N=%d aliases '
            '(one ORM count() per alias)' % len(CONN_ALIASES))
        add('-' * 78)
        for backend in ('sqlite', 'mysql'):
            if backend not in conns:
                continue
            title = backend == 'sqlite' and 'SQLite (open database files)' or \
                'MariaDB (server PROCESSLIST)'
            add('  %s:' % title)
            add('    %-10s %3s %3s %9s %9s %13s %13s %11s' % (
                'variant', 'T', 'A', 'expected', 'opened', 'wrappers', 'live/thr',
                'after close'))
            all_ok = True
            per_conn = []
            for variant in ('installed', 'vanilla'):
                for case in conns[backend].get(variant, []):
                    ok = case['open_during'] == case['expected'] and case['open_after'] == 0
                    if variant == 'installed':
                        # One wrapper per alias for the process (a threading.local):
                        # what counts is each thread's live connections, A of them.
                        ok = ok and case['live_per_thread'] == [case['aliases_used']]
                        all_ok = all_ok and ok
                    add('    %-10s %3d %3d %9d %9d %13s %13s %11d%s' % (
                        variant, case['threads'], case['aliases_used'], case['expected'],
                        case['open_during'], ','.join(map(str, case['wrappers_per_thread'])),
                        ','.join(map(str, case['live_per_thread'])), case['open_after'],
                        not ok and '   <-- unexpected' or ''))
                    if case['expected'] >= 8:
                        per_conn.append((variant, case))
            largest = {}
            for variant, case in per_conn:
                if variant not in largest or case['expected'] > largest[variant]['expected']:
                    largest[variant] = case
            for variant in ('installed', 'vanilla'):
                if variant not in largest:
                    continue
                case = largest[variant]
                line = '    %s, %d idle connections (T=%d, A=%d): client RSS +%.1f KiB each' % (
                    variant, case['expected'], case['threads'], case['aliases_used'],
                    case['rss_delta_kb'] / float(case['expected']))
                if case.get('server_mem_delta_bytes') is not None:
                    line += ', server Memory_used +%.1f KiB each' % (
                        case['server_mem_delta_bytes'] / 1024.0 / case['expected'])
                add(line)
            targets.append(('connections, %s: one per thread per alias used, no other'
                            % (backend == 'sqlite' and 'SQLite' or 'MariaDB'),
                            all_ok and 'as expected' or 'unexpected', 'T x A', all_ok))
        add('')

    # -- profile -----------------------------------------------------------------
    prof = results.get('profile') or {}
    if prof:
        add('Profile (cProfile, SQLite, %d operations each; microseconds per operation '
            'under the profiler)' % p['profile_n'])
        add('-' * 78)
        for name in ('vanilla', 'installed', 'using_shard'):
            if name not in prof:
                continue
            add('  %s: total per op %s' % (VARIANT_TITLES[name], ', '.join(
                ['%s %.0f' % (op, prof[name][op]['total_us']) for op in OPS])))
        for name in ('installed', 'using_shard'):
            if name not in prof:
                continue
            add('')
            add('  %s: djpatch_multidb functions, own time per ORM operation' % VARIANT_TITLES[name])
            for op in OPS:
                d = prof[name][op]
                add('    %s: library own time %.1f us of %.1f us per op' % (
                    OP_TITLES[op], d['library_own_us'], d['total_us']))
                for row in d['top'][:p['profile_show']]:
                    add('      %-52s %5.1f calls %6.2f us own %6.2f us cum' % (
                        row['func'][:52], row['calls'], row['tottime_us'], row['cumtime_us']))
        add('')

    # -- targets -------------------------------------------------------------------
    add('Targets')
    add('-' * 78)
    add('  %-7s %11s %-11s %s' % ('verdict', 'measured', ' target', 'what'))
    if p['smoke']:
        add('  (--smoke: sizes far too small for any of these figures to mean anything)')
    elif p.get('quick'):
        add('  (--quick: %d rounds, SQLite only; a full run decides)' % p['rounds'])
    for label, value, target, ok in targets:
        if p['smoke'] and ok is not None:
            ok = 'n/a'
        add('  %-7s %11s %-11s %s' % (ok is None and 'skip' or verdict(ok), value,
                                      ' ' + target, label))
    add('')
    return '\n'.join(lines) + '\n', targets


# ---------------------------------------------------------------- main
def parse_args(argv):
    p = {
        'smoke': False, 'only': None, 'out': None, 'profile': True, 'lib': None,
        'json': None, 'pin': True, 'settle': 0.0, 'settle_mysql': 0.03,
        'rounds': 31, 'warmup': 3, 'n': 60, 'm': 12, 'selector_n': 20000,
        'rounds_mysql': 31, 'warmup_mysql': 5,
        'profile_n': 300, 'profile_m': 40, 'profile_top': 12, 'profile_show': 6,
        'conn_threads': [1, 4, 8], 'conn_aliases': [1, 2, 4, 8], 'conn_threads_vanilla': [1, 8, 16],
        'fan_ks': [1, 2, 4, 8], 'fan_rows': 10, 'fan_sleep': 0.02, 'fan_rounds': 11,
        'fan_warmup': 1, 'quick': False, 'variants': None, 'conns': True, 'fanout': True,
    }
    args = list(argv)
    rounds = None
    while args:
        a = args.pop(0)
        if a == '--smoke':
            p['smoke'] = True
        elif a == '--quick':
            p['quick'] = True
        elif a == '--variants':
            p['variants'] = [v.strip() for v in args.pop(0).split(',') if v.strip()]
        elif a == '--no-conns':
            p['conns'] = False
        elif a == '--no-fanout':
            p['fanout'] = False
        elif a == '--rounds':
            rounds = int(args.pop(0))
        elif a == '--only':
            p['only'] = args.pop(0)
            if p['only'] not in ('sqlite', 'mysql'):
                raise SystemExit('--only takes sqlite or mysql')
        elif a == '--out':
            p['out'] = args.pop(0)
        elif a == '--json':
            p['json'] = args.pop(0)
        elif a == '--settle':
            p['settle_mysql'] = float(args.pop(0))
        elif a == '--no-pin':
            p['pin'] = False
        elif a == '--no-profile':
            p['profile'] = False
        elif a == '--lib':
            p['lib'] = os.path.abspath(args.pop(0))
            if not os.path.isfile(os.path.join(p['lib'], 'djpatch_multidb', '__init__.py')):
                raise SystemExit('--lib %s: no djpatch_multidb/__init__.py there' % p['lib'])
        elif a in ('-h', '--help'):
            print(__doc__)
            raise SystemExit(0)
        else:
            raise SystemExit('bench.py: unknown argument %r (see --help)' % a)
    if p['quick']:
        if p['only'] == 'mysql':
            raise SystemExit('--quick runs on SQLite only')
        p.update({'only': 'sqlite', 'profile': False, 'conns': False, 'fanout': False,
                  'rounds': 11, 'rounds_mysql': 11})
        if p['variants'] is None:
            p['variants'] = list(QUICK_VARIANTS)
    if rounds is not None:
        p['rounds'] = p['rounds_mysql'] = rounds
    if p['variants'] is not None:
        known = [v[0] for v in VARIANTS]
        unknown = [v for v in p['variants'] if v not in known]
        if unknown:
            raise SystemExit('--variants: unknown %s (known: %s)'
                             % (', '.join(unknown), ', '.join(known)))
        baselines = dict([(v[0], v[2]) for v in VARIANTS])
        chosen = list(p['variants'])
        for name in p['variants']:
            if baselines[name] and baselines[name] not in chosen:
                chosen.append(baselines[name])
        p['variants'] = [v for v in known if v in chosen]
    if p['smoke']:
        p.update({'rounds': 2, 'rounds_mysql': 2, 'warmup': 0, 'warmup_mysql': 0, 'n': 3, 'm': 2,
                  'settle_mysql': 0.0,
                  'selector_n': 500, 'profile_n': 3, 'profile_m': 2,
                  'conn_threads': [2], 'conn_aliases': [1, 2], 'conn_threads_vanilla': [2],
                  'fan_ks': [1, 2], 'fan_rows': 2, 'fan_sleep': 0.001, 'fan_rounds': 1,
                  'fan_warmup': 0})
    return p


def main(argv):
    p = parse_args(argv)
    LIB_DIR[0] = p['lib']
    cpus = 1
    try:
        cpus = os.sysconf('SC_NPROCESSORS_ONLN')
    except (ValueError, OSError, AttributeError):
        pass
    taskset = find_taskset()
    if p['pin'] and taskset and cpus >= 2:
        # The workers and the MariaDB server on one CPU (the last one), the
        # driver wherever: on a VM, a query whose client and server threads
        # sit on different CPUs pays a cross-CPU wake-up whose length varies
        # far more than the overhead being measured.
        PIN_CPU[0] = str(cpus - 1)
        PIN_PREFIX[:] = [taskset, '-c', PIN_CPU[0]]
    results_pin = PIN_CPU[0]
    started = time.time()
    pythons = {'dj11': sys.executable, 'dj111': os.environ.get('BENCH_PYTHON_DJANGO111') or None}
    if pythons['dj111'] is None:
        log('BENCH_PYTHON_DJANGO111 is not set: the Django 1.11 variants are left out')
    results = {'orm': {}, 'conns': {}, 'started': started, 'machine': machine_info(pythons),
               'pinned_cpu': results_pin, 'load_start': loadavg()}
    shm = '/dev/shm'
    base = os.path.isdir(shm) and os.access(shm, os.W_OK) and shm or None
    tmpdir = tempfile.mkdtemp(prefix='djpatch-bench-', dir=base)
    results['sqlite_dir'] = base or os.path.dirname(tmpdir)
    backends = []
    try:
        for kind in ('sqlite', 'mysql'):
            if p['only'] and kind != p['only']:
                continue
            log('%s: setting up' % kind)
            backend = Backend(kind, tmpdir)
            backends.append(backend)
            results[kind == 'sqlite' and 'sqlite_version' or 'mariadb_version'] = backend.version
            q = dict(p)
            if kind == 'mysql':
                q['rounds'] = p['rounds_mysql']
                q['settle'] = p['settle_mysql']
                q['warmup'] = p['warmup_mysql']
            run_orm(backend, pythons, q, results)
            if p['conns']:
                log('%s: connections' % kind)
                run_conns(backend, pythons, q, results)
            if kind == 'mysql' and p['fanout']:
                log('mysql: all_shards() fan-out')
                run_fanout(backend, pythons, q, results)
            backend.destroy()
    finally:
        for backend in backends:
            backend.destroy()
        shutil.rmtree(tmpdir, ignore_errors=True)
    results['load'] = [results.get('load_start'), loadavg()]
    results['elapsed'] = time.time() - started
    results['params'] = p
    full = not (p['smoke'] or p['only'] or p['quick'] or p['variants'] is not None
                or not p['conns'] or not p['fanout'])
    json_out = p['json'] or (full and p['out'] is None and os.path.join(HERE, 'RESULTS.json'))
    if json_out:
        write_file(json_out, json.dumps(results, indent=1, sort_keys=True) + '\n')
    out = p['out']
    if out is None and full:
        out = os.path.join(HERE, 'RESULTS.txt')
    return write_report(results, out)


def write_report(results, out):
    p = results['params']
    LIB_DIR[0] = p.get('lib')
    text, targets = report(results, p, None, results['elapsed'])
    if not p.get('quick') and p.get('variants') is None:
        text += notes_text()    # written for a full run
    sys.stdout.write(text)
    if out:
        write_file(out, text)
    return 0


def write_file(path, text):
    f = open(path, 'w')
    try:
        f.write(text)
    finally:
        f.close()
    log('wrote %s' % path)


def notes_text():
    """bench/NOTES.txt, the analysis written by hand for a run, quoted at the end."""
    path = os.path.join(HERE, 'NOTES.txt')
    if not os.path.isfile(path):
        return ''
    f = open(path)
    try:
        body = f.read()
    finally:
        f.close()
    return ('\nFindings (bench/NOTES.txt: written by hand for the run it names; check its date '
            'against this run)\n' + '-' * 78 + '\n' + body)


def rerender(argv):
    """bench.py --report-from RESULTS.json [--out FILE]: the report again, from saved samples."""
    source = argv[argv.index('--report-from') + 1]
    out = os.path.join(HERE, 'RESULTS.txt')
    if '--out' in argv:
        out = argv[argv.index('--out') + 1]
    f = open(source)
    try:
        results = json.load(f)
    finally:
        f.close()
    return write_report(results, out)


if __name__ == '__main__':
    if '--report-from' in sys.argv:
        sys.exit(rerender(sys.argv[1:]))
    sys.exit(main(sys.argv[1:]))
