"""The connection registry: one DatabaseWrapper per alias, each thread with a
connection of its own in it.

``connections[alias]`` builds the wrapper on first use, from the alias's
DATABASES entry, with the backend that ENGINE names.  A commit or
a rollback reaches every connection of the thread that ran a statement since
the last one, in the order they were used.
"""
import sys
import threading

from djpatch_multidb.base import config, patcher, threadstate, versions
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


class ThreadWork(object):
    """What a thread's next commit or rollback must reach: the aliases that
    ran a statement (pending, in the order used), those that may have
    written, those whose connection was lost with writes (broken)."""
    __slots__ = ('pending', 'written', 'broken', 'generation', 'orm')

    def __init__(self, generation):
        self.pending = []
        self.written = {}
        self.broken = {}
        self.generation = generation
        self.orm = 0    # > 0 while the ORM runs a statement it marks itself (patched/orm.py)


class ConnectionHandler(object):
    """alias -> the alias's DatabaseWrapper, one for the whole process.

    Django 1.0/1.1's BaseDatabaseWrapper is a threading.local: each thread that
    uses the one wrapper of an alias has a connection of its own in it.  So a
    queryset may hold the wrapper itself (built in one thread, run in
    another) and no lookup per access is needed.
    """

    def __init__(self):
        self._backends = {}
        self._classes = {}
        self._lock = threading.RLock()
        self._all = {}
        self._generation = None
        # alias -> alias whose connection it shares (TEST_MIRROR, while testing)
        self.mirrors = {}

    def _thread(self):
        """This thread's record of pending work (threadstate.local.db_work),
        started afresh for each configuration (config.reload() bumps the
        generation)."""
        work = getattr(threadstate.local, 'db_work', None)
        if work is None or work.generation != config.generation[0]:
            work = threadstate.local.db_work = ThreadWork(config.generation[0])
        return work

    def _wrappers(self):
        if self._generation != config.generation[0]:
            self._lock.acquire()
            try:
                if self._generation != config.generation[0]:
                    old = self._all
                    self._all = {}
                    self._generation = config.generation[0]
                    for wrapper in old.values():
                        drop(wrapper)     # this thread's connection; others' go with the wrapper
            finally:
                self._lock.release()
        self._thread()
        return self._all

    def __getitem__(self, alias):
        if self._generation == config.generation[0]:
            try:
                return self._all[alias]
            except KeyError:
                pass
        return self._create(alias)

    def default(self):
        """The wrapper for 'default' (the same as self['default'])."""
        if self._generation == config.generation[0]:
            try:
                return self._all['default']
            except KeyError:
                pass
        return self._create('default')

    def __contains__(self, alias):
        return alias in config.current().databases

    def __iter__(self):
        return iter(config.current().aliases)

    def all(self):
        """The wrappers of every alias."""
        return [self[alias] for alias in config.current().aliases]

    def opened(self):
        """(alias, wrapper) for each alias whose wrapper is built."""
        return sorted(self._wrappers().items())

    def _create(self, alias):
        wrappers = self._wrappers()
        self._lock.acquire()
        try:
            wrapper = wrappers.get(alias)
            if wrapper is not None:
                return wrapper
            if alias in self.mirrors:
                wrapper = self[self.mirrors[alias]]
            else:
                wrapper = self._build(alias, True)
            wrappers[alias] = wrapper
            return wrapper
        finally:
            self._lock.release()

    def dedicated(self, alias):
        """A new wrapper for ``alias`` that belongs to no thread's registry.

        Its cursors do not join this thread's transactions: it commits alone.
        """
        return self._build(alias, False)

    def _build(self, alias, in_registry):
        patcher.tick()
        cfg = config.current()
        db = cfg.databases.get(alias)
        if db is None:
            cfg.check_alias(alias)
        cls = self._wrapper_class(db, in_registry)
        if versions.feature('wrapper_takes_settings_dict'):
            return cls(db.settings_dict)
        return cls(**db.options)

    def _wrapper_class(self, db, in_registry):
        """The backend's DatabaseWrapper, made to know its alias: each thread's
        view of the wrapper (threading.local runs __init__ again in every
        thread that uses it) gets djpatch_alias, and on Django 1.0 the alias's
        own settings for _cursor(settings)."""
        key = (db.alias, in_registry, config.generation[0], id(db))
        try:
            return self._classes[key]
        except KeyError:
            pass
        base = self.backend(db).DatabaseWrapper
        alias = db.alias
        alias_settings = None
        if not versions.feature('wrapper_takes_settings_dict'):
            alias_settings = config.AliasSettings(alias, db.settings_dict)

        mysql = db.vendor == 'mysql'

        def __init__(self, *args, **kwargs):
            base.__init__(self, *args, **kwargs)
            self.djpatch_alias = alias
            self.djpatch_mysql = mysql
            if in_registry:
                self.djpatch_in_registry = True
            if alias_settings is not None:
                self.djpatch_settings = alias_settings
        cls = type(base.__name__, (base,), {'__init__': __init__, '__module__': base.__module__,
                                            '__doc__': base.__doc__})
        if len(self._classes) > 256:
            self._classes.clear()
        self._classes[key] = cls
        return cls

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
        local = self._thread()
        if alias not in local.pending:
            local.pending.append(alias)
        if sql is not None and not sql.lstrip()[:6].upper() == 'SELECT':
            local.written[alias] = True

    def mark_broken(self, alias):
        """``alias`` lost its connection with uncommitted writes: refuse it until
        the transaction ends (a rollback; a commit fails)."""
        self._thread().broken[alias] = True

    def is_broken(self, alias):
        return alias in self._thread().broken

    def forget(self, alias):
        """Drop ``alias`` from the work a commit must reach (its connection was lost)."""
        local = self._thread()
        if alias in local.pending:
            local.pending.remove(alias)
        local.written.pop(alias, None)

    def pending(self):
        """Aliases that ran a statement since this thread's last commit or rollback."""
        return list(self._thread().pending)

    def has_written(self, alias):
        """Whether ``alias`` ran a statement other than SELECT since the last commit."""
        return alias in self._thread().written

    def has_pending(self, alias):
        return alias in self._thread().pending

    def written(self):
        """Aliases that ran a statement other than SELECT since the last commit."""
        return list(self._thread().written)

    def open_aliases(self):
        """This thread's aliases with work since the last commit or rollback,
        each connection once, in the order used."""
        wrappers = self._wrappers()
        opened, seen = [], []
        for alias in self._thread().pending:
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
        local = getattr(threadstate.local, 'db_work', None)
        if local is None or local.generation != config.generation[0]:
            local = self._thread()
        pending = local.pending
        # (xa_branches: db/xa.py's open branches, on the same thread-local.)
        if len(pending) <= 1 and not local.broken and \
                not threadstate.local.__dict__.get('xa_branches'):
            # The common case: one connection (or none) to commit.
            local.pending = []
            local.written = {}
            if not pending:
                return []
            wrapper = self._all.get(pending[0])
            if wrapper is None or wrapper.connection is None:
                return []
            wrapper._commit()
            return pending
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
        local = self._thread()
        broken = sorted(local.broken)
        for alias in broken:
            wrapper = self._all.get(alias)
            if wrapper is not None:
                drop(wrapper)
        local.pending = []
        local.written = {}
        local.broken = {}
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
        for alias, wrapper in self.opened():
            drop(wrapper)
        local = self._thread()
        local.pending = []
        local.written = {}
        local.broken = {}

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
