"""Review of a20489f (router answers, transaction.get_connection) and 5719c0d
(all_shards() len() keeps its rows for the next iteration), against dd6ea0d.

The router changes gave the same databases and errors as dd6ea0d in every
scenario tried (see the review report); what differs is below.  Each test
passes on dd6ea0d and fails on 5719c0d.  Rows are placed and read back
through each database's own DB-API connection (harness.execute)."""
from __future__ import absolute_import
import threading
import unittest

import harness
from base import NATIVE, DatabaseTest
from djpatch_multidb import atomic, readonly
from djpatch_multidb import connections as library_connections
from testapp.models import Profile

native_only = unittest.skipIf(not NATIVE, 'Django 1.0/1.1 are patched, not routed')


def fill():
    """Profiles user_id 0..7, each on shard user_id % 4, written directly."""
    for user_id in range(8):
        harness.execute('shard%d' % (user_id % 4),
                        'INSERT INTO testapp_profile (user_id, nick) VALUES (?, ?)',
                        (user_id, 'n%d' % user_id))


@native_only
class AllShardsIterationAfterLen(DatabaseTest):
    """docs/sharding.txt: 'Iterating streams and caches nothing'.  Since 5719c0d
    the next iteration after len() yields the rows len() read, whatever
    happened in between, in whichever context or thread it iterates."""

    def test_a_loop_after_len_and_update_yields_the_updated_rows(self):
        fill()
        across = Profile.objects.all_shards()
        self.assertEqual(len(across), 8)
        across.update(nick='z')
        self.assertEqual(sorted(set([p.nick for p in across])), ['z'])

    def test_a_loop_after_len_and_delete_yields_no_deleted_row(self):
        fill()
        across = Profile.objects.all_shards()
        self.assertEqual(len(across), 8)
        across.filter(user_id__gte=4).delete()
        self.assertEqual(sorted([p.user_id for p in across]), [0, 1, 2, 3])

    def test_rows_counted_inside_readonly_are_not_yielded_outside_it(self):
        fill()
        harness.execute('shard1_replica',
                        "INSERT INTO testapp_profile (user_id, nick) VALUES (1, 'replica only')")
        across = Profile.objects.all_shards()
        with readonly():
            self.assertEqual(len(across), 7)    # shard1's rows come from shard1_replica
        nicks = [p.nick for p in across]        # outside readonly(): the primaries
        self.assertFalse('replica only' in nicks, nicks)
        self.assertEqual(len(nicks), 8)

    def test_rows_of_a_rolled_back_transaction_are_not_yielded_after_it(self):
        fill()
        across = Profile.objects.all_shards()
        try:
            with atomic(using='shard0'):
                Profile.objects.shard(0).create(user_id=100, nick='rolled back')
                self.assertEqual(len(across), 9)
                raise ValueError('roll back')
        except ValueError:
            pass
        self.assertEqual(harness.where_is('testapp_profile', 'nick', 'rolled back'), [])
        nicks = [p.nick for p in across]
        self.assertFalse('rolled back' in nicks, nicks)

    def test_another_threads_uncommitted_rows_are_not_yielded_here(self):
        fill()
        across = Profile.objects.all_shards()
        counted, done, seen = threading.Event(), threading.Event(), {}

        def writer():
            try:
                with atomic(using='shard0'):
                    Profile.objects.shard(0).create(user_id=100, nick='uncommitted')
                    seen['len'] = len(across)
                    counted.set()
                    done.wait(30)
                    raise ValueError('roll back')
            except ValueError:
                pass
            finally:
                counted.set()
                library_connections.close_all()
        thread = threading.Thread(target=writer)
        thread.start()
        try:
            counted.wait(30)
            nicks = [p.nick for p in across]
        finally:
            done.set()
            thread.join(60)
        self.assertEqual(seen.get('len'), 9)
        self.assertFalse('uncommitted' in nicks, nicks)
        self.assertEqual(harness.where_is('testapp_profile', 'nick', 'uncommitted'), [])


def _wrapped_get_connection(using=None):
    """A transaction.get_connection already replaced when install() runs (an
    instrumentation's wrapper): its module's globals are not Django's."""
    _calls.append(using)
    return ('from the wrapper', using)


_calls = []


@native_only
class GetConnectionReplacement(unittest.TestCase):

    def test_the_replacement_calls_the_function_it_replaces(self):
        from djpatch_multidb.api import transactions
        del _calls[:]
        replacement = transactions.make_get_connection(_wrapped_get_connection)
        try:
            answer = replacement('default')
        except KeyError as error:
            self.fail('get_connection() no longer calls the function it replaced: KeyError %s'
                      % error)
        self.assertEqual((answer, _calls), (('from the wrapper', 'default'), ['default']))
