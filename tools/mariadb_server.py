"""Throw-away MariaDB servers for the djpatch_multidb tests.

Each ``MariaDBServer`` gets a fresh data directory under ``tempfile.mkdtemp()``,
its own TCP port on 127.0.0.1 and its own unix socket, and ignores every
option file (``--no-defaults``), so the machine's own MariaDB on 3306 and
/etc/mysql are never touched::

    from mariadb_server import MariaDBServer

    server = MariaDBServer()            # or MariaDBServer(port=..., server_id=2, log_bin=True)
    server.start()
    server.create_database('db1')
    server.create_user('djuser', 'secret')
    rows = server.execute('SELECT @@port')
    ...
    server.kill()                       # SIGKILL, e.g. for fail-over tests
    server.start_general_log()          # every statement, in the table mysql.general_log
    server.general_log()                # [(connection id, statement)] logged since
    server.stop_general_log()
    server.restart()                    # same data dir, same port
    server.destroy()                    # stop and remove the temp dir

Servers that are still alive when the interpreter exits are stopped and their
directories removed by an ``atexit`` handler; the server process also gets
SIGKILL if the process that started it dies (Linux ``PR_SET_PDEATHSIG``).

``FaultProxy(server.host, server.port)`` is a TCP forwarder in front of a
server: clients that connect to its port reach the server, until a trap
armed with ``arm()`` cuts one connection at a chosen statement (for instance
after the server committed but before its OK reaches the client).

The root account has an empty password and is reachable over TCP
(root@127.0.0.1) and through the unix socket.

Written for Python 2.6/2.7 and 3.x alike.
"""

from __future__ import print_function

import atexit
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

try:
    import MySQLdb  # noqa
except ImportError:  # pragma: no cover - depends on the interpreter
    MySQLdb = None

__all__ = ['MariaDBServer', 'MariaDBServerError', 'FaultProxy', 'find_free_port']

_SEARCH_DIRS = ('/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin',
                '/usr/local/mysql/bin', '/usr/libexec')


class MariaDBServerError(RuntimeError):
    """Starting, stopping or talking to a test server failed."""


def _which(names):
    """The first of ``names`` found on PATH or in the usual sbin dirs."""
    dirs = os.environ.get('PATH', '').split(os.pathsep) + list(_SEARCH_DIRS)
    for name in names:
        for d in dirs:
            path = os.path.join(d, name)
            if d and os.path.isfile(path) and os.access(path, os.X_OK):
                return path
    return None


