"""Cursors that count: raw SQL's cursors tell the registry what their
statements do, so that a commit reaches exactly the connections with work
since the last one, XA branches start before the first write, and a lost
connection with uncommitted writes is refused rather than silently reopened.

The ORM's own statements do not go through these: patched/orm.py marks what
each does, and the cursor it opens meanwhile is the driver's own
(patched/backend.py _cursor).  Every other cursor of a registry wrapper
(raw SQL through django.db.connection or connections[alias]) counts.
"""
import sys

from djpatch_multidb.base import threadstate
from djpatch_multidb.base.compat import reraise
from djpatch_multidb.db import xa
from djpatch_multidb.db.connections import connections, drop, naming_alias

# MySQL's client errors that mean the connection is gone (not the statement).
CONNECTION_ERRORS = (2002, 2003, 2005, 2006, 2013, 2055)


def is_connection_error(error):
    code = getattr(error, 'args', (None,))[:1]
    if code and code[0] in CONNECTION_ERRORS:
        return True
    return 'unable to open database' in str(error)


def before_write(wrapper, alias):
    """The ORM is about to run a statement that writes on ``alias``: note it
    (a MySQL alias starts its XA branch first, if two-phase commit is on)."""
    local = connections._thread()
    if alias in local.written:
        return
    if wrapper.__dict__.get('djpatch_mysql'):
        local.orm += 1      # the driver's own cursor: XA START is not a statement to count
        try:
            cursor = wrapper.cursor()
        finally:
            local.orm -= 1
        xa.before_statement(cursor, alias, alias in local.pending)
    local.written[alias] = True
    if alias not in local.pending:
        local.pending.append(alias)


NOT_GIVEN = object()
_state = threadstate.local     # db_work: this thread's pending and written aliases


class CountingCursor(object):
    """A cursor that tells the registry each statement it runs, so that a commit
    reaches exactly the connections with work since the last one, and that
    names the alias when its connection is lost.  Reading rows goes straight
    to the cursor's own methods (held in slots, not looked up per call)."""
    __slots__ = ('cursor', 'wrapper', 'alias', 'xa', 'fetchone', 'fetchmany', 'fetchall')

    def __init__(self, cursor, wrapper, alias, mysql):
        self.cursor = cursor
        self.wrapper = wrapper
        self.alias = alias
        self.xa = mysql     # XA is MySQL's
        self.fetchone = cursor.fetchone
        self.fetchmany = cursor.fetchmany
        self.fetchall = cursor.fetchall

    def execute(self, sql, params=NOT_GIVEN):
        alias = self.alias
        try:
            work = _state.db_work
            pending, written = work.pending, work.written
        except AttributeError:
            local = connections._thread()
            pending, written = local.pending, local.written
        if alias not in written:
            # The first statement since the last commit that may write: XA
            # starts its branch before it; a read leaves it unmarked.
            if self.xa:
                xa.before_statement(self.cursor, alias, alias in pending)
            if sql.lstrip()[:6].upper() != 'SELECT':
                written[alias] = True
        if alias not in pending:
            pending.append(alias)
        try:
            if params is NOT_GIVEN:
                # As Django's own cursors: without parameters the SQL is sent
                # as it is (MySQLdb would read a literal % as a placeholder).
                return self.cursor.execute(sql)
            return self.cursor.execute(sql, params)
        except Exception:
            connection_failed(self.wrapper, self.alias)

    def executemany(self, sql, param_list):
        if self.xa and not connections.has_written(self.alias):
            xa.before_statement(self.cursor, self.alias, connections.has_pending(self.alias))
        connections.mark_pending(self.alias, sql)
        try:
            return self.cursor.executemany(sql, param_list)
        except Exception:
            connection_failed(self.wrapper, self.alias)

    def __getattr__(self, name):
        return getattr(self.cursor, name)

    def __iter__(self):
        return iter(self.cursor)


def connection_failed(wrapper, alias):
    """Re-raise the error in hand, its message naming the alias it ran on.
    When the connection itself was lost, writes not yet committed on it make
    the alias refuse work until the transaction is rolled back; without such
    writes the dead connection is dropped and the next use connects again."""
    error_type, error, tb = sys.exc_info()
    lost = is_connection_error(error)
    error = naming_alias(error, alias)
    if lost:
        if connections.has_written(alias):
            connections.mark_broken(alias)
        else:
            connections.forget(alias)
            drop(wrapper)
    reraise(type(error), error, tb)
