"""Deletes, signal handlers, subqueries and joins never reach the wrong database."""
from __future__ import absolute_import

import django
from base import raw_connection
connection = raw_connection()

import harness
from base import DatabaseTest, commit_unless_managed, patched_only
from django.db import transaction
from django.db.models import Q, signals
from djpatch_multidb import CrossDatabaseQuery, config, connections, using_shard
from testapp.models import Account, Author, Entry, Note, Post, Profile, Tag


def shard_of(account):
    return 'shard%d' % (account.id % 4)


class NoReplicaOfDefault(DatabaseTest):
    """'default' without a replica: a model nothing places is read and written
    by Django's own code, untouched, as on most sites."""

    def setUp(self):
        from django.conf import settings
        self.saved_replicas = settings.MULTIDB_REPLICAS
        settings.MULTIDB_REPLICAS = {'shard1': ['shard1_replica']}
        config.reload()
        DatabaseTest.setUp(self)

    def tearDown(self):
        from django.conf import settings
        try:
            DatabaseTest.tearDown(self)
        finally:
            settings.MULTIDB_REPLICAS = self.saved_replicas
            config.reload()


class CollectedInOrder(object):
    """Hand the collected models to the delete in a given order, as Python 2's
    dict order may: ``first`` first (or last)."""

    def __init__(self, first, last=False):
        self.first = first
        self.last = last

    def __enter__(self):
        from django.db.models.query import CollectedObjects
        self.saved = CollectedObjects.__dict__['unordered_keys']
        saved, first, last = self.saved, self.first, self.last

        def unordered_keys(collected):
            keys = saved(collected)
            keys.sort(key=lambda model: (model is first) == last)
            return keys
        CollectedObjects.unordered_keys = unordered_keys

    def __exit__(self, *exc_info):
        from django.db.models.query import CollectedObjects
        CollectedObjects.unordered_keys = self.saved
        return False


ORDERS = ((Author, False), (Author, True), (Post, False), (Account, False))


@patched_only("Django's collector deletes related rows on the deleted object's database only")
class DeletesRunWhereTheirRowsAre(NoReplicaOfDefault):

    def make_rows(self, name):
        author = Author.objects.create(name=name)
        accounts = [Account.objects.create(name=name + str(i), author=author) for i in range(2)]
        for account in accounts:
            Post.objects.create(account=account, title=name)
        return author, accounts

    def assertRowsOf(self, name, accounts, present):
        self.assertEqual(harness.column('default', 'testapp_author', 'name').count(name),
                         present and 1 or 0)
        for account in accounts:
            self.assertEqual(harness.where_is('testapp_account', 'id', account.id),
                             present and [shard_of(account)] or [])
        self.assertEqual(harness.column('blogdb', 'testapp_post', 'title').count(name),
                         present and len(accounts) or 0)

    def test_an_object_loaded_with_no_context_and_no_placement_knows_it_came_from_default(self):
        Author.objects.create(name='plain')
        self.assertEqual(Author.objects.get(name='plain')._state.db, 'default')
        self.assertEqual([a._state.db for a in Author.objects.all()], ['default'])

    def test_every_delete_of_a_cascade_runs_on_the_database_of_its_rows_in_any_order(self):
        for index, (first, last) in enumerate(ORDERS):
            name = 'writer%d' % index
            kept, kept_accounts = self.make_rows('kept%d' % index)
            author, accounts = self.make_rows(name)
            with CollectedInOrder(first, last):
                Author.objects.get(name=name).delete()
            self.assertRowsOf(name, accounts, present=False)
            self.assertRowsOf('kept%d' % index, kept_accounts, present=True)
            for alias in harness.ALIASES:
                if alias != 'default':
                    self.assertEqual(harness.rows(alias, 'testapp_author'), [], alias)
            self.assertEqual(connections.pending(), [])

    def test_a_delete_that_fails_part_way_is_rolled_back_everywhere_and_never_committed_later(self):
        author, accounts = self.make_rows('writer')

        def fail(sender, instance, **kwargs):
            raise RuntimeError('post_delete fails after the DELETE ran')
        for first, last in ORDERS:
            signals.post_delete.connect(fail, sender=Author)
            try:
                with CollectedInOrder(first, last):
                    self.assertRaises(RuntimeError, Author.objects.get(name='writer').delete)
            finally:
                signals.post_delete.disconnect(fail, sender=Author)
            Author.objects.create(name='the next write')
            Profile.objects.shard(1).create(user_id=1, nick='the next write')
            Entry.objects.create(title='the next write')
            self.assertRowsOf('writer', accounts, present=True)
        self.assertEqual(connections.pending(), [])

    def test_inside_commit_on_success_a_cascade_commits_or_rolls_back_everywhere(self):
        author, accounts = self.make_rows('writer')

        def delete_then_fail():
            Author.objects.get(name='writer').delete()
            raise RuntimeError('after the delete')
        for first, last in ORDERS:
            with CollectedInOrder(first, last):
                self.assertRaises(RuntimeError, transaction.commit_on_success(delete_then_fail))
            self.assertRowsOf('writer', accounts, present=True)
        with CollectedInOrder(Post):
            transaction.commit_on_success(Author.objects.get(name='writer').delete)()
        self.assertRowsOf('writer', accounts, present=False)

    def test_inside_commit_manually_a_cascade_waits_for_the_callers_commit_or_rollback(self):
        author, accounts = self.make_rows('writer')
        seen = []

        def delete(finish):
            Author.objects.get(name='writer').delete()
            seen.append(sorted(connections.written()))
            finish()
        for first, last in ORDERS:
            with CollectedInOrder(first, last):
                transaction.commit_manually(delete)(transaction.rollback)
            self.assertRowsOf('writer', accounts, present=True)
        self.assertEqual(seen[0], sorted(['blogdb', 'default'] + [shard_of(a) for a in accounts]))
        with CollectedInOrder(Account):
            transaction.commit_manually(delete)(transaction.commit)
        self.assertRowsOf('writer', accounts, present=False)


