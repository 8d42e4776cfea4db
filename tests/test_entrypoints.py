"""The upgrade as production runs it, and legacy code unchanged after it.

Django 1.2 and later: each entry point routes the same.  Each test starts the
entry-point site (tests/entrypoint_site, whose settings.py calls install() at
its top) in a process of its own, through the WSGI application made first, a
script that calls django.setup() first, or manage.py, then reads each
database directly.

Every Django: inside using() / using_shard(), ``django.db.connection`` and
Django's own transaction blocks and functions with no ``using`` act on the
block's database, and such a block commits or rolls back every database
written in it, as the patches make them on Django 1.0/1.1."""
from __future__ import absolute_import

import json
import os
import subprocess
import sys
import unittest

import django

import harness
from base import NATIVE, DatabaseTest
from djpatch_multidb import using, using_shard
from testapp.models import Author, Entry, Profile, Tag

HERE = os.path.dirname(os.path.abspath(__file__))
SITE = os.path.join(HERE, 'entrypoint_site')
SETUP_FIRST = hasattr(django, 'setup')     # Django 1.7 and later

native_only = unittest.skipIf(not NATIVE, 'Django 1.0/1.1 have no router to install')
one_database_per_block = unittest.skipIf(
    not NATIVE, "Django 1.0/1.1's blocks hold every connection written in them")


