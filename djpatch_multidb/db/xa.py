"""Two-phase commit across MySQL databases (MULTIDB_TWO_PHASE_COMMIT = True).

Inside a managed transaction (commit_on_success, commit_manually,
TransactionMiddleware) each MySQL alias's work runs in an XA branch: XA START
before its first statement.  The commit then ends and prepares every branch
(XA END, XA PREPARE); if one cannot be prepared, every branch is rolled back
and nothing is committed anywhere.  Once all are prepared, the decision is
recorded in a table on the first alias (the decision holder; its own
connection, committed at once), and every branch is committed (XA COMMIT).

What a failure leaves:

- before the decision is recorded (a prepare fails, the decision holder
  cannot be reached or refuses the INSERT): every branch that can be reached
  is rolled back; a prepared branch on a server that died stays prepared and
  recover() rolls it back, since no decision exists.  The error raised names
  the alias.
- the decision COMMIT itself fails (the decision holder dies, or the
  connection is lost while it commits): whether the decision was made durable
  is unknown.  No branch is rolled back: every branch stays prepared (the
  connections holding them are closed, so that recover() can finish them) and
  OutcomeUnknown, a CommitError, says to run recover().
- after the decision (a server dies before its XA COMMIT): that branch stays
  prepared, the others commit, and CommitError says that recover() commits it.

Aliases of other engines in the same transaction commit after the XA
branches, one after another, as without this setting; when the outcome is
unknown they are rolled back.

recover(aliases=None) finishes the prepared branches this library left on the
servers of ``aliases`` (every MySQL alias by default; XA RECOVER lists them).
It reads the decision on the alias that holds it (its name is part of the
transaction id) with a locking read, so a decision still being committed is
waited for.  A recorded decision commits the branch.  With none, recover()
records the decision to roll back in the table djpatch_multidb_xa_aborts
next to it, then rolls the branch back: a transaction still running whose
branch had only lost its connection can then no longer record a decision to
commit (its commit fails and rolls back everywhere).  When the decision
cannot be read (its server is down, the SELECT fails) or the branch cannot be
finished (for instance because the session that prepared it is still
connected), the branch is left prepared, untouched, and reported as unknown:
run recover() again later.

recover() returns a list of (alias, gtrid, outcome) triples, as before:

- (branch alias, gtrid, 'committed') and (branch alias, gtrid, 'rolled back');
- (branch alias, gtrid, 'unknown: <why>') for a branch left prepared;
- (alias, None, 'unreachable: <error>') for a server that cannot be reached.

The list also has the attributes ``committed``, ``rolled_back``, ``unknown``
and ``unreachable``: the triples of each kind.
"""
import os
import sys
import threading

from djpatch_multidb.base import config, threadstate
from djpatch_multidb.base.compat import reraise
from djpatch_multidb.base.errors import CommitError
from djpatch_multidb.db import connections as registry
from djpatch_multidb.db.connections import connections, drop, naming_alias

PREFIX = 'djp'
DECISIONS = 'djpatch_multidb_xa_decisions'
ABORTS = 'djpatch_multidb_xa_aborts'
MAX_GTRID = 64             # bytes, MySQL's limit (and the decision table's key)
LOCK_WAIT = 10             # seconds recover() waits for a decision being committed
_local = threadstate.local
_counter = [0]
_token = [None, None]      # (pid, random token of this process)
_lock = threading.Lock()

# Callables run with the list of (alias, xid) after every branch is prepared,
# before the decision is recorded, and after the decision is recorded, before
# the XA COMMITs.  (Tests stop a server or the process there.)
between_prepare_and_decision = []
between_prepare_and_commit = []


class OutcomeUnknown(CommitError):
    """The decision COMMIT failed: whether the transaction is committed is
    unknown.  Every XA branch (``prepared``: their aliases) stays prepared
    until recover() finishes them; nothing was rolled back but ``rolled_back``
    (aliases outside XA)."""

    def __init__(self, alias, error, prepared, rolled_back):
        self.prepared = tuple(prepared)
        CommitError.__init__(self, alias, Exception(
            "%s; the decision holder %r may or may not have recorded the decision to "
            "commit: the outcome is unknown, so every branch (%s) stays prepared. "
            "djpatch_multidb.xa.recover() finishes them once %r answers"
            % (error, alias, ', '.join([repr(a) for a in self.prepared]), alias)),
            [], rolled_back)


