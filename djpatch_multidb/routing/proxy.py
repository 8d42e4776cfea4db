"""Connection objects that stand for "whichever connection is selected".

``ConnectionProxy`` replaces ``django.db.connection`` (and the module copies of
it): every attribute access goes to this thread's wrapper for the alias the
selector chooses now, the shape of Django 1.2's DefaultConnectionProxy.

``QueryConnection`` is what a routed queryset's ``query.connection`` holds: the
queryset's own choice (an alias, or readonly with the alias still open),
which survives ``Query.clone()`` because Django copies ``connection``.

``TransactionConnection`` replaces ``django.db.transaction.connection``: its
``_commit()`` and ``_rollback()`` reach every connection this thread has
pending work on; everything else goes to the selected connection.
"""
import sys

from djpatch_multidb.base import config
from djpatch_multidb.base.compat import reraise
from djpatch_multidb.base.errors import ImproperlyConfigured, ReadOnlyError
from djpatch_multidb.context import selector
from djpatch_multidb.db.connections import connections
from djpatch_multidb.routing import precedence, rawsql


# What the ORM reads of django.db.connection while it builds every query
# (ops.quote_name, operators[lookup], features): objects of the backend, not of one
# connection, for the backends named here.  When every alias uses one of them,
# the module-level proxy keeps them as plain attributes after the first access,
# so those reads skip the lookup (config.reload() forgets them).
SHARED_ATTRIBUTES = ('ops', 'operators', 'features')
ENGINE_ATTRIBUTES = SHARED_ATTRIBUTES + ('creation',)
SHARED_BACKENDS = ('sqlite3', 'mysql')


_thread = selector._state      # the selector's thread-local stack (none open: idle)
generation = config.generation


class ConnectionProxy(object):
    """django.db.connection: the selected connection, looked up on every access."""

    def __getattr__(self, name):
        if not _thread.stack:  # the common case, kept short: 'default'
            wrapper = connections.default()
            value = getattr(wrapper, name)
            if name == 'cursor':
                if type(self) is ConnectionProxy:
                    # raw SQL outside any block follows MULTIDB_MODELS (rawsql.py)
                    return rawsql.cursor_method(
                        value, sys._getframe(1).f_globals.get('__name__') or '')
        else:
            try:
                alias = precedence.raw_alias()
            except ImproperlyConfigured:
                # A block that cannot tell the alias (using_shard(n) with several
                # groups): what the ORM reads of the engine while it builds a
                # query (operators, field types) is the same on every alias.
                if name not in ENGINE_ATTRIBUTES or type(self) is not ConnectionProxy or \
                        not _shared():
                    raise
                if name == 'creation':
                    return FieldTypes(connections.default().creation.data_types,
                                      sys.exc_info()[1])
                alias = 'default'
            wrapper = connections[alias]
            value = getattr(wrapper, name)
            if name == 'cursor' and selector.is_readonly() and \
                    not getattr(selector.raw_entry(), 'runs_library_sql', False):
                return _readonly_cursor(value, alias)
            if name == 'cursor' and type(self) is ConnectionProxy and \
                    getattr(selector.raw_entry(), 'raw_follows_tables', False):
                # a save's or delete's signal handlers, no block of the caller's open
                return rawsql.cursor_method(value, sys._getframe(1).f_globals.get('__name__') or '')
        if name in SHARED_ATTRIBUTES and type(self) is ConnectionProxy and _shared():
            self.__dict__[name] = value
        return value

    def __setattr__(self, name, value):
        setattr(connections[precedence.raw_alias()], name, value)

    def __delattr__(self, name):
        delattr(connections[precedence.raw_alias()], name)

    def __repr__(self):
        return '<djpatch_multidb connection proxy, now %r>' % (precedence.raw_alias(),)


# What django.db.connection runs inside readonly(): statements that read,
# by their first word.  Everything else (INSERT, UPDATE, DELETE, REPLACE,
# CREATE, DROP, ALTER, TRUNCATE, CALL, LOAD, ...) is refused before it is sent.
READ_STATEMENTS = ('SELECT', 'SHOW', 'DESCRIBE', 'DESC', 'EXPLAIN', 'PRAGMA', 'WITH', 'SET',
                   'VALUES', 'USE', 'HELP', 'CHECKSUM')
