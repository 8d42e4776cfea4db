"""MultiDBManager: ``.shard(n)`` and ``.readonly()`` for a legacy model.

    class Profile(models.Model):
        objects = MultiDBManager()

    Profile.objects.shard(2).filter(...)
    Profile.objects.readonly().count()

On Django 1.2 and later these are Django's own ``.using()``: ``shard(n)`` is
``using(<alias of shard n>)``, ``readonly()`` is ``using(<a replica>)`` with
writes refused.
"""
from django.db import models
from django.db.models.query import QuerySet

from djpatch_multidb.api import transactions
from djpatch_multidb.api.allshards import AllShards
from djpatch_multidb.base import config, versions
from djpatch_multidb.base.errors import ImproperlyConfigured, ReadOnlyError, model_label
from djpatch_multidb.base.shardkeys import shard_number
from djpatch_multidb.context import selector
from djpatch_multidb.routing import precedence, replicas
from djpatch_multidb.routing.proxy import QueryConnection, query_route

NATIVE = versions.is_native()


def _refuse_if_readonly(name):
    original = getattr(QuerySet, name, None)
    if original is None:
        return None

    def method(self, *args, **kwargs):
        self._refuse_writes(name.lstrip('_'))
        return original(self, *args, **kwargs)
    method.__name__ = name
    method.__doc__ = original.__doc__
    return method


class ReadOnlyRefusals(object):
    """Django 1.2 and later: the writes of a readonly() queryset (on a replica),
    or of a queryset that names its database inside readonly() (Django asks no
    router then), raise ReadOnlyError."""
    _multidb_readonly = False
    # Its database came from the context it was built in (using_shard(),
    # using()), not from the caller's .using() or .shard(n).
    _multidb_context = False

    def _refuse_writes(self, operation):
        if self._multidb_readonly or selector.is_readonly():
            raise ReadOnlyError(self.model, self._db, operation)
        if self._multidb_context:
            # The context chose the database, as the router would have: inside
            # Django's block with no using, the block joins it before the write
            # (Django asks no router for a queryset that names its database).
            transactions.check_write(self.model, self._db)

    for _name in ('update', '_update', 'delete', 'get_or_create',
                  'update_or_create', 'bulk_create', 'bulk_update'):
        _method = _refuse_if_readonly(_name)
        if _method is not None:
            locals()[_name] = _method
    del _name, _method


_refusing_classes = {}


def _refusing(klass):
    """``klass`` (Django 1.2 to 1.8's ValuesQuerySet and kin) with the refusals."""
    if issubclass(klass, ReadOnlyRefusals):
        return klass
    try:
        return _refusing_classes[klass]
    except KeyError:
        made = _refusing_classes[klass] = type(klass.__name__, (ReadOnlyRefusals, klass), {})
        return made


if NATIVE:
    class _QuerySet(ReadOnlyRefusals, QuerySet):
        pass
else:
    _QuerySet = QuerySet


class MultiDBQuerySet(_QuerySet):
    """A QuerySet that can also be sent to a shard or a replica."""
    _multidb_readonly = False
    _multidb_context = False    # (ReadOnlyRefusals: Django 1.2 and later)

    def shard(self, number, group=None):
        """This queryset on shard ``number`` of the model's group (or ``group``)."""
        group = group or self._group()
        return self.using(config.current().shard_alias(group, number))

    def shard_for(self, key, group=None):
        """This queryset on the shard ``key`` maps to with the group's key function."""
        group = group or self._group()
        return self.shard(shard_number(config.current(), group, key), group)

    def all_shards(self, group=None):
        """This query on every shard of the model's group (see allshards.AllShards)."""
        return AllShards(self, group or self._group())

    def _group(self):
        place = config.current().placement(self.model)
        if place is None or place[0] != 'shards':
            raise ImproperlyConfigured(
                "%s is not sharded: MULTIDB_MODELS places it on %r; "
                "name the group (group=...) or use .using(alias)."
                % (model_label(self.model), place and place[1] or 'default'))
        return place[1]

    def readonly(self):
        """This queryset read from a replica of its database; writes raise ReadOnlyError."""
        if NATIVE:
            primary = config.current().primary_for(self.db)
            alias = primary
            if not replicas.primary_forced():
                alias = replicas.for_read(primary)
            clone = QuerySet.using(self, alias)
            clone._multidb_readonly = True
            return clone
        clone = self._clone()
        alias = query_route(self.query)[0]
        clone.query.connection = QueryConnection(alias, True)
        return clone

    def _clone(self, *args, **kwargs):
        if NATIVE and self._multidb_readonly:
            # Django 1.2 to 1.8: values() and dates() clone into another class.
            if args and args[0] is not None:
                args = (_refusing(args[0]),) + args[1:]
            elif kwargs.get('klass') is not None:
                kwargs['klass'] = _refusing(kwargs['klass'])
        clone = QuerySet._clone(self, *args, **kwargs)
        clone._multidb_readonly = self._multidb_readonly
        clone._multidb_context = self._multidb_context
        return clone

    if NATIVE:
        def using(self, alias):
            """.using(alias), .shard(n): inside readonly(), on a replica of alias.
            An unknown alias raises djpatch_multidb's ConnectionDoesNotExist at once."""
            if alias is not None:
                config.current().check_alias(alias)
            clone = QuerySet.using(self, alias)
            clone._multidb_context = False      # the caller's own choice
            if selector.is_readonly() and not clone._multidb_readonly:
                clone = clone.readonly()
            return clone

        def create(self, **kwargs):
            """Django asks the router for the write database before the object
            exists; a sharded object's shard comes from its key, so the save decides."""
            self._refuse_writes('create')
            obj = self.model(**kwargs)
            self._for_write = True
            self._check_key(obj)
            obj.save(force_insert=True, using=self._db)
            return obj

        def get_or_create(self, defaults=None, **kwargs):
            """Django before 1.8 saves the new object with using=, which asks no
            router: the key is checked against a named shard first, as create() does."""
            params = dict([(k, v) for k, v in kwargs.items() if '__' not in k])
            params.update(defaults or {})
            self._check_key(self.model(**params))
            if defaults is not None:
                kwargs['defaults'] = defaults
            return QuerySet.get_or_create(self, **kwargs)

        def _check_key(self, obj):
            if self._db is not None and not selector.shard_keys_unchecked():
                # A named shard (.shard(n), using_shard(n)): the key must map to it.
                precedence.check_shard_key(config.current(), self.model, obj, self._db)


class MultiDBManager(models.Manager):
    """A manager whose querysets have ``shard()`` and ``readonly()`` too."""

    def get_queryset(self):
        if not NATIVE:
            return MultiDBQuerySet(self.model)
        # Built inside using()/using_shard(): stays there, as on Django 1.0/1.1.
        using = self._db
        from_context = False
        if using is None and not selector.is_readonly():
            using = selector.context_alias(self.model)
            from_context = using is not None
        kwargs = {'using': using}
        if versions.feature('queryset_hints'):
            kwargs['hints'] = self._hints
        queryset = MultiDBQuerySet(self.model, **kwargs)
        queryset._multidb_context = from_context
        return queryset
    get_query_set = get_queryset   # the name up to Django 1.5

    def shard(self, number, group=None):
        return self.get_queryset().shard(number, group)

    def readonly(self):
        return self.get_queryset().readonly()

    def shard_for(self, key, group=None):
        return self.get_queryset().shard_for(key, group)

    def all_shards(self, group=None):
        return self.get_queryset().all_shards(group)
