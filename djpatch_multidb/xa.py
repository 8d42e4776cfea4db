"""Two-phase commit across MySQL databases (MULTIDB_TWO_PHASE_COMMIT = True).

Inside a managed transaction (commit_on_success, commit_manually,
TransactionMiddleware) each MySQL alias's work runs in an XA branch: XA START
before its first statement.  The commit then ends and prepares every branch
(XA END, XA PREPARE); if one cannot be prepared, every branch is rolled back
and nothing is committed anywhere.  Once all are prepared, the decision is
recorded in a table on the first alias (its own connection, committed at
once), and every branch is committed (XA COMMIT).  A server that dies between
prepare and commit keeps its branch prepared; recover() (run it when the
server is back, or at start-up) commits the prepared branches whose decision
was recorded and rolls back the others (XA RECOVER lists them).

Aliases of other engines in the same transaction commit after the XA
branches, one after another, as without this setting.
"""
import os
import sys
import threading

from djpatch_multidb import config
from djpatch_multidb.compat import reraise
from djpatch_multidb.errors import CommitError

PREFIX = 'djp'
DECISIONS = 'djpatch_multidb_xa_decisions'
_local = threading.local()
_counter = [0]
_lock = threading.Lock()

# Callables run after every branch is prepared and the decision recorded, just
# before the XA COMMITs (tests kill a server there).
between_prepare_and_commit = []


def enabled(alias):
    if config.current().databases[alias].vendor != 'mysql':   # the cheaper question first
        return False
    from django.conf import settings
    return bool(getattr(settings, 'MULTIDB_TWO_PHASE_COMMIT', False))


def branches():
    """alias -> (gtrid, bqual) of this thread's open XA branches, in order."""
    try:
        return _local.branches
    except AttributeError:
        _local.branches = []
        return _local.branches


def _new_gtrid():
    _lock.acquire()
    try:
        _counter[0] += 1
        number = _counter[0]
    finally:
        _lock.release()
    return '%s.%d.%d.%d' % (PREFIX, os.getpid(), threading.currentThread().ident or 0, number)


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
        gtrid = _new_gtrid()
    if pending:
        cursor.execute('COMMIT')  # only reads since the last commit: end that snapshot
    xid = (gtrid, alias)
    cursor.execute('XA START %s, %s', xid)
    open_branches.append((alias, xid))


def commit(connections, others):
    """Prepare every branch, record the decision, commit every branch; then
    commit ``others`` (aliases outside XA).  Returns the aliases committed."""
    open_branches = list(branches())
    _local.branches = []
    prepared = []
    try:
        for alias, xid in open_branches:
            cursor = connections[alias].connection.cursor()
            cursor.execute('XA END %s, %s', xid)
            cursor.execute('XA PREPARE %s, %s', xid)
            prepared.append((alias, xid))
        coordinator = open_branches[0][0]
        _record(connections, coordinator, open_branches[0][1][0])
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
            connections[alias].connection.cursor().execute('XA COMMIT %s, %s', xid)
            committed.append(alias)
        except Exception:
            failed.append((alias, sys.exc_info()[1]))
            from djpatch_multidb.connections import drop
            drop(connections[alias])
    if not failed:
        _forget(connections, open_branches[0][0], open_branches[0][1][0])
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
    _local.branches = []
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
            pass


def _dedicated_cursor(connections, alias, autocommit=False):
    wrapper = connections.dedicated(alias)
    cursor = wrapper.cursor()
    if autocommit:  # XA COMMIT / ROLLBACK of another session's branch: no local transaction
        wrapper.connection.autocommit(True)
    return wrapper, cursor


def _record(connections, alias, gtrid):
    wrapper, cursor = _dedicated_cursor(connections, alias)
    try:
        cursor.execute('CREATE TABLE IF NOT EXISTS %s (gtrid VARCHAR(64) PRIMARY KEY) '
                       'ENGINE=InnoDB' % DECISIONS)
        cursor.execute('INSERT INTO %s (gtrid) VALUES (%%s)' % DECISIONS, [gtrid])
        wrapper._commit()
    finally:
        wrapper.close()


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


def _decided(connections, gtrid):
    """Whether any MySQL alias holds the decision to commit ``gtrid``."""
    cfg = config.current()
    for alias in cfg.aliases:
        if cfg.databases[alias].vendor != 'mysql':
            continue
        try:
            wrapper, cursor = _dedicated_cursor(connections, alias)
        except Exception:
            continue
        try:
            try:
                cursor.execute('SELECT 1 FROM %s WHERE gtrid = %%s' % DECISIONS, [gtrid])
                if cursor.fetchone():
                    return True
            except Exception:
                continue
        finally:
            wrapper.close()
    return False


def recover(aliases=None):
    """Finish the prepared branches this library left on ``aliases`` (every
    MySQL alias by default): commit those whose decision was recorded, roll
    back the others.  Returns [(branch alias, gtrid, 'committed' | 'rolled back')],
    and (alias, None, 'unreachable: ...') for an alias that cannot be reached."""
    from djpatch_multidb.connections import connections
    cfg = config.current()
    done = []
    servers = {}
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
            cursor.execute('XA RECOVER')
            for format_id, gtrid_length, bqual_length, data in cursor.fetchall():
                gtrid, bqual = data[:gtrid_length], data[gtrid_length:gtrid_length + bqual_length]
                if not gtrid.startswith(PREFIX + '.'):
                    continue
                if _decided(connections, gtrid):
                    cursor.execute('XA COMMIT %s, %s', (gtrid, bqual))
                    done.append((bqual, gtrid, 'committed'))
                else:
                    cursor.execute('XA ROLLBACK %s, %s', (gtrid, bqual))
                    done.append((bqual, gtrid, 'rolled back'))
        finally:
            wrapper.close()
    return done
