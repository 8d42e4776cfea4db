"""``--database`` for Django's own management commands.

syncdb --database=ALIAS / --all-databases create on each database only the
tables of the models that live there (syncdb.py), with no foreign-key
constraint to a table in another database, and do everything else Django's
syncdb does (post_syncdb handlers, custom SQL, indexes, initial_data) for
those models; a replica gets an error saying whose replica it is.  sqlall,
dbshell, flush, loaddata and dumpdata --database=ALIAS run on that alias
(dumpdata: the models that live there).  Plain syncdb is Django's own: every
table, on the connection selected (``with using(alias)`` chooses it).  Plain
flush, with several databases, empties every alias but replicas, as the test
runner needs between tests.

A command that has a --database option of its own (South's migrate) keeps
it, and a third-party syncdb (South's) runs as it is, with the alias selected.
"""
import sys
from optparse import make_option

from djpatch_multidb.base import config, patcher, versions
from djpatch_multidb.base.errors import ConnectionDoesNotExist
from djpatch_multidb.context.selector import using
from djpatch_multidb.db.connections import connections
from djpatch_multidb.routing import syncdb

DATABASE = make_option('--database', dest='database', default=None,
                       help='Nominates a database alias (DATABASES) to work on.')
ALL_DATABASES = make_option('--all-databases', action='store_true', dest='all_databases',
                            default=False,
                            help='syncdb: every alias but replicas, each with its own models.')


def with_options(*options):
    """option_list plus those of ``options`` it lacks (a command's own, or
    inherited, list): a command that has its own --database keeps it."""
    def make(original):
        have = set()
        for option in original:
            have.update(option._long_opts)
            have.add(option.dest)
        return tuple(original) + tuple([option for option in options
                                        if option.dest not in have
                                        and not have.intersection(option._long_opts)])
    return make


def _ours(command, option):
    """Whether ``command`` parses ``option`` (the library's, not one of its own)."""
    return option in list(getattr(command, 'option_list', ()))


def _is_djangos(command, name):
    return command.__class__.__module__ == 'django.core.management.commands.' + name


def _is_djangos_syncdb(command):
    return _is_djangos(command, 'syncdb')


def _flushed_aliases():
    """What plain flush empties when there are several databases: every alias
    but replicas and test mirrors (the test runner flushes between tests)."""
    cfg = config.current()
    return [alias for alias in cfg.aliases
            if not syncdb.is_replica(alias) and alias not in connections.mirrors]


def make_execute(original):
    """BaseCommand.execute: take the library's --database / --all-databases off
    the options (a command's own --database is left to it).  Django's syncdb
    runs sync_databases(); any other command, a third-party syncdb included,
    runs with the alias selected."""
    def execute(self, *args, **options):
        database = options.get('database')
        all_databases = options.get('all_databases', False)
        if not (database is not None and _ours(self, DATABASE)) and \
                not (all_databases and _ours(self, ALL_DATABASES)):
            if _ours(self, DATABASE):
                options.pop('database', None)
            if _ours(self, ALL_DATABASES):
                options.pop('all_databases', None)
            if _is_djangos(self, 'flush'):
                aliases = _flushed_aliases()
                if aliases != ['default']:
                    return flush_databases(aliases, options)
            return original(self, *args, **options)
        options.pop('database', None)
        options.pop('all_databases', None)
        from django.core.management.base import CommandError
        try:
            if database is not None:
                config.current().check_alias(database)
            if _is_djangos_syncdb(self):
                return sync_databases(database, options)
            if _is_djangos(self, 'flush') and database is not None:
                return flush_databases([database], options)
            if _is_djangos(self, 'dumpdata'):
                return dump_database(database, args, options)
            if database is None:
                raise CommandError('--all-databases is for syncdb; give %s --database=ALIAS'
                                   % self.__class__.__module__.split('.')[-1])
            context = using(database)
        except (ConnectionDoesNotExist, CommandError):
            sys.stderr.write('Error: %s\n' % sys.exc_info()[1])
            sys.exit(1)
        with context:
            if _is_djangos(self, 'dbshell'):
                return _with_client_settings(database, original, self, *args, **options)
            return original(self, *args, **options)
    execute.djpatch_original = original
    execute.__doc__ = original.__doc__
    return execute


