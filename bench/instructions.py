"""Instructions per ORM operation, each variant against its baseline, counted
by valgrind's callgrind (bench/run.sh --instructions).

    bench/run.sh --instructions [--lib DIR] [--variants A,B,...] [--ops OP,...]

Each variant's worker (bench/worker.py, set up as in the timed runs, on
SQLite files) does one operation n times under callgrind: once with n=20 and
once with n=120, after the same warm-up; (count at 120 - count at 20) / 100
is what one operation costs, without start-up, set-up or the machine's load
(counts repeat to within a few thousandths between runs: the files have the
same paths every time).  The delete figure has the insert it needs taken off.
Ratios are to the variant's baseline, as in the timed runs; the geomean is
over the operations.  It prints; it writes nothing.  Python 2.6/2.7 (the
Django 1.1.4 virtualenv's python; the Django 1.11 one comes from
BENCH_PYTHON_DJANGO111, as for bench.py).
"""
import math
import os
import re
import shutil
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench     # the variants' settings

OPS = ('insert', 'get', 'filter100', 'update', 'delete')
DEFAULT_VARIANTS = ('installed', 'using_shard', 'dj111_oneline', 'dj111_shim',
                    'dj111_router_shard', 'dj111_shim_shard')
SMALL, LARGE = 20, 120
WARM_UP = 5
SLOTS = 2      # workers counted at once (one per CPU)
COLLECTED = re.compile(r'Collected : (\d+)')


def config_of(name, folder):
    """The worker's setup for variant ``name``, its SQLite files in ``folder``."""
    for variant, python, baseline, settings in bench.VARIANTS:
        if variant == name:
            cfg = dict(settings)
            cfg['databases'] = dict(
                (alias, {'ENGINE': 'sqlite3', 'NAME': os.path.join(folder, alias + '.db')})
                for alias in settings['aliases'])
            return python, baseline, cfg
    raise SystemExit('bench/instructions.py: no variant %r (bench.VARIANTS names them)' % name)


# -- in the counted process ---------------------------------------------------------

def count_one(name, op, n, folder, lib_dir):
    """The counted process: set the worker up, warm up, then ``op`` n times."""
    import json
    import worker
    python, baseline, cfg = config_of(name, folder)
    if lib_dir:
        cfg['lib_dir'] = lib_dir
    work = worker.Worker()
    work.setup(json.loads(json.dumps(cfg)))     # as bench.py sends it

    def run(k):
        if op == 'delete':
            work.phase('insert', k, 1)
            return work.phase('delete', k, 1)
        return work.phase(op, k, k)
    run(WARM_UP)
    run(n)


# -- the driver -----------------------------------------------------------------------

def pythons():
    found = {'dj11': sys.executable,
             'dj111': os.environ.get('BENCH_PYTHON_DJANGO111')}
    return found


