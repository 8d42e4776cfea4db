"""Sets up and runs the legacy_site demo; run_demo.sh calls it with the venv's Python.

    demo.py [--mysql] [--port N] [--users N]     set up, load, serve until Ctrl-C
    demo.py --check [--mysql]                     set up, load, walk every page over
                                                  HTTP, check every row directly, stop

SQLite (the default) keeps its files in legacy_site/var/ (--check: a temporary
folder); the replica alias reads the same file as 'default'.  --mysql starts
MariaDB servers of its own on 127.0.0.1: a primary for 'default' and 'blogdb'
with a binary log, a replica of it with real replication, and two servers
holding two shards each.  Everything it started (the runserver process, the
MariaDB servers, temporary folders) stops when it does: on Ctrl-C (SIGINT),
SIGTERM or SIGHUP alike.
"""
import optparse
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

SITE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(SITE)
sys.path.insert(0, os.path.join(ROOT, 'tools'))

from compat import create_tables_command, text, urlopen

SHARDS = ['shard0', 'shard1', 'shard2', 'shard3']
# Every alias but the replica, which gets its tables from its primary
# (replication on MariaDB; on SQLite it reads the primary's own file).
PRIMARIES = ['default', 'ids', 'blogdb'] + SHARDS
DB_PASSWORD = 'demo-Pa55'


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP: stop as Ctrl-C does."""


def stop_on_signal(signum, frame):
    raise Stopped('signal %d' % signum)


def stop_on_signals():
    """SIGTERM and SIGHUP take the way out Ctrl-C takes: every finally: runs."""
    for name in ('SIGTERM', 'SIGHUP'):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), stop_on_signal)


def run_child(command, **kwargs):
    """subprocess.call(), but the child stops too when this process is stopped."""
    process = subprocess.Popen(command, **kwargs)
    try:
        return process.wait()
    except BaseException:
        end_child(process, signal.SIGTERM)
        raise


def end_child(process, signum, grace=10):
    """Send ``signum`` to a child, give it ``grace`` seconds, then kill it; reap it."""
    if process.poll() is not None:
        return
    try:
        process.send_signal(signum)
    except OSError:
        pass
    deadline = time.time() + grace
    while process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    if process.poll() is None:
        process.kill()
        process.wait()


def log(message):
    sys.stderr.write('demo: %s\n' % message)
    sys.stderr.flush()


class Demo(object):

    def __init__(self, options):
        self.options = options
        self.servers = []
        self.databases = None
        if options.check or options.var is None:
            self.var = tempfile.mkdtemp(prefix='legacy-site-') if options.check else \
                os.path.join(SITE, 'var')
        else:
            self.var = options.var
        self.temporary = options.check
        self.sql_log = None     # --check on SQLite: the statements the site runs (sqllog.py)

    # -- set-up ------------------------------------------------------------
    def environment(self):
        env = dict(os.environ)
        env['LEGACY_SITE_VAR'] = self.var
        if self.databases:
            path = os.path.join(self.var, 'databases.py')
            out = open(path, 'w')
            out.write('DATABASES = %r\n' % (self.databases,))
            out.close()
            env['LEGACY_SITE_DATABASES'] = path
        if self.sql_log:
            env['LEGACY_SITE_SQL_LOG'] = self.sql_log
        return env

    def manage(self, *args):
        command = [sys.executable, os.path.join(SITE, 'manage.py')] + list(args)
        code = run_child(command, env=self.environment(), cwd=SITE)
        if code:
            raise SystemExit('demo: manage.py %s failed (exit %d)' % (' '.join(args), code))

    def setup(self):
        if os.path.isdir(self.var) and not self.temporary:
            shutil.rmtree(self.var)
        if not os.path.isdir(self.var):
            os.makedirs(self.var)
        if self.options.mysql:
            self.start_mysql()
        else:
            self.databases = sqlite_databases(self.var)
        log('creating tables on every alias')
        for alias in PRIMARIES:
            self.manage(*create_tables_command(alias))
        log('loading %d sample users' % self.options.users)
        self.manage('load_sample_data', '--users=%d' % self.options.users)
        if self.options.mysql:
            wait_for_replica(self.primary, self.replica)

    def start_mysql(self):
        from mariadb_server import MariaDBServer
        log('starting MariaDB servers: a primary, its replica, two shard servers')
        self.primary = MariaDBServer(server_id=1, log_bin=True)
        self.replica = MariaDBServer(server_id=2)
        shard_servers = [MariaDBServer(server_id=3), MariaDBServer(server_id=4)]
        self.servers = [self.primary, self.replica] + shard_servers
        for server in self.servers:
            server.start()
        start_replication(self.primary, self.replica)
        self.primary.create_user('legacy', DB_PASSWORD)
        for server in shard_servers:
            server.create_user('legacy', DB_PASSWORD)
        self.databases = {}
        for alias, server, name in [('default', self.primary, 'legacy_default'),
                                    ('default_replica', self.replica, 'legacy_default'),
                                    ('blogdb', self.primary, 'legacy_blog'),
                                    ('ids', self.primary, 'legacy_ids')] + \
                [(alias, shard_servers[n % 2], 'legacy_users%d' % n)
                 for n, alias in enumerate(SHARDS)]:
            if server is not self.replica:
                server.create_database(name)
            self.databases[alias] = {'ENGINE': 'mysql', 'NAME': name, 'USER': 'legacy',
                                     'PASSWORD': DB_PASSWORD, 'HOST': server.host,
                                     'PORT': str(server.port)}
        wait_for_replica(self.primary, self.replica)

    def stop(self):
        for server in self.servers:
            try:
                server.destroy()
            except Exception as error:
                log('stopping %r: %s' % (server, error))
        if self.temporary:
            shutil.rmtree(self.var, ignore_errors=True)

    # -- serving -----------------------------------------------------------
    def server_process(self, port):
        return subprocess.Popen(
            [sys.executable, os.path.join(SITE, 'manage.py'), 'runserver', '--noreload',
             '127.0.0.1:%d' % port], env=self.environment(), cwd=SITE)

    def serve(self):
        port = self.options.port
        log('serving http://127.0.0.1:%d/ (Ctrl-C stops the site and everything it started)'
            % port)
        process = self.server_process(port)
        try:
            process.wait()
        except KeyboardInterrupt:     # Ctrl-C, SIGTERM, SIGHUP
            end_child(process, signal.SIGINT)
        finally:
            end_child(process, signal.SIGTERM)

    def check(self):
        port = free_port()
        if not self.options.mysql:
            self.sql_log = os.path.join(self.var, 'statements.log')
            open(self.sql_log, 'w').close()
        process = self.server_process(port)
        self.sql_log = None     # the site's own statements only
        try:
            wait_for_http(port)
            from democheck import Checker
            checker = Checker('http://127.0.0.1:%d' % port, self)
            problems = checker.run()
        finally:
            end_child(process, signal.SIGTERM)
        status = subprocess.Popen(
            [sys.executable, os.path.join(SITE, 'manage.py'), 'multidb_status'],
            env=self.environment(), cwd=SITE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output = text(status.communicate()[0])
        if status.returncode != 0:
            problems.append('multidb_status exited %d:\n%s' % (status.returncode, output))
        if DB_PASSWORD in output:
            problems.append('multidb_status showed a password')
        for alias in ['default', 'default_replica', 'blogdb', 'ids'] + SHARDS:
            if alias not in output:
                problems.append('multidb_status does not list %s' % alias)
        sys.stdout.write(output)
        return problems

    # -- direct access, for the check ----------------------------------------
    def connect(self, alias):
        entry = self.databases[alias]
        if entry['ENGINE'] == 'mysql':
            import MySQLdb
            return MySQLdb.connect(host=entry['HOST'], port=int(entry['PORT']), user='legacy',
                                   passwd=DB_PASSWORD, db=entry['NAME'])
        return sqlite3.connect(entry['NAME'])

    def rows(self, alias, sql):
        conn = self.connect(alias)
        try:
            cursor = conn.cursor()
            cursor.execute(sql)
            return [tuple(r) for r in cursor.fetchall()]
        finally:
            conn.close()


def sqlite_databases(var):
    def sqlite(name):
        return {'ENGINE': 'sqlite3', 'NAME': os.path.join(var, name + '.db')}
    databases = {'default': sqlite('default'), 'blogdb': sqlite('blog'), 'ids': sqlite('ids')}
    # SQLite cannot replicate: the replica alias reads the primary's own file.
    databases['default_replica'] = sqlite('default')
    for n, alias in enumerate(SHARDS):
        databases[alias] = sqlite('users%d' % n)
    return databases


def start_replication(primary, replica):
    primary.execute(["CREATE USER 'repl'@'%' IDENTIFIED BY 'repl-pw'",
                     "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'"])
    status = primary.execute('SHOW MASTER STATUS')[0]
    replica.execute([
        "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%d, MASTER_USER='repl', "
        "MASTER_PASSWORD='repl-pw', MASTER_LOG_FILE='%s', MASTER_LOG_POS=%d"
        % (primary.port, status[0], int(status[1])),
        'START SLAVE'])


def wait_for_replica(primary, replica, timeout=60):
    """Until the replica has applied everything the primary has written."""
    target = primary.execute('SELECT @@gtid_binlog_pos')[0][0]
    deadline = time.time() + timeout
    while time.time() < deadline:
        if replica.execute("SELECT MASTER_GTID_WAIT('%s', 1)" % target)[0][0] == 0:
            return
    raise SystemExit('demo: the replica did not catch up within %ds' % timeout)


def free_port():
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def wait_for_http(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urlopen('http://127.0.0.1:%d/search/' % port).read()
            return
        except Exception:
            time.sleep(0.2)
    raise SystemExit('demo: the site did not answer on port %d' % port)


def main(argv):
    parser = optparse.OptionParser(usage='%prog [--mysql] [--port N] [--users N] [--check]')
    parser.add_option('--mysql', action='store_true', help='MariaDB servers instead of SQLite')
    parser.add_option('--port', type='int', default=8000, help='port to serve on (8000)')
    parser.add_option('--users', type='int', default=2000, help='sample users to load (2000)')
    parser.add_option('--check', action='store_true',
                      help='walk every page, check every row, stop; non-zero exit on a problem')
    parser.add_option('--var', help='folder for the SQLite files (legacy_site/var)')
    options, args = parser.parse_args(argv)
    if args:
        parser.error('unexpected arguments: %s' % ' '.join(args))
    stop_on_signals()
    demo = Demo(options)
    try:
        demo.setup()
        if options.check:
            problems = demo.check()
            for problem in problems:
                log('PROBLEM: %s' % problem)
            log(problems and '%d problem(s)' % len(problems) or
                'check passed: every page answered and every row is on its shard')
            return problems and 1 or 0
        demo.serve()
        return 0
    except KeyboardInterrupt:
        log('stopped (%s)' % (sys.exc_info()[1] or 'Ctrl-C'))
        return 130
    finally:
        for name in ('SIGTERM', 'SIGHUP'):     # a second one must not cut the clean-up short
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_IGN)
        demo.stop()


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
