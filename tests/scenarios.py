"""Scenarios that run in a fresh Python process of their own: a small site
made in a work directory, settings configured there, then the behaviour
checked and 'OK' printed.  The test modules that hold them are also the
scripts that run them (python test_x.py SCENARIO WORKDIR ...).

Imported by the suite and by those scripts alike: nothing here needs the
suite's databases or settings."""
from __future__ import absolute_import
import os
import shutil
import subprocess
import sys
import tempfile
import unittest


def run_scenario(script, name, extra=(), keep_settings_module=False):
    """Run ``script NAME WORKDIR *extra`` in a fresh process, in a work
    directory of its own removed afterwards: (exit code, output)."""
    workdir = tempfile.mkdtemp(prefix='djpatch-%s-' % name[:20])
    try:
        env = dict(os.environ)
        if not keep_settings_module:
            env.pop('DJANGO_SETTINGS_MODULE', None)
        process = subprocess.Popen(
            [sys.executable, os.path.abspath(script).replace('.pyc', '.py'), name, workdir] +
            list(extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        output = process.communicate()[0].decode('utf-8', 'replace')
        return process.returncode, output
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


class ScenarioCase(unittest.TestCase):
    """A test that passes when its scenario exits 0 and prints OK last."""

    def run_scenario(self, name):
        raise NotImplementedError

    def assertScenario(self, name):
        code, output = self.run_scenario(name)
        self.assertEqual(code, 0, output)
        self.assertTrue(output.strip().splitlines()[-1].startswith('OK'), output)
        return output


# -- a small site of SQLite files, for the scenarios of one process -----------------

SHARDS = ('s0', 's1', 's2', 's3')
ALIASES = ('default',) + SHARDS     # 'default' and four shards

def native():
    """Whether Django routes natively (1.2 and later)."""
    import django
    return django.VERSION[:2] >= (1, 2)


def make_site(workdir, app, models, tables, aliases):
    """The app ``app`` in ``workdir`` (``models``: its models.py), put on the
    path, and an SQLite file per alias with each of ``tables`` made."""
    import sqlite3
    folder = os.path.join(workdir, app)
    os.mkdir(folder)
    open(os.path.join(folder, '__init__.py'), 'w').close()
    open(os.path.join(folder, 'models.py'), 'w').write(models)
    for alias in aliases:
        conn = sqlite3.connect(os.path.join(workdir, alias + '.db'))
        for sql in tables:
            conn.execute(sql)
        conn.commit()
        conn.close()
    sys.path.insert(0, workdir)


def configure_site(workdir, app, aliases, **settings):
    """install(), then settings of the site's SQLite files, with ``app``
    installed and ``settings`` (MULTIDB_SHARDS, MULTIDB_MODELS, ...)."""
    import djpatch_multidb
    djpatch_multidb.install()
    from django.conf import settings as django_settings
    django_settings.configure(
        DATABASES=dict([(alias, {'ENGINE': 'sqlite3', 'NAME': os.path.join(workdir, alias + '.db')})
                        for alias in aliases]),
        INSTALLED_APPS=[app], SECRET_KEY='scenario-' + app, **settings)
    import django
    if hasattr(django, 'setup'):
        django.setup()


def rows_by_alias(workdir, aliases, tables):
    """{alias: (rows of each of ``tables``, ...)} of every alias holding any,
    read with sqlite3."""
    import sqlite3
    found = {}
    for alias in aliases:
        conn = sqlite3.connect(os.path.join(workdir, alias + '.db'))
        try:
            rows = tuple([[tuple(r) for r in conn.execute('SELECT * FROM %s ORDER BY 1' % table)]
                          for table in tables])
        finally:
            conn.close()
        if any(rows):
            found[alias] = rows
    return found