# Words that make a WITH ... statement (or a PRAGMA with a value) write.
_WRITE_WORDS = frozenset(['insert', 'update', 'delete', 'replace'])


def _reads_only(verb, sql):
    if verb not in READ_STATEMENTS:
        return False
    if verb == 'WITH':
        return not (rawsql.statement(sql)[1] & _WRITE_WORDS)
    if verb == 'PRAGMA':
        return '=' not in sql and '(' not in sql
    return True


def _readonly_cursor(make_cursor, alias):
    """django.db.connection.cursor inside readonly(): its cursors refuse SQL
    that writes before it reaches ``alias``."""
    def cursor(*args, **kwargs):
        return ReadOnlyCursor(make_cursor(*args, **kwargs), alias)
    return cursor


def statement_verb(sql):
    """The first word of ``sql`` in capitals, after whitespace and comments
    (-- and # to the end of the line, /* ... */)."""
    if not isinstance(sql, str):
        try:
            sql = sql.decode('utf-8') if isinstance(sql, bytes) else '%s' % (sql,)
        except Exception:
            return ''
    position, length = 0, len(sql)
    while position < length:
        char = sql[position]
        if char.isspace() or char in '(;':
            position += 1
        elif sql.startswith('--', position) or char == '#':
            end = sql.find('\n', position)
            position = end < 0 and length or end + 1
        elif sql.startswith('/*!', position):
            position += 3           # MySQL runs what such a comment holds
            while position < length and sql[position].isdigit():
                position += 1
        elif sql.startswith('/*', position):
            end = sql.find('*/', position + 2)
            position = end < 0 and length or end + 2
        else:
            break
    end = position
    while end < length and (sql[end].isalnum() or sql[end] == '_'):
        end += 1
    return sql[position:end].upper()


class ReadOnlyCursor(object):
    """A raw cursor opened inside readonly(): statements that write raise
    ReadOnlyError and are not sent."""

    def __init__(self, cursor, alias):
        self.__dict__['cursor'] = cursor
        self.__dict__['alias'] = alias

    def _refuse(self, sql):
        verb = statement_verb(sql)
        if not _reads_only(verb, sql):
            verb = verb or 'this statement'
            error = ReadOnlyError.__new__(ReadOnlyError)
            error.model = None
            error.alias = self.__dict__['alias']
            Exception.__init__(
                error, "Cannot run %s through django.db.connection inside readonly() (its "
                "database is %r): reads only there (SELECT, SHOW, ...). Nothing was run; run "
                "it outside the readonly() block." % (verb, error.alias))
            raise error

    def execute(self, sql, *args, **kwargs):
        self._refuse(sql)
        return self.__dict__['cursor'].execute(sql, *args, **kwargs)

    def executemany(self, sql, *args, **kwargs):
        self._refuse(sql)
        return self.__dict__['cursor'].executemany(sql, *args, **kwargs)

    def executescript(self, script):
        self._refuse('EXECUTESCRIPT')       # several statements: not read one by one

    def callproc(self, procname, *args, **kwargs):
        self._refuse('CALL')                # a procedure may write

    def __getattr__(self, name):
        return getattr(self.__dict__['cursor'], name)

    def __setattr__(self, name, value):
        setattr(self.__dict__['cursor'], name, value)

    def __iter__(self):
        return iter(self.__dict__['cursor'])


class FieldTypes(object):
    """django.db.connection.creation inside a block that names no alias for
    raw SQL: the engine's field types (Field.db_type() reads them while a
    filter is built), which every alias shares; anything else of it, which
    belongs to one connection, raises the block's error."""

    def __init__(self, data_types, error):
        self.data_types = data_types
        self.error = error

    def __getattr__(self, name):
        raise self.error


def _shared():
    """Whether every alias has the same backend, one of SHARED_BACKENDS."""
    cfg = config.current()
    return cfg.single_engine and cfg.databases['default'].vendor in SHARED_BACKENDS


def forget_shared():
    """config.reload(): the backend may differ now."""
    for name in SHARED_ATTRIBUTES:
        connection.__dict__.pop(name, None)


