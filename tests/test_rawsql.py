"""Raw SQL through django.db.connection, outside any block, runs where the
tables it names live (MULTIDB_MODELS), as read back through each database's
own DB-API connection; what cannot run on one database raises and runs nowhere."""
from __future__ import absolute_import

import harness
from base import DatabaseTest, commit_unless_managed, patched_only
from djpatch_multidb import CrossDatabaseQuery, ShardNotSelected, using
from testapp.models import Author, Entry, Tag


def cursor():
    from django.db import connection
    return connection.cursor()


@patched_only('raw SQL goes through djpatch_multidb.connection, which follows the contexts only')
class RawSQLFollowsPlacement(DatabaseTest):

    def test_an_insert_into_a_placed_models_table_lands_on_its_alias(self):
        cursor().execute('INSERT INTO testapp_entry (title) VALUES (%s)', ['raw'])
        commit_unless_managed()
        self.assertOnlyOn('testapp_entry', 'title', 'raw', 'blogdb')

    def test_a_select_of_a_placed_models_table_reads_its_alias(self):
        harness.execute('blogdb', "INSERT INTO testapp_entry (title) VALUES ('there')")
        harness.execute('default', "INSERT INTO testapp_entry (title) VALUES ('decoy')")
        c = cursor()
        c.execute('SELECT title FROM testapp_entry')
        self.assertEqual([tuple(row) for row in c.fetchall()], [('there',)])

    def test_a_quoted_table_name_is_recognised(self):
        from django.db import connection
        harness.execute('blogdb', "INSERT INTO testapp_entry (title) VALUES ('quoted')")
        c = cursor()
        c.execute('SELECT COUNT(*) FROM %s' % connection.ops.quote_name('testapp_entry'))
        self.assertEqual(c.fetchone()[0], 1)

    def test_a_many_to_many_table_goes_with_its_model(self):
        entry, tag = Entry.objects.create(title='e'), Tag.objects.create(label='t')
        cursor().execute('INSERT INTO testapp_entry_tags (entry_id, tag_id) VALUES (%s, %s)',
                         [entry.pk, tag.pk])
        commit_unless_managed()
        self.assertEqual(harness.rows('blogdb', 'testapp_entry_tags', 'entry_id, tag_id'),
                         [(entry.pk, tag.pk)])
        self.assertEqual(harness.rows('default', 'testapp_entry_tags'), [])

    def test_sql_naming_no_placed_table_runs_on_default(self):
        cursor().execute('INSERT INTO testapp_author (name) VALUES (%s)', ['plain'])
        commit_unless_managed()
        self.assertOnlyOn('testapp_author', 'name', 'plain', 'default')

    def test_table_names_inside_strings_and_comments_do_not_count(self):
        c = cursor()
        c.execute("INSERT INTO testapp_author (name) VALUES ('testapp_entry') "
                  "/* testapp_event */")
        commit_unless_managed()
        self.assertOnlyOn('testapp_author', 'name', 'testapp_entry', 'default')

    def test_a_statement_joining_tables_on_two_databases_raises_naming_tables_and_aliases(self):
        c = cursor()
        try:
            c.execute('INSERT INTO testapp_author (name) SELECT title FROM testapp_entry')
        except CrossDatabaseQuery as error:
            message = str(error)
        else:
            self.fail('no CrossDatabaseQuery')
        for part in ('testapp_author', "'default'", 'testapp_entry', "'blogdb'"):
            self.assertTrue(part in message, '%r not in %r' % (part, message))
        commit_unless_managed()
        for alias in ('default', 'blogdb'):
            self.assertEqual(harness.rows(alias, 'testapp_author'), [])

    def test_a_join_of_two_placed_aliases_names_both(self):
        try:
            cursor().execute('SELECT * FROM testapp_entry, testapp_event')
        except CrossDatabaseQuery as error:
            self.assertTrue("'blogdb'" in str(error) and "'eventdb'" in str(error), str(error))
        else:
            self.fail('no CrossDatabaseQuery')

    def test_a_sharded_table_outside_any_block_raises_shard_not_selected(self):
        try:
            cursor().execute('SELECT * FROM testapp_note')
        except ShardNotSelected as error:
            self.assertTrue('testapp_note' in str(error) and 'users' in str(error), str(error))
        else:
            self.fail('no ShardNotSelected')

    def test_inside_a_block_the_block_decides_as_before(self):
        with using('eventdb'):
            cursor().execute('INSERT INTO testapp_entry (title) VALUES (%s)', ['inside'])
            commit_unless_managed()
        self.assertOnlyOn('testapp_entry', 'title', 'inside', 'eventdb')

    def test_schema_statements_are_left_on_default(self):
        c = cursor()
        c.execute('CREATE TABLE rawsql_probe AS SELECT * FROM testapp_entry WHERE 1 = 0')
        try:
            commit_unless_managed()
            harness.execute('default', 'SELECT COUNT(*) FROM rawsql_probe')
        finally:
            cursor().execute('DROP TABLE rawsql_probe')
            commit_unless_managed()

    def test_the_setting_turns_it_off(self):
        from django.conf import settings
        settings.MULTIDB_ROUTE_RAW_SQL = False
        try:
            cursor().execute('INSERT INTO testapp_entry (title) VALUES (%s)', ['off'])
            commit_unless_managed()
        finally:
            settings.MULTIDB_ROUTE_RAW_SQL = True   # the default
        self.assertOnlyOn('testapp_entry', 'title', 'off', 'default')

    def test_orm_queries_never_look_at_their_sql(self):
        from djpatch_multidb.routing import rawsql
        seen = []
        original = rawsql.route

        def counting(sql, cfg=None):
            seen.append(sql)
            return original(sql, cfg)
        rawsql.route = counting
        try:
            Entry.objects.create(title='orm')
            Author.objects.create(name='orm')
            self.assertEqual(Entry.objects.filter(title='orm').count(), 1)
            self.assertEqual(list(Author.objects.values_list('name', flat=True)), ['orm'])
        finally:
            rawsql.route = original
        self.assertEqual(seen, [])
        self.assertOnlyOn('testapp_entry', 'title', 'orm', 'blogdb')