class Recovery(list):
    """What recover() did: a list of (alias, gtrid, outcome)."""

    def _kind(self, word):
        return [entry for entry in self if entry[2].split(':')[0] == word]

    @property
    def committed(self):
        return self._kind('committed')

    @property
    def rolled_back(self):
        return self._kind('rolled back')

    @property
    def unknown(self):
        return self._kind('unknown')

    @property
    def unreachable(self):
        return self._kind('unreachable')


def enabled(alias):
    if config.current().databases[alias].vendor != 'mysql':   # the cheaper question first
        return False
    from django.conf import settings
    return bool(getattr(settings, 'MULTIDB_TWO_PHASE_COMMIT', False))


def branches():
    """alias -> (gtrid, bqual) of this thread's open XA branches, in order."""
    try:
        return _local.xa_branches
    except AttributeError:
        _local.xa_branches = []
        return _local.xa_branches


def _new_gtrid(holder):
    """A transaction id unique across processes and hosts, naming the alias
    that will hold the decision (when it fits in MAX_GTRID bytes)."""
    _lock.acquire()
    try:
        if _token[0] != os.getpid():   # a forked child draws its own
            _token[:] = [os.getpid(), ''.join(['%02x' % c for c in bytearray(os.urandom(6))])]
        _counter[0] += 1
        gtrid = '%s.%s.%x' % (PREFIX, _token[1], _counter[0])
    finally:
        _lock.release()
    named = '%s@%s' % (gtrid, holder)
    if len(named.encode('utf-8')) <= MAX_GTRID:
        return named
    return gtrid   # recover() then looks for the decision on every MySQL alias


def decision_holder(gtrid):
    """The alias named in ``gtrid`` as holding its decision, or None."""
    head, at, holder = gtrid.partition('@')
    return holder or None


def _execute(cursor, alias, sql, params=None):
    """cursor.execute(); an error names ``alias``, as every lost connection does."""
    try:
        if params is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, params)
    except Exception:
        error_type, error, tb = sys.exc_info()
        error = naming_alias(error, alias)
        reraise(type(error), error, tb)


def before_statement(cursor, alias, pending):
    """Called before each statement on a MySQL alias: opens its XA branch
    when a managed transaction starts using it."""
    if not enabled(alias):
        return
    from django.db import transaction
    if not transaction.is_managed():
        return
    open_branches = branches()
    for branch_alias, xid in open_branches:
        if branch_alias == alias:
            return
    if open_branches:
        gtrid = open_branches[0][1][0]
    else:
        gtrid = _new_gtrid(alias)
    if pending:
        _execute(cursor, alias, 'COMMIT')  # only reads since the last commit: end that snapshot
    xid = (gtrid, alias)
    _execute(cursor, alias, 'XA START %s, %s', xid)
    open_branches.append((alias, xid))


class _DecisionUnknown(Exception):
    """The decision COMMIT raised: it may or may not be durable."""

    def __init__(self, error_info):
        Exception.__init__(self, str(error_info[1]))
        self.error_info = error_info


def commit(connections, others):
    """Prepare every branch, record the decision, commit every branch; then
    commit ``others`` (aliases outside XA).  Returns the aliases committed."""
    open_branches = list(branches())
    _local.xa_branches = []
    holder, gtrid = open_branches[0][0], open_branches[0][1][0]
    prepared = []
    try:
        for alias, xid in open_branches:
            cursor = connections[alias].connection.cursor()
            _execute(cursor, alias, 'XA END %s, %s', xid)
            _execute(cursor, alias, 'XA PREPARE %s, %s', xid)
            prepared.append((alias, xid))
        for hook in between_prepare_and_decision:
            hook(open_branches)
        _record(connections, holder, gtrid)
    except _DecisionUnknown:
        error = sys.exc_info()[1].error_info[1]
        _detach(connections, open_branches)
        rolled_back = connections._rollback(others, swallow=True)
        raise OutcomeUnknown(holder, error, [alias for alias, xid in open_branches],
                             rolled_back)
    except Exception:
        error = sys.exc_info()
        _rollback_branches(connections, open_branches, prepared)
        connections._rollback(others, swallow=True)
        reraise(*error)
    for hook in between_prepare_and_commit:
        hook(open_branches)
    committed, failed = [], []
    for alias, xid in open_branches:
        try:
            _execute(connections[alias].connection.cursor(), alias, 'XA COMMIT %s, %s', xid)
            committed.append(alias)
        except Exception:
            failed.append((alias, sys.exc_info()[1]))
            drop(connections[alias])
    if not failed:
        _forget(connections, holder, gtrid)
    for alias in others:
        connections[alias]._commit()
        committed.append(alias)
    if failed:
        alias, error = failed[0]
        raise CommitError(alias, Exception(
            '%s; the branch is prepared and the decision to commit is recorded: '
            'djpatch_multidb.xa.recover() commits it once %r is back' % (error, alias)),
            committed, [])
    return committed


