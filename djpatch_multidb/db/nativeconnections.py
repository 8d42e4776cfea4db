"""The connection registry on Django 1.2 and later: a thin view of
django.db.connections, with the few things the library asks of its own
registry on Django 1.0/1.1, and whether an alias is inside a transaction.
"""
from djpatch_multidb.base import config, versions


class NativeConnections(object):
    """djpatch_multidb.connections on Django >= 1.2: django.db.connections,
    plus the few things the library asks of its own registry."""

    def _django(self):
        from django.db import connections
        return connections

    def __getitem__(self, alias):
        config.current().check_alias(alias)
        return self._django()[alias]

    def default(self):
        return self._django()['default']

    def __contains__(self, alias):
        return alias in config.current().databases

    def __iter__(self):
        return iter(config.current().aliases)

    def all(self):
        return [self[alias] for alias in self]

    def opened(self):
        """(alias, wrapper) for each alias this thread has built a wrapper for,
        as on Django 1.0/1.1 (Django keeps them per thread in _connections)."""
        handler = self._django()
        built = getattr(handler, '_connections', None)
        return [(alias, handler[alias]) for alias in self
                if built is not None and hasattr(built, alias)]

    def dedicated(self, alias):
        """A new wrapper for ``alias``, shared with nothing: it commits alone."""
        config.current().check_alias(alias)
        handler = self._django()
        if hasattr(handler, 'create_connection'):   # Django 3.2 and later
            return handler.create_connection(alias)
        handler.ensure_defaults(alias)
        if hasattr(handler, 'prepare_test_settings'):
            handler.prepare_test_settings(alias)
        entry = handler.databases[alias]
        from django.db.utils import load_backend
        return load_backend(entry['ENGINE']).DatabaseWrapper(entry, alias)

    def backend(self, db):
        from django.db.utils import load_backend
        return load_backend(db.backend)

    def written(self):
        """The aliases inside a transaction in this thread (the library keeps no
        pending list of its own here: Django's transactions are per alias)."""
        return [alias for alias, wrapper in self.opened() if in_transaction(alias)]

    def close_all(self):
        for wrapper in self._django().all():
            try:
                wrapper.close()
            except Exception:
                wrapper.connection = None

    def reset_queries(self):
        from django.db import reset_queries
        reset_queries()


def in_transaction(alias=None):
    """Whether ``alias`` (any alias if None) is inside a transaction block in this thread."""
    from django.db import connections, transaction
    aliases = alias and [alias] or [w.alias for w in connections.all()]
    for name in aliases:
        wrapper = connections[name]
        if getattr(wrapper, 'in_atomic_block', False):
            return True
        is_managed = getattr(transaction, 'is_managed', None)
        if is_managed is not None and versions.feature('transaction') == 'commit_on_success':
            if is_managed(using=name):
                return True
    return False
