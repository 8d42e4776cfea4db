"""Deletes, signal handlers, subqueries and joins never reach the wrong database."""
from __future__ import absolute_import

import django
from base import raw_connection
connection = raw_connection()

import harness
from base import DatabaseTest, commit_unless_managed, patched_only
from django.db import transaction
from django.db.models import Q, signals
from djpatch_multidb import CrossDatabaseQuery, connections, using_shard
from djpatch_multidb.base import config
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
    """A handler's raw SQL goes where the same SQL goes outside the handler:
    the caller's blocks decide, or with none open the tables it names
    (MULTIDB_MODELS); never the database of the object saved or deleted."""

    def setUp(self):
        DatabaseTest.setUp(self)
        for alias in harness.ALIASES:
            harness.execute(alias, 'INSERT INTO testapp_tag (label) VALUES (?)', (alias,))
            harness.execute(alias, 'INSERT INTO testapp_author (name) VALUES (?)', (alias,))
        self.sql = 'SELECT label FROM testapp_tag'
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
        cursor.execute(self.sql)
        self.seen.append(cursor.fetchone()[0])

    def where_raw_sql_went(self, operation):
        del self.seen[:]
        operation()
        commit_unless_managed()
        return self.seen

    def test_outside_any_context_post_save_handlers_run_raw_sql_where_its_tables_live(self):
        profile = Profile.objects.shard(1).create(user_id=1, nick='one')
        for sql, where in (('SELECT label FROM testapp_tag', 'blogdb'),
                           ('SELECT name FROM testapp_author', 'default')):
            self.sql = sql
            self.assertEqual(self.where_raw_sql_went(lambda: self.handler(Tag, None)), [where])
            self.assertEqual(self.where_raw_sql_went(
                lambda: Profile.objects.shard(1).get(user_id=1).save()), [where])
            self.assertEqual(self.where_raw_sql_went(
                lambda: Account.objects.create(name='created')), [where])
            self.assertEqual(self.where_raw_sql_went(
                lambda: Entry.objects.create(title='on blogdb')), [where])
            self.assertEqual(self.where_raw_sql_went(
                lambda: Profile.objects.shard(2).get_or_create(user_id=2, nick='got')), [where])
            self.assertEqual(self.where_raw_sql_went(
                lambda: Profile.objects.shard(1).get(pk=profile.pk).note_set.create(text='n')),
                [where])
            self.assertEqual(harness.column('shard2', 'testapp_profile', 'nick'), ['got'])
            Profile.objects.shard(2).filter(user_id=2).delete()
        self.assertEqual(harness.column('shard1', 'testapp_note', 'text'), ['n', 'n'])
        self.assertEqual(harness.column('blogdb', 'testapp_entry', 'title'), ['on blogdb'] * 2)

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

    def test_post_delete_handlers_run_raw_sql_where_it_runs_outside_the_handler(self):
        profile = Profile.objects.shard(1).create(user_id=1, nick='one')
        Note.objects.shard(1).create(profile=profile, text='n')
        Profile.objects.shard(2).create(user_id=2, nick='two')
        self.assertEqual(self.where_raw_sql_went(
            lambda: Profile.objects.shard(1).get(pk=profile.pk).delete()), ['blogdb', 'blogdb'])
        self.sql = 'SELECT name FROM testapp_author'
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

    def test_a_queryset_value_of_another_database_is_read_when_the_query_runs_as_a_subquery_is(self):
        # The same pattern within one database shows when this Django reads a
        # queryset value: 1.1 nests it (read each time), 1.0 reads it at filter().
        within_one = Tag.objects.filter(label__in=Entry.objects.values_list('title', flat=True))
        across = Author.objects.filter(pk__in=Entry.objects.values_list('author_id', flat=True))
        not_across = Author.objects.exclude(pk__in=Entry.objects.values_list('author_id', flat=True))
        harness.execute('blogdb', 'INSERT INTO testapp_tag (label) VALUES (?)', ('later',))
        harness.execute('blogdb', 'INSERT INTO testapp_entry (title, author_id) VALUES (?, ?)',
                        ('later', self.author.id))
        read_late = within_one.count() == 1
        self.assertEqual(django.VERSION[:2] != (1, 0), read_late)
        self.assertEqual([a.name for a in across.all()], read_late and ['writer'] or [])
        self.assertEqual(not_across.count(), read_late and 1 or 2)
        if read_late:
            import pickle
            restored = pickle.loads(pickle.dumps(across.all()))
            self.assertEqual([a.name for a in restored.all()], ['writer'])
            posts = Post.objects.filter(account__in=Account.objects.shard_for(self.account.id))
            restored = pickle.loads(pickle.dumps(posts.all()))
            self.assertEqual([p.title for p in restored.all()], ['hello'])
            Entry.objects.all().delete()
            self.assertEqual(harness.rows('blogdb', 'testapp_entry'), [])
            self.assertEqual(across.count(), 0)
            self.assertEqual(sorted(a.name for a in not_across.all()), ['other', 'writer'])
        self.assertEqual(harness.rows('default', 'testapp_entry'), [])

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


