# -*- coding: utf-8 -*-
"""all_shards() answers exactly what one database holding the union of the
shards would answer (distinct rows, text ordering by the backend's collation,
aggregates), a reverse relation into a shard group writes where the key says,
and an unsaved ShardedIdField object is refused on delete() without a ticket.
Every expectation is read from the databases directly."""
from __future__ import absolute_import

import django
from unittest import skipIf
from django.core.exceptions import ImproperlyConfigured

import harness
from base import DatabaseTest, patched_only
from testapp.models import Account, Author, Profile

# Accented and mixed-case names: a case- and accent-insensitive collation
# (MariaDB's utf8_general_ci) and a byte order (SQLite's BINARY) sort them
# differently, and neither as Python's str.lower() would.
NAMES = [u'\xc9mile', u'emily', u'Zo\xeb', u'zoe', u'\xc5sa', u'ant', u'Anton', u'bob',
         u'\xe9mile', u'Bob', u'zulu', u'Emil', u'\xe5sa', u'ANT', u'Zoe', u'asa']


def one_database_order(order_by):
    """The user ids in the order 'default' (holding every row) gives, read directly."""
    return [row[0] for row in harness.execute(
        'default', 'SELECT user_id FROM testapp_profile ORDER BY %s' % order_by)]


def ticket():
    """The last id the ticket table handed out, read directly."""
    found = harness.execute('default', 'SELECT MAX(id) FROM djpatch_multidb_ids_ids')
    return found and found[0][0] or None


class TextOrderingFollowsTheCollation(DatabaseTest):

    def setUp(self):
        DatabaseTest.setUp(self)
        for user_id, nick in enumerate(NAMES):
            Profile.objects.create(user_id=user_id, nick=nick)
            Profile.objects.using('default').create(user_id=user_id, nick=nick)
        for alias in harness.SHARDS:
            self.assertEqual(len(harness.rows(alias, 'testapp_profile')), 4)

    def test_rows_ordered_by_text_come_out_as_one_database_sorts_them(self):
        for order_by, sql in ((('nick', 'user_id'), 'nick, user_id'),
                              (('-nick', 'user_id'), 'nick DESC, user_id'),
                              (('nick', '-user_id'), 'nick, user_id DESC')):
            across = [p.user_id for p in Profile.objects.all_shards().order_by(*order_by)]
            self.assertEqual(across, one_database_order(sql), order_by)

    def test_values_and_slices_ordered_by_text_follow_the_collation(self):
        expected = one_database_order('nick, user_id')
        rows = Profile.objects.all_shards().order_by('nick', 'user_id').values_list('user_id', 'nick')
        self.assertEqual([r[0] for r in rows], expected)
        dicts = Profile.objects.all_shards().order_by('nick', 'user_id').values('nick', 'user_id')
        self.assertEqual([d['user_id'] for d in dicts], expected)
        sliced = Profile.objects.all_shards().order_by('nick', 'user_id')[3:9]
        self.assertEqual([p.user_id for p in sliced], expected[3:9])

    @patched_only("Django's own transactions are per alias: atomic(using=...)")
    def test_inside_a_transaction_its_own_writes_are_merged_in_collation_order(self):
        from django.db import transaction
        Profile.objects.using('default').create(user_id=101, nick=u'\xe9mily')
        seen = []

        def write_read_and_fail():
            Profile.objects.create(user_id=101, nick=u'\xe9mily')      # shard1, not committed
            seen.extend([p.user_id for p in
                         Profile.objects.all_shards().order_by('nick', 'user_id')])
            raise RuntimeError('roll back')
        self.assertRaises(RuntimeError, transaction.commit_on_success(write_read_and_fail))
        self.assertEqual(seen, one_database_order('nick, user_id'))
        self.assertEqual(harness.where_is('testapp_profile', 'user_id', 101), ['default'])

    def test_an_ordering_whose_collation_differs_between_shards_is_refused(self):
        if harness.is_mysql('shard2'):
            harness.execute('shard2', 'ALTER TABLE testapp_profile MODIFY nick VARCHAR(50) '
                                      'CHARACTER SET utf8 COLLATE utf8_bin NOT NULL')
        else:
            harness.execute('shard2', 'DROP TABLE testapp_profile')
            harness.execute('shard2', 'CREATE TABLE testapp_profile (id INTEGER PRIMARY KEY, '
                                      'user_id INTEGER NOT NULL, '
                                      'nick VARCHAR(50) COLLATE NOCASE NOT NULL)')
        try:
            try:
                list(Profile.objects.all_shards().order_by('nick'))
            except ImproperlyConfigured as error:
                text = str(error)
                self.assertTrue("'shard2'" in text and 'nick' in text, text)
            else:
                self.fail('a text ordering over shards of different collations was merged')
            # Orderings that do not compare text still merge.
            held = []
            for alias in harness.SHARDS:
                held.extend(harness.column(alias, 'testapp_profile', 'user_id'))
            self.assertEqual([p.user_id for p in Profile.objects.all_shards().order_by('user_id')],
                             sorted(held))
        finally:
            if harness.is_mysql('shard2'):
                harness.execute('shard2', 'ALTER TABLE testapp_profile MODIFY nick VARCHAR(50) '
                                          'CHARACTER SET utf8 COLLATE utf8_general_ci NOT NULL')
            else:
                harness.execute('shard2', 'DROP TABLE testapp_profile')
                harness.create_model_tables('shard2', [Profile])


