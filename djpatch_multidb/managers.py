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
        cfg = config.current()
        if group is None:
            place = cfg.placement(self.model)
            if place is None or place[0] != 'shards':
                raise ImproperlyConfigured(
                    "%s is not sharded: MULTIDB_MODELS places it on %r; "
                    "give shard(n, group=...) or use .using(alias)."
                    % (model_label(self.model), place and place[1] or 'default'))
            group = place[1]
        return self.using(cfg.shard_alias(group, number))

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
