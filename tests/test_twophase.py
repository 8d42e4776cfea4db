"""MULTIDB_TWO_PHASE_COMMIT: a transaction across MySQL shards commits on all
or none through every crash window, and recover() finishes the branches a
dead server or a dead application left prepared, never guessing.

What XA did is read from the servers themselves: XA RECOVER and the general
log (mysql.general_log) through direct connections, and the rows through
DB-API connections of the test's own."""
from __future__ import absolute_import
import json
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.db import transaction
from nose.plugins.skip import SkipTest

import harness
from base import DatabaseTest, patched_only
from djpatch_multidb import CommitError, connections
from djpatch_multidb.base import config
from djpatch_multidb.db import xa
from mariadb_server import FaultProxy
from testapp.models import Profile

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'twophase_child.py')


@patched_only('MULTIDB_TWO_PHASE_COMMIT rides on the 1.0/1.1 commit patches')
class TwoPhaseCommit(DatabaseTest):

    def setUp(self):
        if harness.BACKEND != 'mysql':
            raise SkipTest('XA needs the MariaDB servers of the mysql run')
        self.first = harness.server_for('shard0')     # holds the decision: shard0 is written first
        self.second = harness.server_for('shard1')
        self.assertNotEqual(self.first, self.second)
        self.ports = dict((alias, settings.DATABASES[alias]['PORT']) for alias in ('shard0', 'shard1'))
        self.proxies = []
        DatabaseTest.setUp(self)
        settings.MULTIDB_TWO_PHASE_COMMIT = True

    def tearDown(self):
        settings.MULTIDB_TWO_PHASE_COMMIT = False
        del xa.between_prepare_and_decision[:]
        del xa.between_prepare_and_commit[:]
        for server in (self.first, self.second):
            if not server.is_running():
                server.start()
        self.restore_ports()
        connections.close_all()
        for server in (self.first, self.second):   # no branch left for the next test
            connection = server.connect()
            try:
                connection.autocommit(True)
                cursor = connection.cursor()
                for gtrid, bqual in self.prepared(server):
                    cursor.execute('XA ROLLBACK %s, %s', (gtrid, bqual))
                # An XA ROLLBACK waits in the redo log buffer for the next write:
                # a later kill of the server would bring the branch back.
                cursor.execute('FLUSH ENGINE LOGS')
            finally:
                connection.close()
        DatabaseTest.tearDown(self)

    # -- helpers ---------------------------------------------------------------
    def write_two_shards(self):
        Profile.objects.shard(0).create(user_id=4, nick='both')
        Profile.objects.shard(1).create(user_id=5, nick='both')

    def nicks(self, alias):
        return harness.column(alias, 'testapp_profile', 'nick')

    def prepared(self, server):
        """The branches XA RECOVER lists on ``server``: [(gtrid, bqual)]."""
        found = []
        for format_id, gtrid_length, bqual_length, data in server.execute('XA RECOVER'):
            if not isinstance(data, bytes):
                data = data.encode('utf-8')
            found.append((data[:gtrid_length].decode('utf-8'),
                          data[gtrid_length:gtrid_length + bqual_length].decode('utf-8')))
        return found

    def through_proxy(self, alias):
        """``alias`` connects through a FaultProxy in front of its server."""
        server = harness.server_for(alias)
        proxy = FaultProxy(server.host, server.port)
        self.proxies.append(proxy)
        settings.DATABASES[alias]['PORT'] = proxy.port
        config.reload()
        return proxy

    def restore_ports(self):
        for alias, port in self.ports.items():
            settings.DATABASES[alias]['PORT'] = port
        config.reload()
        for proxy in self.proxies:
            proxy.close()
        del self.proxies[:]

    def xa_log(self, server):
        """The XA statements ``server`` logged: [statement up to the xid]."""
        return [statement.split("'")[0].strip() + ' ' + statement.split("'")[3]
                for thread_id, statement in server.general_log('XA ')
                if statement.upper() != 'XA RECOVER']

    def outcomes(self, done):
        return sorted([(str(alias), outcome.split(':')[0]) for alias, gtrid, outcome in done if gtrid])

    def run_child_until(self, stop_at):
        """An application process that commits on shard0 and shard1 and is
        killed (SIGKILL) at ``stop_at``; returns its transaction id."""
        env = dict(os.environ)
        env['DJPATCH_TWOPHASE_DATABASES'] = json.dumps(settings.DATABASES)
        child = subprocess.Popen([sys.executable, CHILD, stop_at], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=env)
        try:
            line = child.stdout.readline().decode('utf-8')
            if not line.startswith('stopped at %s: ' % stop_at):
                self.fail('the application did not stop at %s: %r %r'
                          % (stop_at, line, child.stderr.read()))
            child.send_signal(signal.SIGKILL)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
            child.stdout.close()
            child.stderr.close()
        self.wait_until_sessions_end(harness.USER)
        return line.split(': ', 1)[1].strip()

    def wait_until_sessions_end(self, user, timeout=30):
        """Until neither server has a session of ``user``: a dead process's
        branches are free for recover() once its sessions are gone."""
        deadline = time.time() + timeout
        for server in (self.first, self.second):
            while server.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                                 "WHERE USER = '%s'" % user)[0][0]:
                if time.time() > deadline:
                    self.fail('sessions of %s still open on %r' % (user, server))
                time.sleep(0.05)

    # -- commit and rollback -----------------------------------------------------
    def test_a_successful_transaction_commits_on_every_shard(self):
        for server in (self.first, self.second):
            server.start_general_log()
        transaction.commit_on_success(self.write_two_shards)()
        for server in (self.first, self.second):
            server.stop_general_log()
        self.assertEqual((self.nicks('shard0'), self.nicks('shard1')), (['both'], ['both']))
        self.assertEqual(self.xa_log(self.first), ['XA START shard0', 'XA END shard0',
                                                   'XA PREPARE shard0', 'XA COMMIT shard0'])
        self.assertEqual(self.xa_log(self.second), ['XA START shard1', 'XA END shard1',
                                                    'XA PREPARE shard1', 'XA COMMIT shard1'])
        for server in (self.first, self.second):
            self.assertEqual(self.prepared(server), [])

    def test_an_exception_leaves_no_row_and_no_branch(self):
        def fail():
            self.write_two_shards()
            raise ValueError('no')
        self.assertRaises(ValueError, transaction.commit_on_success(fail))
        self.assertEqual((self.nicks('shard0'), self.nicks('shard1')), ([], []))
        for server in (self.first, self.second):
            self.assertEqual(self.prepared(server), [])

    def test_commit_manually_commits_and_rolls_back_through_xa_on_each_server(self):
        @transaction.commit_manually
        def commit_then_roll_back():
            self.write_two_shards()
            transaction.commit()
            Profile.objects.shard(0).create(user_id=8, nick='rolled back')
            Profile.objects.shard(1).create(user_id=9, nick='rolled back')
            transaction.rollback()
        for server in (self.first, self.second):
            server.start_general_log()
        commit_then_roll_back()
        for server in (self.first, self.second):
            server.stop_general_log()
        self.assertCommittedThenRolledBackThroughXA()

    def assertCommittedThenRolledBackThroughXA(self):
        """The first transaction's rows are on both shards, the second's on none,
        and each server's general log shows one committed and one rolled-back branch."""
        self.assertEqual((self.nicks('shard0'), self.nicks('shard1')), (['both'], ['both']))
        for server, alias in ((self.first, 'shard0'), (self.second, 'shard1')):
            self.assertEqual(self.xa_log(server), [
                'XA START ' + alias, 'XA END ' + alias, 'XA PREPARE ' + alias, 'XA COMMIT ' + alias,
                'XA START ' + alias, 'XA END ' + alias, 'XA ROLLBACK ' + alias])
            self.assertEqual(self.prepared(server), [])

    def test_transaction_middleware_commits_a_response_and_rolls_back_an_exception_through_xa(self):
        from django.middleware.transaction import TransactionMiddleware
        middleware = TransactionMiddleware()
        for server in (self.first, self.second):
            server.start_general_log()
        middleware.process_request(None)
        self.write_two_shards()
        self.assertEqual(middleware.process_response(None, 'response'), 'response')
        middleware.process_request(None)
        Profile.objects.shard(0).create(user_id=8, nick='rolled back')
        Profile.objects.shard(1).create(user_id=9, nick='rolled back')
        middleware.process_exception(None, ValueError('view failed'))
        for server in (self.first, self.second):
            server.stop_general_log()
        self.assertCommittedThenRolledBackThroughXA()

    # -- a server dies -------------------------------------------------------------
    def test_a_server_killed_before_its_prepare_rolls_back_every_branch_and_names_its_alias(self):
        def write_then_lose_the_second_server():
            self.write_two_shards()
            self.second.kill()
        self.first.start_general_log()
        try:
            transaction.commit_on_success(write_then_lose_the_second_server)()
        except Exception as error:
            self.assertTrue("'shard1'" in str(error) and
                            '127.0.0.1:%s' % self.ports['shard1'] in str(error), str(error))
            self.assertFalse(harness.PASSWORD in str(error))
        else:
            self.fail('the dead server went unnoticed')
        self.first.stop_general_log()
        self.assertEqual(self.xa_log(self.first), ['XA START shard0', 'XA END shard0',
                                                   'XA PREPARE shard0', 'XA ROLLBACK shard0'])
        self.second.start()
        for server in (self.first, self.second):
            self.assertEqual(self.prepared(server), [])
        self.assertEqual((self.nicks('shard0'), self.nicks('shard1')), ([], []))

    def test_a_prepare_whose_answer_is_lost_names_its_alias_and_recover_rolls_it_back(self):
        proxy = self.through_proxy('shard1')
        proxy.arm('XA START', 'XA PREPARE')
        try:
            transaction.commit_on_success(self.write_two_shards)()
        except Exception as error:
            self.assertTrue("'shard1'" in str(error) and
                            '127.0.0.1:%s' % proxy.port in str(error), str(error))
        else:
            self.fail('the lost answer went unnoticed')
        self.assertTrue(proxy.fired.is_set())
        self.assertEqual(self.prepared(self.first), [])
        self.assertEqual([bqual for gtrid, bqual in self.prepared(self.second)], ['shard1'])
        self.restore_ports()
        self.assertEqual(self.outcomes(xa.recover()), [('shard1', 'rolled back')])
        self.assertEqual(self.prepared(self.second), [])
        self.assertEqual((self.nicks('shard0'), self.nicks('shard1')), ([], []))

    def test_a_server_killed_between_prepare_and_commit_is_finished_by_recover(self):
        second = self.second
        xa.between_prepare_and_commit.append(lambda branches: second.kill())
        try:
            transaction.commit_on_success(self.write_two_shards)()
        except CommitError as error:
            self.assertEqual(error.failed, 'shard1')
            self.assertTrue('recover' in str(error), str(error))
            self.assertTrue('127.0.0.1:%s' % self.ports['shard1'] in str(error), str(error))
        else:
            self.fail('the dead server went unnoticed')
        finally:
            del xa.between_prepare_and_commit[:]
            second.start()
        self.assertEqual(self.nicks('shard0'), ['both'])
        self.assertEqual(self.nicks('shard1'), [])
        self.assertEqual(len(second.execute('XA RECOVER')), 1)
        done = xa.recover()
        self.assertEqual(self.outcomes(done), [('shard1', 'committed')])
        self.assertEqual(self.nicks('shard1'), ['both'])
        self.assertEqual(second.execute('XA RECOVER'), [])

    # -- the decision holder dies --------------------------------------------------
    def test_a_decision_holder_dead_before_the_decision_rolls_back_every_branch(self):
        first = self.first
        xa.between_prepare_and_decision.append(lambda branches: first.kill())
        self.second.start_general_log()
        self.assertRaises(Exception, transaction.commit_on_success(self.write_two_shards))
        self.second.stop_general_log()
        self.assertEqual(self.xa_log(self.second), ['XA START shard1', 'XA END shard1',
                                                    'XA PREPARE shard1', 'XA ROLLBACK shard1'])
        first.start()
        self.assertEqual([bqual for gtrid, bqual in self.prepared(first)], ['shard0'])
        self.assertEqual(self.outcomes(xa.recover()), [('shard0', 'rolled back')])
        self.assertEqual(self.prepared(first), [])
        self.assertEqual((self.nicks('shard0'), self.nicks('shard1')), ([], []))

    def test_a_decision_committed_whose_answer_is_lost_leaves_every_branch_prepared_for_recover(self):
        first = self.first
        proxy = self.through_proxy('shard0')
        proxy.arm('INSERT INTO %s' % xa.DECISIONS, 'COMMIT', forward=True, then=first.kill)
        self.second.start_general_log()
        try:
            transaction.commit_on_success(self.write_two_shards)()
        except CommitError as error:
            self.assertTrue(isinstance(error, xa.OutcomeUnknown), repr(error))
            self.assertEqual((error.failed, error.prepared), ('shard0', ('shard0', 'shard1')))
            self.assertTrue('unknown' in str(error) and 'recover' in str(error), str(error))
        else:
            self.fail('the lost decision went unnoticed')
        self.assertTrue(proxy.fired.is_set())
        self.second.stop_general_log()
        self.assertEqual(self.xa_log(self.second), ['XA START shard1', 'XA END shard1',
                                                    'XA PREPARE shard1'])
        self.assertEqual([bqual for gtrid, bqual in self.prepared(self.second)], ['shard1'])
        self.restore_ports()
        first.start()
        self.assertEqual([bqual for gtrid, bqual in self.prepared(first)], ['shard0'])
        gtrid = self.prepared(first)[0][0]
        self.assertTrue((gtrid,) in harness.execute('shard0', 'SELECT gtrid FROM %s' % xa.DECISIONS))
        self.assertEqual(self.outcomes(xa.recover()), [('shard0', 'committed'), ('shard1', 'committed')])
        self.assertEqual((self.nicks('shard0'), self.nicks('shard1')), (['both'], ['both']))
        for server in (self.first, self.second):
            self.assertEqual(self.prepared(server), [])

    def test_a_decision_commit_that_never_arrives_leaves_every_branch_prepared_and_recover_rolls_back(self):
        first = self.first
        proxy = self.through_proxy('shard0')
        proxy.arm('INSERT INTO %s' % xa.DECISIONS, 'COMMIT', forward=False, then=first.kill)
        self.assertRaises(xa.OutcomeUnknown, transaction.commit_on_success(self.write_two_shards))
        self.assertEqual([bqual for gtrid, bqual in self.prepared(self.second)], ['shard1'])
        self.restore_ports()
        first.start()
        self.assertEqual([bqual for gtrid, bqual in self.prepared(first)], ['shard0'])
        self.assertEqual(self.outcomes(xa.recover()), [('shard0', 'rolled back'),
                                                       ('shard1', 'rolled back')])
        self.assertEqual((self.nicks('shard0'), self.nicks('shard1')), ([], []))
        for server in (self.first, self.second):
            self.assertEqual(self.prepared(server), [])

    def test_recover_while_a_commit_with_a_detached_branch_runs_makes_the_whole_transaction_roll_back(self):
        seen, branches_seen = [], []

        def lose_the_second_branch_then_recover(branches):
            branches_seen.append(branches)
            connections['shard1'].close()     # its branch stays prepared, free for recover()
            deadline = time.time() + 10
            while True:
                done = self.outcomes(xa.recover())
                if ('shard1', 'rolled back') in done or time.time() > deadline:
                    break
                time.sleep(0.1)
            seen.append(done)
        xa.between_prepare_and_decision.append(lose_the_second_branch_then_recover)
        self.first.start_general_log()
        try:
            transaction.commit_on_success(self.write_two_shards)()
        except CommitError as error:
            self.assertTrue('recover() decided to roll back' in str(error), str(error))
        else:
            self.fail('the transaction committed after recover() rolled a branch back')
        self.first.stop_general_log()
        self.assertEqual(seen, [[('shard0', 'unknown'), ('shard1', 'rolled back')]])
        self.assertEqual(self.xa_log(self.first)[-1], 'XA ROLLBACK shard0')
        gtrid = branches_seen[0][0][1][0]
        self.assertFalse((gtrid,) in harness.execute('shard0', 'SELECT gtrid FROM %s' % xa.DECISIONS))
        self.assertTrue((gtrid,) in harness.execute('shard0', 'SELECT gtrid FROM %s' % xa.ABORTS))
        for server in (self.first, self.second):
            self.assertEqual(self.prepared(server), [])
        self.assertEqual((self.nicks('shard0'), self.nicks('shard1')), ([], []))

    # -- recover() that cannot read the decision -------------------------------------
    def commit_with_the_second_server_lost_after_the_decision(self):
        second = self.second
        xa.between_prepare_and_commit.append(lambda branches: second.kill())
        self.assertRaises(CommitError, transaction.commit_on_success(self.write_two_shards))
        del xa.between_prepare_and_commit[:]
        second.start()
        self.assertEqual(self.nicks('shard0'), ['both'])
        self.assertEqual([bqual for gtrid, bqual in self.prepared(second)], ['shard1'])

    def test_recover_with_the_decision_holder_down_leaves_the_branch_prepared_as_unknown(self):
        self.commit_with_the_second_server_lost_after_the_decision()
        self.first.kill()
        done = xa.recover()
        self.assertEqual(self.outcomes(done), [('shard1', 'unknown')])
        self.assertEqual([str(alias) for alias, gtrid, outcome in done.unknown], ['shard1'])
        self.assertTrue("'shard0'" in done.unknown[0][2], done.unknown[0][2])
        self.assertEqual([bqual for gtrid, bqual in self.prepared(self.second)], ['shard1'])
        self.assertEqual(self.nicks('shard1'), [])
        self.first.start()
        self.assertEqual(self.outcomes(xa.recover()), [('shard1', 'committed')])
        self.assertEqual(self.nicks('shard1'), ['both'])

    def test_recover_whose_select_of_the_decision_fails_leaves_the_branch_prepared_as_unknown(self):
        self.commit_with_the_second_server_lost_after_the_decision()
        (gtrid,) = self.prepared(self.second)[0][:1]
        self.assertTrue((gtrid,) in harness.execute('shard0', 'SELECT gtrid FROM %s' % xa.DECISIONS))
        harness.execute('shard0', 'ALTER TABLE %s DISCARD TABLESPACE' % xa.DECISIONS)
        try:
            done = xa.recover()
        finally:
            harness.execute('shard0', 'DROP TABLE %s' % xa.DECISIONS)
        self.assertEqual(self.outcomes(done), [('shard1', 'unknown')])
        self.assertEqual([bqual for gtrid, bqual in self.prepared(self.second)], ['shard1'])
        self.assertEqual(self.nicks('shard1'), [])
        harness.execute('shard0', 'CREATE TABLE %s (gtrid VARCHAR(64) PRIMARY KEY)' % xa.DECISIONS)
        harness.execute('shard0', 'INSERT INTO %s VALUES (?)' % xa.DECISIONS, (gtrid,))
        self.assertEqual(self.outcomes(xa.recover()), [('shard1', 'committed')])
        self.assertEqual(self.nicks('shard1'), ['both'])

    # -- the application dies --------------------------------------------------------
    def test_an_application_killed_between_the_prepares_and_the_decision_is_rolled_back_by_recover(self):
        gtrid = self.run_child_until('between_prepare_and_decision')
        self.assertEqual(self.prepared(self.first), [(gtrid, 'shard0')])
        self.assertEqual(self.prepared(self.second), [(gtrid, 'shard1')])
        self.assertEqual(self.outcomes(xa.recover()), [('shard0', 'rolled back'),
                                                       ('shard1', 'rolled back')])
        self.assertEqual((self.nicks('shard0'), self.nicks('shard1')), ([], []))
        for server in (self.first, self.second):
            self.assertEqual(self.prepared(server), [])

    def test_an_application_killed_after_the_decision_is_committed_by_recover(self):
        gtrid = self.run_child_until('between_prepare_and_commit')
        self.assertEqual(self.prepared(self.first), [(gtrid, 'shard0')])
        self.assertEqual(self.prepared(self.second), [(gtrid, 'shard1')])
        self.assertTrue((gtrid,) in harness.execute('shard0', 'SELECT gtrid FROM %s' % xa.DECISIONS))
        self.assertEqual(self.outcomes(xa.recover()), [('shard0', 'committed'),
                                                       ('shard1', 'committed')])
        self.assertEqual((self.nicks('shard0'), self.nicks('shard1')), (['child'], ['child']))
        for server in (self.first, self.second):
            self.assertEqual(self.prepared(server), [])