class QueryConnection(ConnectionProxy):
    """A queryset's own database choice, carried in ``query.connection``."""

    def __init__(self, alias=None, readonly=False, chosen=False, primary=False):
        self.__dict__['alias'] = alias
        self.__dict__['readonly'] = readonly
        # primary: built inside use_primary(), its reads go to primaries
        self.__dict__['primary'] = primary
        # chosen: the library picked the alias for one evaluation (a replica may
        # then be swapped for another when it cannot be reached)
        self.__dict__['chosen'] = chosen

    def _target(self):
        alias = self.__dict__['alias']
        if alias is None:
            return connections[precedence.raw_alias()]
        return connections[alias]

    def __getattr__(self, name):
        return getattr(self._target(), name)

    def __setattr__(self, name, value):
        setattr(self._target(), name, value)

    def __delattr__(self, name):
        delattr(self._target(), name)

    def __eq__(self, other):
        return (isinstance(other, QueryConnection) and
                self.__dict__['alias'] == other.__dict__['alias'] and
                self.__dict__['readonly'] == other.__dict__['readonly'] and
                self.__dict__['primary'] == other.__dict__['primary'])

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((self.__dict__['alias'], self.__dict__['readonly']))

    def __repr__(self):
        return '<QueryConnection alias=%r readonly=%r primary=%r>' % (
            self.__dict__['alias'], self.__dict__['readonly'], self.__dict__['primary'])


class TransactionConnection(ConnectionProxy):
    """django.db.transaction.connection: commit and roll back every pending alias."""

    def _commit(self):
        # The common case first, written out (commit_unless_managed() after
        # every autocommitted write): one connection with work, no XA branch,
        # nothing lost; connections.commit_pending() does the rest.
        local = _thread.__dict__
        work = local.get('db_work')
        if work is not None and len(work.pending) == 1 and not work.broken and \
                work.generation == generation[0] and not local.get('xa_branches') and \
                connections._generation == generation[0]:
            wrapper = connections._all.get(work.pending[0])
            work.pending = []
            work.written = {}
            if wrapper is not None:
                try:
                    wrapper._commit()
                except Exception:
                    self._failed()
            return
        try:
            connections.commit_pending()
        except Exception:
            self._failed()

    # What transaction management asks of "the" connection around every
    # delete and queryset update: methods of their own rather than
    # __getattr__'s lookups (the same connection: the selected one).
    def _enter_transaction_management(self, managed):
        return self._selected()._enter_transaction_management(managed)

    def _leave_transaction_management(self, managed):
        return self._selected()._leave_transaction_management(managed)

    def _selected(self):
        if not _thread.stack:
            return connections.default()
        entry, readonly = _thread.tops[-1]
        if readonly:
            return connections[precedence.raw_alias()]
        # precedence.raw_alias() and connections[alias], written out
        alias = entry is None and 'default' or entry.raw_alias()
        wrapper = connections._generation == generation[0] and connections._all.get(alias)
        return wrapper or connections[alias]

    def _failed(self):
        """A commit failed (the error in hand): the transaction is over either
        way (what did not commit was rolled back), so it is marked clean, and
        Django 1.0's commit_on_success lets this error through instead of a
        TransactionManagementError."""
        from django.db import transaction
        error = sys.exc_info()
        try:
            transaction.set_clean()
        except transaction.TransactionManagementError:
            pass  # not under transaction management: nothing to mark
        reraise(*error)

    def _rollback(self):
        connections.rollback_pending()

    def __repr__(self):
        return '<djpatch_multidb transaction connection, pending %r>' % (connections.pending(),)


connection = ConnectionProxy()
transaction_connection = TransactionConnection()


def query_route(query):
    """(alias, readonly) a query carries: (None, False) when it has no choice.

    A query bound for one evaluation (patched/querysets.bound_view) holds the
    alias's wrapper itself and says so in ``djpatch_bound``, which
    Query.clone() does not copy.  A query built with no block open holds the
    'default' wrapper itself, which is no choice: it goes where the blocks
    open when it runs send it."""
    bound = query.__dict__.get('djpatch_bound')
    if bound is not None:
        return bound, False
    conn = query.connection
    if conn.__class__ is QueryConnection:
        return conn.__dict__['alias'], conn.__dict__['readonly']
    alias = conn.__dict__.get('djpatch_alias')
    if alias == 'default':
        return None, False
    return alias, False


def query_forces_primary(query):
    """Whether ``query`` was built inside use_primary(): its reads go to primaries."""
    conn = query.connection
    return conn.__class__ is QueryConnection and conn.__dict__['primary']
