#!/usr/bin/env python
"""Real applications of 2009-2010 under djpatch_multidb: their own test suites.

Each application is taken from the package index as its author published it
(the sdist, which carries its tests), unpacked unchanged under
/var/cache/djpatch_multidb/apps-<key>/ and run with Django's own test runner
(django.test.simple.run_tests), one fresh process per run, in three modes:

  a  vanilla Django: legacy DATABASE_* settings, no install();
  b  install(); DATABASES 'default' + 'otherdb'; the application's models on
     'otherdb' through MULTIDB_MODELS;
  c  install(); DATABASES 'default' + 'shard0' + 'shard1'; the application's
     models in the shard group 'apps' (MULTIDB_SHARDS) and the whole suite
     run inside using_shard(1).

Every run of b and c is compared test by test with a; the script prints a
matrix and, for every run that differs, the tests that differ with the first
line of their error.  It exits 1 when a run differs from a (or a run broke).
Vanilla runs twice: a test whose outcome changes from one vanilla run to the
next (an ordering by a timestamp MariaDB keeps to the second) is listed and
left out of the comparison.

    PY=$(tools/bootstrap.sh | tail -n 1)
    $PY tools/apps_matrix.py                       # SQLite and MariaDB
    $PY tools/apps_matrix.py --backends sqlite --apps tagging,voting
    PYTHONPATH=/path/to/django-1.0.4 $PY tools/apps_matrix.py   # another Django

MariaDB runs use a throw-away server of their own (tools/mariadb_server.py:
fresh data directory, a free port on 127.0.0.1, removed afterwards).  Only
the djpatch_multidb package is put on the path of a run, never this checkout.

Written for Python 2.6/2.7 and 3.x alike (the applications need Python 2).
"""
from __future__ import print_function

import hashlib
import json
import optparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from sdists import unpack

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(HERE)
CACHE = os.environ.get('DJPATCH_MULTIDB_CACHE', '/var/cache/djpatch_multidb')

# The applications.  spec: what pip downloads; root: the folder the sdist
# unpacks to (put on sys.path, so the tests that the author shipped inside
# the package are there); installed: INSTALLED_APPS; labels: what the test
# runner is given; place: the app labels whose models move in modes b and c;
# settings: what the application's own test settings (or its documentation)
# ask a site for.
APPS = [
    {'name': 'south', 'spec': 'South==0.7.3', 'root': 'South-0.7.3',
     'installed': ['django.contrib.auth', 'django.contrib.contenttypes', 'south'],
     'labels': ['south'], 'place': ['south'],
     'settings': {'SKIP_SOUTH_TESTS': False}},
    {'name': 'tagging', 'spec': 'django-tagging==0.3.1', 'root': 'django-tagging-0.3.1',
     'installed': ['django.contrib.contenttypes', 'tagging', 'tagging.tests'],
     'labels': ['tests'], 'place': ['tagging', 'tests'],
     'settings': {}},
    {'name': 'voting', 'spec': 'django-voting==0.1', 'root': 'django-voting-0.1',
     'installed': ['django.contrib.auth', 'django.contrib.contenttypes', 'voting',
                   'voting.tests'],
     'labels': ['tests'], 'place': ['voting', 'tests'],
     'settings': {}},
    {'name': 'registration', 'spec': 'django-registration==0.7',
     'root': 'django-registration-0.7',
     'installed': ['django.contrib.auth', 'django.contrib.contenttypes',
                   'django.contrib.sessions', 'django.contrib.sites', 'registration'],
     'labels': ['registration'], 'place': ['registration'],
     'settings': {'ACCOUNT_ACTIVATION_DAYS': 7, 'ROOT_URLCONF': 'registration.urls'}},
    {'name': 'threadedcomments', 'spec': 'django-threadedcomments==0.5.3',
     'root': 'django-threadedcomments-0.5.3',
     'installed': ['django.contrib.sessions', 'django.contrib.auth',
                   'django.contrib.contenttypes', 'django.contrib.sites', 'threadedcomments'],
     'labels': ['threadedcomments'], 'place': ['threadedcomments'],
     'settings': {'ROOT_URLCONF': 'threadedcomments.urls', 'DEFAULT_CHARSET': 'utf-8'}},
]
APP_NAMES = [app['name'] for app in APPS]
MODES = ('a', 'b', 'c')
MODE_TITLES = {
    'a': 'vanilla Django, legacy settings',
    'b': "install(), the app's models on 'otherdb' (MULTIDB_MODELS)",
    'c': "install(), the app's models in a shard group, suite inside using_shard(1)",
}
# The site templates django-registration's documentation asks for (a site
# writes its own; these only have to exist).
REGISTRATION_TEMPLATES = (
    'activate.html', 'activation_email.txt', 'activation_email_subject.txt', 'login.html',
    'logout.html', 'registration_complete.html', 'registration_form.html')