class IterationStreams(DatabaseTest):

    def setUp(self):
        DatabaseTest.setUp(self)
        # More rows on shard0 than a reader hands over at once.
        conn = harness.connect('shard0')
        try:
            mark = harness.is_mysql('shard0') and '%s' or '?'
            conn.cursor().executemany(
                'INSERT INTO testapp_profile (user_id, nick) VALUES (%s, %s)' % (mark, mark),
                [(4 * n, 'row %d' % n) for n in range(1000)])
            conn.commit()
        finally:
            conn.close()
        Profile.objects.create(user_id=1, nick='on shard1')

    def test_a_loop_may_save_each_row_while_the_shards_are_still_being_read(self):
        seen = 0
        for profile in Profile.objects.all_shards().order_by('user_id'):
            if profile.user_id % 200 == 0:
                profile.nick = 'saved in the loop'
                profile.save()
            seen += 1
        self.assertEqual(seen, 1001)
        self.assertEqual(harness.execute('shard0', "SELECT COUNT(*) FROM testapp_profile "
                                                   "WHERE nick = 'saved in the loop'"), [(20,)])

    def test_a_loop_left_early_leaves_no_reader_behind(self):
        import threading
        before = threading.active_count()
        for profile in Profile.objects.all_shards().order_by('user_id'):
            break
        rows = Profile.objects.all_shards().order_by('-user_id')
        self.assertEqual(rows[0].user_id, 3996)
        self.assertEqual(threading.active_count(), before)
        harness.execute('shard0', "UPDATE testapp_profile SET nick = 'after' WHERE user_id = 0")
        self.assertEqual(Profile.objects.shard(0).get(user_id=0).nick, 'after')


class DistinctAcrossShards(DatabaseTest):

    def setUp(self):
        DatabaseTest.setUp(self)
        # user ids 0..7: 'same' lands on all four shards, 'pair' on two.
        nicks = ['same', 'same', 'same', 'same', 'pair', 'Pair', 'solo', 'pair']
        for user_id, nick in enumerate(nicks):
            Profile.objects.create(user_id=user_id, nick=nick)
            Profile.objects.using('default').create(user_id=user_id, nick=nick)

    def expected(self):
        return [row[0] for row in harness.execute(
            'default', 'SELECT DISTINCT nick FROM testapp_profile ORDER BY nick')]

    def comparable(self, nicks):
        # MariaDB's case-insensitive collation keeps one of 'pair' and 'Pair'.
        if harness.is_mysql('shard0'):
            return [n.lower() for n in nicks]
        return list(nicks)

    def test_distinct_values_are_distinct_across_shards(self):
        found = list(Profile.objects.all_shards().order_by('nick')
                     .values_list('nick', flat=True).distinct())
        self.assertEqual(self.comparable(found), self.comparable(self.expected()))
        unordered = list(Profile.objects.all_shards().values_list('nick', flat=True).distinct())
        self.assertEqual(sorted(self.comparable(unordered)),
                         sorted(self.comparable(self.expected())))
        dicts = list(Profile.objects.all_shards().order_by('nick').values('nick').distinct())
        self.assertEqual(self.comparable([d['nick'] for d in dicts]),
                         self.comparable(self.expected()))

    def test_distinct_count_counts_each_value_once(self):
        expected = len(self.expected())
        query = Profile.objects.all_shards().values_list('nick', flat=True).distinct()
        self.assertEqual(query.count(), expected)
        self.assertEqual(Profile.objects.all_shards().values('nick').distinct().count(), expected)
        # Whole rows differ (ids, user ids): every row counts.
        self.assertEqual(Profile.objects.all_shards().distinct().count(), 8)


class PrintedAsAQuerysetIs(DatabaseTest):

    def test_all_shards_prints_as_the_list_of_its_rows_like_a_queryset(self):
        for user_id in range(25):
            Profile.objects.create(user_id=user_id, nick='n%02d' % user_id)
        rows = Profile.objects.all_shards().order_by('user_id')
        listed = list(rows[:20])
        self.assertEqual(repr(rows), repr(listed + ['...(remaining elements truncated)...']))
        few = Profile.objects.all_shards().filter(user_id__lt=3).order_by('user_id')
        self.assertEqual(repr(few), repr(list(few)))


