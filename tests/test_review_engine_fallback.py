"""Review of two changes: django.db.connection answering ENGINE_ATTRIBUTES
('ops', 'operators', 'features', 'creation') from 'default' inside a block
whose raw-SQL alias cannot be named (routing/proxy.py), and the shard-key
check of a written instance moved after the readonly() and replica refusals
(routing/precedence.py db_for()).

Each test here failed on the code under review when written.

- 'creation' is not an object of the engine alone: DatabaseCreation holds
  the wrapper it was made for (creation.connection), and its methods run
  statements there (_rollback_works(), set_autocommit(), ...).  Inside
  using_shard(n) with several groups, where connection.cursor() raises
  ImproperlyConfigured, connection.creation.connection.cursor() now runs a
  statement on 'default' silently.
- A multi-table-inheritance child (its primary key the parent link to an
  AutoField parent) created inside using_shard(n) cannot be saved again
  inside the same using_shard(n): its key is the auto-increment id the
  shard's parent table handed out, yet it is checked as a shard key
  (ShardKeyError).  With its parent in another shard group, this is the
  save with an existence check that the proxy change lets run inside
  using_shard(n): it now fails there unless id % shards happens to be n.
  (Also on Django 1.11; not caused by the reorder, which only moved the check.)

The scenarios run in a fresh process on a small site of their own (an app
'fallback', SQLite files made with sqlite3), as tests/test_review_frames.py
does:

    python test_review_engine_fallback.py SCENARIO WORKDIR PACKAGE_ROOT

Where rows are is read through sqlite3, never through the library.
"""
from __future__ import absolute_import
from __future__ import print_function
import os
import sqlite3
import sys
import unittest

import scenarios

SHARDS, ALIASES = scenarios.SHARDS, scenarios.ALIASES
MODELS = (
    'from django.db import models\n'
    'class Base(models.Model):\n'
    '    name = models.CharField(max_length=20)\n'
    'class Child(Base):\n'
    '    extra = models.CharField(max_length=20)\n'
    'class GrandChild(Child):\n'
    '    more = models.CharField(max_length=20)\n'
    'class Plain(models.Model):\n'
    '    name = models.CharField(max_length=20)\n')
TABLES = (
    'CREATE TABLE fallback_base (id integer NOT NULL PRIMARY KEY, name varchar(20) NOT NULL)',
    'CREATE TABLE fallback_child (base_ptr_id integer NOT NULL PRIMARY KEY, '
    'extra varchar(20) NOT NULL)',
    'CREATE TABLE fallback_grandchild (child_ptr_id integer NOT NULL PRIMARY KEY, '
    'more varchar(20) NOT NULL)',
    'CREATE TABLE fallback_plain (id integer NOT NULL PRIMARY KEY, name varchar(20) NOT NULL)',
)
TABLE_NAMES = ('base', 'child', 'grandchild', 'plain')


native = scenarios.native


# -- the site of the scenarios (run in a process of their own) -------------------

def make_site(workdir):
    scenarios.make_site(workdir, 'fallback', MODELS, TABLES, ALIASES)


def configure(workdir, shards, models):
    scenarios.configure_site(workdir, 'fallback', ALIASES, MULTIDB_SHARDS=shards, MULTIDB_MODELS=models)


def two_groups(workdir):
    """'users' on four shards holds Child, GrandChild and Plain; 'small' on
    the first two holds Base (Child's parent)."""
    make_site(workdir)
    configure(workdir, {'users': {'SHARDS': list(SHARDS)}, 'small': {'SHARDS': list(SHARDS[:2])}},
              {'fallback.Child': 'shards:users', 'fallback.GrandChild': 'shards:users',
               'fallback.Plain': 'shards:users', 'fallback.Base': 'shards:small'})


def one_group(workdir):
    """Every model on the one group 'users' (four shards, KEY 'mod' by default)."""
    make_site(workdir)
    configure(workdir, {'users': {'SHARDS': list(SHARDS)}},
              {'fallback.Base': 'shards:users', 'fallback.Child': 'shards:users',
               'fallback.GrandChild': 'shards:users', 'fallback.Plain': 'shards:users'})


def placement(workdir):
    """{alias: (base, child, grandchild, plain rows)} of every alias holding any."""
    return scenarios.rows_by_alias(workdir, ALIASES, ['fallback_' + name for name in TABLE_NAMES])