RUN_TIMEOUT = 900


def log(message):
    sys.stderr.write('apps_matrix: %s\n' % message)
    sys.stderr.flush()


# ---------------------------------------------------------------- set-up

def apps_dir():
    key = hashlib.sha256('\n'.join(app['spec'] for app in APPS).encode('ascii')).hexdigest()[:12]
    return os.path.join(CACHE, 'apps-' + key)


def pip_environment():
    """The environment pip runs in: no local pip configuration (file://
    indexes, find-links, constraints) -- the package index only."""
    env = dict(os.environ)
    for name in ('PIP_FIND_LINKS', 'PIP_EXTRA_INDEX_URL', 'PIP_INDEX_URL', 'PIP_CONSTRAINT'):
        env.pop(name, None)
    env['PIP_CONFIG_FILE'] = os.devnull
    env['PIP_DISABLE_PIP_VERSION_CHECK'] = '1'
    env['PIP_NO_PYTHON_VERSION_WARNING'] = '1'
    env.setdefault('PIP_CERT', '/etc/ssl/certs/ca-certificates.crt')
    env['PIP_CACHE_DIR'] = os.path.join(CACHE, 'pip-cache')
    return env


def ensure_apps():
    """The applications' sdists, downloaded with this Python's pip and
    unpacked unchanged; a second call only checks the stamp."""
    target = apps_dir()
    stamp = os.path.join(target, '.complete')
    wanted = '\n'.join(app['spec'] for app in APPS)
    if os.path.exists(stamp) and open(stamp).read() == wanted:
        return target
    log('downloading %s into %s' % (', '.join(app['spec'] for app in APPS), target))
    building = tempfile.mkdtemp(prefix='apps-', dir=CACHE)
    try:
        downloads = os.path.join(building, '.sdists')
        os.mkdir(downloads)
        for app in APPS:
            before = set(os.listdir(downloads))
            command = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--no-binary', ':all:',
                       '-d', downloads, app['spec']]
            if subprocess.call(command, env=pip_environment(), stdout=sys.stderr) != 0:
                raise SystemExit('apps_matrix: pip download %s failed' % app['spec'])
            new = sorted(set(os.listdir(downloads)) - before)
            if len(new) != 1:
                raise SystemExit('apps_matrix: pip download %s gave %r, expected one sdist'
                                 % (app['spec'], new))
            unpack(os.path.join(downloads, new[0]), building)
            if not os.path.isdir(os.path.join(building, app['root'])):
                raise SystemExit('apps_matrix: the sdist of %s has no folder %s'
                                 % (app['spec'], app['root']))
        templates = os.path.join(building, '.templates', 'registration')
        os.makedirs(templates)
        for name in REGISTRATION_TEMPLATES:
            f = open(os.path.join(templates, name), 'w')
            f.write('%s\n' % name)
            f.close()
        f = open(os.path.join(building, '.complete'), 'w')
        f.write(wanted)
        f.close()
        if os.path.exists(stamp) and open(stamp).read() == wanted:
            return target       # another run finished first; ours is removed below
        if os.path.exists(target):
            shutil.rmtree(target)
        os.rename(building, target)
        building = None
    finally:
        if building:
            shutil.rmtree(building, ignore_errors=True)
    return target


def library_path():
    """A folder holding only the djpatch_multidb package of this checkout
    (copied afresh for every matrix, so a run tests the current code)."""
    library = tempfile.mkdtemp(prefix='apps-matrix-lib-')
    shutil.copytree(os.path.join(CHECKOUT, 'djpatch_multidb'),
                    os.path.join(library, 'djpatch_multidb'),
                    ignore=shutil.ignore_patterns('*.pyc', '__pycache__'))
    return library


# ---------------------------------------------------------------- one run (child process)

def database(backend, server, name, scratch):
    if backend == 'sqlite':
        return {'ENGINE': 'sqlite3', 'NAME': os.path.join(scratch, name + '.db')}
    return {'ENGINE': 'mysql', 'NAME': name, 'USER': 'root', 'PASSWORD': '',
            'HOST': '127.0.0.1', 'PORT': str(server['port'])}


