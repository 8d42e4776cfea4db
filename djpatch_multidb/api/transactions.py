"""atomic(): one transaction spelling for every supported Django.

    with atomic():                  # or @atomic(), or atomic(using='shard2')
        member.save()
        Comment.objects.create(...)

The block's writes commit at its end and roll back if it raises.  On Django
1.0/1.1 that is commit_on_success over every connection the thread ran a
statement on (the patches commit them all).  On Django 1.2 and later it is
Django's own per-alias transaction (transaction.atomic(using=...) from 1.6,
commit_on_success(using=...) before) of ``using``: an alias or a list of
aliases, by default the alias the current context means for raw SQL
(using(alias), using_shard(n)), else 'default'.
"""
import sys
import threading

from djpatch_multidb.base import config, threadstate, versions
from djpatch_multidb.base.compat import reraise, string_types
from djpatch_multidb.base.errors import ImproperlyConfigured
from djpatch_multidb.context import selector
from djpatch_multidb.db.nativeconnections import in_transaction

try:
    from functools import wraps
except ImportError:  # pragma: no cover
    from django.utils.functional import wraps

_local = threadstate.local


class atomic(object):
    """A transaction block; a context manager and a decorator (each use is its
    own).  ``@atomic`` without parentheses decorates too."""

    def __new__(cls, using=None):
        if callable(using):           # @atomic, as Django's own atomic allows
            return atomic()(using)
        return object.__new__(cls)

    def __init__(self, using=None):
        if using is not None:
            if not isinstance(using, string_types + (list, tuple)) or not using:
                raise ImproperlyConfigured(
                    "atomic(using=%r): using is an alias of DATABASES, a list of aliases, "
                    "or None (the current context's alias)." % (using,))
            cfg = config.current()
            for alias in _as_list(using):
                cfg.check_alias(alias)
        self.using = using

    def __repr__(self):
        return 'atomic(using=%r)' % (self.using,)

    def __enter__(self):
        block = _Block(self.using)
        block.enter()
        _blocks().append((self, block))
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        blocks = _blocks()
        for index in range(len(blocks) - 1, -1, -1):
            if blocks[index][0] is self:
                block = blocks.pop(index)[1]
                break
        else:
            raise RuntimeError('djpatch_multidb: %r was left without being entered' % (self,))
        return block.exit(exc_type, exc_value, traceback)

    def __call__(self, func):
        if not callable(func):
            raise TypeError('atomic() decorates a function, not %r.' % (func,))
        using = self.using

        def wrapper(*args, **kwargs):
            block = _Block(using)
            block.enter()
            try:
                result = func(*args, **kwargs)
            except BaseException:
                import sys
                error = sys.exc_info()
                if not block.exit(*error):
                    raise
            else:
                block.exit(None, None, None)
                return result
        return wraps(func)(wrapper)


def _blocks():
    try:
        return _local.tx_blocks
    except AttributeError:
        _local.tx_blocks = []
        return _local.tx_blocks


def _as_list(using):
    if isinstance(using, string_types):
        return [using]
    return list(using)


class _Block(object):
    """One entered atomic(): what it must undo at the end."""

    def __init__(self, using):
        self.using = using
        self.native = versions.is_native()
        self.entered = []

    def aliases(self):
        if self.using is not None:
            return _as_list(self.using)
        return [selector.raw_alias()]

    def enter(self):
        from django.db import transaction
        if not self.native:
            transaction.enter_transaction_management()
            transaction.managed(True)
            return
        kind = versions.feature('transaction')
        try:
            for alias in self.aliases():
                if kind == 'atomic':
                    block = transaction.atomic(using=alias)
                    block.__enter__()
                    self.entered.append(block)
                else:
                    transaction.enter_transaction_management(using=alias)
                    transaction.managed(True, using=alias)
                    self.entered.append(alias)
        except BaseException:
            import sys
            error = sys.exc_info()
            self.exit(*error)
            raise

    def exit(self, exc_type, exc_value, traceback):
        from django.db import transaction
        if not self.native:
            try:
                if exc_type is None:
                    transaction.commit()
                else:
                    transaction.rollback()
            finally:
                transaction.leave_transaction_management()
            return False
        while self.entered:
            entry = self.entered.pop()
            if isinstance(entry, string_types):
                try:
                    if exc_type is None:
                        transaction.commit(using=entry)
                    else:
                        transaction.rollback(using=entry)
                finally:
                    transaction.leave_transaction_management(using=entry)
            else:
                entry.__exit__(exc_type, exc_value, traceback)
        return False


