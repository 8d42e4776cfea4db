"""Saves and deletes inside a block on Django 1.0/1.1: what a save or a delete
does inside using_shard() must not depend on whether the library pushes a
frame of its own around it (CallersRawFrame, the delete's Frame) or lets the
caller's block stand for it.

- A multi-table-inheritance child whose parent lives in another shard group
  (one with fewer shards) saved inside using_shard(n): the parent's row goes
  with the child's, to the child's shard n (the frame sends the family there),
  and nothing asks where the parent's own group would put shard n.  That runs
  in a fresh Python process on a small site of its own (an app 'frames',
  SQLite files made with sqlite3 beforehand), as test_configuration_errors does:

      python test_review_frames.py SCENARIO WORKDIR PACKAGE_ROOT

- readonly() opened by a signal handler during a save or a delete treats raw
  SQL through django.db.connection the same whether the save runs inside
  using_shard() or outside any block.

Where rows are is read with sqlite3 / each database's own DB-API connection,
never through the library.
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
    'class Base(models.Model):\n'
    '    name = models.CharField(max_length=20)\n'
    'class Child(Base):\n'
    '    extra = models.CharField(max_length=20)\n')
TABLES = (
    'CREATE TABLE frames_base (id integer NOT NULL PRIMARY KEY, name varchar(20) NOT NULL)',
    'CREATE TABLE frames_child (base_ptr_id integer NOT NULL PRIMARY KEY, '
    'extra varchar(20) NOT NULL)',
)


native = scenarios.native


# -- the site of the scenarios (run in a process of their own) -------------------

def make_site(workdir):
    scenarios.make_site(workdir, 'frames', MODELS, TABLES, ALIASES)


def configure(workdir):
    """Two shard groups: 'users' on four shards holds Child, 'small' on the
    first two holds Base (Child's parent)."""
    scenarios.configure_site(
        workdir, 'frames', ALIASES,
        MULTIDB_SHARDS={'users': {'SHARDS': list(SHARDS)}, 'small': {'SHARDS': list(SHARDS[:2])}},
        MULTIDB_MODELS={'frames.Child': 'shards:users', 'frames.Base': 'shards:small'})


def placement(workdir):
    """{alias: (frames_base rows, frames_child rows)} of every alias holding any."""
    return scenarios.rows_by_alias(workdir, ALIASES, ('frames_base', 'frames_child'))


def scenario_parent_in_a_smaller_group_saved_with_its_child(workdir):
    make_site(workdir)
    configure(workdir)
    from frames.models import Child
    from djpatch_multidb import using_shard
    with using_shard(3):
        # force_insert: no existence check
        Child(name='parent part', extra='child part').save(force_insert=True)
    found = placement(workdir)
    assert found == {'s3': ([(1, u'parent part')], [(1, u'child part')])}, found
    with using_shard(3):
        # saves with their existence checks (one per table), whose filters
        # read field types through django.db.connection: key 7 is shard 3's
        Child(id=7, name='second parent', extra='second child').save()
        child = Child.objects.get(pk=7)
        child.name, child.extra = 'parent changed', 'child changed'
        child.save()
    found = placement(workdir)
    assert found == {'s3': ([(1, u'parent part'), (7, u'parent changed')],
                            [(1, u'child part'), (7, u'child changed')])}, found
    print('OK')


def scenario_parent_in_a_smaller_group_created_with_its_child(workdir):
    make_site(workdir)
    configure(workdir)
    from frames.models import Child
    from djpatch_multidb import using_shard
    with using_shard(2):
        Child.objects.create(name='parent part', extra='child part')
    found = placement(workdir)
    assert found == {'s2': ([(1, u'parent part')], [(1, u'child part')])}, found
    print('OK')


def scenario_parent_on_default_followed_and_deleted_with_its_child(workdir):
    """Child on the shards, its parent Base placed nowhere ('default'): the
    parent's row is written with the child's, so the parent link is followed,
    and the delete collects and deletes both rows, on the child's shard; a
    Base row of the same key on 'default' is never read nor deleted."""
    make_site(workdir)
    scenarios.configure_site(workdir, 'frames', ALIASES,
                             MULTIDB_SHARDS={'users': {'SHARDS': list(SHARDS)}},
                             MULTIDB_MODELS={'frames.Child': 'shards:users'})
    conn = sqlite3.connect(os.path.join(workdir, 'default.db'))
    conn.execute("INSERT INTO frames_base (id, name) VALUES (1, 'on default')")
    conn.commit()
    conn.close()
    from frames.models import Base, Child
    from djpatch_multidb import using_shard
    with using_shard(1):
        Child(name='parent part', extra='child part').save()
    on_default = ([(1, u'on default')], [])
    found = placement(workdir)
    assert found == {'default': on_default, 's1': ([(1, u'parent part')], [(1, u'child part')])}, found
    child = Child.objects.using('s1').get(pk=1)
    assert child.base_ptr.name == u'parent part', child.base_ptr.name
    parent = Base.objects.using('s1').get(pk=1)
    if native():
        # Django 1.2+ asks the router about parent.child as about any relation
        # from Base to Child: it cannot tell the parent link, and refuses.
        from djpatch_multidb import ShardNotSelected
        try:
            parent.child
        except ShardNotSelected:
            pass
        else:
            raise AssertionError('parent.child was answered from a guessed database')
    else:
        assert parent.child.extra == u'child part', parent.child.extra
    child.delete()
    found = placement(workdir)
    assert found == {'default': on_default}, found
    with using_shard(1):
        Child.objects.create(name='parent 2', extra='child 2')
        Child.objects.get(extra='child 2').delete()
    found = placement(workdir)
    assert found == {'default': on_default}, found
    print('OK')


class ScenarioCase(scenarios.ScenarioCase):

    def run_scenario(self, name):
        """Scenario ``name`` with the djpatch_multidb package this process
        imported (the one under test) first on its path."""
        import djpatch_multidb
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(djpatch_multidb.__file__)))
        return scenarios.run_scenario(__file__, name, [package_root])