def scenario_a_statement_through_connection_creation_does_not_reach_default(workdir):
    """Inside using_shard(2) with two groups django.db.connection cannot name
    an alias: connection.cursor() raises ImproperlyConfigured.  The creation
    object it now answers holds a wrapper: a statement run through
    connection.creation.connection must not land on 'default' (it raises as
    connection.cursor() does, or runs on s2)."""
    two_groups(workdir)
    from django.core.exceptions import ImproperlyConfigured
    from django.db import connection, transaction
    from djpatch_multidb import using_shard
    error = None
    try:
        with using_shard(2):
            try:
                connection.cursor()
            except ImproperlyConfigured:
                pass
            else:
                raise AssertionError('connection.cursor() named an alias inside using_shard(2)')
            cursor = connection.creation.connection.cursor()
            cursor.execute("INSERT INTO fallback_plain (id, name) VALUES (1, 'through creation')")
            transaction.commit_unless_managed()
    except ImproperlyConfigured as e:
        error = e
    found = placement(workdir)
    assert 'default' not in found, (found, error)
    assert found in ({}, {'s2': ([], [], [], [(1, u'through creation')])}), (found, error)
    print('OK')


def scenario_a_child_created_inside_using_shard_saves_again_there(workdir):
    """One group: Child(Base), Base's id an AutoField handed out by the shard.
    A Child created inside using_shard(3) (id 1 from s3's fallback_base) is
    read and saved again inside using_shard(3): the row is updated on s3,
    as a Plain model's would be (its key says nothing about the shard)."""
    one_group(workdir)
    from fallback.models import Child, Plain
    from djpatch_multidb import using_shard
    with using_shard(3):
        Plain.objects.create(name='plain')
        Child.objects.create(name='parent', extra='child')
    with using_shard(3):
        plain = Plain.objects.get(name='plain')
        plain.name = 'plain 2'
        plain.save()            # an AutoField key: not checked
        child = Child.objects.get(extra='child')
        child.extra = 'child 2'
        child.save()
    found = placement(workdir)
    assert found == {'s3': ([(1, u'parent')], [(1, u'child 2')], [], [(1, u'plain 2')])}, found
    print('OK')


def scenario_a_grandchild_created_inside_using_shard_saves_again_there(workdir):
    """As above for a GrandChild (its key child_ptr, the id s2 handed out)."""
    one_group(workdir)
    from fallback.models import GrandChild
    from djpatch_multidb import using_shard
    with using_shard(2):
        GrandChild.objects.create(name='b', extra='c', more='g')
    with using_shard(2):
        grandchild = GrandChild.objects.get(more='g')
        grandchild.more = 'g 2'
        grandchild.save()
    found = placement(workdir)
    assert found == {'s2': ([(1, u'b')], [(1, u'c')], [(1, u'g 2')], [])}, found
    print('OK')


def scenario_a_child_whose_parent_is_in_another_group_saves_again_inside_using_shard(workdir):
    """Two groups (Base on 'small'): the save with its existence check, which
    the proxy change lets run inside using_shard(n), of a Child created in
    the same using_shard(3) (id 1): updated on s3, with its Base row."""
    two_groups(workdir)
    from fallback.models import Child
    from djpatch_multidb import using_shard
    with using_shard(3):
        Child.objects.create(name='parent', extra='child')
    with using_shard(3):
        child = Child.objects.get(extra='child')
        child.name, child.extra = 'parent 2', 'child 2'
        child.save()
    found = placement(workdir)
    assert found == {'s3': ([(1, u'parent 2')], [(1, u'child 2')], [], [])}, found
    print('OK')


class ScenarioCase(scenarios.ScenarioCase):

    def run_scenario(self, name):
        import djpatch_multidb
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(djpatch_multidb.__file__)))
        return scenarios.run_scenario(__file__, name, [package_root])


@unittest.skipIf(native(), 'Django 1.2+ routes natively: django.db.connection is not patched')
class EngineAttributesReachNoStatement(ScenarioCase):

    def test_a_statement_through_connection_creation_inside_using_shard_does_not_reach_default(self):
        self.assertScenario('a_statement_through_connection_creation_does_not_reach_default')


class MultiTableChildSavedAgainInsideUsingShard(ScenarioCase):
    """A child's primary key is its parent's auto-increment id, handed out by
    the shard the block chose: like an AutoField it says nothing about where
    the row belongs (docs/sharding.txt), so saving the object again inside
    the block that created it is not refused."""

    def test_a_child_created_inside_using_shard_saves_again_there(self):
        self.assertScenario('a_child_created_inside_using_shard_saves_again_there')

    def test_a_grandchild_created_inside_using_shard_saves_again_there(self):
        self.assertScenario('a_grandchild_created_inside_using_shard_saves_again_there')

    @unittest.skipIf(native(), 'Django 1.2+ routes natively: no frames')
    def test_a_child_whose_parent_is_in_another_group_saves_again_inside_using_shard(self):
        self.assertScenario('a_child_whose_parent_is_in_another_group_saves_again_inside_using_shard')


if __name__ == '__main__':
    sys.path.insert(0, sys.argv[3])
    globals()['scenario_' + sys.argv[1]](sys.argv[2])
