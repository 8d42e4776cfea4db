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
SHARDS = ('s0', 's1', 's2', 's3')
ALIASES = ('default',) + SHARDS
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


def native():
    import django
    return django.VERSION[:2] >= (1, 2)


# -- the site of the scenarios (run in a process of their own) -------------------

def make_site(workdir):
    app = os.path.join(workdir, 'frames')
    os.mkdir(app)
    open(os.path.join(app, '__init__.py'), 'w').close()
    open(os.path.join(app, 'models.py'), 'w').write(MODELS)
    for alias in ALIASES:
        conn = sqlite3.connect(os.path.join(workdir, alias + '.db'))
        for sql in TABLES:
            conn.execute(sql)
        conn.commit()
        conn.close()
    sys.path.insert(0, workdir)


def configure(workdir):
    """Two shard groups: 'users' on four shards holds Child, 'small' on the
    first two holds Base (Child's parent)."""
    import djpatch_multidb
    djpatch_multidb.install()
    from django.conf import settings
    settings.configure(
        DATABASES=dict([(alias, {'ENGINE': 'sqlite3',
                                 'NAME': os.path.join(workdir, alias + '.db')})
                        for alias in ALIASES]),
        MULTIDB_SHARDS={'users': {'SHARDS': list(SHARDS)},
                        'small': {'SHARDS': list(SHARDS[:2])}},
        MULTIDB_MODELS={'frames.Child': 'shards:users', 'frames.Base': 'shards:small'},
        INSTALLED_APPS=['frames'],
        SECRET_KEY='review-frames')


def table_rows(workdir, alias, table):
    conn = sqlite3.connect(os.path.join(workdir, alias + '.db'))
    try:
        return [tuple(r) for r in conn.execute('SELECT * FROM %s ORDER BY 1' % table)]
    finally:
        conn.close()


def placement(workdir):
    """{alias: (frames_base rows, frames_child rows)} of every alias holding any."""
    found = {}
    for alias in ALIASES:
        both = (table_rows(workdir, alias, 'frames_base'), table_rows(workdir, alias, 'frames_child'))
        if both != ([], []):
            found[alias] = both
    return found


def scenario_parent_in_a_smaller_group_saved_with_its_child(workdir):
    make_site(workdir)
    configure(workdir)
    from frames.models import Child
    from djpatch_multidb import using_shard
    with using_shard(3):
        # force_insert: no existence check, whose filter on the parent link
        # asks django.db.connection (using_shard(3) names no group for it)
        Child(name='parent part', extra='child part').save(force_insert=True)
    found = placement(workdir)
    assert found == {'s3': ([(1, u'parent part')], [(1, u'child part')])}, found
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
    check builds a filter that asks django.db.connection, which using_shard(n)
    with no group cannot answer when the aliases use one engine: hence
    force_insert and create(), which have none.)"""

    def test_a_child_saved_inside_using_shard_writes_its_parent_row_on_the_same_shard(self):
        self.assertScenario('parent_in_a_smaller_group_saved_with_its_child')

    def test_a_child_created_inside_using_shard_writes_its_parent_row_on_the_same_shard(self):
        self.assertScenario('parent_in_a_smaller_group_created_with_its_child')


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
