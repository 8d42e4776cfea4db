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
