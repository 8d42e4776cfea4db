"""MultiDBManager: ``.shard(n)`` and ``.readonly()`` for a legacy model.

    class Profile(models.Model):
        objects = MultiDBManager()

    Profile.objects.shard(2).filter(...)
    Profile.objects.readonly().count()
"""
from django.db import models
from django.db.models.query import QuerySet

from djpatch_multidb import config
from djpatch_multidb.errors import ImproperlyConfigured, model_label
from djpatch_multidb.proxy import QueryConnection, query_route


class MultiDBQuerySet(QuerySet):
    """A QuerySet that can also be sent to a shard or a replica."""

    def shard(self, number, group=None):
        """This queryset on shard ``number`` of the model's group (or ``group``)."""
        group = group or self._group()
        return self.using(config.current().shard_alias(group, number))

    def shard_for(self, key, group=None):
        """This queryset on the shard ``key`` maps to with the group's key function."""
        from djpatch_multidb.shardkeys import shard_number
        group = group or self._group()
        return self.shard(shard_number(config.current(), group, key), group)

    def all_shards(self, group=None):
        """This query on every shard of the model's group (see allshards.AllShards)."""
        from djpatch_multidb.allshards import AllShards
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
        clone = self._clone()
        alias = query_route(self.query)[0]
        clone.query.connection = QueryConnection(alias, True)
        return clone


class MultiDBManager(models.Manager):
    """A manager whose querysets have ``shard()`` and ``readonly()`` too."""

    def get_query_set(self):
        return MultiDBQuerySet(self.model)

    def shard(self, number, group=None):
        return self.get_query_set().shard(number, group)

    def readonly(self):
        return self.get_query_set().readonly()

    def shard_for(self, key, group=None):
        return self.get_query_set().shard_for(key, group)

    def all_shards(self, group=None):
        return self.get_query_set().all_shards(group)