def rollback(connections):
    """Roll back every open branch of this thread."""
    open_branches = list(branches())
    _local.xa_branches = []
    _rollback_branches(connections, open_branches, [])


def _rollback_branches(connections, open_branches, prepared):
    for alias, xid in open_branches:
        wrapper = connections[alias]
        if wrapper.connection is None:
            continue
        try:
            cursor = wrapper.connection.cursor()
            if (alias, xid) not in prepared:
                try:
                    cursor.execute('XA END %s, %s', xid)
                except Exception:
                    pass
            cursor.execute('XA ROLLBACK %s, %s', xid)
        except Exception:
            drop(wrapper)   # a dead connection: the next use connects again


def _detach(connections, open_branches):
    """Close the connections holding prepared branches: a branch still
    attached to a session cannot be finished from another one (recover())."""
    for alias, xid in open_branches:
        drop(connections[alias])


def _dedicated_cursor(connections, alias, autocommit=False):
    wrapper = connections.dedicated(alias)
    cursor = wrapper.cursor()   # a failure to connect names the alias
    if autocommit:  # XA COMMIT / ROLLBACK of another session's branch: no local transaction
        wrapper.connection.autocommit(True)
    return wrapper, cursor


def _create_tables(cursor, alias):
    for table in (DECISIONS, ABORTS):
        _execute(cursor, alias, 'CREATE TABLE IF NOT EXISTS %s (gtrid VARCHAR(%d) PRIMARY KEY) '
                 'ENGINE=InnoDB' % (table, MAX_GTRID))


def _record(connections, alias, gtrid):
    """The decision to commit ``gtrid``, committed on ``alias``, unless
    recover() recorded the decision to roll it back first.  An error before
    the COMMIT means no decision; an error of the COMMIT itself raises
    _DecisionUnknown."""
    wrapper, cursor = _dedicated_cursor(connections, alias)
    try:
        _create_tables(cursor, alias)
        # recover() holds a lock on this key while it records a roll-back:
        # the INSERT waits for it, and the locking read below then sees it.
        _execute(cursor, alias, 'INSERT INTO %s (gtrid) VALUES (%%s)' % DECISIONS, [gtrid])
        _execute(cursor, alias, 'SELECT 1 FROM %s WHERE gtrid = %%s LOCK IN SHARE MODE' % ABORTS,
                 [gtrid])
        if cursor.fetchall():
            wrapper._rollback()
            raise CommitError(alias, Exception(
                'djpatch_multidb.xa.recover() decided to roll back transaction %s (one of its '
                'prepared branches had lost its connection) before its decision to commit '
                'was recorded' % gtrid), [], [])
        try:
            wrapper._commit()
        except Exception:
            error_type, error, tb = sys.exc_info()
            raise _DecisionUnknown((error_type, naming_alias(error, alias), tb))
    finally:
        drop(wrapper)


def _forget(connections, alias, gtrid):
    try:
        wrapper, cursor = _dedicated_cursor(connections, alias)
        try:
            cursor.execute('DELETE FROM %s WHERE gtrid = %%s' % DECISIONS, [gtrid])
            wrapper._commit()
        finally:
            wrapper.close()
    except Exception:
        pass  # a leftover decision only keeps a row; recover() ignores it


NO_TABLE = 1146   # MySQL: the table does not exist


def _decision_on(connections, alias, gtrid):
    """True / False whether ``alias`` holds the decision to commit ``gtrid``
    (a locking read: a decision being committed is waited for); raises when
    it cannot tell."""
    wrapper, cursor = _dedicated_cursor(connections, alias, autocommit=True)
    try:
        _execute(cursor, alias, 'SET SESSION innodb_lock_wait_timeout = %d' % LOCK_WAIT)
        try:
            _execute(cursor, alias, 'SELECT 1 FROM %s WHERE gtrid = %%s LOCK IN SHARE MODE'
                     % DECISIONS, [gtrid])
        except Exception:
            if getattr(sys.exc_info()[1], 'args', (None,))[:1] == (NO_TABLE,):
                return False     # no decision was ever recorded in this database
            raise
        return bool(cursor.fetchall())
    finally:
        drop(wrapper)


