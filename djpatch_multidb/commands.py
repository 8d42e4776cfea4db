"""``--database`` for Django's own management commands.

syncdb --database=ALIAS / --all-databases create on each database only the
tables of the models that live there (syncdb.py), with no foreign-key
constraint to a table in another database.  sqlall, dbshell, flush, loaddata
and dumpdata --database=ALIAS run on that alias.  Plain syncdb is Django's own:
every table, on the connection selected (``with using(alias)`` chooses it).
"""
import sys
from optparse import make_option

DATABASE = make_option('--database', dest='database', default=None,
                       help='Nominates a database alias (DATABASES) to work on.')
ALL_DATABASES = make_option('--all-databases', action='store_true', dest='all_databases',
                            default=False,
                            help='syncdb: every alias but replicas, each with its own models.')


def with_options(*options):
    """option_list plus ``options`` (a command's own, or inherited, list)."""
    def make(original):
        return tuple(original) + options
    return make


def make_execute(original):
    """BaseCommand.execute: take --database / --all-databases off the options."""
    def execute(self, *args, **options):
        database = options.pop('database', None)
        all_databases = options.pop('all_databases', False)
        if database is None and not all_databases:
            return original(self, *args, **options)
        from djpatch_multidb import config
        from djpatch_multidb.errors import ConnectionDoesNotExist
        from djpatch_multidb.selector import using
        from django.core.management.base import CommandError
        try:
            if database is not None:
                config.current().check_alias(database)
            if self.__module__.endswith('.syncdb'):
                return sync_databases(database, options)
            context = using(database)
        except (ConnectionDoesNotExist, CommandError):
            sys.stderr.write('Error: %s\n' % sys.exc_info()[1])
            sys.exit(1)
        with context:
            return original(self, *args, **options)
    execute.djpatch_original = original
    execute.__doc__ = original.__doc__
    return execute


def sync_databases(database, options):
    """syncdb --database / --all-databases."""
    from django.core.management.sql import emit_post_sync_signal
    from djpatch_multidb import config, syncdb
    verbosity = int(options.get('verbosity', 1))
    interactive = options.get('interactive', False)
    cfg = config.current()
    if database is not None:
        aliases = [database]
    else:
        aliases = [alias for alias in cfg.aliases if not syncdb.is_replica(alias)]
    created = []
    for alias in aliases:
        created.extend(syncdb.create_tables(alias, verbosity, sys.stdout))
    emit_post_sync_signal(set(created), verbosity, interactive)
    return None
