"""Replacements at the connection level: opening a cursor, and the request signals."""
import sys

from djpatch_multidb import config, replicas, versions
from djpatch_multidb.compat import reraise
from djpatch_multidb.connections import connections


def make_cursor(original):
    """DatabaseWrapper._cursor: connect with the alias's own settings.

    Django 1.0 passes the settings module to ``_cursor(settings)``; the wrapper
    of an alias gets the alias's settings instead.  Either way the alias is
    noted as having work a commit must reach, and a failure to connect names
    the alias and where it points (never the password).
    """
    takes_settings = versions.feature('cursor_takes_settings')

    def _cursor(self, *args):
        alias = self.__dict__.get('djpatch_alias')
        if alias is None:
            return original(self, *args)
        if takes_settings:
            args = (self.djpatch_settings,)
        if self.connection is not None:
            cursor = original(self, *args)
        else:
            try:
                cursor = original(self, *args)
            except Exception:
                error_type, error, tb = sys.exc_info()
                reraise(error_type, _naming_alias(error, alias), tb)
        if self.__dict__.get('djpatch_in_registry'):
            return CountingCursor(cursor, alias)
        return cursor
    _cursor.__name__ = '_cursor'
    _cursor.__doc__ = original.__doc__
    _cursor.djpatch_original = original
    return _cursor


class CountingCursor(object):
    """A cursor that tells the registry each statement it runs, so that a commit
    reaches exactly the connections with work since the last one."""
    __slots__ = ('cursor', 'alias')

    def __init__(self, cursor, alias):
        self.cursor = cursor
        self.alias = alias

    def execute(self, sql, params=()):
        connections.mark_pending(self.alias, sql)
        return self.cursor.execute(sql, params)

    def executemany(self, sql, param_list):
        connections.mark_pending(self.alias, sql)
        return self.cursor.executemany(sql, param_list)

    def __getattr__(self, name):
        return getattr(self.cursor, name)

    def __iter__(self):
        return iter(self.cursor)


def _naming_alias(error, alias):
    """The same error, its message saying which alias failed to connect."""
    try:
        where = config.current().databases[alias].describe()
    except Exception:
        return error
    args = list(getattr(error, 'args', ()))
    note = 'alias %r (%s)' % (alias, where)
    if args and isinstance(args[-1], str):
        args[-1] = '%s [%s]' % (args[-1], note)
    else:
        args.append(note)
    try:
        renamed = error.__class__(*args)
    except Exception:
        return error
    return renamed


def make_close_connection(original):
    """request_finished: close every connection this thread opened; forget its pins."""
    def close_connection(**kwargs):
        connections.close_all()
        replicas.clear_thread()
    close_connection.djpatch_original = original
    return close_connection


def make_reset_queries(original):
    """request_started: empty every connection's query log; forget the thread's pins."""
    def reset_queries(**kwargs):
        connections.reset_queries()
        replicas.clear_thread()
    reset_queries.djpatch_original = original
    return reset_queries


def make_sqlite_close(original):
    """Django 1.0's SQLite close() keeps ':memory:' databases open by looking at
    the global DATABASE_NAME; an alias's wrapper looks at its own."""
    def close(self):
        alias_settings = self.__dict__.get('djpatch_settings')
        if alias_settings is None:
            return original(self)
        if alias_settings.DATABASE_NAME != ':memory:':
            from django.db.backends import BaseDatabaseWrapper
            BaseDatabaseWrapper.close(self)
    close.djpatch_original = original
    close.__doc__ = original.__doc__
    return close
