"""Read replicas: balancing, health, lag, use_primary() and read-your-writes pins.

'rprimary' has the replicas 'rrep1' and 'rrep2' (harness.start_replication_set):
in mysql mode three MariaDB servers with real replication, in sqlite mode
three files.  Each server holds one Whoami row naming it, written directly and
not replicated, so a read through the library says which server answered.
Tests that need replication itself (stopping it, killing a replica) skip in
sqlite mode.
"""
from __future__ import absolute_import
from __future__ import with_statement

import logging
import time
import unittest

from nose.plugins.skip import SkipTest

import harness
from base import patched_only
from djpatch_multidb import connections, readonly, use_primary, using
from djpatch_multidb.base import config
from djpatch_multidb.routing import replicas
from djpatch_multidb.context import selector

PRIMARY = harness.REPL_PRIMARY
REPLICAS = list(harness.REPL_REPLICAS)
BASE = {}


def setup_module():
    from django.conf import settings
    BASE['MULTIDB_MODELS'] = settings.MULTIDB_MODELS
    BASE['MULTIDB_REPLICAS'] = settings.MULTIDB_REPLICAS
    harness.start_replication_set()
    settings.MULTIDB_MODELS = dict(settings.MULTIDB_MODELS, **harness.REPL_MODELS)
    settings.MULTIDB_REPLICAS = dict(settings.MULTIDB_REPLICAS, **{PRIMARY: REPLICAS})
    BASE['replicas'] = settings.MULTIDB_REPLICAS
    config.reload()
    harness.create_replication_tables()


def teardown_module():
    from django.conf import settings
    connections.close_all()
    settings.MULTIDB_MODELS = BASE['MULTIDB_MODELS']
    settings.MULTIDB_REPLICAS = BASE['MULTIDB_REPLICAS']
    harness.stop_replication_set()
    config.reload()
    replicas.reset()


class Captured(logging.Handler):
    def __init__(self):
        logging.Handler.__init__(self)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def whoami():
    from replapp.models import Whoami
    return Whoami.objects.get().name


def names():
    from replapp.models import Reading
    return sorted(Reading.objects.values_list('name', flat=True))


def tally(served):
    counts = {}
    for name in served:
        counts[name] = counts.get(name, 0) + 1
    return counts


def status(alias, name):
    rows = harness.repl_servers[alias].execute("SHOW GLOBAL STATUS LIKE '%s'" % name)
    return int(rows[0][1])


def need_mysql():
    if harness.BACKEND != 'mysql':
        raise SkipTest('needs MariaDB replication (DJPATCH_TEST_BACKEND=mysql)')


class ReplicaTest(unittest.TestCase):

    def setUp(self):
        self._saved = {}
        self._reload = False
        replicas.reset()
        connections.close_all()
        harness.clear_replication_set()
        self.log = Captured()
        logging.getLogger('djpatch_multidb').addHandler(self.log)

    def tearDown(self):
        from django.conf import settings
        logging.getLogger('djpatch_multidb').removeHandler(self.log)
        leaked = selector.clear_thread()
        connections.close_all()
        for name, value in self._saved.items():
            setattr(settings, name, value)
        if self._reload:
            config.reload()
        harness.repair_replication()
        replicas.reset()
        self.assertEqual(leaked, [])

    def set(self, reload=False, **values):
        from django.conf import settings
        for name, value in values.items():
            if name not in self._saved:
                self._saved[name] = getattr(settings, name, None)
            setattr(settings, name, value)
        if reload:
            self._reload = True
            config.reload()