# -- Django's own transaction functions, called with no ``using`` ----------------
#
# On Django 1.0/1.1 the patches make transaction.commit_on_success() and
# friends act on the connections the blocks select.  From Django 1.2 a
# transaction function with no ``using`` means 'default'; inside using() or
# using_shard() legacy code means the block's database.  These factories
# (applied by registry.NATIVE) make "no using" mean the alias raw SQL goes to
# at that moment (selector.raw_alias(): 'default' outside any block), and
# leave an explicit ``using`` (which is all Django itself passes) alone.
#
# On Django 1.0/1.1 such a block also covered every other database written
# in it.  From 1.2 a Django block holds one alias, so a block with no using
# that the router sends a write to another alias in (one no transaction of
# Django's holds) joins that alias: it opens the same kind of block there
# (atomic(using=alias); commit_on_success / commit_manually(using=alias),
# that is enter_transaction_management + managed(True)) and closes it with its
# own, last joined first.  commit(), rollback() and is_dirty() with no using,
# on Django 1.2 to 1.5, reach the aliases joined by the blocks of the alias
# they act on, as they reached every connection on Django 1.0/1.1.

def _following(using):
    if using is None:
        return selector.raw_alias()
    return using


def make_get_connection(original):
    """Django 1.6 and later: transaction.get_connection(using=None), which
    atomic() and every transaction function ask for their connection."""
    # Django's own get_connection(using) is connections[using] (1.6 to 4.2),
    # written out here: atomic() asks twice per save, and a call that only
    # passes its argument on would be one call more each time.  A function
    # that is not Django's own (a wrapper installed before) is called.
    django_globals = getattr(original, '__globals__', None)
    transaction = sys.modules.get('django.db.transaction')
    if transaction is None or django_globals is not transaction.__dict__ or \
            'connections' not in django_globals:
        return make_calling_get_connection(original)

    def get_connection(using=None):
        if using is None:
            using = _unnamed_connection_alias()
        return django_globals['connections'][using]
    return wraps(original)(get_connection)


def make_calling_get_connection(original):
    """make_get_connection() for a get_connection that is not Django's own."""
    def get_connection(using=None):
        if using is None:
            using = _unnamed_connection_alias()
        return original(using)
    return wraps(original)(get_connection)


def _unnamed_connection_alias():
    """The alias of transaction.get_connection() with no using: the current
    context's.  on_commit(), savepoint(), set_rollback() with no using inside
    a block of another database: the block holds that one too."""
    using = _following(None)
    if _local.__dict__.get('tx_following'):
        check_write(None, using)
    return using


# The functions that, with no using, act on the joined aliases too: 'all'
# calls each, 'any' answers whether any says so.
_REACH_JOINED = {'commit': 'all', 'rollback': 'all', 'is_dirty': 'any'}


def make_following_function(original):
    """Django 1.2 to 1.5: a transaction function whose ``using`` defaults to None
    (commit(), rollback(), is_dirty(), managed(flag), savepoint_commit(sid), ...)."""
    try:
        from inspect import getfullargspec as argspec
    except ImportError:  # Python 2
        from inspect import getargspec as argspec
    index = argspec(original)[0].index('using')
    reach = _REACH_JOINED.get(getattr(original, '__name__', None))

    def call(args, kwargs, alias):
        if len(args) > index:
            args = args[:index] + (alias,) + args[index + 1:]
        else:
            kwargs = dict(kwargs, using=alias)
        return original(*args, **kwargs)

    def function(*args, **kwargs):
        if len(args) > index:
            using = args[index]
        else:
            using = kwargs.get('using')
        alias = _following(using)
        if using is not None or reach is None or not _local.__dict__.get('tx_following'):
            return call(args, kwargs, alias)
        results = [call(args, kwargs, name) for name in [alias] + _joined_by_blocks_on(alias)]
        if reach == 'any':
            return any(results)
        return results[0]
    return wraps(original)(function)


def make_following_block(original, holds=True):
    """atomic, commit_on_success, commit_manually (and autocommit, which holds
    no transaction: ``holds=False``) with no ``using``, called (``with
    transaction.atomic():``) or bare (``@transaction.commit_on_success``):
    Django gives the block 'default' when it is built; here each entry of the
    block takes the alias of the context it is entered in, and keeps it to
    its end."""
    def factory(using=None, *args, **kwargs):
        if using is not None and not callable(using):
            return original(using, *args, **kwargs)     # Django's own, as Django calls it
        if using is None:
            return FollowingBlock(original, args, kwargs, holds)
        return FollowingBlock(original, args, kwargs, holds)(using)
    return wraps(original)(factory)


def make_following_autocommit(original):
    return make_following_block(original, holds=False)


