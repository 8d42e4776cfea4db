"""Choosing a replica: balancing, health, lag, and read-your-writes pins.

routing.db_for() asks ``for_read(primary)`` whenever a read may go to a replica
(inside readonly(), through a readonly() queryset, or with
MULTIDB_READ_FROM_REPLICAS = True when ``splitting(primary)`` says so).
execute_sql() reports a connection failure on a replica with ``failed()``,
which marks the replica down and lets the read go to the next one.
"""
import logging
import sys
import threading
import time

from djpatch_multidb import config

log = logging.getLogger('djpatch_multidb')

DEFAULT_DOWNTIME = 30
CONNECTION_ERRORS = (2002, 2003, 2005, 2006, 2013, 2055)

_down = {}          # alias -> time until which it is skipped
_down_lock = threading.Lock()
_local = threading.local()


def setting(name, default):
    from django.conf import settings
    value = getattr(settings, name, None)
    if value is None:
        return default
    return value


# -- health ------------------------------------------------------------------

def is_down(alias, now=None):
    until = _down.get(alias)
    return until is not None and (now or time.time()) < until


def mark_down(alias, error):
    downtime = setting('MULTIDB_REPLICA_DOWNTIME', DEFAULT_DOWNTIME)
    _down_lock.acquire()
    try:
        already = is_down(alias)
        _down[alias] = time.time() + downtime
    finally:
        _down_lock.release()
    if not already:
        db = config.current().databases[alias]
        log.warning('replica %r (%s) marked down for %s s: %s: %s', alias, db.describe(),
                    downtime, type(error).__name__, error)


def is_connection_error(error):
    code = getattr(error, 'args', (None,))[:1]
    if code and code[0] in CONNECTION_ERRORS:
        return True
    return 'unable to open database' in str(error)


def failed(alias, error):
    """A query on ``alias`` raised ``error``: True if it is a replica that could
    not be reached (now marked down, its connection closed), so the read may
    go elsewhere."""
    cfg = config.current()
    if cfg.primary_for(alias) == alias or not is_connection_error(error):
        return False
    mark_down(alias, error)
    from djpatch_multidb.connections import connections
    try:
        connections[alias].close()
    except Exception:
        pass
    return True


# -- choosing ----------------------------------------------------------------

def for_read(primary):
    """The alias a read of ``primary`` goes to: the first replica that is up,
    else the primary itself."""
    cfg = config.current()
    now = time.time()
    for replica in cfg.replicas.get(primary, ()):
        if not is_down(replica, now):
            return replica
    return primary


def splitting(primary):
    """Whether an ordinary read of ``primary`` goes to a replica
    (MULTIDB_READ_FROM_REPLICAS, outside transactions, not pinned)."""
    if not config.current().replicas.get(primary):
        return False
    if not setting('MULTIDB_READ_FROM_REPLICAS', False):
        return False
    from django.db import transaction
    if transaction.is_managed() or is_pinned(primary):
        return False
    return True


def primary_forced():
    """Whether use_primary() is open in this thread (reads go to primaries)."""
    return False


# -- read-your-writes ----------------------------------------------------------

def pins():
    try:
        return _local.pins
    except AttributeError:
        _local.pins = {}
        return _local.pins


def pin(alias):
    """This thread wrote to ``alias``: its reads of it go to the primary."""
    pins()[config.current().primary_for(alias)] = True


def is_pinned(alias):
    return alias in pins()


def clear_thread():
    """Forget this thread's pins (at the start and end of a request)."""
    _local.pins = {}
