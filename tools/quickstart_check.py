"""Follows README.txt's quick start word for word in a fresh virtualenv.

    quickstart_check.py [--django-src DIR] [--way checkout|sdist|both] [--keep]

It reads the "Quick start" section of README.txt, where every indented block
follows a line that ends with a colon:

  - a block of "$ " lines is a list of commands.  A block that runs
    "pip install" is one way of installing the library (from a checkout, or
    from an sdist): each way is followed in a virtualenv of its own, and the
    working folder goes back to the project folder after it;
    "/path/to/djpatch_multidb" stands for (a copy of) this checkout,
    "cd DIR" changes folder, and "manage.py runserver" is started on a free
    port until the quick start's http://127.0.0.1:8000/... addresses have
    been requested;
  - any other block is a file: the line before it names the path (relative
    to the folder the project is made in); "Add at the end of PATH:" appends
    the block, "PATH:" writes it.

Before that it makes a virtualenv with the virtualenv tools/bootstrap.sh
installs ($DJPATCH_MULTIDB_CACHE or /var/cache/djpatch_multidb, then
bootstrap-py3/bin/virtualenv) on Python 2.7, and installs Django 1.1.4 from
the package index in it; with --django-src DIR, that Django source tree is
put on the virtualenv's path instead, as its own setup.py install would leave
it (a .pth line to the tree, the Django-<version>.egg-info that distutils
writes, and bin/django-admin.py), so that pip sees Django installed.  The
library is installed by whatever the quick start's commands do, so whatever
setup.py lists is what gets installed.

Afterwards it reads every SQLite file of the quick start's settings with the
sqlite3 module: each order the quick start's /new/<key>/ addresses wrote must
be on the shard its key maps to ('mod': key % number of shards) and on no
other database.  The last line is "quickstart: ok"; anything else exits 1
with a message.  The temporary folder is removed unless --keep is given.
"""
import optparse
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
import types

try:
    from urllib2 import urlopen, HTTPError
except ImportError:  # Python 3
    from urllib.request import urlopen
    from urllib.error import HTTPError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, 'README.txt')
CHECKOUT_PLACEHOLDER = '/path/to/djpatch_multidb'
SITE_URL = 'http://127.0.0.1:8000'
DJANGO = 'Django==1.1.4'


class Failure(Exception):
    pass


def log(message):
    sys.stdout.write('quickstart: %s\n' % message)
    sys.stdout.flush()


# -- reading the quick start ------------------------------------------------

def quick_start_lines(path):
    lines = open(path).read().splitlines()
    start = None
    for i in range(len(lines) - 1):
        if lines[i].strip().lower() == 'quick start' and re.match(r'^-{3,}$', lines[i + 1]):
            start = i + 2
            break
    if start is None:
        raise Failure('%s has no "Quick start" section (a title underlined with dashes)' % path)
    end = len(lines)
    for i in range(start, len(lines) - 1):
        if lines[i] and not lines[i].startswith(' ') and re.match(r'^-{3,}$', lines[i + 1]):
            end = i
            break
    return lines[start:end]


def parse_quick_start(path):
    """[(label, kind, payload)]: kind 'commands' (payload: list of command lines)
    or 'file' (payload: (relative path, mode 'a' or 'w', text)); and the text."""
    lines = quick_start_lines(path)
    steps = []
    i = 0
    paragraph = []
    while i < len(lines):
        line = lines[i]
        if line.startswith('    ') and line.strip():
            label = ' '.join([p.strip() for p in paragraph])
            block = []
            while i < len(lines) and (lines[i].startswith('    ') or not lines[i].strip()):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            text = textwrap.dedent('\n'.join(block)) + '\n'
            steps.append(step_of(label, text))
            paragraph = []
            continue
        if line.strip():
            paragraph.append(line)
        else:
            if paragraph and not paragraph[-1].rstrip().endswith(':'):
                paragraph = []
        i += 1
    if not steps:
        raise Failure('the quick start in %s has no indented blocks' % path)
    return steps, '\n'.join(lines)


