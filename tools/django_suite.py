#!/usr/bin/env python
"""Django's own test suite, vanilla and with djpatch_multidb installed, test by test.

    python tools/django_suite.py [--django-src DIR] [--config NAME ...] [--jobs N] [--keep]

Runs tests/runtests.py -v 2 of a Django release once per configuration and
compares every installed run with the vanilla run of the same invocation:

  vanilla        legacy settings (DATABASE_ENGINE = 'sqlite3'), no library
  legacy-top     the same, install() at the top of settings.py
  legacy-bottom  the same, install() at the bottom
  two-top        DATABASES with 'default' and 'other' (nothing placed), install() at the top
  two-bottom     the same, install() at the bottom

Without --django-src it uses Django 1.1.4's suite from the release tarball on
the package index (downloaded once with pip into CACHE, unpacked there), with
the tarball's own django/ (locale files included) first on the path.
--django-src names another folder with django/ and tests/ (a Django 1.0.4
source tree).

Installed runs have on sys.path the suite's tests/ folder, the settings folder
and a folder holding only the djpatch_multidb package (never this checkout).
It prints one line per configuration (tests run, failed, beyond vanilla,
seconds), then every test whose result differs from vanilla's, and last the
counts beyond vanilla on one line; it exits 1 when any installed run differs.
"""
from __future__ import print_function, with_statement

import optparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from sdists import unpack

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.join(os.path.dirname(HERE), 'djpatch_multidb')
CACHE = os.environ.get('DJPATCH_DJANGO_SUITE_CACHE', '/var/cache/djpatch_multidb/django-suite')
RELEASE = '1.1.4'

INSTALL = 'import djpatch_multidb\ndjpatch_multidb.install()\n'
LEGACY = "DATABASE_ENGINE = 'sqlite3'\nDATABASE_NAME = ''\n"
TWO = ("DATABASES = {\n"
       "    'default': {'ENGINE': 'sqlite3', 'NAME': %(folder)r + '/default.db'},\n"
       "    'other': {'ENGINE': 'sqlite3', 'NAME': %(folder)r + '/other.db'},\n"
       "}\n")
CONFIGS = [
    ('vanilla', LEGACY, False),
    ('legacy-top', INSTALL + LEGACY, True),
    ('legacy-bottom', LEGACY + INSTALL, True),
    ('two-top', INSTALL + TWO, True),
    ('two-bottom', TWO + INSTALL, True),
]

# "test_name (module.Class) ... ok" or "Doctest: a.b ... FAIL"; a test that
# printed something puts its result at the start of a later line.
RESULT = re.compile(r'^(?P<name>\S.*?) \.\.\. (?P<rest>.*)$')
OUTCOME = re.compile(r'(ok|FAIL|ERROR|skipped.*|expected failure|unexpected success)\s*$')


