"""Many threads, each in its own shard contexts, never put a row in the wrong place."""
from __future__ import absolute_import
import threading

import harness
from base import DatabaseTest
from djpatch_multidb import connections, using_shard
from testapp.models import Profile

THREADS = 8
OPERATIONS = 150


def expected_shard(thread, op):
    return (thread + op) % 4


def key_of(thread, op):
    """A user_id unique to (thread, op) that the 'mod' key maps to its expected shard."""
    return (thread * 100000 + op) * 4 + expected_shard(thread, op)


def key_of(thread, op):
    """A user_id unique to (thread, op) that the 'mod' key maps to its expected shard."""
    return (thread * 100000 + op) * 4 + expected_shard(thread, op)


class ThreadsStayInTheirShards(DatabaseTest):

    def test_interleaved_writes_and_reads_from_eight_threads(self):
        errors = []
        start = threading.Event()

        def work(thread):
            try:
                start.wait(10)
                for op in range(OPERATIONS):
                    user_id = key_of(thread, op)
                    shard = expected_shard(thread, op)
                    with using_shard(shard):
                        Profile.objects.create(user_id=user_id, nick='t%d' % thread)
                        if op % 3 == 0:
                            with using_shard((shard + 1) % 4):
                                if Profile.objects.filter(user_id=user_id).count():
                                    errors.append('thread %d saw %d on the wrong shard' % (thread, user_id))
                        found = Profile.objects.filter(user_id=user_id).count()
                        if found != 1:
                            errors.append('thread %d read %d rows for %d' % (thread, found, user_id))
                    if op % 5 == 0:
                        profile = Profile.objects.shard(shard).get(user_id=user_id)
                        profile.nick = 'updated'
                        profile.save()
            except Exception as error:
                errors.append('thread %d: %r' % (thread, error))
            finally:
                connections.close_all()

        workers = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
        for worker in workers:
            worker.start()
        start.set()
        for worker in workers:
            worker.join(300)
        self.assertEqual(errors, [])

        misplaced, missing = [], []
        actual = {}
        for shard in range(4):
            for user_id, nick in harness.rows('shard%d' % shard, 'testapp_profile', 'user_id, nick'):
                actual.setdefault(user_id, []).append((shard, nick))
        for thread in range(THREADS):
            for op in range(OPERATIONS):
                user_id = key_of(thread, op)
                nick = op % 5 == 0 and 'updated' or 't%d' % thread
                where = actual.pop(user_id, [])
                if not where:
                    missing.append(user_id)
                elif where != [(expected_shard(thread, op), nick)]:
                    misplaced.append((user_id, where))
        self.assertEqual((misplaced, missing, sorted(actual)), ([], [], []))
        self.assertEqual(len(harness.rows('default', 'testapp_profile')), 0)