@patched_only("Django's collector deletes related rows on the deleted object's database only")
class CascadesIntoShardsWithTheSamePrimaryKey(NoReplicaOfDefault):
    """Two shards may hold rows with the same primary key (each numbers its
    own); a cascade into the shard group deletes every one of them."""

    def make_author_with_accounts_numbered_alike(self, name, account_id):
        author = Author.objects.create(name=name)
        for alias in ('shard0', 'shard1'):
            harness.execute(alias, 'INSERT INTO testapp_account (id, name, author_id) '
                            'VALUES (?, ?, ?)', (account_id, name + ' on ' + alias, author.id))
        return author

    def test_deleting_an_object_deletes_its_related_rows_that_share_a_key_on_two_shards(self):
        author = self.make_author_with_accounts_numbered_alike('ann', 1000)
        kept = self.make_author_with_accounts_numbered_alike('kept', 1004)
        self.assertEqual(sorted(a.name for a in Author.objects.get(pk=author.pk).account_set.all()),
                         ['ann on shard0', 'ann on shard1'])
        Author.objects.get(pk=author.pk).delete()
        self.assertEqual(harness.where_is('testapp_account', 'id', 1000), [])
        self.assertEqual(harness.where_is('testapp_account', 'id', 1004), ['shard0', 'shard1'])
        self.assertEqual(harness.column('default', 'testapp_author', 'name'), ['kept'])
        self.assertEqual(kept.account_set.count(), 2)

    def test_a_queryset_delete_deletes_related_rows_that_share_a_key_on_two_shards(self):
        self.make_author_with_accounts_numbered_alike('ann', 1000)
        self.make_author_with_accounts_numbered_alike('bob', 1001)
        harness.execute('shard2', 'INSERT INTO testapp_account (id, name, author_id) '
                        'VALUES (?, ?, ?)', (1000, 'kept', None))
        Author.objects.filter(name__in=['ann', 'bob']).delete()
        self.assertEqual(harness.rows('shard2', 'testapp_account', 'id, name'), [(1000, 'kept')])
        for alias in ('shard0', 'shard1'):
            self.assertEqual(harness.rows(alias, 'testapp_account'), [], alias)
        self.assertEqual(harness.rows('default', 'testapp_author'), [])


@patched_only("Django's many-to-many managers write through the one connection")
class ManyToManyIntoAnotherDatabase(DatabaseTest):
    """Entry (blogdb) declares a ManyToManyField to Tag, placed here on
    'default': the join table lives with Entry, on blogdb (the harness creates
    it on every alias, so a wrong database would not fail by itself)."""

    def setUp(self):
        from django.conf import settings
        self.saved_models = settings.MULTIDB_MODELS
        models = dict(self.saved_models)
        del models['testapp.Tag']
        settings.MULTIDB_MODELS = models
        config.reload()
        DatabaseTest.setUp(self)
        self.tag = Tag.objects.create(label='t')
        self.other_tag = Tag.objects.create(label='u')
        self.stand_in(self.tag, self.other_tag)
        self.entry = Entry.objects.create(title='e')
        self.assertOnlyOn('testapp_tag', 'label', 't', 'default')
        self.assertOnlyOn('testapp_entry', 'title', 'e', 'blogdb')

    def stand_in(self, *tags):
        """On MariaDB the harness's join tables have a foreign key constraint
        on the tag table of their own database (Tag lives with Entry in the
        suite's placement): rows standing in for the tags satisfy it."""
        for alias in ('blogdb',) + harness.SHARDS:
            for tag in tags:
                harness.execute(alias, 'INSERT INTO testapp_tag (id, label) VALUES (?, ?)',
                                (tag.id, 'stand-in %d' % tag.id))

    def tearDown(self):
        from django.conf import settings
        try:
            DatabaseTest.tearDown(self)
        finally:
            settings.MULTIDB_MODELS = self.saved_models
            config.reload()

    def join_rows(self, alias='blogdb'):
        return harness.rows(alias, 'testapp_entry_tags', 'entry_id, tag_id', order='tag_id')

    def assertNoJoinRowsBut(self, alias):
        for other in harness.ALIASES:
            if other != alias:
                self.assertEqual(self.join_rows(other), [], other)

    def test_add_remove_and_clear_write_the_join_table_where_the_declaring_model_lives(self):
        entry_id, tag_id, other_id = self.entry.id, self.tag.id, self.other_tag.id
        Entry.objects.get(pk=entry_id).tags.add(self.tag)
        commit_unless_managed()
        self.assertEqual(self.join_rows(), [(entry_id, tag_id)])
        Tag.objects.get(pk=other_id).entry_set.add(Entry.objects.get(pk=entry_id))
        commit_unless_managed()
        self.assertEqual(self.join_rows(), [(entry_id, tag_id), (entry_id, other_id)])
        self.assertNoJoinRowsBut('blogdb')
        Entry.objects.get(pk=entry_id).tags.remove(self.tag)
        commit_unless_managed()
        self.assertEqual(self.join_rows(), [(entry_id, other_id)])
        Tag.objects.get(pk=other_id).entry_set.clear()
        commit_unless_managed()
        self.assertEqual(self.join_rows(), [])
        self.assertNoJoinRowsBut('blogdb')
        self.assertRaises(CrossDatabaseQuery, lambda: list(self.entry.tags.all()))

    def test_deleting_an_object_deletes_its_join_table_rows_where_the_declaring_model_lives(self):
        for tag in (self.tag, self.other_tag):
            harness.execute('blogdb', 'INSERT INTO testapp_entry_tags (entry_id, tag_id) '
                            'VALUES (?, ?)', (self.entry.id, tag.id))
        Tag.objects.get(pk=self.tag.pk).delete()
        self.assertEqual(self.join_rows(), [(self.entry.id, self.other_tag.id)])
        Tag.objects.filter(label='u').delete()
        self.assertEqual(self.join_rows(), [])
        self.assertEqual(harness.rows('default', 'testapp_tag'), [])
        self.assertEqual(harness.rows('blogdb', 'testapp_entry', 'title'), [('e',)])


