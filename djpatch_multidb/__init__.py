"""djpatch_multidb: several databases, replicas and shards for Django 1.0 and 1.1.

In settings.py::

    import djpatch_multidb
    djpatch_multidb.install()

then ``with using_shard(3): ...``, ``Model.objects.shard(3)``, ``.readonly()``,
``.using(alias)``.  Only the names below are public.
"""
import sys
import types

from djpatch_multidb.errors import (CommitError, ConnectionDoesNotExist, ReadOnlyError,
                                    ShardNotSelected)
from djpatch_multidb.installation import install, is_installed, uninstall
from djpatch_multidb.selector import readonly, using, using_shard
from djpatch_multidb.connections import connections

__version__ = '0.1.0'

__all__ = ['install', 'uninstall', 'is_installed', 'using', 'using_shard', 'readonly',
           'connections', 'MultiDBManager', 'ConnectionDoesNotExist', 'ReadOnlyError',
           'ShardNotSelected', 'CommitError']




class _Package(types.ModuleType):
    """The package module; MultiDBManager is imported on first use, because it
    needs django.db.models and install() must run before that is imported."""

    def __getattr__(self, name):
        if name == 'MultiDBManager':
            from djpatch_multidb.managers import MultiDBManager
            self.MultiDBManager = MultiDBManager
            return MultiDBManager
        raise AttributeError("module 'djpatch_multidb' has no attribute %r" % (name,))


_package = _Package(__name__, __doc__)
_package.__dict__.update(globals())
_package._module = sys.modules[__name__]
sys.modules[__name__] = _package
