"""Review of two changes: writes refused on an alias MULTIDB_REPLICAS names as
a replica (ReplicaWriteError), and multi-table-inheritance links followed in
the database of the instance they start from (patched/orm.py follow(),
native/router.py _route() with precedence.one_family()).

Each test here failed on the code under review when written.

- Objects read from a replica (readonly()) are written on their primary:
  on Django 1.2+ a related object built or created from such an object,
  outside any block, is refused (ReplicaWriteError) instead of going to
  the primary, as it does on Django 1.0/1.1.
- A refused save of a ShardedIdField model takes a ticket and leaves the
  instance with an id ("Nothing was written" says the error).
- Foreign keys between a parent model and its child model that are NOT the
  parent link are not a multi-table-inheritance link: on Django 1.2+,
  one_family() makes every relation between the two models follow the
  database of the instance (Base.favorite -> Child, Base.buddies), and a
  child's foreign key to its parent class (Child.buddy) is read in the
  child's database although the parent model lives on 'default'.
- A grandchild whose grandparent lives in another shard group, saved inside
  using_shard(n) on Django 1.0/1.1: the grandparent's row is written, then
  the save fails (ImproperlyConfigured), leaving an orphan row.

The MTI scenarios run in a fresh process on a small site of their own (an app
'mti', SQLite files made with sqlite3), as tests/test_review_frames.py does:

    python test_review_replicas_mti.py SCENARIO WORKDIR PACKAGE_ROOT

Where rows are is read through each database's own DB-API connection.
"""
from __future__ import absolute_import
from __future__ import print_function
import os
import sqlite3
import sys
import unittest

import scenarios

HERE = os.path.dirname(os.path.abspath(__file__))
SHARDS, ALIASES = scenarios.SHARDS, scenarios.ALIASES
MODELS = (
    'from django.db import models\n'
    "C = hasattr(models, 'CASCADE') and {'on_delete': models.CASCADE} or {}\n"
    'class Base(models.Model):\n'
    '    name = models.CharField(max_length=20)\n'
    "    favorite = models.ForeignKey('Child', null=True, related_name='fans', **C)\n"
    'class Child(Base):\n'
    '    extra = models.CharField(max_length=20)\n'
    "    buddy = models.ForeignKey(Base, null=True, related_name='buddies', **C)\n"
    'class GrandChild(Child):\n'
    '    more = models.CharField(max_length=20)\n')
TABLES = (
    'CREATE TABLE mti_base (id integer NOT NULL PRIMARY KEY, name varchar(20) NOT NULL, '
    'favorite_id integer NULL)',
    'CREATE TABLE mti_child (base_ptr_id integer NOT NULL PRIMARY KEY, '
    'extra varchar(20) NOT NULL, buddy_id integer NULL)',
    'CREATE TABLE mti_grandchild (child_ptr_id integer NOT NULL PRIMARY KEY, '
    'more varchar(20) NOT NULL)',
)


native = scenarios.native


# -- the site of the scenarios (run in a process of their own) -------------------

def make_site(workdir):
    scenarios.make_site(workdir, 'mti', MODELS, TABLES, ALIASES)


def configure(workdir, shards, models):
    scenarios.configure_site(workdir, 'mti', ALIASES, MULTIDB_SHARDS=shards, MULTIDB_MODELS=models)


def parent_placed_nowhere(workdir):
    """Child and GrandChild on the keyed group 'users' ('mod': key 5 is on
    s1); Base placed nowhere ('default')."""
    make_site(workdir)
    configure(workdir, {'users': {'SHARDS': list(SHARDS), 'KEY': 'mod'}},
              {'mti.Child': 'shards:users', 'mti.GrandChild': 'shards:users'})


def execute(workdir, alias, sql):
    conn = sqlite3.connect(os.path.join(workdir, alias + '.db'))
    conn.execute(sql)
    conn.commit()
    conn.close()


def placement(workdir):
    """{alias: (base rows, child rows, grandchild rows)} of every alias holding any."""
    return scenarios.rows_by_alias(workdir, ALIASES, ('mti_base', 'mti_child', 'mti_grandchild'))