patched_only_here = unittest.skipIf(native(), 'Django 1.2+ routes natively: no frames')


@patched_only_here
class ParentInAnotherShardGroup(ScenarioCase):
    """using_shard(n) names no group; the child's group has shard n, the
    parent's has not: the save writes both rows on the child's shard n, as the
    save's frame sends the whole family there.  (A save with its existence
    check builds a filter that reads the engine's field types through
    django.db.connection, which using_shard(n) with no group cannot name an
    alias for: with one engine on every alias, any alias answers those.)"""

    def test_a_child_saved_inside_using_shard_writes_its_parent_row_on_the_same_shard(self):
        self.assertScenario('parent_in_a_smaller_group_saved_with_its_child')

    def test_a_child_created_inside_using_shard_writes_its_parent_row_on_the_same_shard(self):
        self.assertScenario('parent_in_a_smaller_group_created_with_its_child')


class ParentPlacedNowhere(ScenarioCase):
    """A multi-table-inheritance child placed on shards whose parent is placed
    nowhere: the parent's row lives with the child's, and following the
    parent link or deleting the child reads and deletes it there."""

    def test_the_parent_link_is_followed_and_deleted_on_the_childs_shard(self):
        self.assertScenario('parent_on_default_followed_and_deleted_with_its_child')


# -- in the suite's own process: the suite's databases -----------------------------

if __name__ != '__main__':
    import harness
    from base import DatabaseTest, patched_only, raw_connection
    from djpatch_multidb import readonly, using_shard
    from testapp.models import Profile

    @patched_only('the frames around saves and deletes are the 1.0/1.1 patches')
    class ReadonlyInASignalHandler(DatabaseTest):
        """A post_save / post_delete handler opens readonly() and writes through
        django.db.connection: the write is refused (ReadOnlyError), for a save
        inside using_shard(1) as for the same save with no block open (raw
        SQL in a handler goes where, and as, it goes outside the handler:
        docs/raw-sql.txt); nothing reaches a replica or a primary."""

        def setUp(self):
            DatabaseTest.setUp(self)
            self.outcomes = []
            from django.db.models import signals
            self.signals = (signals.post_save, signals.post_delete)
            for signal in self.signals:
                signal.connect(self.handler, sender=Profile, weak=False)

        def tearDown(self):
            for signal in self.signals:
                signal.disconnect(self.handler, sender=Profile)
            DatabaseTest.tearDown(self)

        def handler(self, sender, instance, **kwargs):
            with readonly():
                try:
                    raw_connection().cursor().execute(
                        "INSERT INTO testapp_tag (label) VALUES ('from a handler %d')"
                        % len(self.outcomes))
                except Exception as error:
                    self.outcomes.append(type(error).__name__)
                else:
                    self.outcomes.append('written')

        def assertNothingTagged(self):
            for alias in harness.DATABASES:
                try:
                    found = harness.rows(alias, 'testapp_tag')
                except Exception:
                    continue    # an alias without the table
                self.assertEqual(found, [], alias)

        def test_a_raw_write_in_readonly_in_a_post_save_handler_fares_alike_in_and_out_of_a_block(self):
            Profile(user_id=1, nick='no block').save()
            with using_shard(1):
                Profile(user_id=5, nick='in using_shard(1)').save()
            self.assertEqual(sorted(harness.column('shard1', 'testapp_profile', 'nick')),
                             ['in using_shard(1)', 'no block'])
            self.assertEqual(self.outcomes, ['ReadOnlyError', 'ReadOnlyError'],
                             'outside any block, then inside using_shard(1)')
            self.assertNothingTagged()

        def test_a_raw_write_in_readonly_in_a_post_delete_handler_fares_alike_in_and_out_of_a_block(self):
            harness.execute('shard1', "INSERT INTO testapp_profile (id, user_id, nick) VALUES (3, 1, 'a')")
            harness.execute('shard1', "INSERT INTO testapp_profile (id, user_id, nick) VALUES (4, 5, 'b')")
            Profile.objects.shard(1).get(pk=3).delete()
            with using_shard(1):
                Profile.objects.get(pk=4).delete()
            self.assertEqual(harness.rows('shard1', 'testapp_profile'), [])
            self.assertEqual(self.outcomes, ['ReadOnlyError', 'ReadOnlyError'],
                             'outside any block, then inside using_shard(1)')
            self.assertNothingTagged()


if __name__ == '__main__':
    sys.path.insert(0, sys.argv[3])
    globals()['scenario_' + sys.argv[1]](sys.argv[2])