def step_of(label, text):
    if not label.endswith(':'):
        raise Failure('a quick start block does not follow a line ending with ":" '
                      '(it starts %r)' % text.splitlines()[0])
    body = [l for l in text.splitlines() if l.strip()]
    if all([l.startswith('$ ') for l in body]):
        return (label, 'commands', [l[2:].strip() for l in body])
    if [l for l in body if l.startswith('$ ')]:
        raise Failure('a quick start block mixes "$ " commands and other lines: %r' % label)
    names = re.findall(r'((?:[\w.-]+/)*[\w.-]+\.py)\b', label)
    if len(names) != 1:
        raise Failure('the line before a quick start file block must name one .py '
                      'file: %r' % label)
    mode = re.search(r'\badd\b.*\bend\b', label, re.I) and 'a' or 'w'
    return (label, 'file', (names[0], mode, text))


# -- the virtualenv -----------------------------------------------------------

def cache_dir():
    return os.environ.get('DJPATCH_MULTIDB_CACHE') or '/var/cache/djpatch_multidb'


def find_virtualenv():
    path = os.path.join(cache_dir(), 'bootstrap-py3', 'bin', 'virtualenv')
    if not os.access(path, os.X_OK):
        raise Failure('%s is missing: run tools/bootstrap.sh first (it installs virtualenv '
                      'there, section "c. virtualenvs")' % path)
    return path


def python27_ok(path):
    if not path or not os.access(path, os.X_OK):
        return False
    try:
        return subprocess.call([path, '-c', 'import sys, sqlite3; assert sys.version_info[:2] == (2, 7)'],
                               stdout=open(os.devnull, 'w'), stderr=subprocess.STDOUT) == 0
    except OSError:
        return False


def find_python27(given):
    candidates = [given, os.environ.get('PYTHON27')]
    if sys.version_info[:2] == (2, 7):
        base = getattr(sys, 'real_prefix', None) or getattr(sys, 'base_prefix', None) or sys.prefix
        candidates.append(os.path.join(base, 'bin', 'python2.7'))
    candidates.append('/usr/bin/python2.7')
    for path in candidates:
        if python27_ok(path):
            return path
    raise Failure('no working Python 2.7 found (give --python /path/to/python2.7)')


def pip_environment(venv):
    """The environment of every command: the virtualenv first on PATH, and none
    of this machine's pip configuration (find-links, local indexes,
    constraints), as tools/bootstrap.sh does."""
    env = dict(os.environ)
    for name in ('PIP_FIND_LINKS', 'PIP_EXTRA_INDEX_URL', 'PIP_INDEX_URL', 'PIP_CONSTRAINT',
                 'PYTHONPATH', 'PYTHONHOME', 'DJANGO_SETTINGS_MODULE'):
        env.pop(name, None)
    env['PIP_CONFIG_FILE'] = os.devnull
    env['PIP_DISABLE_PIP_VERSION_CHECK'] = '1'
    env['PIP_NO_PYTHON_VERSION_WARNING'] = '1'
    env.setdefault('PIP_CERT', '/etc/ssl/certs/ca-certificates.crt')
    env['PIP_CACHE_DIR'] = os.path.join(cache_dir(), 'pip-cache')
    env['VIRTUAL_ENV'] = venv
    env['PATH'] = os.path.join(venv, 'bin') + os.pathsep + env.get('PATH', '')
    return env


