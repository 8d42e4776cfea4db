from __future__ import absolute_import
# -*- coding: utf-8 -*-
"""Shard keys, globally unique ids, queries across all shards and foreign keys
across databases, each checked by reading the databases directly."""
import threading

import django

import harness
from base import DatabaseTest, patched_only
from djpatch_multidb import (CrossDatabaseQuery, ShardKeyError, connections, using_shard,
                             using_shard_for)
from djpatch_multidb.base.shardkeys import crc32, mod
from testapp.models import Account, Author, Note, Post, Profile


class ShardKeys(DatabaseTest):

    def test_crc32_is_the_standard_crc_of_the_utf8_text(self):
        # CRC-32 (ISO 3309) of the UTF-8 bytes: the same in every process and build.
        self.assertEqual(crc32('alice', 1 << 32), 663665735)
        self.assertEqual(crc32(u'zo\xeb', 1 << 32), 3349081364)
        self.assertEqual(crc32(12345, 1 << 32), 3421846044)
        self.assertEqual([crc32(k, 4) for k in ('alice', 'bob', u'zo\xeb')], [3, 0, 0])

    def test_mod_takes_integers_only(self):
        self.assertEqual(mod(10, 4), 2)
        self.assertRaises(TypeError, mod, '10', 4)
        self.assertRaises(TypeError, mod, True, 4)

    def test_a_model_with_a_shard_key_is_written_to_its_keys_shard(self):
        for user_id in (4, 7, 9, 14):
            Profile.objects.create(user_id=user_id, nick='k%d' % user_id)
        for user_id in (4, 7, 9, 14):
            self.assertOnlyOn('testapp_profile', 'user_id', user_id, 'shard%d' % (user_id % 4))

    def test_shard_for_and_using_shard_for_route_by_key(self):
        with using_shard_for(10):
            Profile.objects.create(user_id=10, nick='by context key')
        Profile.objects.shard_for(11).create(user_id=11, nick='by manager key')
        self.assertOnlyOn('testapp_profile', 'user_id', 10, 'shard2')
        self.assertOnlyOn('testapp_profile', 'user_id', 11, 'shard3')
        self.assertEqual(Profile.objects.shard_for(10).get(user_id=10).nick, 'by context key')
        with using_shard_for(11, group='users'):
            self.assertEqual(Profile.objects.get().nick, 'by manager key')
        from djpatch_multidb import shard_for
        self.assertEqual((shard_for(10), shard_for(11, 'users')), ('shard2', 'shard3'))

    def test_a_key_of_none_or_a_rejected_key_is_refused_naming_the_group(self):
        for bad in (None, 'eleven', 1.5):
            for call in (lambda: using_shard_for(bad), lambda: Profile.objects.shard_for(bad)):
                try:
                    call()
                except ShardKeyError as error:
                    self.assertTrue("'users'" in str(error) and repr(bad) in str(error), str(error))
                else:
                    self.fail('%r was accepted as a key' % (bad,))
        self.assertEqual(harness.where_is('testapp_profile', 'nick', 'x'), [])

    def test_a_dotted_key_function_is_used_and_its_bad_answers_refused(self):
        from django.conf import settings
        from djpatch_multidb.base import config
        saved = settings.MULTIDB_SHARDS
        try:
            settings.MULTIDB_SHARDS = {'users': {'SHARDS': harness.SHARDS, 'KEY': 'keyfunctions.by_length'}}
            config.reload()
            from djpatch_multidb import resharding
            with resharding():   # Profile's own key is an integer, which by_length refuses
                from djpatch_multidb import resharding
            with resharding():   # Profile's own key is an integer, which by_length refuses
                Profile.objects.shard_for('abcdef').create(user_id=5, nick='six letters')
            self.assertOnlyOn('testapp_profile', 'nick', 'six letters', 'shard2')
            settings.MULTIDB_SHARDS = {'users': {'SHARDS': harness.SHARDS, 'KEY': 'keyfunctions.out_of_range'}}
            config.reload()
            self.assertRaises(ShardKeyError, Profile.objects.shard_for, 'x')
        finally:
            settings.MULTIDB_SHARDS = saved
            config.reload()