class _Open(object):
    """One entered Django block with no using, in this thread: its alias and
    the blocks it opened on the aliases it joined."""

    def __init__(self, name, alias, original, holds):
        self.name = name
        self.alias = alias
        self.original = original
        self.holds = holds
        # atomic() entered inside another atomic block on its alias is a
        # savepoint: what it joined goes on with the enclosing block.
        self.nested = False
        if holds and name == 'atomic':
            from django.db import connections
            self.nested = bool(getattr(connections[alias], 'in_atomic_block', False))
        self.joined = []          # aliases, in the order joined
        self.joins = []           # Django's block entered on each

    def covers(self, alias):
        return self.holds and (alias == self.alias or alias in self.joined)

    def join(self, alias):
        """Open Django's block of the same kind on ``alias``.  If it fails to
        open, nothing is recorded and the error goes to the write (the block
        then rolls back what it holds)."""
        block = self.original(alias)
        block.__enter__()
        self.joins.append(block)
        self.joined.append(alias)


def _open_blocks():
    """The _Open record of each Django block with no using open in this thread."""
    try:
        return _local.tx_following
    except AttributeError:
        _local.tx_following = []
        return _local.tx_following


def open_blocks_here():
    """Whether this thread is inside a Django block with no using (cheap: the
    router asks it for every write)."""
    return _local.__dict__.get('tx_following')


def _joined_by_blocks_on(alias):
    """The aliases joined by this thread's open blocks on ``alias``."""
    found = []
    for record in _open_blocks():
        if record.alias == alias:
            for name in record.joined:
                if name != alias and name not in found:
                    found.append(name)
    return found


def check_write(model, alias):
    """The router's write answer ``alias`` for ``model``, inside Django's own
    transaction block with no using: on Django 1.0/1.1 that block covered
    every database written in it; from 1.2 it holds one alias.  A write to
    another alias that no transaction of Django's holds would commit at once
    whatever the block does: the innermost block joins that alias first
    (autocommit(), innermost, asks for that: nothing is joined)."""
    blocks = _local.__dict__.get('tx_following')
    if not blocks or alias is None:
        return
    for record in blocks:
        if record.covers(alias):
            return
    innermost = blocks[-1]
    if not innermost.holds:
        return
    if in_transaction(alias):
        return
    innermost.join(alias)


def _close(blocks, exc_type, exc_value, traceback):
    """Exit each of Django's ``blocks``, last first, with the block's outcome;
    once one raises, the rest roll back with that error, and the first such
    error is raised.  Answers the first block's __exit__ (the block's own)."""
    error = None
    result = False
    for block in reversed(blocks):
        try:
            result = block.__exit__(exc_type, exc_value, traceback)
        except BaseException:
            import sys
            if error is None:
                error = sys.exc_info()
                exc_type, exc_value, traceback = error
    if error is not None:
        reraise(*error)
    return result


class FollowingBlock(object):
    """Django's ``original(alias, *args, **kwargs)`` block, for the alias of the
    context open when it is entered; a context manager and a decorator."""

    def __init__(self, original, args, kwargs, holds=True):
        self.original = original
        self.args = args
        self.kwargs = kwargs
        self.holds = holds
        self.local = threading.local()

    def __repr__(self):
        return '<%s with no using: the alias of the context it is entered in>' % (
            getattr(self.original, '__name__', self.original),)

    def __enter__(self):
        alias = selector.raw_alias()
        record = _Open(getattr(self.original, '__name__', 'atomic'), alias, self.original,
                       self.holds)
        block = self.original(alias, *self.args, **self.kwargs)
        result = block.__enter__()
        entered = getattr(self.local, 'entered', None)
        if entered is None:
            entered = self.local.entered = []
        entered.append((block, record))
        _open_blocks().append(record)
        return result

    def __exit__(self, exc_type, exc_value, traceback):
        block, record = self.local.entered.pop()
        blocks = _open_blocks()
        for index in range(len(blocks) - 1, -1, -1):
            if blocks[index] is record:
                del blocks[index]
                break
        if exc_type is None and record.nested and record.joins:
            enclosing = [r for r in blocks if r.holds]
            if enclosing:
                # A savepoint released: the joined transactions commit or
                # roll back with the enclosing block.
                try:
                    result = block.__exit__(None, None, None)
                except BaseException:
                    import sys
                    error = sys.exc_info()
                    _close(record.joins, *error)
                    reraise(*error)
                for alias, join in zip(record.joined, record.joins):
                    enclosing[-1].joined.append(alias)
                    enclosing[-1].joins.append(join)
                return result
        return _close([block] + record.joins, exc_type, exc_value, traceback)

    def __call__(self, func):
        def inner(*args, **kwargs):
            self.__enter__()
            try:
                result = func(*args, **kwargs)
            except BaseException:
                import sys
                error = sys.exc_info()
                if not self.__exit__(*error):
                    reraise(*error)
            else:
                self.__exit__(None, None, None)
                return result
        return wraps(func)(inner)