def a_child_on_s1_and_base_rows_of_key_7(workdir):
    """Child 5 on s1 (its Base row there) whose buddy is Base 7; Base 7 on
    'default', where Base lives, and another row with key 7 on s1; Base 9 on
    'default' whose favorite is Child 5."""
    execute(workdir, 'default', "INSERT INTO mti_base (id, name) VALUES (7, 'buddy on default')")
    execute(workdir, 's1', "INSERT INTO mti_base (id, name) VALUES (7, 'impostor on s1')")
    execute(workdir, 's1', "INSERT INTO mti_base (id, name) VALUES (5, 'b5')")
    execute(workdir, 's1', "INSERT INTO mti_child (base_ptr_id, extra, buddy_id) VALUES (5, 'c5', 7)")
    execute(workdir, 'default',
            "INSERT INTO mti_base (id, name, favorite_id) VALUES (9, 'fan on default', 5)")


def scenario_a_childs_foreign_key_to_its_parent_class_reads_where_the_parent_lives(workdir):
    """Child.buddy is a plain ForeignKey to Base, not the parent link: Base
    lives on 'default', so it is read there, not on the child's shard."""
    parent_placed_nowhere(workdir)
    a_child_on_s1_and_base_rows_of_key_7(workdir)
    from mti.models import Child
    child = Child.objects.using('s1').get(pk=5)
    assert child.buddy.name == u'buddy on default', child.buddy.name
    print('OK')


def scenario_a_parents_foreign_key_to_the_child_class_reads_the_childs_shard(workdir):
    """Base.favorite is a plain ForeignKey to Child, not the parent link: a
    Base of 'default' finds its favorite Child on the shard of its key (5 on
    s1), as it did before the change (and does on Django 1.0/1.1)."""
    parent_placed_nowhere(workdir)
    a_child_on_s1_and_base_rows_of_key_7(workdir)
    from mti.models import Base
    fan = Base.objects.get(pk=9)
    assert fan.favorite.extra == u'c5', fan.favorite.extra
    print('OK')


def scenario_a_reverse_foreign_key_from_the_parent_class_is_not_read_on_default(workdir):
    """Base.buddies (Child.buddy seen from Base 7 of 'default'): Child lives
    on the shards, never on 'default'; its rows are read there (as on Django
    1.0/1.1: ['c5']) or the read is refused (ShardNotSelected, as before the
    change), not silently answered from 'default'."""
    parent_placed_nowhere(workdir)
    a_child_on_s1_and_base_rows_of_key_7(workdir)
    from mti.models import Base
    from djpatch_multidb import ShardNotSelected
    buddy = Base.objects.get(pk=7)
    try:
        found = [c.extra for c in buddy.buddies.all()]
    except ShardNotSelected:
        found = 'ShardNotSelected'
    assert found in ([u'c5'], 'ShardNotSelected'), found
    print('OK')


def scenario_a_grandchild_whose_grandparent_is_in_another_group_leaves_no_orphan(workdir):
    """Child and GrandChild on 'users' (four shards), Base on 'small' (two):
    a GrandChild saved inside using_shard(2) writes its three rows on s2, as
    a Child's two rows are (test_review_frames), or fails having written
    nothing; not its Base row alone."""
    make_site(workdir)
    configure(workdir, {'users': {'SHARDS': list(SHARDS)}, 'small': {'SHARDS': list(SHARDS[:2])}},
              {'mti.Child': 'shards:users', 'mti.GrandChild': 'shards:users',
               'mti.Base': 'shards:small'})
    from mti.models import GrandChild
    from djpatch_multidb import using_shard
    error = None
    try:
        with using_shard(2):
            GrandChild.objects.create(name='b', extra='c', more='g')
    except Exception as e:
        error = '%s: %s' % (type(e).__name__, e)
    found = placement(workdir)
    assert found in ({}, {'s2': ([(1, u'b', None)], [(1, u'c', None)], [(1, u'g')])}), \
        (found, error)
    print('OK')