class GloballyUniqueIds(DatabaseTest):

    def test_a_new_account_gets_a_ticket_id_and_lands_on_that_ids_shard(self):
        accounts = [Account.objects.create(name='a%d' % n) for n in range(8)]
        ids = [a.id for a in accounts]
        self.assertEqual(len(set(ids)), 8)
        for account in accounts:
            self.assertOnlyOn('testapp_account', 'id', account.id, 'shard%d' % (account.id % 4))

    def test_eight_threads_creating_ten_thousand_rows_never_share_an_id(self):
        per_thread = 1250
        errors = []

        def create(thread):
            try:
                for n in range(per_thread):
                    Account.objects.create(name='t%d' % thread)
            except Exception as error:
                errors.append(repr(error))
            finally:
                connections.close_all()
        threads = [threading.Thread(target=create, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(600)
        self.assertEqual(errors, [])
        ids = []
        for number, alias in enumerate(harness.SHARDS):
            on_shard = harness.column(alias, 'testapp_account', 'id')
            self.assertEqual([i for i in on_shard if i % 4 != number], [])
            ids.extend(on_shard)
        self.assertEqual(len(ids), 8 * per_thread)
        self.assertEqual(len(set(ids)), 8 * per_thread)


NICKS = ['delta', 'alpha', 'echo', 'charlie', 'bravo', 'golf', 'foxtrot', 'hotel', 'india',
         'juliet', 'kilo', 'lima', 'mike', 'alpha', 'echo']


class AllShards(DatabaseTest):
    """Each query across shards gives what the same query gives on one database
    that holds the union of the shards' rows ('default' here)."""

    def setUp(self):
        DatabaseTest.setUp(self)
        for user_id, nick in enumerate(NICKS):
            Profile.objects.create(user_id=user_id, nick=nick)
            Profile.objects.using('default').create(user_id=user_id, nick=nick)
        self.assertEqual(len(harness.rows('shard3', 'testapp_profile')), 3)

    def same(self, build):
        across = build(Profile.objects.all_shards())
        union = build(Profile.objects.using('default').all())
        if hasattr(across, '__iter__') and not isinstance(across, dict):
            across, union = list(across), list(union)
            if across and hasattr(across[0], 'nick'):
                across = [(p.user_id, p.nick) for p in across]
                union = [(p.user_id, p.nick) for p in union]
        self.assertEqual(across, union)
        return across

    def test_iteration_yields_every_row_of_every_shard(self):
        found = sorted([(p.user_id, p.nick) for p in Profile.objects.all_shards()])
        self.assertEqual(found, sorted(enumerate(NICKS)))

    def test_list_takes_its_rows_from_the_len_it_asks_for(self):
        # list() asks for an iterator, then len(), then the rows: what it
        # lists is what that len() read (a row written in between is not in
        # it: the shards are not read twice).  A len() of its own keeps
        # nothing: a later loop reads the shards again.
        across = Profile.objects.all_shards()
        rows = iter(across)
        self.assertEqual(len(across), len(NICKS))
        harness.execute('shard0', "INSERT INTO testapp_profile (user_id, nick) VALUES (100, 'late')")
        self.assertEqual(sorted([(p.user_id, p.nick) for p in rows]), sorted(enumerate(NICKS)))
        self.assertEqual(len(across), len(NICKS) + 1)
        harness.execute('shard1', "INSERT INTO testapp_profile (user_id, nick) VALUES (101, 'later')")
        self.assertEqual(sorted([(p.user_id, p.nick) for p in across]),
                         sorted(list(enumerate(NICKS)) + [(100, 'late'), (101, 'later')]))

    def test_list_reads_each_shard_once(self):
        if not harness.is_mysql('shard0'):
            return      # counted by the MariaDB servers' own statement counters
        servers = {}
        for alias in harness.SHARDS:
            servers.setdefault(harness.server_for(alias), alias)

        def selects():
            return sum([int(harness.execute(alias, "SHOW GLOBAL STATUS LIKE 'Com_select'")[0][1])
                        for alias in servers.values()])
        before = selects()
        listed = list(Profile.objects.all_shards())
        by_list = selects() - before
        before = selects()
        iterated = [p for p in Profile.objects.all_shards()]
        by_iteration = selects() - before
        self.assertEqual(len(listed), len(NICKS))
        self.assertEqual(len(iterated), len(NICKS))
        # (A new connection may run SELECTs of its own: Django 4.2 asks the
        # server's version.  Both ways open the same connections.)
        self.assertEqual(by_list, by_iteration)
        self.assertTrue(by_list >= len(harness.SHARDS), by_list)

    def test_ordering_is_merged_like_one_database_would_order(self):
        self.same(lambda qs: qs.order_by('nick', 'user_id'))
        self.same(lambda qs: qs.order_by('-nick', '-user_id'))
        self.same(lambda qs: qs.order_by('-user_id'))

    def test_slices_take_the_global_first_rows(self):
        self.same(lambda qs: qs.order_by('nick', 'user_id')[:5])
        self.same(lambda qs: qs.order_by('-user_id')[3:8])
        self.same(lambda qs: qs.order_by('user_id')[14:20])
        self.assertEqual(Profile.objects.all_shards().order_by('nick', 'user_id')[0].nick, 'alpha')

    def test_filters_counts_and_exists(self):
        self.same(lambda qs: qs.filter(nick__startswith='a').order_by('user_id'))
        self.same(lambda qs: qs.exclude(nick='echo').order_by('nick', 'user_id'))
        self.same(lambda qs: qs.filter(user_id__gte=3).count())
        self.same(lambda qs: qs.order_by('user_id')[2:9].count())
        self.assertEqual(Profile.objects.all_shards().filter(nick='kilo').exists(), True)
        self.assertEqual(Profile.objects.all_shards().filter(nick='zulu').exists(), False)

    def test_values_and_values_list(self):
        self.same(lambda qs: qs.order_by('nick', 'user_id').values('nick', 'user_id'))
        self.same(lambda qs: qs.order_by('-user_id').values_list('user_id', 'nick')[:4])
        self.same(lambda qs: qs.order_by('user_id').values_list('user_id', flat=True))

    def test_aggregates_are_combined_correctly(self):
        if django.VERSION[:2] < (1, 1):
            return  # Django 1.0 has no aggregation
        from django.db.models import Avg, Count, Max, Min, Sum
        result = self.same(lambda qs: qs.aggregate(n=Count('id'), total=Sum('user_id'),
                                                   low=Min('user_id'), high=Max('user_id')))
        self.assertEqual(result['n'], len(NICKS))
        across = Profile.objects.all_shards().aggregate(mean=Avg('user_id'))
        self.assertAlmostEqual(across['mean'], sum(range(len(NICKS))) / float(len(NICKS)))

    def test_update_and_delete_reach_every_shard(self):
        self.assertEqual(Profile.objects.all_shards().filter(nick__in=['alpha', 'delta'])
                         .update(nick='changed'), 3)
        self.assertEqual(harness.where_is('testapp_profile', 'nick', 'changed'),
                         ['shard0', 'shard1'])
        self.assertEqual(harness.where_is('testapp_profile', 'nick', 'alpha'), ['default'])
        Profile.objects.all_shards().filter(nick='echo').delete()
        self.assertEqual(harness.where_is('testapp_profile', 'nick', 'echo'), ['default'])

    def test_a_failing_shard_is_named_and_nothing_is_returned(self):
        from djpatch_multidb import ShardQueryError
        harness.execute('shard2', 'DROP TABLE testapp_note')
        try:
            try:
                list(Note.objects.all_shards())
            except ShardQueryError as error:
                self.assertEqual(error.alias, 'shard2')
                self.assertTrue("'shard2'" in str(error), str(error))
            else:
                self.fail('a shard without its table went unnoticed')
        finally:
            harness.create_model_tables('shard2', [Note])


class ForeignKeysAcrossDatabases(DatabaseTest):

    def setUp(self):
        DatabaseTest.setUp(self)
        self.author = Author.objects.create(name='writer')
        self.account = Account.objects.create(name='acct', author=self.author)
        self.post = Post.objects.create(account=self.account, title='hello')

    def test_rows_land_in_their_own_databases(self):
        self.assertOnlyOn('testapp_account', 'id', self.account.id, 'shard%d' % (self.account.id % 4))
        self.assertOnlyOn('testapp_post', 'title', 'hello', 'blogdb')
        self.assertOnlyOn('testapp_author', 'name', 'writer', 'default')

    def test_following_a_foreign_key_loads_from_the_related_models_database(self):
        post = Post.objects.get(title='hello')
        self.assertEqual(post.account.name, 'acct')
        self.assertEqual(post.account.author.name, 'writer')

    @patched_only('a reverse relation into a shard group cannot know the shard: all_shards() or using_shard() (ShardNotSelected says so)')
    def test_reverse_relations_query_the_related_models_database(self):
        account = Account.objects.shard_for(self.account.id).get(pk=self.account.id)
        self.assertEqual([p.title for p in account.post_set.all()], ['hello'])
        author = Author.objects.get(name='writer')
        self.assertEqual([a.name for a in author.account_set.all()], ['acct'])
        self.assertEqual(author.account_set.count(), 1)

    @patched_only("Django joins as asked; select_related() across databases is the application's to avoid")
    def test_select_related_never_joins_across_databases(self):
        from django.conf import settings
        settings.DEBUG = True
        try:
            posts = list(Post.objects.select_related())
            posts += list(Post.objects.select_related('account'))
            sql = ' '.join([q['sql'] for q in connections['blogdb'].queries])
            self.assertFalse('testapp_account' in sql, sql)
            self.assertEqual([p.account.name for p in posts], ['acct', 'acct'])
        finally:
            settings.DEBUG = False

    @patched_only('Django does not check joins against routers')
    def test_a_filter_that_needs_a_join_across_databases_is_refused(self):
        try:
            Post.objects.filter(account__name='acct')
        except CrossDatabaseQuery as error:
            text = str(error)
            self.assertTrue("'blogdb'" in text and "group 'users'" in text, text)
            self.assertTrue('testapp.Post' in text and 'testapp.Account' in text, text)
        else:
            self.fail('a join across databases was not refused')
        self.assertRaises(CrossDatabaseQuery, Author.objects.filter, account__name='x')
        self.assertEqual([p.title for p in Post.objects.filter(account=self.account)], ['hello'])
        self.assertEqual(Post.objects.filter(account__id=self.account.id).count(), 1)
        self.assertEqual(Post.objects.filter(account__in=[self.account.id]).count(), 1)

    @patched_only("Django's collector deletes related rows on the deleted object's database only")
    def test_deleting_cascades_in_every_database(self):
        Account.objects.create(name='second', author=self.author)
        Post.objects.create(account=self.account, title='another')
        Author.objects.get(name='writer').delete()
        for alias in harness.SHARDS:
            self.assertEqual(harness.rows(alias, 'testapp_account'), [])
        self.assertEqual(harness.rows('blogdb', 'testapp_post'), [])
        self.assertEqual(harness.rows('default', 'testapp_author'), [])

    @patched_only("Django's collector deletes related rows on the deleted object's database only")
    def test_deleting_an_account_deletes_its_posts_on_blogdb(self):
        other = Account.objects.create(name='keeps its post')
        Post.objects.create(account=other, title='kept')
        Account.objects.shard_for(self.account.id).get(pk=self.account.id).delete()
        self.assertEqual(harness.column('blogdb', 'testapp_post', 'title'), ['kept'])


class KeysNeverReachSQL(DatabaseTest):

    def test_a_shard_key_from_request_data_only_picks_the_shard(self):
        from django.conf import settings
        from djpatch_multidb.base import config
        saved = settings.MULTIDB_SHARDS
        evil = "7'; DROP TABLE testapp_profile; --"
        settings.MULTIDB_SHARDS = {'users': {'SHARDS': harness.SHARDS, 'KEY': 'crc32'}}
        settings.DEBUG = True
        config.reload()
        try:
            user_id = [n for n in range(100) if crc32(n, 4) == crc32(evil, 4)][0]
            with using_shard_for(evil):
                Profile.objects.create(user_id=user_id, nick='keyed')
            self.assertEqual(Profile.objects.shard_for(evil).count(), 1)
            logged = []
            for alias in harness.SHARDS:
                logged.extend([q['sql'] for q in connections[alias].queries])
            self.assertTrue(logged)
            self.assertFalse([sql for sql in logged if 'DROP' in sql or evil in sql], logged)
            self.assertOnlyOn('testapp_profile', 'nick', 'keyed', 'shard%d' % crc32(evil, 4))
        finally:
            settings.MULTIDB_SHARDS = saved
            settings.DEBUG = False
            config.reload()