class Balancing(ReplicaTest):

    def test_readonly_reads_are_served_by_the_replicas_in_round_robin(self):
        if harness.BACKEND == 'mysql':
            before = dict([(a, status(a, 'Com_select')) for a in harness.REPL_ALIASES])
        served = []
        for i in range(200):
            with readonly():
                served.append(whoami())
        self.assertEqual(tally(served), {'rrep1': 100, 'rrep2': 100})
        # Round robin: every read's neighbour went to the other replica.
        self.assertTrue([a for a, b in zip(served, served[1:]) if a == b] == [], served[:10])
        if harness.BACKEND == 'mysql':
            after = dict([(a, status(a, 'Com_select')) for a in harness.REPL_ALIASES])
            delta = dict([(a, after[a] - before[a]) for a in after])
            self.assertEqual(delta[PRIMARY], 0, delta)
            for alias in REPLICAS:
                self.assertTrue(100 <= delta[alias] <= 110, delta)

    def test_round_robin_starts_at_a_random_replica(self):
        first = set()
        for i in range(40):
            replicas.reset()
            with readonly():
                first.add(whoami())
        self.assertEqual(first, set(REPLICAS))

    def test_one_replica_per_context_for_orm_and_raw_sql(self):
        from base import raw_connection
        connection = raw_connection()
        for i in range(10):
            with using(PRIMARY):
                with readonly():
                    seen = [whoami() for j in range(5)]
                    cursor = connection.cursor()
                    cursor.execute('SELECT name FROM replapp_whoami')
                    seen.append(cursor.fetchone()[0])
                with readonly():   # still inside the same outer block
                    seen.append(whoami())
            self.assertEqual(len(set(seen)), 1, seen)
            self.assertTrue(seen[0] in REPLICAS)

    def test_automatic_splitting_sends_reads_to_replicas_writes_to_the_primary(self):
        from replapp.models import Reading
        self.set(MULTIDB_READ_FROM_REPLICAS=True)
        served = []
        for i in range(100):
            replicas.clear_thread()   # a request boundary: a new choice
            served.append(whoami())
            self.assertEqual(whoami(), served[-1])   # kept within the request
        self.assertEqual(tally(served), {'rrep1': 50, 'rrep2': 50})
        # Explicit .using() is obeyed; a write pins the primary for the thread.
        self.assertEqual(Reading.objects.using(PRIMARY).count(), 0)
        self.assertEqual(Reading.objects.create(name='w').pk is not None, True)
        self.assertEqual(harness.column(PRIMARY, 'replapp_reading', 'name'), ['w'])
        self.assertEqual([whoami() for i in range(5)], [PRIMARY] * 5)
        replicas.clear_thread()
        self.assertTrue(whoami() in REPLICAS)

    def test_splitting_is_off_by_default_and_in_transactions(self):
        from djpatch_multidb import atomic
        self.assertEqual(set([whoami() for i in range(10)]), set([PRIMARY]))
        self.set(MULTIDB_READ_FROM_REPLICAS=True)

        @atomic(using=PRIMARY)
        def in_transaction():
            return whoami()
        self.assertEqual(in_transaction(), PRIMARY)
        self.assertTrue(whoami() in REPLICAS)

    def test_use_primary_as_context_manager_and_decorator(self):
        self.set(MULTIDB_READ_FROM_REPLICAS=True)

        @use_primary()
        def decorated():
            with readonly():
                return whoami()
        with use_primary():
            self.assertEqual(whoami(), PRIMARY)
            with readonly():
                self.assertEqual(whoami(), PRIMARY)
            self.assertFalse(replicas.splitting(PRIMARY))
        self.assertEqual(decorated(), PRIMARY)
        self.assertTrue(whoami() in REPLICAS)
        self.assertEqual(selector.stack(), [])

    def test_weighted_random(self):
        self.set(reload=True, MULTIDB_REPLICAS=dict(BASE['replicas'], **{
            PRIMARY: [('rrep1', 3), ('rrep2', 1)]}))
        served = []
        for i in range(400):
            with readonly():
                served.append(whoami())
        counts = tally(served)
        self.assertTrue(240 <= counts['rrep1'] <= 360, counts)
        self.assertEqual(counts['rrep1'] + counts['rrep2'], 400)
        # A weight of 0: never; MULTIDB_REPLICA_BALANCE overrides the mode.
        self.set(reload=True, MULTIDB_REPLICAS=dict(BASE['replicas'], **{
            PRIMARY: [('rrep1', 0), 'rrep2']}))
        self.assertEqual(set([readonly()(whoami)() for i in range(50)]), set(['rrep2']))
        self.set(reload=True, MULTIDB_REPLICA_BALANCE='round_robin', MULTIDB_REPLICAS=dict(
            BASE['replicas'], **{PRIMARY: [('rrep1', 9), ('rrep2', 1)]}))
        self.assertEqual(tally([readonly()(whoami)() for i in range(50)]), {'rrep1': 25, 'rrep2': 25})

    def test_bad_weights_and_modes_are_refused(self):
        from django.core.exceptions import ImproperlyConfigured
        for replicas_setting, mode in (([('rrep1', -1)], None), ([('rrep1', 'x')], None),
                                       ([('rrep1', 1, 2)], None), (['rrep1'], 'random')):
            self.set(reload=True, MULTIDB_REPLICA_BALANCE=mode, MULTIDB_REPLICAS=dict(
                BASE['replicas'], **{PRIMARY: replicas_setting}))
            self.assertRaises(ImproperlyConfigured, config.current)