def suite_folder(python):
    """The tests/ folder of Django RELEASE's tarball, downloaded on first use."""
    folder = os.path.join(CACHE, 'Django-%s' % RELEASE)
    tests = os.path.join(folder, 'tests')
    if os.path.isfile(os.path.join(tests, 'runtests.py')):
        return tests
    if not os.path.isdir(CACHE):
        os.makedirs(CACHE)
    tarball = os.path.join(CACHE, 'Django-%s.tar.gz' % RELEASE)
    if not os.path.isfile(tarball):
        subprocess.check_call([python, '-m', 'pip', 'download', '--quiet', '--no-deps',
                               '--no-binary', ':all:', 'Django==%s' % RELEASE, '-d', CACHE])
    scratch = tempfile.mkdtemp(dir=CACHE)
    try:
        unpack(tarball, scratch)
        os.rename(os.path.join(scratch, 'Django-%s' % RELEASE), folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return tests


def parse(output):
    """{test name: 'ok' | 'FAIL' | 'ERROR' | ...} from runtests.py -v 2 output."""
    results = {}
    seen = {}
    pending = None
    for line in output.splitlines():
        match = RESULT.match(line)
        if match and not line.startswith(' '):
            name, rest = match.group('name'), match.group('rest')
            if name in seen:  # two tests with the same first docstring line
                seen[name] += 1
                name = '%s #%d' % (name, seen[name])
            else:
                seen[name] = 1
            outcome = OUTCOME.search(rest)
            if outcome:
                results[name] = outcome.group(1).split(' ')[0]
                pending = None
            else:
                pending = name
            continue
        if pending is not None:
            outcome = OUTCOME.search(line)
            if outcome and line.strip() == outcome.group(0).strip():
                results[pending] = outcome.group(1).split(' ')[0]
                pending = None
    return results


def run(python, tests, django_src, name, settings_text, installed, scratch):
    """Run the suite in one configuration: (results, seconds, output)."""
    folder = os.path.join(scratch, name)
    os.makedirs(folder)
    settings = os.path.join(folder, 'settings')
    os.makedirs(settings)
    with open(os.path.join(settings, 'suite_settings.py'), 'w') as handle:
        handle.write(settings_text.replace('%(folder)r', repr(folder)))
    path = [settings]
    # A copy of tests/ per run (admin_scripts writes settings files into it),
    # beside the django/ it comes with, as runtests.py expects.
    tree = os.path.join(folder, 'tree')
    os.makedirs(tree)
    shutil.copytree(tests, os.path.join(tree, 'tests'),
                    ignore=shutil.ignore_patterns('*.pyc', '__pycache__'))
    os.symlink(os.path.join(django_src, 'django'), os.path.join(tree, 'django'))
    if installed:
        only_package = os.path.join(folder, 'site-packages')
        os.makedirs(only_package)
        shutil.copytree(PACKAGE, os.path.join(only_package, 'djpatch_multidb'),
                        ignore=shutil.ignore_patterns('*.pyc', '__pycache__'))
        path.append(only_package)
    path.append(tree)
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(path)
    env.pop('DJANGO_SETTINGS_MODULE', None)
    for key in list(env):
        if key.startswith('DJPATCH_'):
            del env[key]
    started = time.time()
    process = subprocess.Popen([python, os.path.join(tree, 'tests', 'runtests.py'), '-v', '2', '--noinput',
                                '--settings=suite_settings'],
                               cwd=os.path.join(tree, 'tests'), env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    output = process.communicate()[0].decode('utf-8', 'replace')
    seconds = time.time() - started
    with open(os.path.join(folder, 'output.txt'), 'w') as handle:
        handle.write(output.encode('utf-8') if sys.version_info[0] < 3 else output)
    return parse(output), seconds, output


def differences(vanilla, results):
    """[(test, vanilla's result, this run's)] where they differ."""
    found = []
    for test in sorted(set(vanilla) | set(results)):
        before, after = vanilla.get(test, 'not run'), results.get(test, 'not run')
        if before != after:
            found.append((test, before, after))
    return found


def main(argv=None):
    parser = optparse.OptionParser(usage=__doc__.split('\n\n')[1].strip())
    parser.add_option('--django-src', default=None,
                      help='a folder with django/ and tests/ (default: the %s tarball)' % RELEASE)
    parser.add_option('--config', action='append', default=[],
                      help='one of %s (repeatable; default: all)' % ', '.join(c[0] for c in CONFIGS))
    parser.add_option('--jobs', type='int', default=2, help='runs at once (default 2)')
    parser.add_option('--keep', action='store_true', help='keep the outputs (printed path)')
    options, args = parser.parse_args(argv)
    python = sys.executable
    if options.django_src:
        django_src = os.path.abspath(options.django_src)
        tests = os.path.join(django_src, 'tests')
        if not os.path.isfile(os.path.join(tests, 'runtests.py')):
            parser.error('%s has no tests/runtests.py' % django_src)
    else:
        tests = suite_folder(python)
        django_src = os.path.dirname(tests)
    wanted = options.config or [c[0] for c in CONFIGS]
    unknown = [name for name in wanted if name not in [c[0] for c in CONFIGS]]
    if unknown:
        parser.error('unknown configuration %s; choose from %s'
                     % (', '.join(unknown), ', '.join(c[0] for c in CONFIGS)))
    if 'vanilla' not in wanted:
        wanted.insert(0, 'vanilla')
    configs = [c for c in CONFIGS if c[0] in wanted]
    scratch = tempfile.mkdtemp(prefix='django-suite-')
    outcome = {}
    lock = threading.Semaphore(max(1, options.jobs))

    def one(config):
        lock.acquire()
        try:
            outcome[config[0]] = run(python, tests, django_src, config[0], config[1],
                                     config[2], scratch)
        finally:
            lock.release()

    threads = [threading.Thread(target=one, args=(config,)) for config in configs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    vanilla = outcome['vanilla'][0]
    status = 0
    print('django_suite: the suite of %s' % django_src)
    details = []
    for name, _, installed in configs:
        results, seconds, output = outcome[name]
        failed = len([r for r in results.values() if r in ('FAIL', 'ERROR')])
        if not results:
            print('django_suite: %s ran no test; its output ends:\n%s'
                  % (name, '\n'.join(output.splitlines()[-30:])))
            status = 1
        if installed:
            diff = differences(vanilla, results)
            if diff:
                status = 1
                details.append((name, diff))
            beyond = ', %d beyond vanilla' % len(diff)
        else:
            beyond = ''
        print('django_suite: %-14s %5d tests, %3d failed%s (%.0f s)'
              % (name, len(results), failed, beyond, seconds))
    for name, diff in details:
        print('django_suite: %s differs from vanilla:' % name)
        for test, before, after in diff:
            print('    %s: vanilla %s, %s' % (test, before, after))
    if options.keep:
        print('django_suite: outputs in %s' % scratch)
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    print('django_suite: tests beyond vanilla: %s'
          % ', '.join(['%s %d' % (name, len(differences(vanilla, outcome[name][0])))
                       for name, _, installed in configs if installed]))
    return status


if __name__ == '__main__':
    sys.exit(main())