def site_settings(app, mode, backend, server, scratch, target):
    prefix = 'am_%s_%s' % (app['name'], mode)
    values = {
        'INSTALLED_APPS': list(app['installed']),
        'DEBUG': False,
        'SITE_ID': 1,
        'SECRET_KEY': 'apps-matrix',
        'TEMPLATE_DIRS': [os.path.join(target, '.templates')],
    }
    values.update(app['settings'])
    if mode == 'a':
        db = database(backend, server, prefix + '_default', scratch)
        for key, value in db.items():
            values['DATABASE_' + key] = value
    elif mode == 'b':
        values['DATABASES'] = {
            'default': database(backend, server, prefix + '_default', scratch),
            'otherdb': database(backend, server, prefix + '_other', scratch)}
        values['MULTIDB_MODELS'] = dict((label, 'otherdb') for label in app['place'])
    else:
        values['DATABASES'] = {
            'default': database(backend, server, prefix + '_default', scratch),
            'shard0': database(backend, server, prefix + '_shard0', scratch),
            'shard1': database(backend, server, prefix + '_shard1', scratch)}
        values['MULTIDB_SHARDS'] = {'apps': ['shard0', 'shard1']}
        values['MULTIDB_MODELS'] = dict((label, 'shards:apps') for label in app['place'])
    return values


def database_names(app, mode):
    prefix = 'am_%s_%s' % (app['name'], mode)
    return [prefix + suffix for suffix in
            {'a': ('_default',), 'b': ('_default', '_other'),
             'c': ('_default', '_shard0', '_shard1')}[mode]]


def child(options):
    """One suite in this process; the outcome of every test goes to --out."""
    import unittest
    app = dict((a['name'], a) for a in APPS)[options.child_app]
    mode = options.child_mode
    target = options.target
    sys.path[:0] = [options.library, os.path.join(target, app['root'])]
    server = options.port and {'port': options.port} or None
    scratch = tempfile.mkdtemp(prefix='apps-matrix-run-')
    outcomes = {}
    errors = {}

    class RecordingResult(unittest.TextTestResult):
        """Django's runner builds a TextTestRunner; this result class notes
        what every test did."""

        def addSuccess(self, test):
            outcomes[test.id()] = 'ok'
            super(RecordingResult, self).addSuccess(test)

        def addFailure(self, test, err):
            outcomes[test.id()] = 'FAIL'
            errors[test.id()] = self._exc_info_to_string(err, test)
            super(RecordingResult, self).addFailure(test, err)

        def addError(self, test, err):
            outcomes[test.id()] = 'ERROR'
            errors[test.id()] = self._exc_info_to_string(err, test)
            super(RecordingResult, self).addError(test, err)

        def addSkip(self, test, reason):
            outcomes[test.id()] = 'skip'
            super(RecordingResult, self).addSkip(test, reason)

        def addExpectedFailure(self, test, err):
            outcomes[test.id()] = 'ok'
            super(RecordingResult, self).addExpectedFailure(test, err)

        def addUnexpectedSuccess(self, test):
            outcomes[test.id()] = 'FAIL'
            super(RecordingResult, self).addUnexpectedSuccess(test)

    unittest.TextTestRunner.resultclass = RecordingResult
    report = {'app': app['name'], 'mode': mode, 'outcomes': outcomes, 'errors': errors}
    try:
        try:
            if mode != 'a':
                import djpatch_multidb
                djpatch_multidb.install()
            from django.conf import settings
            settings.configure(**site_settings(app, mode, options.backend, server, scratch,
                                               target))
            import django
            report['django'] = django.get_version()
            from django.test.simple import run_tests
            if mode == 'c':
                from djpatch_multidb import using_shard
                with using_shard(1):
                    run_tests(app['labels'], verbosity=2, interactive=False)
            else:
                run_tests(app['labels'], verbosity=2, interactive=False)
            report['finished'] = True
        except BaseException:
            import traceback
            report['finished'] = False
            report['crash'] = traceback.format_exc()
            traceback.print_exc()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        f = open(options.out, 'w')
        json.dump(report, f)
        f.close()
    os._exit(0)   # nothing an application left running keeps the run alive


# ---------------------------------------------------------------- the matrix (parent)