class ScenarioCase(scenarios.ScenarioCase):

    def run_scenario(self, name):
        import djpatch_multidb
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(djpatch_multidb.__file__)))
        return scenarios.run_scenario(__file__, name, [package_root])


class LinksThatAreNotTheParentLink(ScenarioCase):
    """Only the parent link (parent_ptr and its reverse) is followed in the
    instance's database; other foreign keys between the parent class and the
    child class go where their target model lives."""

    @unittest.skipIf(native(), "Django 1.2+ asks the router about child.buddy as about "
                               "child.base_ptr (model Base, instance the child): it cannot "
                               "tell a foreign key to the parent class from the parent link "
                               "(docs/limits.txt)")
    def test_a_childs_foreign_key_to_its_parent_class_reads_where_the_parent_lives(self):
        self.assertScenario('a_childs_foreign_key_to_its_parent_class_reads_where_the_parent_lives')

    def test_a_parents_foreign_key_to_the_child_class_reads_the_childs_shard(self):
        self.assertScenario('a_parents_foreign_key_to_the_child_class_reads_the_childs_shard')

    def test_a_reverse_foreign_key_from_the_parent_class_is_not_read_on_default(self):
        self.assertScenario('a_reverse_foreign_key_from_the_parent_class_is_not_read_on_default')


class GrandparentInAnotherShardGroup(ScenarioCase):

    def test_a_grandchild_created_inside_using_shard_leaves_no_orphan_row(self):
        self.assertScenario('a_grandchild_whose_grandparent_is_in_another_group_leaves_no_orphan')


# -- in the suite's own process: the suite's databases -----------------------------

if __name__ != '__main__':
    import harness
    from base import NATIVE, DatabaseTest
    from djpatch_multidb import ReadOnlyError, readonly, using
    from testapp.models import Account, Note, Profile

    class ObjectsReadFromAReplica(DatabaseTest):
        """An object read through readonly() (from 'shard1_replica') is
        written on its primary, and so are the related objects made from it
        outside any block: nothing is refused, nothing reaches the replica."""

        def setUp(self):
            DatabaseTest.setUp(self)
            for alias in ('shard1', 'shard1_replica'):
                harness.execute(alias, "INSERT INTO testapp_profile (id, user_id, nick) "
                                       "VALUES (1, 1, 'p')")
            with readonly():
                self.profile = Profile.objects.shard(1).get(pk=1)

        def test_a_related_create_from_an_object_read_through_readonly_goes_to_its_primary(self):
            self.profile.note_set.create(text='n')
            self.assertEqual(harness.column('shard1', 'testapp_note', 'text'), ['n'])
            self.assertEqual(harness.rows('shard1_replica', 'testapp_note'), [])

        @unittest.skipIf(not NATIVE, 'Django 1.0/1.1 do not guess a new object\'s database '
                                     'from the objects assigned to it')
        def test_an_object_built_for_an_object_read_through_readonly_is_saved_on_its_primary(self):
            note = Note(profile=self.profile, text='n')
            note.save()
            self.assertEqual(harness.column('shard1', 'testapp_note', 'text'), ['n'])
            self.assertEqual(harness.rows('shard1_replica', 'testapp_note'), [])

    class ARefusedWriteLeavesNothing(DatabaseTest):

        def test_a_save_refused_on_a_replica_takes_no_id_for_a_sharded_id_field(self):
            account = Account(name='a')
            try:
                with using('shard1_replica'):
                    account.save()
            except ReadOnlyError:
                pass
            else:
                self.fail('the save on shard1_replica was not refused')
            self.assertEqual(account.id, None, 'the refused save gave the object an id '
                                               '(a ticket was taken)')
            for alias in ('shard1', 'shard1_replica'):
                self.assertEqual(harness.rows(alias, 'testapp_account'), [], alias)


if __name__ == '__main__':
    sys.path.insert(0, sys.argv[3])
    globals()['scenario_' + sys.argv[1]](sys.argv[2])