def run_site(*argv):
    """(exit code, stdout, stderr) of ``python argv...`` in the entry-point site."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([os.path.dirname(HERE), HERE] +
                                        [p for p in [env.get('PYTHONPATH')] if p])
    env['DJANGO_SETTINGS_MODULE'] = 'entrypoint_site.settings'
    env['DJPATCH_ENTRYPOINT_DATABASES'] = json.dumps(harness.DATABASES)
    process = subprocess.Popen([sys.executable] + list(argv), cwd=SITE, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = process.communicate()
    return process.returncode, out.decode('utf-8', 'replace'), err.decode('utf-8', 'replace')


@native_only
class EveryEntryPointRoutesTheSame(DatabaseTest):

    def assertWritesLandWhereTheyBelong(self, label, *argv):
        code, out, err = run_site(*argv)
        self.assertEqual(code, 0, 'exit %s\n%s\n%s' % (code, out, err))
        self.assertOnlyOn('testapp_profile', 'nick', label, 'shard2')
        self.assertOnlyOn('testapp_note', 'text', label, 'shard2')
        self.assertOnlyOn('testapp_note', 'text', label + ' raw', 'shard2')
        self.assertOnlyOn('testapp_tag', 'label', label, 'blogdb')
        answer = json.loads(out.strip().splitlines()[-1])
        self.assertEqual(answer['routers'][:1], ['djpatch_multidb.router.MultiDBRouter'],
                         answer)
        self.assertEqual(answer['waiting'], [], answer)

    def test_a_wsgi_application_made_first_writes_on_the_shard_and_the_placed_alias(self):
        self.assertWritesLandWhereTheyBelong('wsgi', 'entry.py', 'wsgi', 'wsgi')

    @unittest.skipIf(not SETUP_FIRST, 'django.setup() is Django 1.7 and later')
    def test_a_script_that_calls_django_setup_first_writes_on_the_shard_and_the_placed_alias(self):
        self.assertWritesLandWhereTheyBelong('setup', 'entry.py', 'setup', 'setup')

    @unittest.skipIf(SETUP_FIRST, 'from Django 1.7 a script calls django.setup() first')
    def test_a_script_that_imports_the_models_first_writes_on_the_shard_and_the_placed_alias(self):
        self.assertWritesLandWhereTheyBelong('models', 'entry.py', 'models', 'models')

    def test_a_manage_py_command_writes_on_the_shard_and_the_placed_alias(self):
        self.assertWritesLandWhereTheyBelong('manage', 'manage.py', 'entrypoint_write', 'manage')


class Rollback(Exception):
    pass


def django_blocks():
    """(name, decorator) for each of Django's transaction blocks with no using
    this Django has, bare (@transaction.commit_on_success) and, from Django 1.2,
    called (@transaction.commit_on_success())."""
    from django.db import transaction
    found = []
    for name in ('atomic', 'commit_on_success'):
        block = getattr(transaction, name, None)
        if block is not None:
            found.append(('%s bare' % name, block))
            if NATIVE:
                found.append(('%s()' % name, block()))
    return found


def where(nick):
    """(aliases of the Author named ``nick``, aliases of the Profile nicknamed ``nick``),
    read directly."""
    return (harness.where_is('testapp_author', 'name', nick),
            harness.where_is('testapp_profile', 'nick', nick))


def commit_legacy_raw_sql():
    """What legacy code calls after raw SQL: transaction.commit_unless_managed(),
    with no using (Django 1.6 and later commit by themselves)."""
    from django.db import transaction
    commit = getattr(transaction, 'commit_unless_managed', None)
    if commit is not None:
        commit()


class LegacyCodeActsOnTheBlocksDatabase(DatabaseTest):

    def test_raw_sql_through_django_db_connection_inside_using_shard_runs_on_the_shard(self):
        from django.db import connection
        with using_shard(2):
            connection.cursor().execute(
                "INSERT INTO testapp_profile (user_id, nick) VALUES (6, 'raw')")
            commit_legacy_raw_sql()
        self.assertOnlyOn('testapp_profile', 'nick', 'raw', 'shard2')

    def test_raw_sql_through_django_db_connection_inside_using_runs_on_that_alias(self):
        from django.db import connection
        with using('blogdb'):
            connection.cursor().execute("INSERT INTO testapp_tag (label) VALUES ('raw')")
            commit_legacy_raw_sql()
        self.assertOnlyOn('testapp_tag', 'label', 'raw', 'blogdb')

    def test_djangos_own_blocks_with_no_using_roll_back_the_shards_rows(self):
        for name, block in django_blocks():
            def write(nick=name):
                Profile(user_id=6, nick=nick).save()
                Profile.objects.create(user_id=10, nick=nick)
                raise Rollback
            with using_shard(2):
                self.assertRaises(Rollback, block(write))
            self.assertEqual(harness.where_is('testapp_profile', 'nick', name), [], name)

    def test_on_commit_with_no_using_inside_a_shard_block_waits_for_the_outer_block(self):
        from django.db import transaction
        if not hasattr(transaction, 'on_commit'):
            raise unittest.SkipTest('transaction.on_commit() is Django 1.9+')
        ran = []
        try:
            with transaction.atomic():
                Author.objects.create(name='outer')
                with using_shard(2):
                    transaction.on_commit(lambda: ran.append('rolled back'))
                self.assertEqual(ran, [])
                raise Rollback
        except Rollback:
            pass
        with transaction.atomic():
            with using_shard(2):
                transaction.on_commit(lambda: ran.append('committed'))
        self.assertEqual(ran, ['committed'])
        self.assertEqual(harness.where_is('testapp_author', 'name', 'outer'), [])

    def test_all_shards_update_and_delete_roll_back_with_djangos_block_with_no_using(self):
        for user_id in (4, 5):
            Profile.objects.create(user_id=user_id, nick='kept')
        for name, block in django_blocks():
            def write():
                Profile.objects.all_shards().update(nick='changed')
                Profile.objects.all_shards().filter(user_id=4).delete()
                raise Rollback
            self.assertRaises(Rollback, block(write))
            self.assertEqual(harness.where_is('testapp_profile', 'nick', 'changed'), [], name)
            self.assertEqual(harness.where_is('testapp_profile', 'user_id', 4), ['shard0'], name)
            self.assertEqual(harness.where_is('testapp_profile', 'user_id', 5), ['shard1'], name)

    def test_djangos_own_blocks_with_no_using_commit_the_shards_rows(self):
        for name, block in django_blocks():
            def write(nick=name):
                Profile(user_id=6, nick=nick).save()
            with using_shard(2):
                block(write)()
            self.assertOnlyOn('testapp_profile', 'nick', name, 'shard2')

    def test_a_block_decorated_outside_takes_the_database_of_each_call(self):
        for name, block in django_blocks():
            @block
            def write(label, fail):
                Tag.objects.create(label=label)
                if fail:
                    raise Rollback
            with using('blogdb'):
                self.assertRaises(Rollback, write, name + ' rolled back', True)
                write(name, False)
            self.assertEqual(harness.where_is('testapp_tag', 'label', name + ' rolled back'), [])
            self.assertOnlyOn('testapp_tag', 'label', name, 'blogdb')

    def test_commit_manually_with_no_using_rolls_back_and_commits_the_shard(self):
        from django.db import transaction
        if not hasattr(transaction, 'commit_manually'):
            raise unittest.SkipTest('Django 1.8 and later have no commit_manually')

        @transaction.commit_manually
        def write(nick, keep):
            Profile(user_id=6, nick=nick).save()
            if keep:
                transaction.commit()
            else:
                transaction.rollback()
        with using_shard(2):
            write('kept', True)
            write('dropped', False)
        self.assertOnlyOn('testapp_profile', 'nick', 'kept', 'shard2')
        self.assertEqual(harness.where_is('testapp_profile', 'nick', 'dropped'), [])

    def test_a_write_to_another_database_inside_djangos_block_with_no_using_commits_with_the_block(self):
        for name, block in django_blocks():
            seen = []

            def write_elsewhere(nick=name):
                Author.objects.create(name=nick)          # 'default': the block's
                Profile(user_id=6, nick=nick).save()      # shard 2, by its key
                seen.append(where(nick))
            block(write_elsewhere)()
            self.assertEqual(seen, [([], [])], name)     # neither committed inside the block
            self.assertEqual(where(name), (['default'], ['shard2']), name)

    def test_an_exception_in_djangos_block_rolls_back_the_other_databases_rows_too(self):
        for name, block in django_blocks():
            def write_elsewhere_and_fail(nick=name):
                Author.objects.create(name=nick)
                Profile(user_id=6, nick=nick).save()
                Tag.objects.create(label=nick)            # blogdb: a second database joins
                raise Rollback
            self.assertRaises(Rollback, block(write_elsewhere_and_fail))
            self.assertEqual(where(name), ([], []), name)
            self.assertEqual(harness.where_is('testapp_tag', 'label', name), [], name)

    def test_commit_manually_with_no_using_rolls_back_and_commits_the_other_database_too(self):
        from django.db import transaction
        if not hasattr(transaction, 'commit_manually'):
            raise unittest.SkipTest('Django 1.8 and later have no commit_manually')

        @transaction.commit_manually
        def write(nick, keep):
            Author.objects.create(name=nick)
            Profile(user_id=6, nick=nick).save()
            if keep:
                transaction.commit()
            else:
                transaction.rollback()
        write('dropped', False)
        write('kept', True)
        self.assertEqual(where('dropped'), ([], []))
        self.assertEqual(where('kept'), (['default'], ['shard2']))

    def test_a_view_decorated_like_the_admins_saves_a_model_placed_on_another_alias(self):
        from django.db import transaction
        # Django 1.4's admin: @transaction.commit_on_success on add_view and
        # change_view; from Django 1.6: @transaction.atomic.
        decorator = getattr(transaction, 'atomic', None) or transaction.commit_on_success

        @decorator
        def add_view(label, fail=False):
            Tag.objects.create(label=label)               # blogdb, by MULTIDB_MODELS
            if fail:
                raise Rollback
        add_view('saved')
        self.assertRaises(Rollback, add_view, 'failed', True)
        self.assertOnlyOn('testapp_tag', 'label', 'saved', 'blogdb')
        self.assertEqual(harness.where_is('testapp_tag', 'label', 'failed'), [])

    def test_a_database_joined_inside_a_nested_block_rolls_back_with_that_block(self):
        for name, block in django_blocks():
            def inner(nick=name):
                Profile(user_id=6, nick=nick).save()
                raise Rollback

            def outer(nick=name):
                self.assertRaises(Rollback, block(inner))
                Author.objects.create(name=nick)
                Tag.objects.create(label=nick)
            block(outer)()
            self.assertEqual(where(name), (['default'], []), name)
            self.assertOnlyOn('testapp_tag', 'label', name, 'blogdb')

    @unittest.skipIf(django.VERSION[:2] < (1, 6),
                     'before Django 1.6 a nested block commits its connection at its end')
    def test_a_database_joined_inside_a_nested_atomic_rolls_back_with_the_outer_block(self):
        from django.db import transaction
        for name, block in django_blocks():
            def inner(nick=name):
                Profile(user_id=6, nick=nick).save()

            def outer(nick=name):
                Author.objects.create(name=nick)
                transaction.atomic(inner)()               # a savepoint on 'default'
                raise Rollback
            self.assertRaises(Rollback, block(outer))
            self.assertEqual(where(name), ([], []), name)

    @native_only
    def test_writes_through_a_managers_queryset_in_a_context_opened_inside_the_block_roll_back_with_it(self):
        # MultiDBManager's queryset takes the context's database as its own
        # (Django then asks no router): the context chose it, so the block
        # joins it as it does for a save.
        for name, block in django_blocks():
            harness.execute('shard1', "INSERT INTO testapp_profile (user_id, nick) "
                                      "VALUES (5, ?)", ('old ' + name,))
            harness.execute('blogdb', "INSERT INTO testapp_entry (title) VALUES (?)",
                            ('old ' + name,))

            def write(nick=name):
                with using_shard(1):
                    Profile.objects.create(user_id=5, nick=nick)
                    Profile.objects.filter(nick='old ' + nick).update(nick='updated ' + nick)
                with using('blogdb'):
                    Entry.objects.create(title=nick)
                    Entry.objects.filter(title='old ' + nick).delete()
                raise Rollback
            self.assertRaises(Rollback, block(write))
            self.assertEqual(harness.where_is('testapp_profile', 'nick', name), [], name)
            self.assertEqual(harness.where_is('testapp_profile', 'nick', 'old ' + name),
                             ['shard1'], name)
            self.assertEqual(harness.where_is('testapp_entry', 'title', name), [], name)
            self.assertEqual(harness.where_is('testapp_entry', 'title', 'old ' + name),
                             ['blogdb'], name)

            def kept(nick=name):
                with using_shard(1):
                    Profile.objects.create(user_id=5, nick='kept ' + nick)
            block(kept)()
            self.assertOnlyOn('testapp_profile', 'nick', 'kept ' + name, 'shard1')

    @native_only
    def test_a_database_that_cannot_be_joined_leaves_the_block_rolled_back_and_nothing_open(self):
        from djpatch_multidb.db.nativeconnections import in_transaction
        for name, block in django_blocks():
            def write(nick=name):
                Author.objects.create(name=nick)
                with using('unreachable'):                # nothing listens on its port
                    Author.objects.create(name=nick)
            self.assertRaises(Exception, block(write))
            self.assertEqual(harness.where_is('testapp_author', 'name', name), [], name)
            self.assertFalse(in_transaction(), name)
            block(lambda nick=name: Tag.objects.create(label=nick))()
            self.assertOnlyOn('testapp_tag', 'label', name, 'blogdb')

    def test_autocommit_inside_djangos_block_commits_a_write_to_another_database_at_once(self):
        from django.db import transaction
        if not hasattr(transaction, 'autocommit') or not hasattr(transaction, 'commit_on_success'):
            raise unittest.SkipTest('Django 1.8 and later have no autocommit block')

        def outer():
            transaction.autocommit(lambda: Profile(user_id=6, nick='at once').save())()
            Author.objects.create(name='outer')
            raise Rollback
        self.assertRaises(Rollback, transaction.commit_on_success(outer))
        self.assertEqual(harness.where_is('testapp_author', 'name', 'outer'), [])
        self.assertOnlyOn('testapp_profile', 'nick', 'at once', 'shard2')

    def test_two_threads_in_one_decorated_block_each_commit_their_own_databases(self):
        import threading
        from django.db import transaction
        decorator = getattr(transaction, 'atomic', None) or transaction.commit_on_success
        errors = []

        @decorator
        def write(nick, fail):
            Author.objects.create(name=nick)
            Profile(user_id=6, nick=nick).save()
            if fail:
                raise Rollback

        def work(nick, fail):
            try:
                write(nick, fail)
            except Rollback:
                pass
            except Exception as error:   # pragma: no cover - reported below
                errors.append(repr(error))
            finally:
                from djpatch_multidb import connections
                connections.close_all()
        workers = [threading.Thread(target=work, args=('thread kept', False)),
                   threading.Thread(target=work, args=('thread dropped', True))]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        self.assertEqual(errors, [])
        self.assertEqual(where('thread kept'), (['default'], ['shard2']))
        self.assertEqual(where('thread dropped'), ([], []))

    @one_database_per_block
    def test_a_write_inside_djangos_block_to_a_database_with_its_own_transaction_is_let_through(self):
        from django.db import transaction
        for name, block in django_blocks():
            inner = getattr(transaction, name.split(' ')[0].rstrip('()'))

            def write_both(nick=name, inner=inner):
                Author.objects.create(name=nick)
                with using_shard(2):
                    with inner():      # a block of its own on shard 2
                        Profile(user_id=6, nick=nick).save()
            block(write_both)()
            self.assertOnlyOn('testapp_author', 'name', name, 'default')
            self.assertOnlyOn('testapp_profile', 'nick', name, 'shard2')