@patched_only('Django 1.2+ runs signal handlers with no database selected for raw SQL')
class RawSqlInSignalHandlers(DatabaseTest):
    """A handler's raw SQL goes where it goes for a plain save(): the caller's
    contexts decide, not the database of the object saved or deleted."""

    def setUp(self):
        DatabaseTest.setUp(self)
        for alias in harness.ALIASES:
            harness.execute(alias, 'INSERT INTO testapp_tag (label) VALUES (?)', (alias,))
        self.seen = []
        for signal in (signals.post_save, signals.post_delete):
            for model in (Profile, Note, Account, Entry):
                signal.connect(self.handler, sender=model)

    def tearDown(self):
        for signal in (signals.post_save, signals.post_delete):
            for model in (Profile, Note, Account, Entry):
                signal.disconnect(self.handler, sender=model)
        DatabaseTest.tearDown(self)

    def handler(self, sender, instance, **kwargs):
        cursor = connection.cursor()
        cursor.execute('SELECT label FROM testapp_tag')
        self.seen.append(cursor.fetchone()[0])

    def where_raw_sql_went(self, operation):
        del self.seen[:]
        operation()
        commit_unless_managed()
        return self.seen

    def test_outside_any_context_post_save_handlers_run_raw_sql_on_default(self):
        profile = Profile.objects.shard(1).create(user_id=1, nick='one')
        self.assertEqual(self.where_raw_sql_went(
            lambda: Profile.objects.shard(1).get(user_id=1).save()), ['default'])
        self.assertEqual(self.where_raw_sql_went(
            lambda: Account.objects.create(name='created')), ['default'])
        self.assertEqual(self.where_raw_sql_went(
            lambda: Profile.objects.shard(2).get_or_create(user_id=2, nick='got')), ['default'])
        self.assertEqual(self.where_raw_sql_went(
            lambda: Profile.objects.shard(1).get(pk=profile.pk).note_set.create(text='n')),
            ['default'])
        self.assertEqual(harness.column('shard2', 'testapp_profile', 'nick'), ['got'])
        self.assertEqual(harness.column('shard1', 'testapp_note', 'text'), ['n'])

    def test_inside_using_shard_post_save_handlers_run_raw_sql_on_that_shard(self):
        profile = Profile.objects.shard(1).create(user_id=1, nick='one')

        def in_shard_3(operation):
            def run():
                with using_shard(3):
                    operation()
            return run
        self.assertEqual(self.where_raw_sql_went(in_shard_3(
            lambda: Entry.objects.create(title='on blogdb'))), ['shard3'])
        self.assertEqual(self.where_raw_sql_went(in_shard_3(
            lambda: Profile.objects.shard(2).get_or_create(user_id=2, nick='got'))), ['shard3'])
        self.assertEqual(self.where_raw_sql_went(in_shard_3(
            lambda: Profile.objects.shard(1).get(pk=profile.pk).note_set.create(text='n'))),
            ['shard3'])
        self.assertEqual(harness.column('shard1', 'testapp_note', 'text'), ['n'])
        self.assertEqual(harness.column('blogdb', 'testapp_entry', 'title'), ['on blogdb'])

    def test_post_delete_handlers_run_raw_sql_where_a_plain_save_would(self):
        profile = Profile.objects.shard(1).create(user_id=1, nick='one')
        Note.objects.shard(1).create(profile=profile, text='n')
        Profile.objects.shard(2).create(user_id=2, nick='two')
        self.assertEqual(self.where_raw_sql_went(
            lambda: Profile.objects.shard(1).get(pk=profile.pk).delete()), ['default', 'default'])
        self.assertEqual(self.where_raw_sql_went(
            lambda: Profile.objects.shard(2).filter(user_id=2).delete()), ['default'])
        self.assertEqual(harness.rows('shard1', 'testapp_note'), [])
        self.assertEqual(harness.rows('shard2', 'testapp_profile'), [])


