"""What differs between the Django versions djpatch_multidb supports, as data.

Django 1.0 and 1.1 have one database connection: install() patches them
(``PATCHED``).  Django 1.2 and later have multiple databases of their own:
install() patches nothing in the ORM there and routes through a router
(``NATIVE``).  Every per-version difference the code cares about is a key
here; the code reads the key instead of testing version numbers.
"""
import django
from django.core.exceptions import ImproperlyConfigured

PATCHED = {
    # Django 1.0: DatabaseWrapper(**DATABASE_OPTIONS), _cursor(settings).
    (1, 0): {
        'wrapper_takes_settings_dict': False,
        'cursor_takes_settings': True,
        'command_checks': 'requires_model_validation',
        # dbshell's clients read settings.DATABASE_NAME, ..., not their connection's.
        'client_reads_settings': True,
        # A queryset as a filter value is read when filter() is called.
        'filter_values_compiled_late': False,
    },
    # Django 1.1: DatabaseWrapper(settings_dict), _cursor().
    (1, 1): {
        'wrapper_takes_settings_dict': True,
        'cursor_takes_settings': False,
        'command_checks': 'requires_model_validation',
        'client_reads_settings': False,
        # ... or compiled with the outer query, each time it runs (a value with
        # as_sql() and relabel_aliases() is kept as it is until then).
        'filter_values_compiled_late': True,
    },
}
SUPPORTED = PATCHED   # the name older code and tests use

# Django's own multi-db, from 1.2 on.  Each key lists (first version, value):
# the value in force is the one of the newest entry not newer than Django.
NATIVE_SINCE = (1, 2)
NATIVE = {
    # When the library settles DATABASES and DATABASE_ROUTERS: django.db
    # builds its ConnectionHandler from settings at import up to 1.6; from
    # 1.7 connections are lazy and django.setup() comes first.
    'settle_on': [((1, 2), 'connection_handler'), ((1, 7), 'setup')],
    # The router method that says which tables a database gets.
    'migrate_method': [((1, 2), 'allow_syncdb'), ((1, 7), 'allow_migrate')],
    # Test database settings: TEST_NAME/TEST_MIRROR keys, or the TEST dict
    # (1.7 reads both, 1.9 only the dict).
    'test_settings': [((1, 2), 'flat'), ((1, 7), 'both'), ((1, 9), 'dict')],
    # transaction.commit_on_success(using=) up to 1.5, atomic(using=) from 1.6.
    'transaction': [((1, 2), 'commit_on_success'), ((1, 6), 'atomic')],
    # Manager.get_query_set up to 1.5, get_queryset from 1.6.
    'manager_queryset': [((1, 2), 'get_query_set'), ((1, 6), 'get_queryset')],
    # QuerySet(model, query, using) ; hints= from 1.7.
    'queryset_hints': [((1, 2), False), ((1, 7), True)],
    # The app registry: django.db.models.get_models up to 1.8, django.apps from 1.7.
    'app_registry': [((1, 2), 'loading'), ((1, 7), 'apps')],
    # Management command options: optparse option_list up to 1.9, argparse from 1.8.
    'command_options': [((1, 2), 'optparse'), ((1, 8), 'argparse')],
    # The management command attribute that turns the start-up checks off
    # (1.7 and 1.8 refuse a command that sets both).
    'command_checks': [((1, 2), 'requires_model_validation'), ((1, 7), 'requires_system_checks')],
    # Tables for apps without migrations: syncdb, or migrate (--run-syncdb from 1.9).
    'create_tables': [((1, 2), ('syncdb',)), ((1, 7), ('migrate',)),
                      ((1, 9), ('migrate', '--run-syncdb'))],
}


def django_version():
    return tuple(django.VERSION[:2])


def is_native(version=None):
    """Whether this Django (or ``version``) has multiple databases of its own."""
    return (version or django_version()) >= NATIVE_SINCE


class Since(object):
    """The Django versions from ``first`` up to (not including) ``until``, as a
    container for Patch(versions=...)."""

    def __init__(self, first, until=None):
        self.first = first
        self.until = until

    def __contains__(self, version):
        return version >= self.first and (self.until is None or version < self.until)

    def __repr__(self):
        return 'Since(%r, %r)' % (self.first, self.until)


def supported_names():
    names = ['%d.%d' % v for v in sorted(PATCHED)]
    return '%s (patched) and %d.%d or later (routed)' % (
        ', '.join(names), NATIVE_SINCE[0], NATIVE_SINCE[1])


def check_supported():
    """Raise ImproperlyConfigured unless this Django is one we support."""
    version = django_version()
    if version not in PATCHED and not is_native(version):
        raise ImproperlyConfigured(
            "djpatch_multidb.install() supports Django %s; this is Django %s."
            % (supported_names(), django.get_version()))


def feature(name, version=None):
    version = version or django_version()
    if version in PATCHED:
        return PATCHED[version][name]
    chosen = None
    for first, value in NATIVE[name]:
        if version >= first:
            chosen = value
    return chosen