def run_one(app, mode, backend, server, target, library, logs, tag=None):
    tag = tag or mode
    out = os.path.join(logs, '%s-%s-%s.json' % (backend, app['name'], tag))
    log_path = os.path.join(logs, '%s-%s-%s.log' % (backend, app['name'], tag))
    if server is not None:
        for name in database_names(app, mode):
            server.execute('DROP DATABASE IF EXISTS `%s`' % name)
            server.execute('DROP DATABASE IF EXISTS `test_%s`' % name)
            server.create_database(name)
    command = [sys.executable, os.path.abspath(__file__), '--child-app', app['name'],
               '--child-mode', mode, '--backend', backend, '--target', target,
               '--library', library, '--out', out]
    if server is not None:
        command += ['--port', str(server.port)]
    env = dict(os.environ)
    env.pop('DJANGO_SETTINGS_MODULE', None)
    started = time.time()
    output = open(log_path, 'w')
    try:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env,
                                   cwd=tempfile.gettempdir())
        while process.poll() is None:
            if time.time() - started > RUN_TIMEOUT:
                process.kill()
                process.wait()
                break
            time.sleep(0.2)
    finally:
        output.close()
    try:
        f = open(out)
        report = json.load(f)
        f.close()
    except (IOError, ValueError):
        report = {'app': app['name'], 'mode': mode, 'outcomes': {}, 'errors': {},
                  'finished': False,
                  'crash': 'the run left no report (exit %s after %.0f s); see %s'
                           % (process.returncode, time.time() - started, log_path)}
    report['seconds'] = time.time() - started
    report['log'] = log_path
    return report


def first_line(text):
    """The line of an error that says what went wrong (its last non-empty line)."""
    lines = [line.strip() for line in (text or '').splitlines() if line.strip()]
    return lines and lines[-1][:200] or ''


def compare(vanilla, run, unstable=()):
    """{test: (vanilla outcome, run outcome)} for every test that differs
    (but those in ``unstable``)."""
    differ = {}
    for test in set(vanilla['outcomes']) | set(run['outcomes']):
        if test in unstable:
            continue
        was = vanilla['outcomes'].get(test, 'absent')
        now = run['outcomes'].get(test, 'absent')
        if was != now:
            differ[test] = (was, now)
    return differ


VANILLA_TAGS = ('a', 'a2', 'a3', 'a4', 'a5')


def unstable_tests(results, backend, name):
    """The tests whose outcome is not the same in every finished vanilla run
    of ``name`` on ``backend``: they cannot be compared."""
    runs = [results[(backend, name, tag)] for tag in VANILLA_TAGS
            if results.get((backend, name, tag), {}).get('finished')]
    found = {}
    for run in runs[1:]:
        found.update(compare(runs[0], run))
    return found


def differing(results, backend, name, modes):
    """Whether a finished installed run of ``name`` on ``backend`` has a test
    whose outcome differs from vanilla's, beyond the unstable ones."""
    vanilla = results[(backend, name, 'a')]
    unstable = unstable_tests(results, backend, name)
    for mode in modes[1:]:
        report = results[(backend, name, mode)]
        if report.get('finished') and compare(vanilla, report, unstable):
            return True
    return False


def summary(report):
    values = list(report['outcomes'].values())
    bad = len([v for v in values if v in ('FAIL', 'ERROR')])
    return '%d run, %d failed' % (len(values), bad)