class Health(ReplicaTest):

    @patched_only('no patch sees the failed read, so there is no failover during a query; down-marked replicas are skipped when chosen')
    def test_an_unreachable_replica_is_marked_down_then_tried_again(self):
        self.set(reload=True, MULTIDB_REPLICA_DOWNTIME=0.5, MULTIDB_REPLICAS=dict(
            BASE['replicas'], **{PRIMARY: ['unreachable', 'rrep1']}))
        self.assertEqual(config.current().databases['unreachable'].options['connect_timeout'], 2)
        served = [readonly()(whoami)() for i in range(50)]
        self.assertEqual(set(served), set(['rrep1']))
        self.assertEqual(len(self.log.messages), 1, self.log.messages)
        self.assertTrue("'unreachable'" in self.log.messages[0] and 'marked down' in
                        self.log.messages[0], self.log.messages)
        self.assertTrue(replicas.is_down('unreachable'))
        time.sleep(0.6)
        self.assertFalse(replicas.is_down('unreachable'))
        served = [readonly()(whoami)() for i in range(10)]
        self.assertEqual(set(served), set(['rrep1']))
        self.assertEqual(len(self.log.messages), 2)   # tried again, marked again

    @patched_only('no patch sees the failed read, so there is no failover during a query; down-marked replicas are skipped when chosen')
    def test_every_replica_down_reads_the_primary(self):
        self.set(reload=True, MULTIDB_REPLICAS=dict(
            BASE['replicas'], **{PRIMARY: ['unreachable']}))
        self.assertEqual([readonly()(whoami)() for i in range(5)], [PRIMARY] * 5)
        self.assertEqual(len(self.log.messages), 1)

    def test_connect_timeout_option(self):
        opts = lambda: config.current().databases['unreachable'].options
        self.set(reload=True, MULTIDB_REPLICA_CONNECT_TIMEOUT=5, MULTIDB_REPLICAS=dict(
            BASE['replicas'], **{PRIMARY: ['unreachable']}))
        self.assertEqual(opts()['connect_timeout'], 5)
        self.set(reload=True, MULTIDB_REPLICAS=BASE['replicas'])
        self.assertFalse('connect_timeout' in opts())   # not a replica

    @patched_only('no patch sees the failed read, so there is no failover during a query')
    def test_a_replica_killed_in_a_loop_of_reads(self):
        need_mysql()
        from replapp.models import Reading
        harness.execute(PRIMARY, "INSERT INTO replapp_reading (name) VALUES ('a')")
        harness.wait_for_replicas()
        self.set(MULTIDB_REPLICA_DOWNTIME=1)
        server = harness.repl_servers['rrep1']
        phases = {}
        killed_at = restarted_at = None
        for i in range(1000):
            if i == 300:
                server.kill()
                killed_at = time.time()
            if i == 600:
                time.sleep(max(0, killed_at + 1.1 - time.time()))  # downtime over, still dead
            if i == 700:
                server.start()
                restarted_at = time.time()
                time.sleep(1.1)     # until the second marking's downtime is over
            with readonly():
                name = whoami()
                self.assertEqual(Reading.objects.count(), 1)
            phase = i < 300 and 'before' or i < 600 and 'dead' or i < 700 and 'dead, retried' or 'back'
            phases.setdefault(phase, []).append(name)
        self.assertEqual(tally(phases['before']), {'rrep1': 150, 'rrep2': 150})
        self.assertEqual(tally(phases['dead']), {'rrep2': 300})
        self.assertEqual(tally(phases['dead, retried']), {'rrep2': 100})
        counts = tally(phases['back'])
        self.assertEqual(counts, {'rrep1': 150, 'rrep2': 150}, counts)
        # One warning per marking: at the kill, and when tried again after the downtime.
        self.assertEqual(len(self.log.messages), 2, self.log.messages)
        self.assertTrue(restarted_at - killed_at > 1)


