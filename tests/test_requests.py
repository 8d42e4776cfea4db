"""The request signals reach every connection, not only the default one."""
from __future__ import absolute_import
from django.core import signals
from django.db import connection

import harness
from base import DatabaseTest, patched_only
from djpatch_multidb import connections, using


def touch(*aliases):
    for alias in aliases:
        with using(alias):
            connection.cursor().execute('SELECT 1')


class RequestSignals(DatabaseTest):

    @patched_only("Django's own request signals close and reset every alias")
    def test_request_finished_closes_every_connection_the_thread_opened(self):
        touch('default', 'blogdb', 'shard1')
        self.assertTrue(connections['shard1'].connection is not None)
        signals.request_finished.send(sender=None)
        self.assertEqual([a for a, w in connections.opened() if w.connection is not None], [])

    @patched_only("Django's own request signals close and reset every alias")
    def test_request_started_empties_every_query_log(self):
        from django.conf import settings
        settings.DEBUG = True
        try:
            touch('blogdb', 'shard2')
            self.assertEqual(len(connections['shard2'].queries), 1)
            signals.request_started.send(sender=None)
            self.assertEqual([connections[a].queries for a in ('blogdb', 'shard2')], [[], []])
        finally:
            settings.DEBUG = False

    @patched_only("Django's own request signals close and reset every alias")
    def test_an_exception_in_a_request_rolls_back_uncommitted_writes_everywhere(self):
        for alias in ('default', 'shard3'):
            with using(alias):
                connection.cursor().execute("INSERT INTO testapp_author (name) VALUES ('half')")
        signals.got_request_exception.send(sender=None)
        signals.request_finished.send(sender=None)
        self.assertEqual(harness.where_is('testapp_author', 'name', 'half'), [])


class DatabaseCache(DatabaseTest):

    @patched_only('the database cache backend has routers of its own (db_for_read on its CacheEntry)')
    def test_the_database_cache_keeps_to_default_inside_a_shard_block(self):
        from django.core.cache import get_cache
        from django.core.management import call_command
        from djpatch_multidb import using_shard
        harness.execute('default', 'DROP TABLE IF EXISTS djp_cache')
        call_command('createcachetable', 'djp_cache')
        cache = get_cache('db://djp_cache')
        cache.set('where', 'outside')
        with using_shard(1):
            self.assertEqual(cache.get('where'), 'outside')
            cache.set('inside', 'yes')
        self.assertEqual(len(harness.rows('default', 'djp_cache', 'cache_key', 'cache_key')), 2)