def main():
    parser = optparse.OptionParser(usage='%prog [--backends sqlite,mysql] [--apps a,b]')
    parser.add_option('--backends', default='sqlite,mysql')
    parser.add_option('--apps', default=','.join(APP_NAMES))
    parser.add_option('--modes', default=','.join(MODES))
    parser.add_option('--logs', help='folder for the runs\' logs (default: a new temp folder, '
                      'removed when every run matches)')
    parser.add_option('--json', help='also write every run\'s report to this file')
    # a child process (one run):
    for name in ('--child-app', '--child-mode', '--backend', '--target', '--library', '--out'):
        parser.add_option(name, help=optparse.SUPPRESS_HELP)
    parser.add_option('--port', type='int', help=optparse.SUPPRESS_HELP)
    options, args = parser.parse_args()
    if options.child_app:
        return child(options)

    backends = [b for b in options.backends.split(',') if b]
    for backend in backends:
        if backend not in ('sqlite', 'mysql'):
            parser.error('--backends: %r is not a backend; accepted: sqlite, mysql' % backend)
    apps = [a for a in options.apps.split(',') if a]
    for name in apps:
        if name not in APP_NAMES:
            parser.error('--apps: %r is not one of %s' % (name, ', '.join(APP_NAMES)))
    modes = [m for m in options.modes.split(',') if m]
    if 'a' not in modes or [m for m in modes if m not in MODES]:
        parser.error('--modes: a list of a, b, c that includes a (the comparison)')
    import django
    django_version = django.get_version()
    target = ensure_apps()
    library = library_path()
    logs = options.logs or tempfile.mkdtemp(prefix='apps-matrix-logs-')
    if not os.path.isdir(logs):
        os.makedirs(logs)
    log('Django %s from %s; logs in %s' % (django_version, os.path.dirname(django.__file__), logs))
    results = {}
    try:
        for backend in backends:
            server = None
            if backend == 'mysql':
                sys.path.insert(0, HERE)
                from mariadb_server import MariaDBServer
                server = MariaDBServer()
                server.start()
            try:
                for name in apps:
                    app = dict((a['name'], a) for a in APPS)[name]
                    # Vanilla runs twice: a test whose outcome changes from one
                    # vanilla run to the next (timestamps within one second, say)
                    # cannot be compared.
                    for mode, tag in [(m, m) for m in modes[:1]] + [('a', 'a2')] + \
                            [(m, m) for m in modes[1:]]:
                        report = run_one(app, mode, backend, server, target, library, logs, tag)
                        results[(backend, name, tag)] = report
                        log('%s %s (%s): %s%s in %.0f s' % (
                            backend, name, tag, summary(report),
                            not report.get('finished') and ', BROKE' or '', report['seconds']))
                    # A difference: vanilla runs up to three times more, so that
                    # a test whose vanilla outcome changes between runs (two rows
                    # with timestamps of the same second, say) is seen as such.
                    for tag in VANILLA_TAGS[2:]:
                        if not differing(results, backend, name, modes):
                            break
                        report = run_one(app, 'a', backend, server, target, library, logs, tag)
                        results[(backend, name, tag)] = report
                        log('%s %s (%s, vanilla again): %s in %.0f s' % (
                            backend, name, tag, summary(report), report['seconds']))
            finally:
                if server is not None:
                    server.destroy()
    finally:
        shutil.rmtree(library, ignore_errors=True)

    # The matrix.
    differs = 0
    lines = ['', 'apps_matrix: Django %s; each cell: tests run, failed; b and c: tests that '
                 'differ from a' % django_version]
    for mode in modes:
        lines.append('  %s = %s' % (mode, MODE_TITLES[mode]))
    header = '%-18s' % 'app'
    for backend in backends:
        for mode in modes:
            header += ' %-28s' % ('%s %s' % (backend, mode))
    lines.append(header)
    details = []
    for name in apps:
        row = '%-18s' % name
        for backend in backends:
            vanilla = results[(backend, name, 'a')]
            unstable = unstable_tests(results, backend, name)
            for mode in modes:
                report = results[(backend, name, mode)]
                if mode == 'a':
                    cell = summary(report)
                    if not report.get('finished'):
                        cell = 'BROKE'
                        differs += 1
                    if unstable:
                        cell += ' (%d unstable)' % len(unstable)
                        details.append('%s %s: vanilla changes from run to run, not compared: %s'
                                       % (backend, name, ', '.join(sorted(unstable))))
                else:
                    differ = compare(vanilla, report, unstable)
                    if not report.get('finished'):
                        cell = 'BROKE'
                    elif differ:
                        cell = '%d differ' % len(differ)
                    else:
                        cell = 'same as a'
                    if differ or not report.get('finished'):
                        differs += 1
                        details.append('%s %s (%s): %s' % (backend, name, mode, cell))
                        if report.get('crash'):
                            details.append('    broke: %s' % first_line(report['crash']))
                        if not report['outcomes']:
                            differ = {}     # no test ran: the line above says why
                        for test in sorted(differ):
                            was, now = differ[test]
                            details.append('    %s: a %s, %s %s  %s' % (
                                test, was, mode, now, first_line(report['errors'].get(test))))
                row += ' %-28s' % cell
        lines.append(row)
    if details:
        lines.append('')
        lines.append('apps_matrix: what differs from a:')
        lines.extend(details)
    print('\n'.join(lines))
    if options.json:
        f = open(options.json, 'w')
        json.dump(dict(('%s %s %s' % key, value) for key, value in results.items()), f,
                  indent=1, sort_keys=True)
        f.close()
    runs = len([key for key in results if key[2] not in VANILLA_TAGS])
    broken_vanilla = len([key for key, report in results.items()
                          if key[2] == 'a' and not report.get('finished')])
    if differs and not options.logs:
        print('apps_matrix: the logs of every run are in %s' % logs)
    elif not options.logs:
        shutil.rmtree(logs, ignore_errors=True)
    # Each run of b and c is one test; a vanilla run that broke fails too.
    print('apps_matrix: %d passed, %d failed' % (runs - (differs - broken_vanilla), differs))
    return differs and 1 or 0


if __name__ == '__main__':
    sys.exit(main())