def counted(python, name, op, n, slot, lib_dir):
    """Instructions of one counted process (valgrind's own total)."""
    folder = '/dev/shm/djpatch-ir-%02d' % slot
    if not os.path.isdir('/dev/shm'):
        folder = os.path.join(HERE, '.ir-%02d' % slot)
    shutil.rmtree(folder, True)
    os.makedirs(folder)
    try:
        process = subprocess.Popen(
            ['valgrind', '--tool=callgrind', '--callgrind-out-file=/dev/null', python,
             os.path.abspath(__file__), '--count-one', name, op, str(n), folder, lib_dir or ''],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output = process.communicate()[0].decode('utf-8', 'replace')
    finally:
        shutil.rmtree(folder, True)
    found = COLLECTED.findall(output)
    if process.returncode != 0 or not found:
        raise RuntimeError('counting %s %s (n=%d) failed:\n%s' % (name, op, n, output[-3000:]))
    return int(found[-1])


def count_all(jobs, lib_dir):
    """{(variant, op, n): instructions} for every job, SLOTS at a time."""
    results = {}
    errors = []
    pending = list(jobs)
    lock = threading.Lock()

    def worker(slot):
        while True:
            lock.acquire()
            try:
                if not pending or errors:
                    return
                python, name, op, n = pending.pop(0)
            finally:
                lock.release()
            try:
                value = counted(python, name, op, n, slot, lib_dir)
            except Exception as error:
                errors.append(error)
                return
            results[(name, op, n)] = value
            sys.stderr.write('bench: instructions: %s %s n=%d: %d\n' % (name, op, n, value))
    threads = [threading.Thread(target=worker, args=(slot,)) for slot in range(SLOTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


def per_operation(results, name, op):
    one = (results[(name, op, LARGE)] - results[(name, op, SMALL)]) / float(LARGE - SMALL)
    if op == 'delete' and (name, 'insert', LARGE) in results:
        one -= per_operation(results, name, 'insert')
    return one


def main(argv):
    lib_dir = None
    variants = list(DEFAULT_VARIANTS)
    ops = list(OPS)
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg == '--lib':
            lib_dir = os.path.abspath(args.pop(0))
        elif arg == '--variants':
            variants = [v for v in args.pop(0).split(',') if v]
        elif arg == '--ops':
            ops = [o for o in args.pop(0).split(',') if o]
        else:
            raise SystemExit('bench/instructions.py: unknown argument %r (--lib DIR, '
                             '--variants A,B, --ops insert,get,filter100,update,delete)' % arg)
    unknown = [op for op in ops if op not in OPS]
    if unknown:
        raise SystemExit('bench/instructions.py: unknown operation %r (known: %s)'
                         % (unknown[0], ', '.join(OPS)))
    if 'delete' in ops and 'insert' not in ops:
        ops.insert(0, 'insert')     # a delete's figure takes its insert off
    if not any([os.access(os.path.join(folder, 'valgrind'), os.X_OK)
                for folder in os.environ.get('PATH', '').split(os.pathsep) if folder]):
        raise SystemExit('bench/instructions.py: valgrind is not on PATH (Debian: apt-get '
                         'install valgrind); --instructions counts with its callgrind tool.')
    found = pythons()
    names = []
    for name in variants:
        python, baseline, cfg = config_of(name, '/nonexistent')
        for each in (baseline, name):
            if each is not None and each not in names:
                names.append(each)
    jobs = []
    for name in names:
        python = found[config_of(name, '/nonexistent')[0]]
        if not python:
            raise SystemExit('bench/instructions.py: no Python for %s (BENCH_PYTHON_DJANGO111 '
                             'is set by bench/run.sh)' % name)
        for op in ops:
            for n in (SMALL, LARGE):
                jobs.append((python, name, op, n))
    results = count_all(jobs, lib_dir)
    print('Instructions per operation (valgrind callgrind; (n=%d) - (n=%d), / %d), '
          'ratio to the baseline' % (LARGE, SMALL, LARGE - SMALL))
    print('Library: %s' % (lib_dir or 'this tree'))
    print('')
    width = max([len(bench.VARIANT_TITLES.get(n, n)) for n in names]) + 2
    print('  %-*s' % (width, 'variant') + ''.join(['%12s' % op for op in ops]) + '     geomean')
    for name in names:
        python, baseline, cfg = config_of(name, '/nonexistent')
        row = [per_operation(results, name, op) for op in ops]
        print('  %-*s' % (width, bench.VARIANT_TITLES.get(name, name)) +
              ''.join(['%12d' % value for value in row]))
        if baseline is not None:
            base = [per_operation(results, baseline, op) for op in ops]
            ratios = [v / b for v, b in zip(row, base)]
            geomean = math.exp(sum([math.log(r) for r in ratios]) / len(ratios))
            print('  %-*s' % (width, '    ratio to ' + baseline) +
                  ''.join(['%12.3f' % r for r in ratios]) + '%12.3f' % geomean)
    return 0


if __name__ == '__main__':
    if sys.argv[1:2] == ['--count-one']:
        name, op, n, folder, lib_dir = sys.argv[2:7]
        count_one(name, op, int(n), folder, lib_dir or None)
    else:
        sys.exit(main(sys.argv[1:]))
