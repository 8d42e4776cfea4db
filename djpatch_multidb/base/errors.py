"""The exceptions djpatch_multidb raises.

``ConnectionDoesNotExist`` keeps the name Django 1.2 gave it, so code that
catches it survives the upgrade.  ``ImproperlyConfigured`` is Django's own.
"""
import sys

from django.core.exceptions import ImproperlyConfigured


class _AlsoDjangos(type):
    """Metaclass of ConnectionDoesNotExist: on Django 1.2 and later it also
    matches django.db.utils.ConnectionDoesNotExist, which Django raises for an
    unknown alias in .using() or save(using=...), in except clauses and
    isinstance()."""

    def __subclasscheck__(cls, subclass):
        if type.__subclasscheck__(cls, subclass):
            return True
        theirs = getattr(sys.modules.get('django.db.utils'), 'ConnectionDoesNotExist', None)
        return theirs is not None and issubclass(subclass, theirs)

    def __instancecheck__(cls, instance):
        return cls.__subclasscheck__(type(instance))


_ConnectionErrorBase = _AlsoDjangos('_ConnectionErrorBase', (Exception,), {})


class ConnectionDoesNotExist(_ConnectionErrorBase):
    """An alias that DATABASES does not define was named."""

    def __init__(self, alias, configured):
        self.alias = alias
        self.configured = tuple(configured)
        known = ', '.join([repr(a) for a in self.configured]) or 'no alias'
        if isinstance(alias, str) or type(alias).__name__ == 'unicode':
            message = "The connection %r doesn't exist: DATABASES defines %s." % (alias, known)
        else:
            message = ("A database alias is a string naming one of DATABASES (%s), not %r (%s)."
                       % (known, alias, type(alias).__name__))
        Exception.__init__(self, message)


class ReadOnlyError(Exception):
    """A write was attempted inside readonly() or through a readonly() queryset."""

    def __init__(self, model, alias, operation='write'):
        self.model = model
        self.alias = alias
        Exception.__init__(
            self, "Cannot %s %s inside readonly() (its database is %r): reads only "
            "there. Nothing was written; write outside the readonly() block or "
            "through a queryset that is not readonly()."
            % (operation, model_label(model), alias))


class ReplicaWriteError(ReadOnlyError):
    """A write was sent to an alias that MULTIDB_REPLICAS names as a replica
    (by a block, a queryset's using() or save/delete(using=...))."""

    def __init__(self, model, alias, primary, operation='write'):
        self.model = model
        self.alias = alias
        self.primary = primary
        Exception.__init__(
            self, "Cannot %s %s on %r: it is a replica of %r (MULTIDB_REPLICAS), which "
            "replication fills. Nothing was written; write to %r (a replica is read "
            "through readonly() or .readonly())."
            % (operation, model_label(model), alias, primary, primary))


class ShardNotSelected(ImproperlyConfigured):
    """A sharded model was used with no shard chosen."""

    def __init__(self, model, group, aliases, why='no shard is selected'):
        self.model = model
        self.group = group
        ImproperlyConfigured.__init__(
            self, "%s lives on the shards of group %r (%s) and %s: use using_shard(n), "
            "using_shard_for(key), %s.objects.shard(n) or .using(alias)."
            % (model_label(model), group, ', '.join(aliases), why,
               getattr(getattr(model, '_meta', None), 'object_name', 'Model')))


class ShardKeyError(ImproperlyConfigured):
    """A shard key that the group's key function cannot place."""

    def __init__(self, group, key, reason):
        self.group = group
        self.key = key
        ImproperlyConfigured.__init__(
            self, "Shard key %r cannot be placed in group %r: %s." % (key, group, reason))


class ShardQueryError(Exception):
    """A query across shards failed on one shard (``alias``); nothing is returned."""

    def __init__(self, alias, error, others=0):
        self.alias = alias
        self.error = error
        text = 'Query across shards failed on %r: %s: %s' % (alias, type(error).__name__, error)
        if others:
            text += ' (and on %d other shard%s)' % (others, others > 1 and 's' or '')
        Exception.__init__(self, text)


class CrossDatabaseQuery(ImproperlyConfigured):
    """A query would need a join between tables in two databases."""

    def __init__(self, what, model, place, related, related_place):
        self.model = model
        self.related = related
        ImproperlyConfigured.__init__(
            self, "%s would join %s on %s to %s on %s: a query cannot join tables in two "
            "databases. Query each database on its own, e.g. filter on the related ids "
            "(field__in=[...])." % (what, model_label(model), place, model_label(related),
                                    related_place))


class CrossDatabaseDelete(CrossDatabaseQuery):
    """A delete of an object inside a block that names another database than
    the one the object was loaded from or saved to: its row is not there."""

    def __init__(self, instance, home, alias):
        model = instance.__class__
        self.model = model
        self.related = None
        self.home, self.alias = home, alias
        ImproperlyConfigured.__init__(
            self, "%s with primary key %r was loaded from (or saved to) %r; deleting it "
            "where the block names, %r, would delete whatever row has that key there. "
            "Nothing was deleted: delete it outside the block or with obj.delete(using=%r); "
            "obj.delete(using=%r) deletes the row with that key on %r."
            % (model_label(model), instance._get_pk_val(), home, alias, home, alias, alias))


class CommitError(Exception):
    """Committing a transaction that spans several databases failed part way.

    ``committed`` names the aliases whose commit had already succeeded,
    ``failed`` the alias whose commit raised, ``rolled_back`` the aliases that
    were then rolled back instead of committed.
    """

    def __init__(self, failed, error, committed, rolled_back):
        self.failed = failed
        self.error = error
        self.committed = tuple(committed)
        self.rolled_back = tuple(rolled_back)
        Exception.__init__(
            self, "Commit on %r failed (%s: %s) after %s; %s." % (
                failed, type(error).__name__, error,
                self.committed and 'committing %s' % ', '.join(
                    [repr(a) for a in self.committed]) or 'nothing was committed',
                self.rolled_back and 'rolled back %s' % ', '.join(
                    [repr(a) for a in self.rolled_back]) or 'nothing else was pending'))


def model_label(model):
    """'app_label.ModelName' for a model class or instance."""
    meta = getattr(model, '_meta', None)
    if meta is None:
        return repr(model)
    return '%s.%s' % (meta.app_label, meta.object_name)
