"""Every ORM operation lands on the database MULTIDB_MODELS or the context picks,
as read back through each database's own DB-API connection."""
from __future__ import absolute_import
import datetime

import harness
from base import DatabaseTest
from djpatch_multidb import using, using_shard
from testapp.models import Author, Entry, Event, Note, Profile, Tag


class ModelsLiveWhereConfigured(DatabaseTest):

    def test_a_model_without_placement_is_saved_on_default(self):
        Author(name='ann').save()
        self.assertOnlyOn('testapp_author', 'name', 'ann', 'default')

    def test_a_placed_model_is_inserted_on_its_database(self):
        Entry.objects.create(title='hello')
        self.assertOnlyOn('testapp_entry', 'title', 'hello', 'blogdb')

    def test_saving_a_loaded_object_updates_it_on_its_database(self):
        Entry.objects.create(title='draft')
        entry = Entry.objects.get(title='draft')
        entry.title = 'final'
        entry.save()
        self.assertRows('blogdb', 'testapp_entry', [('final',)], 'title')

    def test_get_or_create_creates_once_on_the_right_database(self):
        first, created = Entry.objects.get_or_create(title='once')
        again, created_again = Entry.objects.get_or_create(title='once')
        self.assertEqual((created, created_again), (True, False))
        self.assertEqual(first.pk, again.pk)
        self.assertRows('blogdb', 'testapp_entry', [('once',)], 'title')

    def test_queryset_update_changes_rows_on_the_right_database(self):
        Entry.objects.create(title='a')
        Entry.objects.create(title='b')
        self.assertEqual(Entry.objects.filter(title='a').update(title='c'), 1)
        self.assertRows('blogdb', 'testapp_entry', [('c',), ('b',)], 'title')

    def test_reads_count_slices_and_values_come_from_the_right_database(self):
        for n in range(5):
            Entry.objects.create(title='t%d' % n)
        harness.execute('default', "INSERT INTO testapp_entry (title) VALUES ('decoy')")
        self.assertEqual(Entry.objects.count(), 5)
        self.assertEqual([e.title for e in Entry.objects.order_by('title')[1:3]], ['t1', 't2'])
        self.assertEqual(Entry.objects.order_by('-title')[0].title, 't4')
        self.assertEqual(list(Entry.objects.order_by('title').values_list('title', flat=True))[:2],
                         ['t0', 't1'])
        self.assertEqual(list(Entry.objects.filter(title='t3').values('title')), [{'title': 't3'}])

    def test_many_to_many_rows_live_with_the_model(self):
        entry = Entry.objects.create(title='tagged')
        red, blue = Tag.objects.create(label='red'), Tag.objects.create(label='blue')
        entry.tags.add(red, blue)
        self.assertEqual(len(harness.rows('blogdb', 'testapp_entry_tags')), 2)
        self.assertEqual(harness.rows('default', 'testapp_entry_tags'), [])
        self.assertEqual(sorted([t.label for t in Entry.objects.get(pk=entry.pk).tags.all()]),
                         ['blue', 'red'])
        self.assertEqual([e.title for e in red.entry_set.all()], ['tagged'])
        entry.tags.remove(red)
        self.assertEqual(harness.rows('blogdb', 'testapp_entry_tags', 'tag_id'), [(blue.pk,)])
        entry.tags.clear()
        self.assertEqual(harness.rows('blogdb', 'testapp_entry_tags'), [])

    def test_deleting_an_entry_deletes_its_many_to_many_rows_on_its_database(self):
        entry = Entry.objects.create(title='gone')
        entry.tags.add(Tag.objects.create(label='x'))
        entry.delete()
        self.assertEqual(harness.rows('blogdb', 'testapp_entry'), [])
        self.assertEqual(harness.rows('blogdb', 'testapp_entry_tags'), [])
        self.assertEqual(len(harness.rows('blogdb', 'testapp_tag')), 1)

    def test_queryset_delete_removes_rows_only_on_the_right_database(self):
        harness.execute('default', "INSERT INTO testapp_entry (title) VALUES ('old')")
        Entry.objects.create(title='old')
        Entry.objects.create(title='new')
        Entry.objects.filter(title='old').delete()
        self.assertRows('blogdb', 'testapp_entry', [('new',)], 'title')
        self.assertRows('default', 'testapp_entry', [('old',)], 'title')

    def test_a_second_engine_in_the_same_process_gets_its_own_sql(self):
        when = datetime.datetime(2009, 5, 1, 12, 30)
        Event.objects.create(name='launch', happened=when)
        self.assertOnlyOn('testapp_event', 'name', 'launch', 'eventdb')
        self.assertEqual(Event.objects.filter(happened__year=2009).count(), 1)
        self.assertEqual(Event.objects.get(name='launch').happened, when)
        # dates() gives datetimes up to Django 1.5, dates from 1.6
        self.assertEqual([d.timetuple()[:3] for d in Event.objects.dates('happened', 'month')],
                         [(2009, 5, 1)])