def sync_databases(database, options):
    """syncdb --database / --all-databases: Django's syncdb on each alias (but
    replicas), each with the models that live there."""
    from django.core.management.base import CommandError
    verbosity = int(options.get('verbosity', 1))
    interactive = options.get('interactive', False)
    cfg = config.current()
    if database is not None:
        if syncdb.is_replica(database):
            primary = cfg.primary_for(database)
            raise CommandError(
                "syncdb --database=%s: %r is a replica of %r (MULTIDB_REPLICAS) and gets no "
                "tables of its own; replication fills it.  Run syncdb --database=%s (or "
                "--all-databases) and let the server replicate %r to %r; for a test "
                "database, give %r TEST_MIRROR = %r."
                % (database, database, primary, primary, primary, database, database, primary))
        aliases = [database]
    else:
        aliases = [alias for alias in cfg.aliases if not syncdb.is_replica(alias)]
    syncdb.sync(aliases, verbosity, interactive, sys.stdout)
    return None


def flush_databases(aliases, options):
    """flush: Django's flush on each of ``aliases`` (syncdb.flush())."""
    syncdb.flush(aliases, int(options.get('verbosity', 1)), options.get('interactive', False))
    return None


MISSING_INSTALL = ("djpatch_multidb: %s comes with djpatch_multidb.install(), which was not "
                   "called: Django's own commands have no such option without it.  Add "
                   "'import djpatch_multidb; djpatch_multidb.install()' to settings.py.\n")


def hint_if_not_installed(argv=None, out=None):
    """At the end of a management command run with --database or
    --all-databases in a process that imported the library but never called
    install(): say that install() is missing (optparse only says "no such
    option").  Registered with atexit when the package is imported."""
    argv = sys.argv if argv is None else argv
    if patcher.is_installed() or versions.is_native():
        return False    # the options are there (Django 1.2+ has --database of its own)
    given = [arg.split('=')[0] for arg in argv[1:]
             if arg.split('=')[0] in ('--database', '--all-databases')]
    if not given:
        return False
    (out or sys.stderr).write(MISSING_INSTALL % ' and '.join(given))
    return True


CLIENT_SETTINGS = ('DATABASE_NAME', 'DATABASE_USER', 'DATABASE_PASSWORD', 'DATABASE_HOST',
                   'DATABASE_PORT', 'DATABASE_OPTIONS')


def _with_client_settings(alias, func, *args, **kwargs):
    """dbshell --database=ALIAS: Django 1.0's clients read the connection
    values from settings, not from their connection; there, the settings hold
    ``alias``'s values while ``func`` runs (the client replaces the process)."""
    if not versions.feature('client_reads_settings'):
        return func(*args, **kwargs)
    values = config.current().databases[alias].settings_dict
    return config.with_settings(dict([(name, values[name]) for name in CLIENT_SETTINGS]),
                                func, *args, **kwargs)


def dump_database(alias, labels, options):
    """dumpdata [APP or APP.Model ...] --database=ALIAS: the objects of the
    models named (every installed app's when none is) that live on
    ``alias``, read there; the others are left out, as their tables are
    not there.  The same on Django 1.0 and 1.1."""
    from django.core import serializers
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management.base import CommandError
    from django.db.models import get_app, get_apps, get_model, get_models
    format = options.get('format', 'json')
    if format not in serializers.get_public_serializer_formats():
        raise CommandError('Unknown serialization format: %s' % format)

    def app_named(label):
        try:
            return get_app(label)
        except ImproperlyConfigured:
            raise CommandError('Unknown application: %s' % label)
    excluded = [app_named(label) for label in options.get('exclude') or []]
    wanted = []
    if not labels:
        for app in get_apps():
            if app not in excluded:
                wanted.extend(get_models(app))
    for label in labels:
        if '.' in label:
            app_label, model_name = label.split('.', 1)
            app_named(app_label)
            model = get_model(app_label, model_name)
            if model is None:
                raise CommandError('Unknown model: %s' % label)
            wanted.append(model)
        else:
            wanted.extend(get_models(app_named(label)))
    living = set(syncdb.models_for(alias))
    objects = []
    with using(alias):
        for model in wanted:
            if model in living and not getattr(model._meta, 'proxy', False):
                objects.extend(model._default_manager.all())
    try:
        output = serializers.serialize(format, objects, indent=options.get('indent'))
    except Exception:
        if options.get('traceback'):
            raise
        raise CommandError('Unable to serialize database: %s' % sys.exc_info()[1])
    sys.stdout.write(output)
    if output and not output.endswith('\n'):
        sys.stdout.write('\n')
    return None