def _record_abort(connections, alias, gtrid):
    """The decision to roll back ``gtrid``, committed on ``alias`` unless the
    decision to commit is there: returns True (commit) or False (roll back);
    raises when it cannot tell."""
    wrapper, cursor = _dedicated_cursor(connections, alias)
    try:
        _create_tables(cursor, alias)   # DDL commits: before the locking read
        _execute(cursor, alias, 'SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ')
        _execute(cursor, alias, 'SET SESSION innodb_lock_wait_timeout = %d' % LOCK_WAIT)
        # A locking read of a key that is not there locks the gap: a decision
        # to commit cannot be inserted until this transaction ends.
        _execute(cursor, alias, 'SELECT 1 FROM %s WHERE gtrid = %%s FOR UPDATE' % DECISIONS,
                 [gtrid])
        if cursor.fetchall():
            wrapper._rollback()
            return True
        _execute(cursor, alias, 'INSERT IGNORE INTO %s (gtrid) VALUES (%%s)' % ABORTS, [gtrid])
        wrapper._commit()
        return False
    finally:
        drop(wrapper)


def _decided(connections, gtrid):
    """True (decision to commit recorded), False (none: roll back) or the
    reason why it cannot be told (a string)."""
    cfg = config.current()
    holder = decision_holder(gtrid)
    if holder is not None:
        db = cfg.databases.get(holder)
        if db is None or db.vendor != 'mysql':
            return ('its decision holder %r is not a MySQL alias of DATABASES' % (holder,))
        candidates = [holder]
    else:
        candidates = [alias for alias in cfg.aliases if cfg.databases[alias].vendor == 'mysql']
    problems = []
    for alias in candidates:
        try:
            if _decision_on(connections, alias, gtrid):
                return True
        except Exception:
            problems.append('the decision on %r cannot be read: %s' % (alias, sys.exc_info()[1]))
    if problems:
        return '; '.join(problems)
    return False


def recover(aliases=None):
    """Finish the prepared branches this library left on the servers of
    ``aliases`` (every MySQL alias by default): commit those whose decision
    was recorded, roll back those with none, leave prepared (reported as
    unknown) those whose decision cannot be read.  Returns a Recovery, a list
    of (alias, gtrid, outcome); see the module's docstring."""
    cfg = config.current()
    done = Recovery()
    servers = {}
    decisions = {}
    for alias in aliases or cfg.aliases:
        db = cfg.databases[alias]
        if db.vendor != 'mysql' or (db.host, db.port) in servers:
            continue  # XA RECOVER lists a whole server's branches
        servers[(db.host, db.port)] = True
        try:
            wrapper, cursor = _dedicated_cursor(connections, alias, autocommit=True)
        except Exception:
            done.append((alias, None, 'unreachable: %s' % sys.exc_info()[1]))
            continue
        try:
            try:
                _execute(cursor, alias, 'XA RECOVER')
                found = cursor.fetchall()
            except Exception:
                done.append((alias, None, 'unreachable: %s' % sys.exc_info()[1]))
                continue
            for format_id, gtrid_length, bqual_length, data in found:
                if not isinstance(data, bytes):
                    data = data.encode('utf-8')
                gtrid = data[:gtrid_length].decode('utf-8', 'replace')
                bqual = data[gtrid_length:gtrid_length + bqual_length].decode('utf-8', 'replace')
                if not gtrid.startswith(PREFIX + '.'):
                    continue
                if gtrid not in decisions:
                    decisions[gtrid] = _decided(connections, gtrid)
                    holder = decision_holder(gtrid)
                    if decisions[gtrid] is False and holder is not None:
                        try:   # a live transaction must not commit it later
                            decisions[gtrid] = _record_abort(connections, holder, gtrid)
                        except Exception:
                            decisions[gtrid] = ('the decision to roll back cannot be recorded '
                                                'on %r: %s' % (holder, sys.exc_info()[1]))
                decided = decisions[gtrid]
                if decided is not True and decided is not False:
                    done.append((bqual, gtrid, 'unknown: left prepared, %s' % decided))
                    continue
                verb, outcome = decided and ('COMMIT', 'committed') or ('ROLLBACK', 'rolled back')
                try:
                    _execute(cursor, alias, 'XA %s %%s, %%s' % verb, (gtrid, bqual))
                except Exception:
                    done.append((bqual, gtrid, 'unknown: left prepared, XA %s failed (a transaction '
                                 'still running holds it?): %s' % (verb, sys.exc_info()[1])))
                    continue
                done.append((bqual, gtrid, outcome))
        finally:
            drop(wrapper)
    return done


registry.two_phase[0] = sys.modules[__name__]