class Lag(ReplicaTest):

    def test_lag_check_is_cached_and_compared(self):
        calls = []
        answers = [10]

        def fake(alias):
            calls.append(alias)
            return answers[0]
        original = replicas.replica_lag
        replicas.replica_lag = fake
        try:
            self.assertTrue(replicas.lag_ok('unreachable'))   # no limit: not even asked
            self.assertEqual(calls, [])
            self.set(MULTIDB_MAX_REPLICA_LAG=5, MULTIDB_REPLICA_LAG_CACHE=0.2)
            self.assertEqual([replicas.lag_ok('unreachable') for i in range(100)], [False] * 100)
            self.assertEqual(len(calls), 1)
            answers[0] = 3
            self.assertFalse(replicas.lag_ok('unreachable'))   # cached
            time.sleep(0.25)
            self.assertTrue(replicas.lag_ok('unreachable'))
            self.assertEqual(len(calls), 2)
            answers[0] = 'stopped'
            time.sleep(0.25)
            self.assertFalse(replicas.lag_ok('unreachable'))
            self.assertEqual(len(self.log.messages), 2, self.log.messages)
        finally:
            replicas.replica_lag = original

    def test_a_lagging_replica_is_skipped(self):
        need_mysql()
        harness.repl_servers['rrep1'].execute('STOP SLAVE')
        harness.execute(PRIMARY, "INSERT INTO replapp_reading (name) VALUES ('new')")
        target = harness.repl_servers[PRIMARY].execute('SELECT @@gtid_binlog_pos')[0][0]
        harness.repl_servers['rrep2'].execute("SELECT MASTER_GTID_WAIT('%s', 10)" % target)
        self.assertEqual(harness.column('rrep1', 'replapp_reading', 'name'), [])
        self.assertEqual(harness.column('rrep2', 'replapp_reading', 'name'), ['new'])
        # Without a limit the stale replica serves half the reads.
        seen = [readonly()(names)() for i in range(20)]
        self.assertEqual(seen.count([]), 10)
        connections.close_all()
        self.set(MULTIDB_MAX_REPLICA_LAG=5)
        checks = status('rrep1', 'Com_show_slave_status')
        seen = [readonly()(names)() for i in range(200)]
        self.assertEqual(seen, [['new']] * 200)
        self.assertEqual(status('rrep1', 'Com_show_slave_status') - checks, 1)
        self.assertEqual(len(self.log.messages), 1, self.log.messages)
        self.assertTrue('replication stopped' in self.log.messages[0], self.log.messages)


def text(response):
    return response.content.decode('utf-8')


