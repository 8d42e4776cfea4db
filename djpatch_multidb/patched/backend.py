"""Replacements at the connection level: opening a cursor, and the request signals."""
import sys

from djpatch_multidb.base import config, threadstate, versions
from djpatch_multidb.base.compat import reraise
from djpatch_multidb.context import selector
from djpatch_multidb.db import xa
from djpatch_multidb.db.connections import connections, drop, naming_alias
from djpatch_multidb.db.cursors import CountingCursor
from djpatch_multidb.routing import replicas


_local = threadstate.local
generation = config.generation


def make_cursor(original):
    """DatabaseWrapper._cursor: connect with the alias's own settings.

    Django 1.0 passes the settings module to ``_cursor(settings)``; the wrapper
    of an alias gets the alias's settings instead.  Either way the alias is
    noted as having work a commit must reach, and a failure to connect names
    the alias and where it points (never the password).
    """
    takes_settings = versions.feature('cursor_takes_settings')

    def _cursor(self, *args):
        state = self.__dict__
        alias = state.get('djpatch_alias')
        if alias is None:
            return original(self, *args)
        if takes_settings:
            args = (state['djpatch_settings'],)
        registered = 'djpatch_in_registry' in state
        if registered:
            # (_thread() also starts this thread's record afresh after a
            # config.reload(): the cursor's statements then mark the new one.)
            work = _local.__dict__.get('db_work')
            if work is None or work.generation != generation[0]:
                work = connections._thread()
            broken = work.broken
            if broken and alias in broken:
                _raise_lost(self, alias)
        before = state.get('connection')     # self.connection (state: this thread's)
        try:
            cursor = original(self, *args)
        except Exception:
            error_type, error, tb = sys.exc_info()
            reraise(error_type, naming_alias(error, alias), tb)
        if not registered:
            return cursor
        if before is not None and state.get('connection') is not before \
                and connections.has_written(alias):
            connections.forget(alias)
            _raise_lost(self, alias)
        if work.orm:
            # The ORM's own statement: its replacement marks what it does
            # (patched/orm.py _statement), one cursor, no wrapper.
            if alias not in work.pending:
                work.pending.append(alias)
            return cursor
        # Anyone else's cursor (raw SQL, through django.db.connection or
        # connections[alias]) counts its statements, each time.
        return CountingCursor(cursor, self, alias, state['djpatch_mysql'])
    _cursor.__name__ = '_cursor'
    _cursor.__doc__ = original.__doc__
    _cursor.djpatch_original = original
    return _cursor


def _raise_lost(wrapper, alias):
    """The connection to ``alias`` was lost with writes not yet committed: that
    work is gone.  Say so rather than carry on silently on a new connection;
    once the transaction is rolled back (or committed, which fails) the alias
    connects again."""
    error_class = getattr(sys.modules[type(wrapper).__module__], 'OperationalError', None) or \
        getattr(sys.modules[type(wrapper).__module__], 'DatabaseError', Exception)
    raise error_class(
        "The connection to alias %r (%s) was lost in the middle of a transaction: its "
        "uncommitted work is gone. Roll the transaction back; the alias connects again then."
        % (alias, config.current().databases[alias].describe()))


class _AnyBackend(type):
    """Metaclass of django.db.DatabaseError and IntegrityError while installed.

    django.db holds the classes of one backend: the dummy's, which no real
    driver raises, when no DATABASE_ENGINE is set or shown from DATABASES.
    These classes match the class of that name of every configured backend
    (and the one django.db had), in except clauses, isinstance() and issubclass().
    """

    def __subclasscheck__(cls, subclass):
        if type.__subclasscheck__(cls, subclass):
            return True
        try:
            return issubclass(subclass, backend_classes(cls.__name__, cls.djpatch_original))
        except Exception:
            return False

    def __instancecheck__(cls, instance):
        return cls.__subclasscheck__(type(instance))


def backend_classes(name, original):
    found = [original]
    cfg = config.current()
    for alias in cfg.aliases:
        try:
            theirs = getattr(connections.backend(cfg.databases[alias]), name)
        except Exception:
            continue
        # The backend django.db loaded (settings with DATABASE_ENGINE) holds
        # the replacement itself: its original, or every check would recurse.
        found.append(getattr(theirs, 'djpatch_original', theirs))
    return tuple(found)


def any_backend(name):
    """A replacement for django.db's ``name`` that every configured backend's matches."""
    def make(original):
        return _AnyBackend(name, (original,), {'djpatch_original': original,
                                               '__module__': 'django.db'})
    return make


def make_close_connection(original):
    """request_finished: close every connection this thread opened; forget its
    pins."""
    def close_connection(**kwargs):
        connections.close_all()
        replicas.clear_thread()
    close_connection.djpatch_original = original
    return close_connection


def make_reset_queries(original):
    """request_started: empty every connection's query log; forget the thread's
    pins."""
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


def make_on_cache_alias(original):
    """The database cache backend's raw SQL runs on the alias holding the cache
    table (MULTIDB_CACHE_ALIAS, default 'default'), whatever block is open."""
    def method(self, *args, **kwargs):
        from django.conf import settings
        alias = getattr(settings, 'MULTIDB_CACHE_ALIAS', None) or 'default'
        return selector.run_in(alias, frozenset(), original, self, *args, **kwargs)
    method.__name__ = original.__name__
    method.__doc__ = original.__doc__
    method.djpatch_original = original
    return method
