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

from djpatch_multidb import config, routing, selector
from djpatch_multidb.compat import reraise
from djpatch_multidb.connections import connections


# What the ORM reads of django.db.connection while it builds every query
# (ops.quote_name, operators[lookup], features): objects of the backend, not of one
# connection, for the backends named here.  When every alias uses one of them,
# the module-level proxy keeps them as plain attributes after the first access,
# so those reads skip the lookup (config.reload() forgets them).
SHARED_ATTRIBUTES = ('ops', 'operators', 'features')
SHARED_BACKENDS = ('sqlite3', 'mysql')


class ConnectionProxy(object):
    """django.db.connection: the selected connection, looked up on every access."""

    def __getattr__(self, name):
        if selector.is_idle():  # the common case, kept short: 'default'
            value = getattr(connections.default(), name)
        else:
            value = getattr(connections[routing.raw_alias()], name)
        if name in SHARED_ATTRIBUTES and type(self) is ConnectionProxy and _shared():
            self.__dict__[name] = value
        return value

    def __setattr__(self, name, value):
        setattr(connections[routing.raw_alias()], name, value)

    def __delattr__(self, name):
        delattr(connections[routing.raw_alias()], name)

    def __repr__(self):
        return '<djpatch_multidb connection proxy, now %r>' % (routing.raw_alias(),)


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

    def __init__(self, alias=None, readonly=False, chosen=False):
        self.__dict__['alias'] = alias
        self.__dict__['readonly'] = readonly
        # chosen: the library picked the alias for one evaluation (a replica may
        # then be swapped for another when it cannot be reached)
        self.__dict__['chosen'] = chosen

    def _target(self):
        alias = self.__dict__['alias']
        if alias is None:
            return connections[routing.raw_alias()]
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
                self.__dict__['readonly'] == other.__dict__['readonly'])

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((self.__dict__['alias'], self.__dict__['readonly']))

    def __repr__(self):
        return '<QueryConnection alias=%r readonly=%r>' % (
            self.__dict__['alias'], self.__dict__['readonly'])


class TransactionConnection(ConnectionProxy):
    """django.db.transaction.connection: commit and roll back every pending alias."""

    def _commit(self):
        try:
            connections.commit_pending()
        except Exception:
            # The transaction is over either way (what did not commit was rolled
            # back): clean, so that Django 1.0's commit_on_success lets this
            # error through instead of a TransactionManagementError.
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

    A query bound for one evaluation may hold the alias's wrapper itself."""
    conn = query.connection
    if conn.__class__ is QueryConnection:
        return conn.__dict__['alias'], conn.__dict__['readonly']
    return conn.__dict__.get('djpatch_alias'), False