def find_free_port(host='127.0.0.1'):
    """A TCP port on ``host`` that nobody listens on right now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def _tail(path, lines=40):
    try:
        f = open(path, 'rb')
        try:
            data = f.read()
        finally:
            f.close()
    except (IOError, OSError):
        return '(no log at %s)' % path
    text = data.decode('utf-8', 'replace')
    return '\n'.join(text.splitlines()[-lines:])


def _set_pdeathsig():
    """preexec_fn: the server gets SIGKILL when its parent dies."""
    try:
        import ctypes
        libc = ctypes.CDLL('libc.so.6', use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass


def _new_session_and_pdeathsig():
    # Own session: a Ctrl-C in the terminal goes to the test runner only.
    os.setsid()
    _set_pdeathsig()


def _quote_ident(name):
    return '`%s`' % name.replace('`', '``')


def _quote_string(value):
    return "'%s'" % value.replace('\\', '\\\\').replace("'", "\\'")


# Servers not destroyed yet, for the atexit handler.
_LIVE_SERVERS = []


def _cleanup_all():
    for server in list(_LIVE_SERVERS):
        try:
            server.destroy()
        except Exception as e:  # never let cleanup hide the real error
            sys.stderr.write('mysql_server: cleanup of %r failed: %s\n' % (server, e))


atexit.register(_cleanup_all)


class MariaDBServer(object):
    """A throw-away MariaDB server on 127.0.0.1.

    Parameters:
      port             TCP port (default: a free one, picked once and kept
                       across restarts)
      server_id        --server-id (for replication set-ups)
      log_bin          True: --log-bin=mysql-bin (in the data dir);
                       False: --skip-log-bin
      charset          --character-set-server (utf8 = utf8mb3, what the
                       Django 1.x MySQL backend speaks)
      sql_mode         --sql-mode, or None for the server's default
      options          dict of extra server options {'name': value}
                       (value None gives a bare --name)
      extra_args       list of extra command-line arguments for mariadbd
      startup_timeout  seconds start() waits for the server
      die_with_parent  give the server PR_SET_PDEATHSIG=SIGKILL (it dies if
                       the thread that started it ends)
      base_dir         parent dir for the temp dir (default: tempfile's)
    """

    host = '127.0.0.1'

    def __init__(self, port=None, server_id=1, log_bin=False, charset='utf8',
                 sql_mode=None, options=None, extra_args=None,
                 startup_timeout=60.0, die_with_parent=True, base_dir=None):
        self.mysqld = _which(['mariadbd', 'mysqld'])
        self.install_db = _which(['mariadb-install-db', 'mysql_install_db'])
        self.client = _which(['mariadb', 'mysql'])
        if not self.mysqld or not self.install_db:
            raise MariaDBServerError(
                'mariadbd / mariadb-install-db not found: install the Debian '
                'package mariadb-server (tools/bootstrap.sh does)')
        self._port = port and int(port)
        self._port_given = port is not None
        self.server_id = int(server_id)
        self.log_bin = bool(log_bin)
        self.charset = charset
        self.sql_mode = sql_mode
        self.options = dict(options or {})
        self.extra_args = list(extra_args or [])
        self.startup_timeout = float(startup_timeout)
        self.die_with_parent = die_with_parent
        self.proc = None
        self._initialized = False
        self._started_once = False
        self.tmpdir = tempfile.mkdtemp(prefix='djpatch-mariadb-', dir=base_dir)
        self.datadir = os.path.join(self.tmpdir, 'data')
        self.server_tmpdir = os.path.join(self.tmpdir, 'tmp')
        self._socket = os.path.join(self.tmpdir, 'mysqld.sock')
        self.pid_file = os.path.join(self.tmpdir, 'mysqld.pid')
        self.error_log = os.path.join(self.tmpdir, 'error.log')
        self.install_log = os.path.join(self.tmpdir, 'install-db.log')
        self.start_seconds = None  # how long the last start() took
        _LIVE_SERVERS.append(self)

    def __repr__(self):
        return '<MariaDBServer %s:%s %s%s>' % (
            self.host, self._port, self.tmpdir,
            self.is_running() and ' running' or '')

    # ------------------------------------------------------------ properties
    @property
    def port(self):
        if self._port is None:
            self._port = find_free_port(self.host)
        return self._port

    @property
    def socket(self):
        return self._socket

    # ------------------------------------------------------------ command lines
    def _common_args(self):
        # Options shared by mariadb-install-db and mariadbd: small memory.
        args = [
            '--innodb-buffer-pool-size=16M',
            '--innodb-log-file-size=8M',
        ]
        if os.geteuid() == 0:
            args.append('--user=root')
        return args

    def _server_args(self):
        args = [
            self.mysqld,
            '--no-defaults',          # ignore /etc/mysql and ~/.my.cnf
            '--datadir=%s' % self.datadir,
            '--tmpdir=%s' % self.server_tmpdir,
            '--socket=%s' % self._socket,
            '--pid-file=%s' % self.pid_file,
            '--log-error=%s' % self.error_log,
            '--port=%d' % self.port,
            '--bind-address=%s' % self.host,
            '--server-id=%d' % self.server_id,
            '--skip-name-resolve',
            '--character-set-server=%s' % self.charset,
            '--performance-schema=OFF',
            '--key-buffer-size=1M',
            '--max-connections=200',
            '--table-open-cache=400',
            '--innodb-log-buffer-size=2M',
            # Commits still survive a kill of the server process.
            '--innodb-flush-log-at-trx-commit=2',
            '--innodb-doublewrite=0',
            '--loose-innodb-use-native-aio=0',
            '--loose-feedback=OFF',
        ] + self._common_args()
        if self.log_bin:
            args.append('--log-bin=mysql-bin')
        else:
            args.append('--skip-log-bin')
        if self.sql_mode is not None:
            args.append('--sql-mode=%s' % self.sql_mode)
        for key in sorted(self.options):
            value = self.options[key]
            opt = '--' + key.replace('_', '-')
            args.append(value is None and opt or '%s=%s' % (opt, value))
        return args + self.extra_args

    # ------------------------------------------------------------ life cycle
    def _initialize(self):
        for d in (self.datadir, self.server_tmpdir):
            if not os.path.isdir(d):
                os.makedirs(d)
        args = [
            self.install_db,
            '--no-defaults',
            '--datadir=%s' % self.datadir,
            '--auth-root-authentication-method=normal',
            '--skip-test-db',
            '--skip-name-resolve',
        ] + self._common_args()
        out = open(self.install_log, 'wb')
        try:
            rc = subprocess.call(args, stdout=out, stderr=subprocess.STDOUT,
                                 close_fds=True)
        finally:
            out.close()
        if rc != 0:
            raise MariaDBServerError(
                '%s failed (exit %s):\n%s' % (os.path.basename(self.install_db), rc,
                                             _tail(self.install_log)))
        self._initialized = True

    def is_running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        """Start the server and wait until it accepts connections."""
        if self.is_running():
            return self
        if not os.path.isdir(self.tmpdir):
            raise MariaDBServerError('%r was destroyed' % self)
        t0 = time.time()
        if not self._initialized:
            self._initialize()
        attempts = (self._port_given or self._started_once) and 1 or 3
        for attempt in range(attempts):
            try:
                self._start_once()
                break
            except MariaDBServerError:
                # A port picked by us may have been taken in the meantime.
                if attempt + 1 < attempts and 'already in use' in _tail(self.error_log, 10):
                    self._port = find_free_port(self.host)
                    continue
                raise
        self._started_once = True
        self.start_seconds = time.time() - t0
        return self

    def _start_once(self):
        log_offset = 0
        if os.path.exists(self.error_log):
            log_offset = os.path.getsize(self.error_log)
        log_file = open(self.error_log, 'ab')
        devnull = open(os.devnull, 'rb')
        preexec = self.die_with_parent and _new_session_and_pdeathsig or os.setsid
        try:
            self.proc = subprocess.Popen(
                self._server_args(), stdin=devnull,
                stdout=log_file, stderr=subprocess.STDOUT,
                close_fds=True, preexec_fn=preexec)
        finally:
            log_file.close()
            devnull.close()
        deadline = time.time() + self.startup_timeout
        while True:
            if self.proc.poll() is not None:
                rc = self.proc.returncode
                self.proc = None
                raise MariaDBServerError(
                    'MariaDB test server on port %s exited with %s while starting; '
                    'error log %s:\n%s' % (self._port, rc, self.error_log,
                                           self._log_since(log_offset)))
            if self._handshake_ok():
                break
            if time.time() > deadline:
                self._terminate(signal.SIGKILL, 10)
                raise MariaDBServerError(
                    'MariaDB test server on port %s did not accept connections '
                    'within %ss; error log %s:\n%s' % (
                        self._port, self.startup_timeout, self.error_log,
                        self._log_since(log_offset)))
            time.sleep(0.05)
        # Log in as root over TCP, and make sure it is our server.
        try:
            rows = self.execute('SELECT @@socket')
        except Exception as e:
            self._terminate(signal.SIGKILL, 10)
            raise MariaDBServerError('cannot log in to the test server on port %s: %s\n%s'
                                     % (self._port, e, self._log_since(log_offset)))
        if str(rows[0][0]) != self._socket:
            self._terminate(signal.SIGKILL, 10)
            raise MariaDBServerError('port %s is already in use by another server (socket %s); '
                                     'error log %s:\n%s' % (self._port, rows[0][0], self.error_log,
                                                            self._log_since(log_offset)))

    def _log_since(self, offset):
        text = _tail(self.error_log, 100000)
        try:
            f = open(self.error_log, 'rb')
            try:
                f.seek(offset)
                text = f.read().decode('utf-8', 'replace')
            finally:
                f.close()
        except (IOError, OSError):
            pass
        return '\n'.join(text.splitlines()[-40:])

    def _handshake_ok(self):
        """True once our unix socket answers with a MySQL protocol-10 greeting.

        (The unix socket, not the TCP port: the port might be answered by
        some other server if ours failed to bind it.)
        """
        if not hasattr(socket, 'AF_UNIX'):
            return self._tcp_handshake_ok()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(2.0)
            s.connect(self._socket)
            return self._read_greeting(s)
        except (socket.error, socket.timeout):
            return False
        finally:
            s.close()

    def _tcp_handshake_ok(self):
        try:
            s = socket.create_connection((self.host, self._port), 1.0)
        except (socket.error, socket.timeout):
            return False
        try:
            s.settimeout(2.0)
            return self._read_greeting(s)
        except (socket.error, socket.timeout):
            return False
        finally:
            s.close()

    @staticmethod
    def _read_greeting(s):
        data = bytearray()
        while len(data) < 5:
            chunk = s.recv(64)
            if not chunk:
                return False
            data.extend(bytearray(chunk))
        return data[4] == 10

    def _terminate(self, sig, timeout):
        """Send ``sig``; after ``timeout`` seconds send SIGKILL. Reaps the process."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.kill(proc.pid, sig)
            except OSError as e:
                if e.errno != errno.ESRCH:
                    raise
            deadline = time.time() + timeout
            while proc.poll() is None and time.time() < deadline:
                time.sleep(0.05)
            if proc.poll() is None:
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                proc.wait()
        self.proc = None

    def stop(self, timeout=30):
        """Shut down cleanly (SIGTERM; SIGKILL after ``timeout`` s). Idempotent."""
        self._terminate(signal.SIGTERM, timeout)
        return self

    def kill(self):
        """SIGKILL the server, as in a crash (no clean shutdown)."""
        self._terminate(signal.SIGKILL, 10)
        return self

    def restart(self):
        """Stop (if running) and start again on the same data dir and port."""
        self.stop()
        return self.start()

    def destroy(self):
        """Stop the server and remove its temp dir. Idempotent."""
        try:
            self.stop()
        finally:
            if os.path.isdir(self.tmpdir):
                shutil.rmtree(self.tmpdir, ignore_errors=True)
            if self in _LIVE_SERVERS:
                _LIVE_SERVERS.remove(self)

    cleanup = destroy

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.destroy()
        return False

    # ------------------------------------------------------------ SQL
    def connection_kwargs(self, user='root', password='', db=None):
        """Keyword arguments for MySQLdb.connect() to this server over TCP."""
        kw = dict(host=self.host, port=self.port, user=user, passwd=password)
        if db:
            kw['db'] = db
        return kw

    def django_settings(self, name, user='root', password='', test_name=None):
        """Django 1.0/1.1 style DATABASE_* settings for database ``name``."""
        settings = {
            'DATABASE_ENGINE': 'mysql',
            'DATABASE_NAME': name,
            'DATABASE_USER': user,
            'DATABASE_PASSWORD': password,
            'DATABASE_HOST': self.host,
            'DATABASE_PORT': str(self.port),
        }
        if test_name:
            settings['TEST_DATABASE_NAME'] = test_name
        return settings

    def connect(self, user='root', password='', db=None):
        """A MySQLdb connection (needs MySQLdb)."""
        if MySQLdb is None:
            raise MariaDBServerError('MySQLdb is not importable')
        return MySQLdb.connect(**self.connection_kwargs(user, password, db))

    def execute(self, sql, db=None, user='root', password=''):
        """Run one statement or a list of statements; return the rows of the last.

        Uses MySQLdb when it is importable (rows as tuples of Python values),
        otherwise the mariadb/mysql client (rows as tuples of strings, NULL
        as None).
        """
        if isinstance(sql, (list, tuple)):
            statements = list(sql)
        else:
            statements = [sql]
        if MySQLdb is not None:
            return self._execute_mysqldb(statements, db, user, password)
        return self._execute_client(statements, db, user, password)

    def _execute_mysqldb(self, statements, db, user, password):
        conn = self.connect(user, password, db)
        try:
            cursor = conn.cursor()
            rows = []
            for statement in statements:
                cursor.execute(statement)
                rows = list(cursor.fetchall() or ())
            conn.commit()
            cursor.close()
            return [tuple(r) for r in rows]
        finally:
            conn.close()

    def _execute_client(self, statements, db, user, password):
        if not self.client:
            raise MariaDBServerError('neither MySQLdb nor a mariadb/mysql client is available')
        sql = ';\n'.join(s.rstrip().rstrip(';') for s in statements)
        args = [self.client, '--no-defaults', '--protocol=TCP',
                '--host=%s' % self.host, '--port=%d' % self.port,
                '--user=%s' % user, '--batch', '--skip-column-names',
                '--raw', '--execute=%s' % sql]
        if db:
            args.append(db)
        env = dict(os.environ)
        env['MYSQL_PWD'] = password
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             close_fds=True, env=env)
        out, err = p.communicate()
        if p.returncode != 0:
            raise MariaDBServerError('%s failed (exit %s): %s\nSQL: %s' % (
                os.path.basename(self.client), p.returncode,
                err.decode('utf-8', 'replace').strip(), sql))
        rows = []
        for line in out.decode('utf-8', 'replace').splitlines():
            rows.append(tuple(v != 'NULL' and v or None for v in line.split('\t')))
        return rows

    def create_database(self, name, charset=None):
        """CREATE DATABASE IF NOT EXISTS ``name`` (default: the server charset)."""
        sql = 'CREATE DATABASE IF NOT EXISTS %s' % _quote_ident(name)
        if charset:
            sql += ' CHARACTER SET %s' % charset
        self.execute(sql)
        return name

    def drop_database(self, name):
        self.execute('DROP DATABASE IF EXISTS %s' % _quote_ident(name))

    def create_user(self, user, password='', hosts=('%', 'localhost')):
        """Create ``user`` with ``password`` and ALL PRIVILEGES ON *.* (with GRANT OPTION)."""
        statements = []
        for host in hosts:
            account = '%s@%s' % (_quote_string(user), _quote_string(host))
            statements.append('CREATE USER IF NOT EXISTS %s IDENTIFIED BY %s'
                               % (account, _quote_string(password)))
            statements.append('GRANT ALL PRIVILEGES ON *.* TO %s WITH GRANT OPTION' % account)
        statements.append('FLUSH PRIVILEGES')
        self.execute(statements)
        return user

    # ------------------------------------------------------------ general log
    def start_general_log(self):
        """Log every statement from now on in the table mysql.general_log
        (emptied first).  A restart turns the log off again."""
        self.execute(['SET GLOBAL general_log = 0',
                      "SET GLOBAL log_output = 'TABLE'",
                      'TRUNCATE TABLE mysql.general_log',
                      'SET GLOBAL general_log = 1'])

    def stop_general_log(self):
        self.execute('SET GLOBAL general_log = 0')

    def general_log(self, prefix=None):
        """[(connection id, statement)] of the statements logged since
        start_general_log(), oldest first; only those that start with
        ``prefix`` (case-insensitive) if given."""
        rows = self.execute("SELECT thread_id, argument FROM mysql.general_log "
                            "WHERE command_type = 'Query'")
        found = []
        for thread_id, argument in rows:
            if isinstance(argument, (bytes, bytearray)):
                argument = bytes(argument).decode('utf-8', 'replace')
            if prefix is None or argument.upper().startswith(prefix.upper()):
                found.append((int(thread_id), argument))
        return found