class ShardedModels(DatabaseTest):

    def test_using_shard_writes_and_reads_shard_n(self):
        with using_shard(2):
            profile = Profile.objects.create(user_id=6, nick='six')
            Note.objects.create(profile=profile, text='hi')
            self.assertEqual(Profile.objects.count(), 1)
        self.assertOnlyOn('testapp_profile', 'user_id', 6, 'shard2')
        self.assertOnlyOn('testapp_note', 'text', 'hi', 'shard2')

    def test_manager_shard_n_writes_and_reads_shard_n(self):
        Profile.objects.shard(3).create(user_id=11, nick='eleven')
        self.assertOnlyOn('testapp_profile', 'user_id', 11, 'shard3')
        self.assertEqual(Profile.objects.shard(3).get(user_id=11).nick, 'eleven')
        self.assertEqual(Profile.objects.shard(0).filter(user_id=11).count(), 0)

    def test_deleting_a_profile_cascades_to_its_notes_on_its_shard(self):
        with using_shard(1):
            profile = Profile.objects.create(user_id=1, nick='one')
            Note.objects.create(profile=profile, text='a')
            Note.objects.create(profile=profile, text='b')
        with using_shard(0):
            other = Profile.objects.create(user_id=4, nick='another shard')
            Note.objects.create(profile=other, text='c')
        Profile.objects.shard(1).get(user_id=1).delete()
        self.assertEqual(harness.rows('shard1', 'testapp_profile'), [])
        self.assertEqual(harness.rows('shard1', 'testapp_note'), [])
        self.assertRows('shard0', 'testapp_note', [('c',)], 'text')

    def test_queryset_delete_on_a_shard_cascades_there_only(self):
        for shard in (0, 1):
            profile = Profile.objects.shard(shard).create(user_id=4 + shard, nick='x')
            Note.objects.shard(shard).create(profile=profile, text='n%d' % shard)
        Profile.objects.shard(1).filter(user_id=5).delete()
        self.assertEqual(harness.rows('shard1', 'testapp_note'), [])
        self.assertRows('shard0', 'testapp_note', [('n0',)], 'text')

    def test_relations_are_followed_on_the_shard_the_object_came_from(self):
        profile = Profile.objects.shard(2).create(user_id=2, nick='two')
        Note.objects.shard(2).create(profile=profile, text='note')
        note = Note.objects.shard(2).get(text='note')
        self.assertEqual(note.profile.nick, 'two')
        loaded = Profile.objects.shard(2).get(user_id=2)
        self.assertEqual([n.text for n in loaded.note_set.all()], ['note'])
        loaded.note_set.create(text='second')
        self.assertEqual(sorted(harness.column('shard2', 'testapp_note', 'text')), ['note', 'second'])

    def test_select_related_joins_within_one_shard(self):
        profile = Profile.objects.shard(1).create(user_id=5, nick='five')
        Note.objects.shard(1).create(profile=profile, text='n')
        note = Note.objects.shard(1).select_related().get(text='n')
        self.assertEqual(note.profile.nick, 'five')
        note.profile.nick = 'renamed'
        note.profile.save()
        self.assertRows('shard1', 'testapp_profile', [('renamed',)], 'nick')

    def test_using_alias_sends_every_model_there(self):
        with using('shard3'):
            Author.objects.create(name='on a shard')
            Profile.objects.create(user_id=3, nick='p')
        self.assertOnlyOn('testapp_author', 'name', 'on a shard', 'shard3')
        self.assertOnlyOn('testapp_profile', 'nick', 'p', 'shard3')
