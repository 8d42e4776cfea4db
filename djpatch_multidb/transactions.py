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
import threading

from djpatch_multidb import versions
from djpatch_multidb.compat import string_types

try:
    from functools import wraps
except ImportError:  # pragma: no cover
    from django.utils.functional import wraps

_local = threading.local()


class atomic(object):
    """A transaction block; a context manager and a decorator (each use is its
    own).  ``@atomic`` without parentheses decorates too."""

    def __new__(cls, using=None):
        if callable(using):           # @atomic, as Django's own atomic allows
            return atomic()(using)
        return object.__new__(cls)

    def __init__(self, using=None):
        if using is not None:
            from djpatch_multidb import config
            from djpatch_multidb.errors import ImproperlyConfigured
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
        return _local.blocks
    except AttributeError:
        _local.blocks = []
        return _local.blocks


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
        from djpatch_multidb import selector
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