class FaultProxy(object):
    """A TCP forwarder on 127.0.0.1 (``port``) in front of a MySQL server.

    Every client connection is passed through unchanged, until ``arm()`` sets
    a trap: on a connection that has sent a statement containing ``after``,
    the next statement that starts with ``statement`` (COM_QUERY,
    case-insensitive)

    - is sent to the server (``forward=True``), whose answer is then held
      back: the statement ran, the client never hears of it;
    - or is not sent at all (``forward=False``).

    Then ``then()`` is called (for instance server.kill), and only then is the
    client's connection closed, so the client sees "Lost connection to server
    during query".  The trap fires once; ``fired`` tells whether it did.
    (No TLS, no compression: the packets are read as they go.)
    """

    COM_QUERY = 3

    def __init__(self, target_host, target_port):
        self.target = (target_host, int(target_port))
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(50)
        self.host, self.port = self.listener.getsockname()
        self.trap = None
        self.fired = threading.Event()
        self.closed = False
        self._lock = threading.Lock()
        self._sockets = []
        thread = threading.Thread(target=self._accept)
        thread.daemon = True
        thread.start()

    def arm(self, after, statement, forward=True, then=None):
        self._lock.acquire()
        try:
            self.trap = {'after': after.upper().encode('utf-8'),
                         'statement': statement.upper().encode('utf-8'),
                         'forward': forward, 'then': then}
            self.fired.clear()
        finally:
            self._lock.release()

    def close(self):
        self.closed = True
        for sock in [self.listener] + list(self._sockets):
            _close_quietly(sock)

    def _accept(self):
        while not self.closed:
            try:
                client, address = self.listener.accept()
            except (socket.error, OSError):
                return
            try:
                upstream = socket.create_connection(self.target, 10)
                upstream.settimeout(None)
            except (socket.error, OSError):
                _close_quietly(client)
                continue
            self._sockets.extend([client, upstream])
            state = {'marked': False, 'held': False, 'done': False}
            for target, args in ((self._client_to_server, (client, upstream, state)),
                                 (self._server_to_client, (upstream, client, state))):
                thread = threading.Thread(target=target, args=args)
                thread.daemon = True
                thread.start()

    def _client_to_server(self, client, upstream, state):
        buffer = bytearray()
        try:
            while True:
                chunk = client.recv(65536)
                if not chunk:
                    break
                buffer.extend(bytearray(chunk))
                while len(buffer) >= 4:
                    length = buffer[0] | (buffer[1] << 8) | (buffer[2] << 16)
                    if len(buffer) < 4 + length:
                        break
                    packet, buffer = bytes(buffer[:4 + length]), buffer[4 + length:]
                    if self._caught(packet, state):
                        if state['forward']:
                            upstream.sendall(packet)   # the answer is held back
                        else:
                            self._fire(state, client, upstream)
                        if not state['forward']:
                            return
                        continue
                    upstream.sendall(packet)
        except (socket.error, OSError):
            pass
        finally:
            if not state['held']:
                _close_quietly(upstream)

    def _caught(self, packet, state):
        payload = bytearray(packet[4:])
        if not payload or payload[0] != self.COM_QUERY:
            return False
        text = bytes(payload[1:]).upper()
        self._lock.acquire()
        try:
            trap = self.trap
            if trap is None:
                return False
            if trap['after'] in text:
                state['marked'] = True
                return False
            if state['marked'] and text.strip().startswith(trap['statement']):
                self.trap = None
                state['held'] = True
                state['forward'] = trap['forward']
                state['then'] = trap['then']
                return True
        finally:
            self._lock.release()
        return False

    def _server_to_client(self, upstream, client, state):
        try:
            while True:
                chunk = upstream.recv(65536)
                if not chunk:
                    break
                if state['held']:
                    self._fire(state, client, upstream)   # the answer never reaches the client
                    return
                client.sendall(chunk)
        except (socket.error, OSError):
            pass
        finally:
            if not state['held']:
                _close_quietly(client)

    def _fire(self, state, client, upstream):
        if state['done']:
            return
        state['done'] = True
        _close_quietly(upstream)
        try:
            if state['then'] is not None:
                state['then']()
        finally:
            self.fired.set()
            _close_quietly(client)


