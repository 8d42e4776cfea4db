"""djpatch_multidb: several databases, replicas and shards for Django 1.0 and 1.1,
and the same calls on Django's own multiple databases from 1.2 on.

In settings.py::

    import djpatch_multidb
    djpatch_multidb.install()

then ``with using_shard(3): ...``, ``Model.objects.shard(3)``, ``.readonly()``,
``.using(alias)``.  Only the names below are public.
"""
import atexit
import sys
import types

from djpatch_multidb.base.errors import (CommitError, ConnectionDoesNotExist, CrossDatabaseQuery,
                                    ReadOnlyError, ShardKeyError, ShardNotSelected,
                                    ShardQueryError)
from djpatch_multidb.installation import install, is_installed, uninstall
from djpatch_multidb.context.selector import readonly, resharding, using, using_shard, using_shard_for
from djpatch_multidb.db.connections import connections
from djpatch_multidb.routing.proxy import connection
from djpatch_multidb.routing.replicas import use_primary
from djpatch_multidb.api.transactions import atomic
from djpatch_multidb.base.shardkeys import shard_for
from djpatch_multidb.patched.commands import hint_if_not_installed as _hint

atexit.register(_hint)   # --database given but install() never called: say so

__version__ = '0.1.0'

__all__ = ['install', 'uninstall', 'is_installed', 'using', 'using_shard', 'using_shard_for',
           'readonly', 'resharding', 'use_primary', 'shard_for', 'atomic', 'connection', 'connections', 'MultiDBManager', 'MultiDBQuerySet', 'ShardedIdField',
           'ConnectionDoesNotExist', 'ReadOnlyError', 'ShardNotSelected', 'ShardKeyError',
           'ShardQueryError', 'CrossDatabaseQuery', 'CommitError']


class _Package(types.ModuleType):
    """The package module; MultiDBManager, MultiDBQuerySet and ShardedIdField are
    imported on first use, because they need django.db.models and install()
    must run before that is imported."""

    def __getattr__(self, name):
        if name in ('MultiDBManager', 'MultiDBQuerySet'):
            from djpatch_multidb.api import managers
            value = getattr(managers, name)
        elif name == 'ShardedIdField':
            from djpatch_multidb.api.ids import ShardedIdField as value
        else:
            raise AttributeError("module 'djpatch_multidb' has no attribute %r" % (name,))
        setattr(self, name, value)
        return value


_package = _Package(__name__, __doc__)
_package.__dict__.update(globals())
_package._module = sys.modules[__name__]
sys.modules[__name__] = _package