@patched_only('Django 1.2+ compiles a queryset value into the outer query')
class SubqueriesAcrossDatabases(DatabaseTest):

    def setUp(self):
        DatabaseTest.setUp(self)
        self.author = Author.objects.create(name='writer')
        Author.objects.create(name='other')
        self.account = Account.objects.create(name='acct', author=self.author)
        self.post = Post.objects.create(account=self.account, title='hello')
        self.assertOnlyOn('testapp_account', 'id', self.account.id, shard_of(self.account))
        self.assertOnlyOn('testapp_post', 'title', 'hello', 'blogdb')

    def test_filter_in_a_queryset_of_another_database_reads_it_there_and_passes_the_values(self):
        accounts = Account.objects.shard_for(self.account.id)
        self.assertEqual([p.title for p in Post.objects.filter(account__in=accounts)], ['hello'])
        self.assertEqual(Post.objects.filter(account__in=accounts.filter(name='acct')).count(), 1)
        self.assertEqual(Post.objects.exclude(account__in=accounts).count(), 0)
        self.assertEqual(Post.objects.filter(Q(title='x') | Q(account__in=accounts)).count(), 1)
        authors = Author.objects.filter(pk__in=accounts.values('author'))
        self.assertEqual([a.name for a in authors], ['writer'])
        authors = Author.objects.filter(pk__in=accounts.values_list('author_id', flat=True))
        self.assertEqual([a.name for a in authors], ['writer'])
        posts = Post.objects.filter(account__in=Account.objects.shard(
            (self.account.id + 1) % 4))
        self.assertEqual(list(posts), [])

    def test_a_multi_field_values_queryset_of_another_database_is_refused_as_django_does(self):
        accounts = Account.objects.shard_for(self.account.id).values('id', 'name')
        self.assertRaises(TypeError, lambda: list(Post.objects.filter(account__in=accounts)))

    def test_a_subquery_within_one_database_stays_one_query_there(self):
        from django.conf import settings
        tag = Tag.objects.create(label='t')
        entry = Entry.objects.create(title='tagged')
        entry.tags.add(tag)
        settings.DEBUG = True
        try:
            connections['blogdb'].queries = []
            entries = Entry.objects.filter(tags__in=Tag.objects.filter(label='t'))
            self.assertEqual([e.title for e in entries], ['tagged'])
            # Django 1.0 reads a queryset value first, in its own query; 1.1 nests it.
            self.assertEqual(len(connections['blogdb'].queries), django.VERSION[:2] == (1, 0) and 2 or 1)
            self.assertEqual(connections['default'].queries, [])
        finally:
            settings.DEBUG = False

    def test_order_by_values_and_values_list_across_databases_are_refused(self):
        for build, what in ((lambda: Post.objects.order_by('-account__name'), 'order_by()'),
                            (lambda: Post.objects.values('title', 'account__name'), 'values()'),
                            (lambda: Post.objects.values_list('account__name'), 'values_list()'),
                            (lambda: Author.objects.order_by('account__name'), 'order_by()'),
                            (lambda: Author.objects.values('account__name'), 'values()')):
            try:
                build()
            except CrossDatabaseQuery as error:
                self.assertTrue(what in str(error), str(error))
            else:
                self.fail('%s across databases was not refused' % what)
        self.assertEqual(Post.objects.order_by('account', '-title').count(), 1)
        self.assertEqual(list(Post.objects.values_list('account', flat=True)), [self.account.id])
        self.assertEqual(list(Post.objects.values('account_id')), [{'account_id': self.account.id}])
        profile = Profile.objects.shard(1).create(user_id=1, nick='ann')
        Note.objects.shard(1).create(profile=profile, text='n')
        self.assertEqual(list(Note.objects.shard(1).order_by('profile__nick')
                              .values_list('text', 'profile__nick')), [('n', 'ann')])
