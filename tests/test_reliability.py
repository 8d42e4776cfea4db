"""Under load and faults every row lands where it belongs or the caller gets a
clear error (MariaDB only: the servers the suite started)."""
from __future__ import absolute_import
import random
import threading
try:
    import Queue
except ImportError:   # Python 3
    import queue as Queue

from django.db import connection, transaction
from nose.plugins.skip import SkipTest

import harness
from base import DatabaseTest, patched_only
from djpatch_multidb import connections, using_shard
from djpatch_multidb.context import selector
from testapp.models import Profile

THREADS = 16
OPERATIONS = 2000


def mysql_only():
    if harness.BACKEND != 'mysql':
        raise SkipTest('needs the MariaDB servers of the mysql run')


class Boom(Exception):
    pass


@patched_only('lost-connection handling is part of the 1.0/1.1 patches')
class Load(DatabaseTest):

    def test_sixteen_reused_threads_running_mixed_operations_misplace_lose_and_duplicate_nothing(self):
        mysql_only()
        expected = {}      # user_id -> (shard, nick): what must be there at the end
        lock = threading.Lock()
        problems = []
        tasks = Queue.Queue()
        for task in range(THREADS * 4):
            tasks.put(task)

        def run_task(task):
            rng = random.Random(task)
            mine = []
            for op in range(OPERATIONS // 4):
                shard = rng.randrange(4)
                user_id = (task * 100000 + op) * 4 + shard    # the 'mod' key maps it to shard
                kind = rng.random()
                with using_shard(shard):
                    if kind < 0.45:
                        Profile.objects.create(user_id=user_id, nick='c')
                        mine.append((user_id, shard))
                        lock.acquire(); expected[user_id] = (shard, 'c'); lock.release()
                    elif kind < 0.55:
                        connection.cursor().execute(
                            'INSERT INTO testapp_profile (user_id, nick) VALUES (%s, %s)',
                            [user_id, 'raw'])
                        transaction.commit_unless_managed()
                        mine.append((user_id, shard))
                        lock.acquire(); expected[user_id] = (shard, 'raw'); lock.release()
                    elif kind < 0.65 and mine:
                        old_id, old_shard = mine[rng.randrange(len(mine))]
                        with using_shard(old_shard):          # nested, another shard
                            Profile.objects.filter(user_id=old_id).update(nick='u')
                        lock.acquire(); expected[old_id] = (old_shard, 'u'); lock.release()
                    elif kind < 0.72 and mine:
                        old_id, old_shard = mine.pop(rng.randrange(len(mine)))
                        Profile.objects.shard(old_shard).filter(user_id=old_id).delete()
                        lock.acquire(); del expected[old_id]; lock.release()
                    elif kind < 0.80:
                        try:
                            @transaction.commit_on_success
                            def fails():
                                Profile.objects.create(user_id=user_id, nick='never')
                                raise Boom()
                            fails()
                        except Boom:
                            pass
                    else:
                        found = Profile.objects.filter(user_id__in=[u for u, s in mine if s == shard][-5:])
                        if len(list(found)) != len([u for u, s in mine if s == shard][-5:]):
                            problems.append('task %d read the wrong rows on shard %d' % (task, shard))

        def worker():
            try:
                while True:
                    try:
                        task = tasks.get_nowait()
                    except Queue.Empty:
                        return
                    if selector.stack():
                        problems.append('task %d started with %r open' % (task, selector.stack()))
                    try:
                        run_task(task)
                    except Exception as error:
                        problems.append('task %d: %r' % (task, error))
                    if selector.stack():
                        problems.append('task %d left %r open' % (task, selector.stack()))
            finally:
                connections.close_all()

        workers = [threading.Thread(target=worker) for n in range(THREADS)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join(600)
        self.assertEqual(problems, [])

        found = {}
        duplicated = []
        for shard, alias in enumerate(harness.SHARDS):
            for user_id, nick in harness.rows(alias, 'testapp_profile', 'user_id, nick'):
                if user_id in found:
                    duplicated.append(user_id)
                found[user_id] = (shard, nick)
        misplaced = [(u, found[u], expected[u]) for u in expected if u in found and found[u] != expected[u]]
        lost = [u for u in expected if u not in found]
        extra = [u for u in found if u not in expected]
        self.assertEqual((misplaced, lost, duplicated, extra), ([], [], [], []))
        self.assertTrue(len(expected) > THREADS * OPERATIONS * 0.3, len(expected))


@patched_only('lost-connection handling is part of the 1.0/1.1 patches')
class Faults(DatabaseTest):

    def test_a_killed_shard_server_fails_its_shards_clearly_and_comes_back(self):
        mysql_only()
        server = harness.server_for('shard1')
        port = harness.DATABASES['shard1']['PORT']
        Profile.objects.shard(1).create(user_id=1, nick='before')
        Profile.objects.shard(0).create(user_id=4, nick='before')
        server.kill()
        try:
            errors = []
            for attempt in range(3):
                try:
                    Profile.objects.shard(1).create(user_id=5 + 4 * attempt, nick='during')
                except Exception as error:
                    errors.append(str(error))
            self.assertEqual(len(errors), 3)
            for text in errors:
                self.assertTrue("'shard1'" in text and '127.0.0.1:%s' % port in text, text)
                self.assertFalse(harness.PASSWORD in text, text)
            Profile.objects.shard(0).create(user_id=8, nick='other shard carries on')
            self.assertEqual(Profile.objects.shard(0).count(), 2)
        finally:
            server.start()
        Profile.objects.shard(1).create(user_id=9, nick='after restart')
        self.assertEqual(sorted(harness.column('shard1', 'testapp_profile', 'nick')),
                         ['after restart', 'before'])

    def test_a_connection_killed_in_a_managed_transaction_fails_visibly_and_commits_nothing(self):
        mysql_only()
        server = harness.server_for('shard0')

        @transaction.commit_on_success
        def write_kill_write():
            Profile.objects.shard(0).create(user_id=4, nick='first')
            Profile.objects.shard(2).create(user_id=2, nick='other shard')
            cursor = connections['shard0'].cursor()
            cursor.execute('SELECT CONNECTION_ID()')
            server.execute('KILL %d' % cursor.fetchone()[0])
            Profile.objects.shard(0).create(user_id=8, nick='second')
        try:
            write_kill_write()
        except Exception as error:
            self.assertTrue("'shard0'" in str(error), str(error))
        else:
            self.fail('the killed connection went unnoticed')
        for alias in ('shard0', 'shard2'):
            self.assertEqual(harness.rows(alias, 'testapp_profile'), [])
        Profile.objects.shard(0).create(user_id=12, nick='works again')
        self.assertEqual(harness.column('shard0', 'testapp_profile', 'nick'), ['works again'])