class Pinning(ReplicaTest):

    def handle(self, view, method='GET', cookies=None):
        """One request through PinningMiddleware, with Django's request signals."""
        from django.core import signals
        from django.http import HttpRequest
        from djpatch_multidb.api.middleware import PinningMiddleware
        signals.request_started.send(sender=None)
        try:
            request = HttpRequest()
            request.method = method
            request.COOKIES = dict(cookies or {})
            middleware = PinningMiddleware()
            self.assertEqual(middleware.process_request(request), None)
            response = view(request)
            return middleware.process_response(request, response)
        finally:
            signals.request_finished.send(sender=None)

    def test_read_your_writes_in_the_request_and_after_the_redirect(self):
        from django.http import HttpResponse, HttpResponseRedirect
        from replapp.models import Reading
        from djpatch_multidb.api.middleware import COOKIE_NAME
        self.set(MULTIDB_READ_FROM_REPLICAS=True, SECRET_KEY='test-secret')
        harness.execute(PRIMARY, "INSERT INTO replapp_reading (name) VALUES ('old')")
        if harness.BACKEND == 'mysql':
            harness.wait_for_replicas()
            for alias in REPLICAS:
                harness.repl_servers[alias].execute('STOP SLAVE')
        else:
            for alias in REPLICAS:
                harness.execute(alias, "INSERT INTO replapp_reading (name) VALUES ('old')")
        seen = {}

        def post(request):
            seen['before'] = (names(), whoami())
            Reading.objects.create(name='new')
            seen['after'] = (names(), whoami())
            return HttpResponseRedirect('/readings/')

        def get(request):
            return HttpResponse(','.join(names()) + ' from ' + whoami())

        response = self.handle(post, 'POST')
        self.assertEqual(seen['before'][0], ['old'])
        self.assertTrue(seen['before'][1] in REPLICAS)
        self.assertEqual(seen['after'], (['new', 'old'], PRIMARY))   # pinned in the request
        for alias in REPLICAS:   # the replicas really lack the row
            self.assertEqual(harness.column(alias, 'replapp_reading', 'name'), ['old'])
        cookie = response.cookies[COOKIE_NAME].value
        self.assertEqual(response.cookies[COOKIE_NAME]['max-age'], 15)
        self.assertTrue(PRIMARY in cookie)

        pinned = self.handle(get, cookies={COOKIE_NAME: cookie})
        self.assertEqual(text(pinned), 'new,old from rprimary')
        for i in range(4):
            plain = self.handle(get)
            self.assertTrue(text(plain) in ('old from rrep1', 'old from rrep2'), text(plain))
        forged = cookie.replace(PRIMARY, 'rprimarz')
        tampered = cookie[:-1] + (cookie[-1] == '0' and '1' or '0')
        for bad in (forged, tampered, 'garbage', ''):
            response = self.handle(get, cookies={COOKIE_NAME: bad})
            self.assertTrue(text(response).startswith('old from rrep'), (bad, text(response)))
        self.assertFalse(COOKIE_NAME in response.cookies)

    def test_cookie_signature_and_expiry(self):
        from djpatch_multidb.api.middleware import sign, unsign
        self.set(SECRET_KEY='one')
        value = sign([PRIMARY, 'default'], time.time() + 15)
        self.assertEqual(unsign(value), ['default', PRIMARY])
        self.assertEqual(unsign(sign([PRIMARY], time.time() - 1)), None)   # expired
        expiry, rest = value.split(':', 1)
        self.assertEqual(unsign('%d:%s' % (int(expiry) + 100, rest)), None)   # extended
        self.set(SECRET_KEY='two')
        self.assertEqual(unsign(value), None)   # signed with another key

    def test_pins_last_for_the_pin_seconds(self):
        from django.http import HttpResponse
        from replapp.models import Reading
        from djpatch_multidb.api.middleware import COOKIE_NAME
        self.set(MULTIDB_READ_FROM_REPLICAS=True, MULTIDB_PIN_SECONDS=1)

        def write(request):
            Reading.objects.create(name='x')
            return HttpResponse('ok')
        response = self.handle(write, 'POST')
        cookie = response.cookies[COOKIE_NAME].value
        self.assertEqual(response.cookies[COOKIE_NAME]['max-age'], 1)
        read = lambda request: HttpResponse(whoami())
        self.assertEqual(text(self.handle(read, cookies={COOKIE_NAME: cookie})), PRIMARY)
        time.sleep(1.1)
        self.assertTrue(text(self.handle(read, cookies={COOKIE_NAME: cookie})) in REPLICAS)
