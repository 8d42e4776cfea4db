"""MultiDBRouter: the library's routing as a Django (1.2 and later) router.

install() puts it first in DATABASE_ROUTERS on Django 1.2 and later.  It
answers from the same rules as the patches on Django 1.0/1.1 (precedence.py):
the innermost context (using, using_shard, readonly, use_primary), then the
database of the instance being saved or followed, then MULTIDB_MODELS and
shard keys, then the project's other routers, then 'default'; readonly()
moves reads to a replica and refuses writes.  A queryset's own .using()
(``shard(n)``, ``readonly()``) comes before any router, as in Django.
Inside Django's own transaction block with no ``using``, a write to another
database that no transaction holds makes the block join that database: it
commits or rolls back with the block (transactions.check_write).
"""
from djpatch_multidb.api import transactions
from djpatch_multidb.base import config, threadstate
from djpatch_multidb.base.compat import string_types
from djpatch_multidb.base.errors import CrossDatabaseDelete
from djpatch_multidb.base.shardkeys import shard_number
from djpatch_multidb.base.state import instance_db
from djpatch_multidb.context import selector
from djpatch_multidb.routing import precedence, replicas, syncdb

# stack: the selector's open blocks; tx_following: api/transactions.py's
_local = threadstate.local


class MultiDBRouter(object):

    def db_for_read(self, model, **hints):
        # precedence.db_for()'s first answers, written out: with no block
        # open, the answer it keeps; inside a block, the innermost block's
        # choice when no readonly() is open and the alias has no replica.
        try:
            alias = not hints and not _local.stack and \
                config._current.idle_routes.get((model, False))
        except AttributeError:      # no configuration yet
            alias = None
        if alias:
            return alias
        if not hints:
            stack = _local.stack
            cfg = config._current
            if stack and cfg is not None and not _local.tops[-1][1]:
                alias = stack[-1].alias_for(model)
                if alias is not None and not cfg.replicas.get(alias):
                    return alias
            return precedence.db_for(model, False)
        key = _instance_key(model, hints)
        if key is not None:
            try:
                return config.current().route_cache[key + (False,)]
            except KeyError:
                return _remember(key + (False,), model, _route(model, False, hints))
        return _route(model, False, hints)

    def db_for_write(self, model, instance=None, **hints):
        # (``instance`` by name: Django asks about a save or a delete with
        # instance=obj alone, and the common answers need no hints dict.)
        # With no block open: precedence.db_for()'s first answer (kept only
        # for a model placed on an alias with no replica: nothing to pin), or
        # _db_for_write()'s kept answer for an instance, written out.
        try:
            if instance is None:
                alias = not hints and not _local.stack and \
                    config._current.idle_routes.get((model, True))
            else:
                state = instance._state
                alias = not hints and not _local.stack and type(instance) is model and \
                    config._current.route_cache.get((model, state.db, state.adding, True))
        except AttributeError:      # no configuration yet, no ModelState.adding (Django 1.2)
            alias = None
        if alias and not _local.__dict__.get('tx_following'):
            return alias
        return self._asked_to_write(config._current, model, instance, hints)

    def _asked_to_write(self, cfg, model, instance, hints):
        """db_for_write() beyond its kept answers: the innermost block's
        choice alone (_block_write), else _db_for_write(); then a write inside
        Django's block with no using makes the block join its database."""
        alias = None
        stack = _local.stack
        if stack and cfg is not None and not hints and not _local.tops[-1][1] and \
                not cfg.labels_unchecked:
            alias = _block_write(cfg, stack[-1], model, instance)
        if not alias:
            if instance is not None:
                hints['instance'] = instance
            alias = self._db_for_write(model, hints)
        if _local.__dict__.get('tx_following'):     # transactions.open_blocks_here()
            transactions.check_write(model, alias)
        return alias

    def _db_for_write(self, model, hints):
        cfg = config._current
        if cfg is None or cfg.labels_unchecked:
            cfg = config.current()
        key = _instance_key(model, hints)
        if key is not None:
            try:
                return cfg.route_cache[key + (True,)]
            except KeyError:
                pass
        alias = _route(model, True, hints)
        if alias is not None and cfg.replicas.get(alias):
            replicas.pin(alias)        # read-your-writes, as on Django 1.0/1.1
        elif key is not None:
            _remember(key + (True,), model, alias)
        return alias

    def allow_relation(self, obj1, obj2, **hints):
        """Objects placed apart on purpose (MULTIDB_MODELS) may be related; objects
        that live in the same place must come from the same database (a replica
        counts as its primary): an object of shard 1 is not assigned to one of shard 2."""
        cfg = config.current()
        if cfg.placement(type(obj1)) != cfg.placement(type(obj2)):
            return True
        db1, db2 = instance_db(obj1), instance_db(obj2)
        if db1 is None or db2 is None:
            return None
        return cfg.primary_for(db1) == cfg.primary_for(db2)

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        """Whether ``db`` gets the table of a model: the alias MULTIDB_MODELS
        names, every shard of its group, or 'default'; a replica gets its
        primary's.  Called (db, model) on Django 1.7 and (db, app_label,
        model_name, **hints) from 1.8."""
        model = hints.get('model')
        if not isinstance(app_label, string_types):
            model, app_label = app_label, None      # Django 1.7: (db, model)
        if model is None and model_name is not None:
            model = _model(app_label, model_name)
        if model is None:
            return None
        return belongs(model, db)

    def allow_syncdb(self, db, model):
        """Django 1.2 to 1.6's name for allow_migrate."""
        return belongs(model, db)