def _close_quietly(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except (socket.error, OSError):
        pass
    try:
        sock.close()
    except (socket.error, OSError):
        pass


def _self_check():
    t0 = time.time()
    server = MariaDBServer()
    try:
        server.start()
        print('started %r in %.2fs' % (server, server.start_seconds))
        server.create_database('djpatch_selfcheck')
        server.create_user('djpatch', 'secret')
        if MySQLdb is not None:
            conn = MySQLdb.connect(host='127.0.0.1', port=server.port, user='djpatch',
                                   passwd='secret', db='djpatch_selfcheck')
            cur = conn.cursor()
            cur.execute('SELECT @@port, VERSION(), CURRENT_USER()')
            print('MySQLdb %s as djpatch over TCP: %r' % (MySQLdb.__version__, cur.fetchone()))
            conn.close()
        else:
            print('client as djpatch over TCP: %r' % (server.execute(
                'SELECT @@port, VERSION(), CURRENT_USER()', db='djpatch_selfcheck',
                user='djpatch', password='secret'),))
        t1 = time.time()
        server.kill()
        server.restart()
        print('kill + restart on port %s in %.2fs' % (server.port, time.time() - t1))
        print('rows after restart: %r' % (server.execute('SHOW DATABASES LIKE %s'
                                                          % _quote_string('djpatch%')),))
        t1 = time.time()
        server.stop()
        print('stopped in %.2fs' % (time.time() - t1))
    finally:
        server.destroy()
    assert not os.path.exists(server.tmpdir)
    print('self-check OK in %.2fs (python %s)' % (time.time() - t0, sys.version.split()[0]))


if __name__ == '__main__':
    _self_check()