@patched_only("Django's many-to-many managers write through the one connection")
class ManyToManyOfAShardedModelIntoAnotherDatabase(ManyToManyIntoAnotherDatabase):
    """The same with Entry placed in the 'users' shard group: the join table
    rows of an entry live on the entry's shard."""

    def setUp(self):
        from django.conf import settings
        self.saved_models = settings.MULTIDB_MODELS
        models = dict(self.saved_models)
        del models['testapp.Tag']
        models['testapp.Entry'] = 'shards:users'
        settings.MULTIDB_MODELS = models
        config.reload()
        DatabaseTest.setUp(self)
        self.tag = Tag.objects.create(label='t')
        self.stand_in(self.tag)
        self.entry = Entry.objects.shard(1).create(title='e')
        self.assertOnlyOn('testapp_tag', 'label', 't', 'default')
        self.assertOnlyOn('testapp_entry', 'title', 'e', 'shard1')

    test_add_remove_and_clear_write_the_join_table_where_the_declaring_model_lives = None
    test_deleting_an_object_deletes_its_join_table_rows_where_the_declaring_model_lives = None

    def test_add_and_remove_write_the_join_table_on_the_shard_of_the_entry(self):
        Entry.objects.shard(1).get(pk=self.entry.pk).tags.add(self.tag)
        commit_unless_managed()
        self.assertEqual(self.join_rows('shard1'), [(self.entry.id, self.tag.id)])
        Tag.objects.get(pk=self.tag.pk).entry_set.remove(Entry.objects.shard(1).get(pk=self.entry.pk))
        commit_unless_managed()
        self.assertEqual(self.join_rows('shard1'), [])
        Tag.objects.get(pk=self.tag.pk).entry_set.add(Entry.objects.shard(1).get(pk=self.entry.pk))
        commit_unless_managed()
        self.assertEqual(self.join_rows('shard1'), [(self.entry.id, self.tag.id)])
        self.assertNoJoinRowsBut('shard1')

    def test_writes_from_the_other_side_that_cannot_tell_the_shard_are_refused(self):
        from djpatch_multidb import ShardNotSelected
        harness.execute('shard1', 'INSERT INTO testapp_entry_tags (entry_id, tag_id) VALUES (?, ?)',
                        (self.entry.id, self.tag.id))
        entry2 = Entry.objects.shard(2).create(title='e2')
        tag = Tag.objects.get(pk=self.tag.pk)
        for write in (lambda: tag.entry_set.clear(),
                      lambda: tag.entry_set.add(self.entry.id),
                      lambda: tag.entry_set.add(self.entry, entry2),
                      lambda: tag.entry_set.remove(self.entry, entry2)):
            try:
                write()
            except ShardNotSelected as error:
                self.assertTrue('testapp_entry_tags' in str(error), str(error))
                self.assertTrue('shard0, shard1, shard2, shard3' in str(error), str(error))
            else:
                self.fail('a join table write on an unknown shard was not refused')
        commit_unless_managed()
        self.assertEqual(self.join_rows('shard1'), [(self.entry.id, self.tag.id)])
        self.assertNoJoinRowsBut('shard1')

    def test_deleting_a_tag_deletes_its_join_table_rows_on_every_shard(self):
        kept = Tag.objects.create(label='kept')
        self.stand_in(kept)
        entries = {'shard1': self.entry.id}
        for number in (0, 3):
            entries['shard%d' % number] = Entry.objects.shard(number).create(title='e').id
        for alias, entry_id in entries.items():
            for tag in (self.tag, kept):
                harness.execute(alias, 'INSERT INTO testapp_entry_tags (entry_id, tag_id) '
                                'VALUES (?, ?)', (entry_id, tag.id))
        Tag.objects.get(pk=self.tag.pk).delete()
        for alias, entry_id in entries.items():
            self.assertEqual(self.join_rows(alias), [(entry_id, kept.id)], alias)
        self.assertEqual(harness.column('default', 'testapp_tag', 'label'), ['kept'])
