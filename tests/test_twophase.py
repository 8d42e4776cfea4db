"""MULTIDB_TWO_PHASE_COMMIT: a transaction across MySQL shards commits on all
or none, and recover() finishes a branch left prepared by a dead server."""
from __future__ import absolute_import
from django.conf import settings
from django.db import transaction
from nose.plugins.skip import SkipTest

import harness
from base import DatabaseTest, patched_only
from djpatch_multidb import CommitError, xa
from testapp.models import Profile


@patched_only('MULTIDB_TWO_PHASE_COMMIT rides on the 1.0/1.1 commit patches')
class TwoPhaseCommit(DatabaseTest):

    def setUp(self):
        if harness.BACKEND != 'mysql':
            raise SkipTest('XA needs the MariaDB servers of the mysql run')
        DatabaseTest.setUp(self)
        settings.MULTIDB_TWO_PHASE_COMMIT = True

    def tearDown(self):
        settings.MULTIDB_TWO_PHASE_COMMIT = False
        del xa.between_prepare_and_commit[:]
        DatabaseTest.tearDown(self)

    def write_two_shards(self):
        Profile.objects.shard(0).create(user_id=1, nick='both')
        Profile.objects.shard(1).create(user_id=2, nick='both')

    def nicks(self, alias):
        return harness.column(alias, 'testapp_profile', 'nick')

    def test_a_successful_transaction_commits_on_every_shard(self):
        transaction.commit_on_success(self.write_two_shards)()
        self.assertEqual((self.nicks('shard0'), self.nicks('shard1')), (['both'], ['both']))
        for server in (harness.server_for('shard0'), harness.server_for('shard1')):
            self.assertEqual(server.execute('XA RECOVER'), [])

    def test_an_exception_leaves_no_row_and_no_branch(self):
        def fail():
            self.write_two_shards()
            raise ValueError('no')
        self.assertRaises(ValueError, transaction.commit_on_success(fail))
        self.assertEqual((self.nicks('shard0'), self.nicks('shard1')), ([], []))
        for server in (harness.server_for('shard0'), harness.server_for('shard1')):
            self.assertEqual(server.execute('XA RECOVER'), [])

    def test_a_server_killed_between_prepare_and_commit_is_finished_by_recover(self):
        second = harness.server_for('shard1')
        self.assertNotEqual(second, harness.server_for('shard0'))
        xa.between_prepare_and_commit.append(lambda branches: second.kill())
        try:
            transaction.commit_on_success(self.write_two_shards)()
        except CommitError as error:
            self.assertEqual(error.failed, 'shard1')
            self.assertTrue('recover' in str(error), str(error))
        else:
            self.fail('the dead server went unnoticed')
        finally:
            del xa.between_prepare_and_commit[:]
            second.start()
        self.assertEqual(self.nicks('shard0'), ['both'])
        self.assertEqual(self.nicks('shard1'), [])
        self.assertEqual(len(second.execute('XA RECOVER')), 1)
        done = xa.recover()
        self.assertEqual([(alias, outcome) for alias, gtrid, outcome in done if gtrid],
                         [('shard1', 'committed')])
        self.assertEqual(self.nicks('shard1'), ['both'])
        self.assertEqual(second.execute('XA RECOVER'), [])