def run(command, cwd, env, what=None):
    """Runs a shell command; its output is shown when it fails."""
    process = subprocess.Popen(command, shell=True, cwd=cwd, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output = process.communicate()[0]
    if not isinstance(output, str):
        output = output.decode('utf-8', 'replace')
    if process.returncode:
        raise Failure('%s failed (exit %d) in %s:\n%s'
                      % (what or '"%s"' % command, process.returncode, cwd, output.rstrip()))
    return output


def import_error(command, cwd, env):
    """Django 1.0/1.1's manage.py hides an ImportError of settings.py behind
    "Can't find the file 'settings.py'": show it."""
    if 'manage.py' not in command or not os.path.exists(os.path.join(cwd, 'settings.py')):
        return ''
    try:
        run('python -c "import settings"', cwd, env, 'import settings')
    except Failure:
        return '\n\nwhich is:\n%s' % sys.exc_info()[1]
    return ''


def make_venv(venv, python27, django_src):
    env = pip_environment(venv)
    run('"%s" -q --no-periodic-update -p "%s" "%s"' % (find_virtualenv(), python27, venv),
        os.path.dirname(venv), env, 'virtualenv -p %s' % python27)
    python = os.path.join(venv, 'bin', 'python')
    if django_src:
        put_django_tree(python, django_src)
    else:
        run('pip install -q %s' % DJANGO, venv, env)
    version = run('python -c "import django; print(django.get_version())"', venv, env).strip()
    return env, version


def put_django_tree(python, tree):
    """The tree on the virtualenv's path as its setup.py install would leave it."""
    tree = os.path.abspath(tree)
    if not os.path.isfile(os.path.join(tree, 'django', '__init__.py')):
        raise Failure('--django-src %s has no django/__init__.py' % tree)
    site = subprocess.Popen([python, '-c', 'from distutils.sysconfig import get_python_lib; '
                             'print(get_python_lib())'], stdout=subprocess.PIPE).communicate()[0]
    site = site.decode('ascii').strip()
    open(os.path.join(site, 'django-src.pth'), 'w').write(tree + '\n')
    version = subprocess.Popen([python, '-c', 'import django; print(django.get_version())'],
                               stdout=subprocess.PIPE).communicate()[0].decode('ascii').strip()
    version = version.split()[0]
    open(os.path.join(site, 'Django-%s.egg-info' % version), 'w').write(
        'Metadata-Version: 1.0\nName: Django\nVersion: %s\n' % version)
    script = os.path.join(os.path.dirname(python), 'django-admin.py')
    source = open(os.path.join(tree, 'django', 'bin', 'django-admin.py')).read().splitlines()
    if source and source[0].startswith('#!'):
        source = source[1:]
    open(script, 'w').write('#!%s\n%s\n' % (python, '\n'.join(source)))
    os.chmod(script, 493)  # 0755


# -- following the steps ------------------------------------------------------

def copy_checkout(target):
    ignore = shutil.ignore_patterns('.git', '*.pyc', '*.pyo', '__pycache__', 'var', 'dist',
                                    'build', '*.egg-info', '.eggs', '.venv*')
    shutil.copytree(ROOT, target, ignore=ignore)


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def serve_and_request(command, cwd, env, paths, work):
    port = free_port()
    command = re.sub(r'\brunserver\b.*$', 'runserver --noreload 127.0.0.1:%d' % port, command)
    out = open(os.path.join(work, 'runserver.log'), 'w')
    # A session of its own: the shell and the server it starts are stopped together.
    process = subprocess.Popen(command, shell=True, cwd=cwd, env=env, stdout=out,
                               stderr=subprocess.STDOUT, preexec_fn=os.setsid)
    answers = []
    try:
        deadline = time.time() + 60
        while True:
            if process.poll() is not None:
                raise Failure('"%s" exited (%d):\n%s' % (command, process.returncode,
                                                         open(out.name).read()))
            try:
                socket.create_connection(('127.0.0.1', port), 1).close()
                break
            except socket.error:
                if time.time() > deadline:
                    raise Failure('"%s" did not listen on port %d within 60s' % (command, port))
                time.sleep(0.2)
        for path in paths:
            url = 'http://127.0.0.1:%d%s' % (port, path)
            try:
                response = urlopen(url, timeout=30)
                body = response.read().decode('utf-8', 'replace')
            except HTTPError:
                error = sys.exc_info()[1]
                page = error.read().decode('utf-8', 'replace')
                found = re.search(r'<title>(.*?)</title>.*?<pre class="exception_value">(.*?)</pre>',
                                  page, re.S)
                text = found and '%s: %s' % found.groups() or page[:3000]
                for entity, char in (('&#39;', "'"), ('&quot;', '"'), ('&lt;', '<'),
                                     ('&gt;', '>'), ('&amp;', '&')):
                    text = text.replace(entity, char)
                raise Failure('GET %s: HTTP %s: %s' % (path, error.code, text))
            log('GET %s -> %s' % (path, body.strip()))
            answers.append((path, body))
    finally:
        stop_group(process)
        out.close()
    return answers


def stop_group(process):
    """Stop ``process`` and everything in its process group (the shell ran
    "manage.py runserver" as a child of its own): SIGTERM, then SIGKILL
    after 10 seconds."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except OSError:
        pass        # gone already
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.killpg(process.pid, 0)
        except OSError:
            break   # no process of the group is left
        process.poll()
        time.sleep(0.1)
    else:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
    process.wait()


def follow(steps, readme_text, way, work, src, django_src, python27):
    venv = os.path.join(work, 'venv')
    site = os.path.join(work, 'site')
    os.makedirs(site)
    env, version = make_venv(venv, python27, django_src)
    log('%s: virtualenv with Django %s on %s' % (way, version, python27))
    installs = [s for s in steps if s[1] == 'commands' and
                [c for c in s[2] if c.startswith('pip install')]]
    if len(installs) != 2:
        raise Failure('the quick start should show two ways to install the library (a '
                      'checkout and an sdist), each a block with "pip install"; found %d'
                      % len(installs))
    chosen = installs[way == 'sdist' and 1 or 0][2]
    paths = re.findall(re.escape(SITE_URL) + r'(/[\w/.-]*/)', readme_text)
    cwd = site
    served = []
    for label, kind, payload in steps:
        if kind == 'file':
            name, mode, text = payload
            target = os.path.join(site, name)
            if not os.path.isdir(os.path.dirname(target)):
                raise Failure('%r: %s does not exist (the steps before it did not make it)'
                              % (label, os.path.dirname(target)))
            out = open(target, mode)
            out.write(mode == 'a' and '\n' + text or text)
            out.close()
            continue
        if payload is not chosen and [c for c in payload if c.startswith('pip install')]:
            continue   # the other way of installing
        for command in payload:
            command = command.replace(CHECKOUT_PLACEHOLDER, src)
            if command.startswith('cd '):
                cwd = os.path.normpath(os.path.join(cwd, command[3:].strip()))
                if not os.path.isdir(cwd):
                    raise Failure('"%s": no such folder %s' % (command, cwd))
            elif re.search(r'manage\.py runserver\b', command):
                served = serve_and_request(command, cwd, env, paths, work)
            else:
                log('%s: $ %s' % (way, command))
                try:
                    run(command, cwd, env)
                except Failure:
                    raise Failure('%s%s' % (sys.exc_info()[1], import_error(command, cwd, env)))
        if payload is chosen:
            cwd = site      # an install step leaves the folder where it began
    if not served:
        raise Failure('the quick start never runs manage.py runserver, or names no %s/... '
                      'address to request' % SITE_URL)
    after = run('python -c "import django; print(django.get_version())"', site, env).strip()
    if after != version:
        raise Failure('the quick start replaced Django %s with Django %s' % (version, after))
    return site, steps


def settings_of(steps, site):
    """The quick start's settings, run as Python with install() a no-op."""
    blocks = [p for l, k, p in steps if k == 'file' and p[0].endswith('settings.py')]
    if not blocks:
        raise Failure('the quick start shows no settings.py')
    name, mode, text = blocks[0]
    stub = types.ModuleType('djpatch_multidb')
    stub.install = lambda: None
    saved = sys.modules.get('djpatch_multidb')
    sys.modules['djpatch_multidb'] = stub
    try:
        namespace = {'__file__': os.path.join(site, name), '__name__': 'settings'}
        exec(compile(text, name, 'exec'), namespace)
    finally:
        if saved is None:
            del sys.modules['djpatch_multidb']
        else:
            sys.modules['djpatch_multidb'] = saved
    return namespace


def verify(steps, readme_text, site):
    settings = settings_of(steps, site)
    databases = settings['DATABASES']
    sharded = [(label, target[len('shards:'):]) for label, target in
               settings.get('MULTIDB_MODELS', {}).items()
               if '.' in label and target.startswith('shards:')]
    if len(sharded) != 1:
        raise Failure('the quick start should place one model in a shard group; '
                      'MULTIDB_MODELS: %r' % settings.get('MULTIDB_MODELS'))
    label, group = sharded[0]
    entry = settings['MULTIDB_SHARDS'][group]
    if isinstance(entry, dict):
        if entry.get('KEY', 'mod') != 'mod':
            raise Failure("this check knows the 'mod' key only; group %r has KEY %r"
                          % (group, entry['KEY']))
        shards = list(entry['SHARDS'])
    else:
        shards = list(entry)
    table = label.replace('.', '_').lower()
    models = [p for l, k, p in steps if k == 'file' and p[0].endswith('models.py')]
    key_field = re.search(r"shard_key\s*=\s*'(\w+)'", models and models[0][2] or '')
    if not key_field:
        raise Failure("the quick start's models.py sets no shard_key = '<field>'")
    key_field = key_field.group(1)
    keys = [int(k) for k in re.findall(re.escape(SITE_URL) + r'/[\w/-]*/new/(\d+)/', readme_text)]
    if not keys:
        raise Failure('the quick start requests no %s/.../new/<key>/ address' % SITE_URL)
    files = {}
    for alias, entry in databases.items():
        if entry.get('ENGINE') not in ('sqlite3', 'django.db.backends.sqlite3'):
            raise Failure('DATABASES[%r] is not SQLite: the quick start must run anywhere' % alias)
        files.setdefault(entry['NAME'], []).append(alias)
    found = {}
    for name, aliases in files.items():
        if not os.path.exists(name):
            raise Failure('%s (%s) was never created' % (name, ', '.join(aliases)))
        db = sqlite3.connect(name)
        try:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            if table in tables:
                found[name] = [r[0] for r in db.execute('SELECT %s FROM %s' % (key_field, table))]
            else:
                found[name] = None
        finally:
            db.close()
    for n, alias in enumerate(shards):
        name = databases[alias]['NAME']
        if found[name] is None:
            raise Failure('%s (%s) has no table %s: syncdb --all-databases did not create it'
                          % (name, alias, table))
    for key in keys:
        home = databases[shards[key % len(shards)]]['NAME']
        for name, rows in sorted(found.items()):
            count = (rows or []).count(key)
            if name == home and count != 1:
                raise Failure('%s should hold one %s row with %s=%d; it holds %d (%r)'
                              % (name, table, key_field, key, count, rows))
            if name != home and count:
                raise Failure('%s holds %d %s row(s) with %s=%d, which belong on %s only'
                              % (name, count, table, key_field, key, home))
        log('%s %s=%d: on %s (%s) only' % (table, key_field, key, shards[key % len(shards)],
                                          os.path.basename(home)))
    for name, rows in sorted(found.items()):
        if name not in [databases[a]['NAME'] for a in shards] and rows is not None:
            raise Failure('%s (%s) has a table %s, which belongs on the shards only'
                          % (name, ', '.join(files[name]), table))


def main():
    parser = optparse.OptionParser(usage='%prog [--django-src DIR] [--way checkout|sdist|both]')
    parser.add_option('--django-src', help='a Django source tree (the folder holding the '
                      'django package) instead of %s from the package index' % DJANGO)
    parser.add_option('--way', default='both', choices=['checkout', 'sdist', 'both'],
                      help='which way of installing the library to follow (default both)')
    parser.add_option('--python', help='the Python 2.7 of the virtualenv')
    parser.add_option('--keep', action='store_true', help='keep the temporary folder')
    options, args = parser.parse_args()
    if args:
        parser.error('no arguments expected')
    temp = tempfile.mkdtemp(prefix='quickstart-')
    try:
        try:
            steps, text = parse_quick_start(README)
            python27 = find_python27(options.python)
            src = os.path.join(temp, 'src', 'djpatch_multidb')
            copy_checkout(src)
            ways = options.way == 'both' and ['checkout', 'sdist'] or [options.way]
            for way in ways:
                site, steps = follow(steps, text, way, os.path.join(temp, way), src,
                                     options.django_src, python27)
                verify(steps, text, site)
                log('%s: ok' % way)
        except Failure:
            sys.stdout.write('quickstart: FAILED: %s\n' % sys.exc_info()[1])
            return 1
    finally:
        if options.keep:
            log('kept %s' % temp)
        else:
            shutil.rmtree(temp, ignore_errors=True)
    log('ok')
    return 0


if __name__ == '__main__':
    sys.exit(main())