def belongs(model, alias):
    """syncdb.belongs() for ``alias``, or for its primary when it is a replica."""
    cfg = config.current()
    if alias not in cfg.databases:
        return None
    return syncdb.belongs(model, cfg.primary_for(alias))


# -- the answers that depend on nothing but the instance's model and database --
#
# Django asks the router with the instance as a hint for every save and
# delete.  With no context open in the thread, the answer for an instance of
# a model, by the database it came from, is the same every time unless
# replicas, shard keys or the project's own routers are involved: those
# answers are kept in the configuration's route_cache (dropped with it on
# config.reload()).  Questions without hints are kept by precedence.db_for().

def _instance_key(model, hints):
    """(model, db, adding) for a question about an instance of ``model`` alone,
    asked with no context open; else None."""
    instance = hints.get('instance')
    if instance is None or len(hints) != 1 or type(instance) is not model:
        return None
    if _local.stack:       # a block is open (selector.is_idle())
        return None
    state = instance.__dict__.get('_state')
    if state is None:
        return None
    return (model, state.db, getattr(state, 'adding', False))


def _block_write(cfg, entry, model, instance):
    """A write of ``model`` inside a block (no readonly() open) that the block's
    choice alone decides, as _route() would: the alias the innermost entry
    chooses, when it has no replica and is no replica, for a question with no
    hints or about an instance of ``model`` alone that is new or lives there,
    whose shard key is not there to check (no KEY, or the shard hands the key
    out).  None: _db_for_write() decides."""
    chosen = entry.alias_for(model)
    if chosen is None or cfg.replicas.get(chosen) or chosen in cfg._primaries:
        return None
    if instance is None:
        return chosen
    if type(instance) is not model:
        return None
    state = instance.__dict__.get('_state')
    if state is None:
        return None
    at = state.db
    if at is not None and (getattr(state, 'adding', False) or cfg._primaries.get(at, at) != chosen):
        return None     # Django's guess, or a row of another database: _route() decides
    if precedence.keyed_group(cfg, model) is not None and not precedence.key_field(model)[1]:
        return None     # the instance's key is checked against the block's shard
    return chosen


