"""legacy_site/demo.py stops everything it started on SIGTERM and SIGHUP, as on
Ctrl-C (SIGINT): its runserver process is gone and the port refuses connections."""
from __future__ import absolute_import
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import harness

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, 'legacy_site', 'demo.py')
GUARD = 120    # seconds: a guard against hanging forever, not a measurement


def answers(port):
    """Whether the site answers an HTTP request on ``port`` (a whole request,
    read to its end: a bare connect-and-close makes some development servers
    log a traceback of their own)."""
    connection = socket.socket()
    connection.settimeout(10)
    try:
        try:
            connection.connect(('127.0.0.1', port))
            connection.sendall(b'GET /nothing-here/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n')
            while connection.recv(65536):
                pass
            return True
        except socket.error:
            return False
    finally:
        connection.close()


def children(pid):
    """The pids of the processes whose parent is ``pid``, from /proc."""
    found = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            status = open('/proc/%s/status' % name).read()
        except (IOError, OSError):
            continue
        for line in status.splitlines():
            if line.startswith('PPid:') and int(line.split()[1]) == pid:
                found.append(int(name))
    return found


def alive(pid):
    """Whether ``pid`` is a process that has not exited (a zombie has)."""
    try:
        status = open('/proc/%d/status' % pid).read()
    except (IOError, OSError):
        return False
    return '\nState:\tZ' not in status


def until(condition, what):
    deadline = time.time() + GUARD
    while not condition():
        if time.time() > deadline:
            raise AssertionError('still waiting after %ds: %s' % (GUARD, what))
        time.sleep(0.1)


def own_output(text):
    """The demo's output without the development server's reports of a
    request it was handling when the signal came (SocketServer prints those
    between two lines of dashes, a traceback included): demo.py's own
    tracebacks are what must not be there."""
    kept, skipping = [], False
    for line in text.splitlines():
        if line.startswith('Exception happened during processing of request'):
            skipping = True
        elif skipping and line.startswith('-----'):
            skipping = False
            continue
        if not skipping:
            kept.append(line)
    return '\n'.join(kept)


def as_from_a_terminal():
    """The demo in a session of its own, with SIGINT as a terminal leaves it:
    a suite started as a background job of a shell without job control
    inherits SIGINT ignored, and so would the demo."""
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class DemoStopsOnSignals(unittest.TestCase):

    def setUp(self):
        self.folder = tempfile.mkdtemp(prefix='demo-signals-')
        self.demo = None

    def tearDown(self):
        if self.demo is not None:
            try:
                # the demo's whole session (as_from_a_terminal): runserver too,
                # when a failed test left it running
                os.killpg(self.demo.pid, signal.SIGKILL)
            except OSError:
                pass
            self.demo.wait()
        shutil.rmtree(self.folder, ignore_errors=True)

    def serve_then_send(self, signum):
        port = harness.closed_port()
        log = open(os.path.join(self.folder, 'demo.log'), 'w')
        self.demo = subprocess.Popen(
            [sys.executable, DEMO, '--port', str(port), '--users', '8',
             '--var', os.path.join(self.folder, 'var')],
            stdout=log, stderr=subprocess.STDOUT, preexec_fn=as_from_a_terminal)
        log.close()
        until(lambda: answers(port) or self.demo.poll() is not None, 'the demo to serve')
        self.assertEqual(self.demo.poll(), None, self.output())
        started = children(self.demo.pid)
        self.assertTrue(started, 'runserver is a child of demo.py')
        os.kill(self.demo.pid, signum)
        until(lambda: self.demo.poll() is not None, 'demo.py to exit')
        self.assertEqual([pid for pid in started if alive(pid)], [], self.output())
        self.assertFalse(answers(port), 'port %d still answers after the signal' % port)
        self.assertTrue('Traceback' not in own_output(self.output()), self.output())
        return self.demo.returncode

    def output(self):
        return open(os.path.join(self.folder, 'demo.log')).read()

    def test_sigint_stops_the_site(self):
        self.serve_then_send(signal.SIGINT)

    def test_sigterm_stops_the_site_as_sigint_does(self):
        self.serve_then_send(signal.SIGTERM)

    def test_sighup_stops_the_site_as_sigint_does(self):
        self.serve_then_send(signal.SIGHUP)
