"""The connection registry: one DatabaseWrapper per alias per thread.

``connections[alias]`` builds the wrapper for this thread on first use, from
the alias's DATABASES entry, with the backend that ENGINE names.  A commit or
a rollback reaches every connection of the thread that ran a statement since
the last one, in the order they were used.
"""
import sys
import threading

from djpatch_multidb.base import config, patcher, versions
from djpatch_multidb.base.compat import import_module, reraise
from djpatch_multidb.base.errors import CommitError
from djpatch_multidb.db.nativeconnections import NativeConnections

# Two-phase commit across MySQL aliases (db/xa.py) puts itself here when it is
# imported.  Only it opens XA branches, so until then there are none.
two_phase = [None]


class _NoTwoPhase(object):
    """What commits ask while db/xa.py is not loaded: no branch is open."""

    @staticmethod
    def branches():
        return []

    @staticmethod
    def rollback(handler):
        return None


def _xa():
    return two_phase[0] or _NoTwoPhase


class ConnectionHandler(object):
    """alias -> this thread's DatabaseWrapper."""

    def __init__(self):
        self._local = threading.local()
        self._backends = {}
        # alias -> alias whose connection it shares (TEST_MIRROR, while testing)
        self.mirrors = {}

    def _wrappers(self):
        local = self._local
        try:
            if local.generation == config.generation[0]:
                return local.wrappers
            for wrapper in local.wrappers.values():
                wrapper.close()
        except AttributeError:
            pass
        local.wrappers = {}
        local.pending = []
        local.written = {}
        local.broken = {}
        local.generation = config.generation[0]
        return local.wrappers

    def __getitem__(self, alias):
        local = self._local
        try:
            if local.generation == config.generation[0]:
                return local.wrappers[alias]
        except (AttributeError, KeyError):
            pass
        return self._create(alias)

    def default(self):
        """This thread's wrapper for 'default' (the same as self['default'], shorter)."""
        local = self._local
        try:
            if local.generation == config.generation[0]:
                return local.wrappers['default']
        except (AttributeError, KeyError):
            pass
        return self['default']

    def __contains__(self, alias):
        return alias in config.current().databases

    def __iter__(self):
        return iter(config.current().aliases)

    def all(self):
        """This thread's wrappers for every alias."""
        return [self[alias] for alias in config.current().aliases]

    def opened(self):
        """(alias, wrapper) for each alias this thread has built a wrapper for."""
        return sorted(self._wrappers().items())

    def _create(self, alias):
        if alias in self.mirrors:
            wrapper = self[self.mirrors[alias]]
            self._wrappers()[alias] = wrapper
            return wrapper
        wrapper = self.dedicated(alias)
        wrapper.djpatch_in_registry = True
        self._wrappers()[alias] = wrapper
        return wrapper

    def dedicated(self, alias):
        """A new wrapper for ``alias`` that belongs to no thread's registry.

        Its cursors do not join this thread's transactions: it commits alone.
        """
        patcher.tick()
        db = config.current().databases.get(alias)
        if db is None:
            config.current().check_alias(alias)
        backend = self.backend(db)
        if versions.feature('wrapper_takes_settings_dict'):
            wrapper = backend.DatabaseWrapper(db.settings_dict)
        else:
            wrapper = backend.DatabaseWrapper(**db.options)
            wrapper.djpatch_settings = config.AliasSettings(alias, db.settings_dict)
        wrapper.djpatch_alias = alias
        return wrapper

    def backend(self, db):
        try:
            return self._backends[db.backend]
        except KeyError:
            try:
                module = import_module('%s.base' % db.backend)
            except ImportError:
                error = sys.exc_info()[1]
                from django.core.exceptions import ImproperlyConfigured
                raise ImproperlyConfigured(
                    "DATABASES[%r]['ENGINE'] is %r, whose backend %s.base cannot be "
                    "imported: %s" % (db.alias, db.engine, db.backend, error))
            self._backends[db.backend] = module
            return module

    # -- transactions ------------------------------------------------------
    def mark_pending(self, alias, sql=None):
        """A statement ran on ``alias``: a commit or rollback has to reach it.
        (Any statement: a MySQL read also holds a snapshot until the commit.)"""
        pending = self._local.pending
        if alias not in pending:
            pending.append(alias)
        if sql is not None and not sql.lstrip()[:6].upper() == 'SELECT':
            self._local.written[alias] = True

    def mark_broken(self, alias):
        """``alias`` lost its connection with uncommitted writes: refuse it until
        the transaction ends (a rollback; a commit fails)."""
        self._wrappers()
        self._local.broken[alias] = True

    def is_broken(self, alias):
        return alias in self._local.broken

    def forget(self, alias):
        """Drop ``alias`` from the work a commit must reach (its connection was lost)."""
        self._wrappers()
        if alias in self._local.pending:
            self._local.pending.remove(alias)
        self._local.written.pop(alias, None)

    def pending(self):
        """Aliases that ran a statement since this thread's last commit or rollback."""
        self._wrappers()
        return list(self._local.pending)

    def has_written(self, alias):
        """Whether ``alias`` ran a statement other than SELECT since the last commit."""
        return alias in self._local.written

    def has_pending(self, alias):
        return alias in self._local.pending

    def written(self):
        """Aliases that ran a statement other than SELECT since the last commit."""
        self._wrappers()
        return list(self._local.written)

    def open_aliases(self):
        """This thread's aliases with work since the last commit or rollback,
        each connection once, in the order used."""
        wrappers = self._wrappers()
        opened, seen = [], []
        for alias in self._local.pending:
            wrapper = wrappers.get(alias)
            if wrapper is not None and wrapper.connection is not None and wrapper not in seen:
                opened.append(alias)
                seen.append(wrapper)
        return opened

    def commit_pending(self):
        """Commit every connection this thread has open, in the order used.

        Django 1.0 commits "the" connection, whatever cursor ran the statement;
        with several connections that is every one that ran a statement since
        the last commit (cursors count their statements).  If one commit fails, the ones
        after it are rolled back and a CommitError names what was committed,
        what failed and what was rolled back.
        """
        remaining = self.open_aliases()
        broken = self._reset_transaction()
        xa = _xa()
        if xa.branches() and not broken:
            xa_aliases = [alias for alias, xid in xa.branches()]
            return xa.commit(self, [a for a in remaining if a not in xa_aliases])
        if broken:
            xa.rollback(self)
        committed = []
        if broken:
            remaining = broken + [a for a in remaining if a not in broken]
        while remaining:
            alias = remaining.pop(0)
            try:
                if alias in broken:
                    raise self._lost(alias)
                self[alias]._commit()
            except Exception:
                error_type, error, tb = sys.exc_info()
                rolled_back = self._rollback(remaining, swallow=True)
                if not committed:
                    reraise(error_type, error, tb)
                reraise(CommitError, CommitError(alias, error, committed, rolled_back), tb)
            committed.append(alias)
        return committed

    def rollback_pending(self, swallow=False):
        """Roll back every connection this thread has open."""
        aliases = self.open_aliases()
        broken = self._reset_transaction()
        xa = _xa()
        xa_aliases = [alias for alias, xid in xa.branches()]
        xa.rollback(self)
        return self._rollback([a for a in aliases if a not in broken and a not in xa_aliases],
                              swallow)

    def _reset_transaction(self):
        """Start afresh: nothing pending; broken aliases' dead connections are
        dropped (they connect again on next use).  Returns the broken aliases."""
        broken = sorted(self._local.broken)
        for alias in broken:
            wrapper = self._local.wrappers.get(alias)
            if wrapper is not None:
                drop(wrapper)
        self._local.pending = []
        self._local.written = {}
        self._local.broken = {}
        return broken

    def _lost(self, alias):
        from django.db import DatabaseError
        return DatabaseError("alias %r (%s) lost its connection in the middle of this "
                             "transaction; its part of the transaction is gone."
                             % (alias, config.current().databases[alias].describe()))

    def _rollback(self, aliases, swallow):
        rolled_back = []
        first_error = None
        for alias in aliases:
            try:
                self[alias]._rollback()
                rolled_back.append(alias)
            except Exception:
                if first_error is None:
                    first_error = sys.exc_info()
        if first_error is not None and not swallow:
            reraise(*first_error)
        return rolled_back

    def close_all(self):
        """Close this thread's connections (at the end of a request)."""
        self._wrappers()
        for alias, wrapper in self.opened():
            drop(wrapper)
        self._local.pending = []
        self._local.written = {}
        self._local.broken = {}

    def reset_queries(self):
        for alias, wrapper in self.opened():
            wrapper.queries = []


def naming_alias(error, alias):
    """The same error, its message saying which alias it happened on."""
    try:
        where = config.current().databases[alias].describe()
    except Exception:
        return error
    args = list(getattr(error, 'args', ()))
    note = 'alias %r (%s)' % (alias, where)
    if note in str(args):
        return error    # named already
    if args and isinstance(args[-1], str):
        args[-1] = '%s [%s]' % (args[-1], note)
    else:
        args.append(note)
    try:
        renamed = error.__class__(*args)
    except Exception:
        return error
    return renamed


def drop(wrapper):
    """Close a wrapper's connection; a dead one that cannot even close is let go."""
    try:
        wrapper.close()
    except Exception:
        wrapper.connection = None


if versions.is_native():
    connections = NativeConnections()
else:
    connections = ConnectionHandler()