def _remember(key, model, alias):
    """Cache ``alias`` under ``key`` (model, db, adding, write) when nothing but
    the model and the configuration decided it."""
    cfg = config.current()
    if alias is None or cfg.primary_for(alias) != alias or cfg.replicas.get(alias):
        return alias    # replicas: pins, transactions, balancing and health decide each time
    if key[2] or key[1] is None:    # a new or unsaved object: its placement decided
        place = cfg.placement(model)
        if cfg.router_paths or (place is not None and place[0] == 'shards'):
            return alias    # the project's routers, or the instance's shard key
    cfg.route_cache[key] = alias
    return alias


def _route(model, write, hints):
    """The alias for ``model``; ``hints['instance']`` is the object saved, or the
    object a relation is followed from."""
    instance = hints.get('instance')
    if instance is None:
        return precedence.db_for(model, write)
    state = getattr(instance, '_state', None)
    if isinstance(instance, model):
        # A new object's _state.db is Django's guess from an object assigned
        # to one of its relations: kept if the model lives there (a Note of a
        # Profile on its shard), else its placement and key decide.
        cfg = config._current
        if cfg is None or cfg.labels_unchecked:
            cfg = config.current()
        at = state.db if state is not None else instance_db(instance)
        if at is not None and getattr(state, 'adding', False) and not precedence.placed_on(cfg, model, cfg.primary_for(at)):
            at = None
        if write and at is not None:
            at = cfg.primary_for(at)
        alias = precedence.db_for(model, write, instance=instance, at=at)
        if write and at is not None and alias is not None and cfg.primary_for(alias) != at \
                and not getattr(state, 'adding', False) and _deleting(instance):
            # Model.delete() inside a block of another database: the row is on
            # ``at``; the block's database may hold another row with that key.
            raise CrossDatabaseDelete(instance, at, alias)
        return alias
    # A relation followed from ``instance``: its database, if ``model`` lives
    # in the same place; the shard its foreign key value maps to; else where
    # ``model`` lives.
    at = instance_db(instance)
    if at is not None and precedence.same_place(model, type(instance)):
        if write:
            at = config.current().primary_for(at)     # an object read from a replica
        return precedence.db_for(model, write, at=at)
    at = _shard_by_foreign_key(model, instance)
    if at is None and write and _sharded(model) and selector.context_alias(model) is None:
        return None    # Django's guess for a new object; the save decides by its key
    return precedence.db_for(model, write, at=at)


def _deleting(instance, depth=6):
    """Whether Django's Model.delete() of ``instance`` asks this question (the
    router is asked the same for a save and a delete).  Looked at only when a
    block names another database than the instance's."""
    import sys
    frame = sys._getframe(1)
    while frame is not None and depth:
        if frame.f_code.co_name == 'delete' and frame.f_locals.get('self') is instance \
                and frame.f_globals.get('__name__') == 'django.db.models.base':
            return True
        frame = frame.f_back
        depth -= 1
    return False


def _sharded(model):
    place = config.current().placement(model)
    return place is not None and place[0] == 'shards'


def _shard_by_foreign_key(model, instance):
    """The shard of a sharded ``model`` whose shard key is its primary key, as
    the value of ``instance``'s foreign key to it says."""
    cfg = config.current()
    place = cfg.placement(model)
    if place is None or place[0] != 'shards' or not precedence.shard_key_field(model).primary_key:
        return None
    for field in type(instance)._meta.fields:
        rel = getattr(field, 'remote_field', None) or getattr(field, 'rel', None)
        target = rel is not None and (getattr(rel, 'model', None) or getattr(rel, 'to', None))
        if target is model:
            value = getattr(instance, field.attname, None)
            if value is not None:
                return cfg.shard_alias(place[1], shard_number(cfg, place[1], value))
    return None


def _model(app_label, model_name):
    try:
        from django.apps import apps
    except ImportError:   # Django 1.2 to 1.6
        from django.db.models import get_model
        return get_model(app_label, model_name)
    try:
        return apps.get_model(app_label, model_name)
    except LookupError:
        return None
