"""Choosing a replica: balancing, health, lag, and read-your-writes pins.

precedence.db_for() asks ``for_read(primary)`` whenever a read may go to a replica
(inside readonly(), through a readonly() queryset, or with
MULTIDB_READ_FROM_REPLICAS = True when ``splitting(primary)`` says so).
execute_sql() reports a connection failure on a replica with ``failed()``,
which marks the replica down and lets the read go to the next one.
"""
import logging
import random
import sys
import threading
import time

from djpatch_multidb.base import config, threadstate, versions
from djpatch_multidb.context import selector
from djpatch_multidb.db.connections import connections
from djpatch_multidb.db.cursors import is_connection_error
from djpatch_multidb.db.nativeconnections import in_transaction

log = logging.getLogger('djpatch_multidb')

DEFAULT_DOWNTIME = 30

_down = {}          # alias -> time until which it is skipped
_down_lock = threading.Lock()
_local = threadstate.local


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



def failed(alias, error):
    """A query on ``alias`` raised ``error``: True if it is a replica that could
    not be reached (now marked down, its connection closed), so the read may
    go elsewhere."""
    cfg = config.current()
    if cfg.primary_for(alias) == alias or not is_connection_error(error):
        return False
    mark_down(alias, error)
    try:
        connections[alias].close()
    except Exception:
        pass
    return True


# -- lag ---------------------------------------------------------------------

DEFAULT_LAG_CACHE = 5

_lag = {}           # alias -> (time until which the answer holds, whether it may serve)
_lag_lock = threading.Lock()


def lag_ok(alias, now=None):
    """Whether ``alias`` is close enough behind its primary: always, without
    MULTIDB_MAX_REPLICA_LAG or for a non-MySQL replica; otherwise its
    Seconds_Behind_Master, checked at most once per MULTIDB_REPLICA_LAG_CACHE
    seconds, must be known and not above the limit."""
    max_lag = setting('MULTIDB_MAX_REPLICA_LAG', None)
    if max_lag is None:
        return True
    db = config.current().databases[alias]
    if db.vendor != 'mysql':
        return True
    now = now or time.time()
    cached = _lag.get(alias)
    if cached is not None and now < cached[0]:
        return cached[1]
    lag = replica_lag(alias)
    # None: could not connect (replica_lag() marked it down); a string: lag unknown.
    ok = lag is not None and not isinstance(lag, str) and lag <= max_lag
    _lag_lock.acquire()
    try:
        was_ok = cached is None or cached[1]
        _lag[alias] = (time.time() + setting('MULTIDB_REPLICA_LAG_CACHE', DEFAULT_LAG_CACHE), ok)
    finally:
        _lag_lock.release()
    if was_ok and not ok and lag is not None:
        log.warning('replica %r (%s) skipped: %s (MULTIDB_MAX_REPLICA_LAG = %s)',
                    alias, db.describe(), isinstance(lag, str) and 'replication ' + lag or
                    'lag %s s' % lag, max_lag)
    return ok


def replica_lag(alias):
    """Seconds_Behind_Master of ``alias`` (an int), asked on a connection of its
    own; 'stopped' when replication threads are not running, the lag is NULL or
    the server is no replica at all; 'unknown: <error>' when SHOW SLAVE STATUS
    fails (no privilege); None when the replica cannot be reached (it is then
    marked down)."""
    wrapper = connections.dedicated(alias)
    try:
        try:
            cursor = wrapper.cursor()
            cursor.execute('SHOW SLAVE STATUS')
            row = cursor.fetchone()
            names = [d[0] for d in cursor.description or ()]
        except Exception:
            error = sys.exc_info()[1]
            if is_connection_error(error):
                mark_down(alias, error)
                return None
            return 'unknown: %s: %s' % (type(error).__name__, error)
    finally:
        try:
            wrapper.close()
        except Exception:
            pass
    if row is None:
        return 'stopped'
    status = dict(zip(names, row))
    lag = status.get('Seconds_Behind_Master')
    if lag is None or status.get('Slave_SQL_Running') != 'Yes' or \
            status.get('Slave_IO_Running') != 'Yes':
        return 'stopped'
    return int(lag)


# -- choosing ----------------------------------------------------------------

_turns = {}         # primary -> the next round-robin position
_turns_lock = threading.Lock()
_random = random.Random()
_REQUEST = object()  # the scope of choices made while PinningMiddleware runs a request


def usable(alias, now=None):
    """Not marked down, and not lagging (when MULTIDB_MAX_REPLICA_LAG is set)."""
    now = now or time.time()
    return not is_down(alias, now) and lag_ok(alias, now)