class AggregatesAcrossShards(DatabaseTest):

    def test_an_average_of_zero_is_zero(self):
        if django.VERSION[:2] < (1, 1):
            return  # Django 1.0 has no aggregation
        from django.db.models import Avg
        for user_id in (-1, 1, 0):
            Profile.objects.create(user_id=user_id, nick='z%d' % user_id)
        self.assertEqual(sorted(harness.where_is('testapp_profile', 'nick', n)[0]
                                for n in ('z-1', 'z1', 'z0')), ['shard0', 'shard1', 'shard3'])
        self.assertEqual(Profile.objects.all_shards().aggregate(Avg('user_id')),
                         {'user_id__avg': 0})
        self.assertEqual(Profile.objects.all_shards().filter(nick='none')
                         .aggregate(mean=Avg('user_id')), {'mean': None})


class WritesThroughAllShards(DatabaseTest):
    """A reverse relation into a shard group (author.account_set), and
    all_shards() itself, create where the new row's key says."""

    def setUp(self):
        DatabaseTest.setUp(self)
        self.author = Author.objects.create(name='owner')

    def assertOnItsShard(self, account):
        self.assertOnlyOn('testapp_account', 'id', account.id, 'shard%d' % (account.id % 4))
        self.assertEqual(harness.execute('shard%d' % (account.id % 4),
                                         'SELECT author_id FROM testapp_account WHERE id = ?',
                                         (account.id,)), [(self.author.id,)])

    @patched_only('a reverse relation into a shard group is refused (ShardNotSelected)')
    def test_a_reverse_manager_creates_on_the_shard_of_the_new_key(self):
        author = Author.objects.get(name='owner')
        made = [author.account_set.create(name='a%d' % n) for n in range(4)]
        for account in made:
            self.assertOnItsShard(account)
        self.assertEqual(author.account_set.count(), 4)

    @patched_only('a reverse relation into a shard group is refused (ShardNotSelected)')
    def test_a_reverse_manager_get_or_create_finds_on_any_shard_or_creates_by_key(self):
        author = Author.objects.get(name='owner')
        first, created = author.account_set.get_or_create(name='first')
        self.assertTrue(created)
        self.assertOnItsShard(first)
        again, created = author.account_set.get_or_create(name='first')
        self.assertFalse(created)
        self.assertEqual(again.id, first.id)
        self.assertEqual(sum(len(harness.rows(a, 'testapp_account')) for a in harness.SHARDS), 1)

    @patched_only('a reverse relation into a shard group is refused (ShardNotSelected)')
    def test_a_reverse_manager_latest_is_the_latest_of_every_shard(self):
        author = Author.objects.get(name='owner')
        made = [author.account_set.create(name='a%d' % n) for n in range(5)]
        Account.objects.create(name='other author')    # a later id, not the author's
        newest = max(a.id for a in made)
        self.assertEqual(author.account_set.latest('id').id, newest)
        self.assertEqual(author.account_set.latest('id').name, 'a4')
        self.assertRaises(Account.DoesNotExist,
                          Author.objects.create(name='nobody').account_set.latest, 'id')

    def test_all_shards_creates_gets_or_creates_and_finds_the_latest(self):
        made = Account.objects.all_shards().create(name='made', author=self.author)
        self.assertOnItsShard(made)
        found, created = Account.objects.all_shards().get_or_create(
            name='made', defaults={'author': self.author})
        self.assertEqual((found.id, created), (made.id, False))
        other, created = Account.objects.all_shards().get_or_create(
            name='other', defaults={'author': self.author})
        self.assertTrue(created)
        self.assertOnItsShard(other)
        self.assertEqual(Account.objects.all_shards().latest('id').id, max(made.id, other.id))


class UnsavedShardedIdObjects(DatabaseTest):

    def setUp(self):
        DatabaseTest.setUp(self)
        self.saved = Account.objects.create(name='saved before')

    def test_deleting_an_unsaved_object_raises_djangos_error_and_deletes_nothing(self):
        unsaved = Account(name='never saved')
        expected = type(_django_refusal())
        if django.VERSION[:2] < (2, 0):
            self.assertEqual(expected, AssertionError)
        self.assertRaises(expected, unsaved.delete)
        self.assertEqual(unsaved.id, None)
        for alias in harness.SHARDS:
            self.assertEqual(harness.column(alias, 'testapp_account', 'name'),
                             (alias == 'shard%d' % (self.saved.id % 4)) and ['saved before'] or [])
        unsaved.save()          # saving it afterwards still numbers and places it
        self.assertOnlyOn('testapp_account', 'name', 'never saved', 'shard%d' % (unsaved.id % 4))

    @skipIf(harness.NATIVE and django.VERSION[:2] < (2, 0),
            'Django 1.2 to 1.11 ask the router for the database of a delete() before checking '
            'the primary key, and the router needs the id to name the shard: one ticket is spent')
    def test_deleting_an_unsaved_object_takes_no_ticket(self):
        before = ticket()
        unsaved = Account(name='never saved')
        self.assertRaises(Exception, unsaved.delete)
        self.assertEqual(ticket(), before)
        self.assertEqual(before, self.saved.id)


def _django_refusal():
    """What Django itself raises on delete() of an unsaved object (AssertionError up
    to Django 2.x, ValueError later), from a model no router places."""
    try:
        Author(name='unsaved').delete()
    except Exception as error:
        return error
    return None
