"""Commits and rollbacks reach every database the thread wrote to."""
from __future__ import absolute_import
from django.db import transaction
from django.http import HttpResponse
try:
    from django.middleware.transaction import TransactionMiddleware
except ImportError:   # Django 1.8 and later
    TransactionMiddleware = None

import harness
from base import DatabaseTest, patched_only
from djpatch_multidb import CommitError, connections, using_shard
from testapp.models import Author, Entry, Profile


def write_two_shards(nick):
    Profile.objects.shard(0).create(user_id=4, nick=nick)
    Profile.objects.shard(3).create(user_id=3, nick=nick)


def nicks_on(alias):
    return harness.column(alias, 'testapp_profile', 'nick')


@patched_only("Django's own transactions are per alias: atomic(using=...) (test_native)")
class Autocommit(DatabaseTest):

    def test_each_write_is_committed_on_the_connection_that_wrote_it(self):
        Entry.objects.create(title='committed')
        Profile.objects.shard(1).create(user_id=1, nick='committed')
        # Read through connections of the test's own: uncommitted rows would not show.
        self.assertEqual(harness.column('blogdb', 'testapp_entry', 'title'), ['committed'])
        self.assertEqual(nicks_on('shard1'), ['committed'])
        self.assertEqual(connections.pending(), [])


@patched_only("Django's own transactions are per alias: atomic(using=...) (test_native)")
class ManagedTransactions(DatabaseTest):

    def test_commit_on_success_commits_every_shard_written(self):
        transaction.commit_on_success(write_two_shards)('both')
        self.assertEqual((nicks_on('shard0'), nicks_on('shard3')), (['both'], ['both']))

    def test_commit_on_success_rolls_back_every_shard_on_an_exception(self):
        def write_then_fail():
            write_two_shards('never')
            Author.objects.create(name='never')
            raise RuntimeError('fail after writing')
        self.assertRaises(RuntimeError, transaction.commit_on_success(write_then_fail))
        for alias in ('shard0', 'shard3'):
            self.assertEqual(nicks_on(alias), [])
        self.assertEqual(harness.rows('default', 'testapp_author'), [])

    def test_nothing_is_visible_outside_before_the_block_commits(self):
        seen = []

        def write_and_look():
            write_two_shards('pending')
            seen.append((nicks_on('shard0'), nicks_on('shard3')))
        transaction.commit_on_success(write_and_look)()
        self.assertEqual(seen, [([], [])])
        self.assertEqual((nicks_on('shard0'), nicks_on('shard3')), (['pending'], ['pending']))

    def test_commit_manually_commits_or_rolls_back_every_shard(self):
        def manual(commit):
            write_two_shards(commit and 'kept' or 'dropped')
            if commit:
                transaction.commit()
            else:
                transaction.rollback()
        transaction.commit_manually(manual)(False)
        self.assertEqual((nicks_on('shard0'), nicks_on('shard3')), ([], []))
        transaction.commit_manually(manual)(True)
        self.assertEqual((nicks_on('shard0'), nicks_on('shard3')), (['kept'], ['kept']))

    def test_transaction_middleware_rolls_back_every_shard_on_an_exception(self):
        middleware = TransactionMiddleware()
        middleware.process_request(None)
        write_two_shards('request')
        middleware.process_exception(None, RuntimeError('view failed'))
        self.assertEqual((nicks_on('shard0'), nicks_on('shard3')), ([], []))

    def test_transaction_middleware_commits_every_shard_on_success(self):
        middleware = TransactionMiddleware()
        middleware.process_request(None)
        with using_shard(2):
            Profile.objects.create(user_id=6, nick='via context')
        write_two_shards('request')
        middleware.process_response(None, HttpResponse('ok'))
        self.assertEqual([nicks_on(a) for a in ('shard0', 'shard2', 'shard3')],
                         [['request'], ['via context'], ['request']])

    def test_a_commit_that_fails_after_another_succeeded_names_both_aliases(self):
        def write_then_commit():
            Profile.objects.shard(0).create(user_id=4, nick='first')
            Profile.objects.shard(3).create(user_id=3, nick='second')
            broken = connections['shard3']

            def refuse():
                raise harness_error('commit refused')
            broken._commit = refuse
            try:
                transaction.commit()
            finally:
                del broken._commit
                transaction.rollback()
        transaction.enter_transaction_management()
        transaction.managed(True)
        try:
            try:
                write_then_commit()
            except CommitError as error:
                self.assertEqual((error.committed, error.failed), (('shard0',), 'shard3'))
                self.assertTrue("'shard0'" in str(error) and "'shard3'" in str(error), str(error))
            else:
                self.fail('CommitError not raised')
        finally:
            transaction.leave_transaction_management()
        self.assertEqual((nicks_on('shard0'), nicks_on('shard3')), (['first'], []))


class harness_error(Exception):
    pass


@patched_only("Django's own transactions are per alias: atomic(using=...) (test_native)")
class RawCursors(DatabaseTest):

    def test_a_reused_cursor_has_every_write_committed(self):
        from django.core import signals
        from django.db import connection
        with using_shard(1):
            cursor = connection.cursor()
            cursor.execute("INSERT INTO testapp_author (name) VALUES ('first')")
            transaction.commit_unless_managed()
            cursor.execute("INSERT INTO testapp_author (name) VALUES ('second')")
            transaction.commit_unless_managed()
        signals.request_finished.send(sender=None)
        self.assertEqual(harness.column('shard1', 'testapp_author', 'name'), ['first', 'second'])