def balance_mode(cfg, primary):
    return cfg.replica_balance or (primary in cfg.replica_weights and 'weighted' or 'round_robin')


def choose(primary, cfg=None):
    """A replica of ``primary`` that is usable now, by the configured balancing,
    or None when there is none."""
    cfg = cfg or config.current()
    names = cfg.replicas.get(primary, ())
    if not names:
        return None
    now = time.time()
    if balance_mode(cfg, primary) == 'weighted':
        weights = cfg.replica_weights.get(primary) or (1,) * len(names)
        pool = [(name, weight) for name, weight in zip(names, weights) if weight > 0]
        while pool:
            point = _random.random() * sum([w for n, w in pool])
            for index in range(len(pool)):
                point -= pool[index][1]
                if point < 0 or index == len(pool) - 1:
                    break
            name = pool[index][0]
            if usable(name, now):
                return name
            del pool[index]
        return None
    _turns_lock.acquire()
    try:
        turn = _turns.get(primary)
        if turn is None:
            turn = _random.randrange(len(names))
        _turns[primary] = (turn + 1) % len(names)
    finally:
        _turns_lock.release()
    for step in range(len(names)):
        name = names[(turn + step) % len(names)]
        if usable(name, now):
            return name
    return None


def _scope():
    if _local.__dict__.get('replica_request', False):
        return _REQUEST
    entries = selector.stack()
    return entries and entries[0] or None


def choices():
    """This thread's replica choices (primary -> replica) for the current scope:
    the request (PinningMiddleware), else the outermost open context, else the
    thread until clear_thread()."""
    scope = _scope()
    held = _local.__dict__.get('replica_choices')
    if held is None or (held[0] is not None and held[0] is not _REQUEST and held[0] is not scope):
        held = _local.replica_choices = (scope, {})
    return held[1]


def for_read(primary):
    """The alias a read of ``primary`` goes to: the replica chosen for this
    context while it stays usable, else a newly balanced choice, else the
    primary itself (every replica down or lagging)."""
    cfg = config.current()
    if not cfg.replicas.get(primary) or primary_forced():
        return primary
    chosen = choices()
    replica = chosen.get(primary)
    if replica is not None and usable(replica):
        return replica
    replica = choose(primary, cfg)
    if replica is None:
        chosen.pop(primary, None)
        return primary
    chosen[primary] = replica
    return replica


def splitting(primary):
    """Whether an ordinary read of ``primary`` goes to a replica
    (MULTIDB_READ_FROM_REPLICAS, outside transactions, not pinned, no use_primary())."""
    if not config.current().replicas.get(primary):
        return False
    if not setting('MULTIDB_READ_FROM_REPLICAS', False):
        return False
    if primary_forced():
        return False
    if _in_transaction(primary) or is_pinned(primary):
        return False
    return True


def _in_transaction(primary):
    if versions.is_native():
        return in_transaction(primary)
    from django.db import transaction
    return transaction.is_managed()


def primary_forced():
    """Whether use_primary() is open in this thread (reads go to primaries)."""
    for entry in selector.stack():
        if getattr(entry, 'forces_primary', False):
            return True
    return False


class use_primary(selector.Context):
    """Reads inside the block (or the decorated call) go to the primaries, as
    writes do: for reading back what another thread or process just wrote."""
    forces_primary = True

    def __repr__(self):
        return 'use_primary()'


# -- read-your-writes ----------------------------------------------------------

def pins():
    try:
        return _local.replica_pins
    except AttributeError:
        _local.replica_pins = {}
        return _local.replica_pins


def pin(alias):
    """This thread wrote to ``alias``: its reads of it go to the primary."""
    cfg = config._current       # config.current(), pins() and primary_for(), written out
    if cfg is None or cfg.labels_unchecked:
        cfg = config.current()
    primary = cfg._primaries.get(alias, alias)
    pinned = _local.__dict__.get('replica_pins')
    if pinned is None:
        pinned = _local.replica_pins = {}
    pinned[primary] = True


def is_pinned(alias):
    return alias in pins()


def pinned():
    """The primaries this thread has pinned, sorted."""
    return sorted(pins())


def in_request(flag=True):
    """PinningMiddleware: replica choices last until the end of this request."""
    _local.replica_request = flag
    _local.replica_choices = None


def clear_thread():
    """Forget this thread's pins and replica choices (at the start and end of a request)."""
    _local.replica_pins = {}
    _local.replica_choices = None
    _local.replica_request = False


def reset():
    """Forget every down-marking, lag answer and round-robin position (tests)."""
    _down.clear()
    _lag.clear()
    _turns.clear()
    clear_thread()
