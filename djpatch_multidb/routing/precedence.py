"""Which alias a query, a write or a raw cursor goes to.

Precedence: an explicit queryset choice, then the innermost context, then the
database the instance was loaded from or saved to, then MULTIDB_MODELS and
the routers, then 'default'.  readonly() (or a readonly() queryset) then moves
reads to a replica and refuses writes.
"""
from djpatch_multidb.base import config
from djpatch_multidb.base.compat import argument_names
from djpatch_multidb.base.errors import (ReadOnlyError, ReplicaWriteError, ShardKeyError,
                                         ShardNotSelected, model_label)
from djpatch_multidb.base.shardkeys import shard_number
from djpatch_multidb.base.state import instance_db
from djpatch_multidb.context import selector
from djpatch_multidb.routing import replicas


UNKNOWN = object()
_thread = selector._state      # the selector's thread-local stack (read, never written here)


def db_for(model, write, alias=None, readonly=False, instance=None, operation=None, at=UNKNOWN,
           primary=False):
    """The alias an operation on ``model`` uses now.

    ``alias``/``readonly`` are the queryset's own choice, ``instance`` the
    object being saved, deleted or followed, ``at`` the database it came from
    (None: none) when the caller knows it better than ``instance`` does;
    ``primary``: a queryset built inside use_primary(), whose reads stay on
    the primaries.
    """
    if alias is not None and instance is None and not readonly:
        # The caller's choice (a queryset's, a frame's): it stands unless a
        # readonly() block is open (once the configuration is checked).
        cfg = config._current
        try:
            if not _thread.tops[-1][1] and cfg is not None and not cfg.labels_unchecked:
                if write and alias in cfg._primaries:
                    refuse_replica_write(cfg, model, alias, operation)
                return alias
        except AttributeError:
            pass
    plain = alias is None and instance is None and at is UNKNOWN and not readonly and \
        not primary
    if plain:     # the common questions, kept short
        try:
            stack = _thread.stack
            if not stack:               # no block open: see placed_once()
                return config._current.idle_routes[(model, write)]
            if not _thread.tops[-1][1]:
                # The innermost block chooses, no readonly() is open, and the
                # alias has no replica a read could go to: that alias.
                chosen = stack[-1].alias_for(model)
                if chosen is not None and not config._current.replicas.get(chosen) and \
                        not (write and chosen in config._current._primaries):
                    return chosen
        except (AttributeError, KeyError):
            pass
    cfg = config._current
    if cfg is None or cfg.labels_unchecked:
        cfg = config.current()
    explicit = alias is not None
    if alias is None:
        alias = selector.context_alias(model)
    if plain and alias is None and selector.is_idle():
        return placed_once(cfg, model, write)
    # (The key of an instance written where a block or a queryset sends it is
    # checked below, once no refusal can come: reading it may take a ticket.)
    key_checked = write and instance is not None and alias is not None and operation != 'delete'
    if alias is None:
        if at is not UNKNOWN:
            alias = at
        elif instance is not None:
            alias = instance_db(instance)
    if alias is None:
        alias = placed_alias(cfg, model, write, instance)
    if readonly or _thread.tops[-1][1]:         # selector.is_readonly()
        if write:
            raise ReadOnlyError(model, alias, operation or 'write')
        if primary or replicas.primary_forced():
            return alias
        return replicas.for_read(alias)
    if not write and not explicit and not primary and replicas.splitting(alias):
        return replicas.for_read(alias)
    if write and alias in cfg._primaries:
        refuse_replica_write(cfg, model, alias, operation)
    if key_checked:
        check_shard_key(cfg, model, instance, alias)
    return alias


def refuse_replica_write(cfg, model, alias, operation=None):
    """Raise ReplicaWriteError if ``alias`` is a replica (MULTIDB_REPLICAS) that
    a block, a queryset or using= named for a write of ``model``: replication
    fills it, and a row written there is not on its primary."""
    primary = cfg._primaries.get(alias)
    if primary is not None:
        raise ReplicaWriteError(model, alias, primary, operation or 'write')


def placed_once(cfg, model, write):
    """db_for() with no context, no choice and no instance: the placed alias,
    then the replica reads of it; kept in cfg.idle_routes when nothing but the
    model and the configuration decided it (no routers, no shard key, no replica)."""
    alias = placed_alias(cfg, model, write)
    if not write and replicas.splitting(alias):
        return replicas.for_read(alias)
    if not cfg.router_paths and not cfg.replicas.get(alias) and cfg.primary_for(alias) == alias:
        cfg.idle_routes[(model, write)] = alias
    return alias


def placed_alias(cfg, model, write, instance=None):
    """MULTIDB_MODELS, then DATABASE_ROUTERS, then 'default'."""
    place = cfg.placement(model)
    if place is not None and place[0] == 'alias':
        return place[1]
    if cfg.router_paths:
        hints = {}
        if instance is not None:
            hints['instance'] = instance
        chosen = ask_routers(cfg, write and 'db_for_write' or 'db_for_read', model, **hints)
        if chosen:
            return cfg.check_alias(chosen)
    if place is not None:
        if instance is not None and place[1] in cfg.shard_keys:
            return cfg.shard_alias(place[1], shard_of_instance(cfg, place[1], model, instance))
        raise ShardNotSelected(model, place[1], cfg.shards[place[1]])
    return 'default'


def shard_key_field(model):
    """The field whose value is a sharded model's key: ``Model.shard_key`` names
    it, else the primary key."""
    name = getattr(model, 'shard_key', None)
    if name is None:
        return model._meta.pk
    for field in model._meta.fields:
        if name in (field.name, field.attname):
            return field
    from django.core.exceptions import ImproperlyConfigured
    raise ImproperlyConfigured('%s.shard_key names %r, which is not one of its fields.'
                               % (model._meta.object_name, name))


def shard_of_instance(cfg, group, model, instance):
    """The shard number of an instance by its key; a ShardedIdField primary key
    that has no value yet gets its id now, so that the id decides the shard."""
    field = shard_key_field(model)
    key = getattr(instance, field.attname)
    if key is None and hasattr(field, 'allocate'):
        key = field.allocate(instance)
    if key is None:
        raise ShardNotSelected(model, group, cfg.shards[group],
                               'its shard key is None (%s.shard_key %s %r, which has no value)'
                               % (model._meta.object_name,
                                  getattr(model, 'shard_key', None) is None and
                                  'is not set: the key is the primary key' or 'names',
                                  field.name))
    return shard_number(cfg, group, key)


def keyed_group(cfg, model):
    """The shard group of ``model`` when that group has a KEY; else None (kept
    in cfg.keyed_groups once the MULTIDB_MODELS labels are checked)."""
    try:
        return cfg.keyed_groups[model]
    except KeyError:
        pass
    place = cfg.placement(model)
    group = None
    if place is not None and place[0] == 'shards' and place[1] in cfg.shard_keys:
        group = place[1]
    if not cfg.labels_unchecked:
        cfg.keyed_groups[model] = group
    return group


def check_shard_key(cfg, model, instance, alias):
    """A write of ``instance`` to ``alias`` (a block's or a queryset's choice):
    when its model's group has a KEY and ``alias`` is a shard of it, the
    instance's key must map to that shard; else ShardKeyError, before anything
    is written (resharding() lets a tool write it there on purpose)."""
    group = keyed_group(cfg, model)
    if group is None:
        return
    primary = cfg._primaries.get(alias, alias)      # cfg.primary_for(alias)
    shards = cfg.shards[group]
    if primary not in shards or selector.shard_keys_unchecked():
        return
    field, given = key_field(model)
    if given:
        return
    key = getattr(instance, field.attname)
    if key is None:
        if not hasattr(field, 'allocate'):
            return      # no key yet: the block places it
        key = field.allocate(instance)
    _check_key_on(cfg, model, group, field, key, primary)


def check_update_keys(model, alias, values):
    """QuerySet.update(**values) on ``alias``: a new shard key must map to that
    shard, as for a save (see check_shard_key); an expression cannot be checked
    and is refused, except inside resharding()."""
    cfg = config.current()
    group = keyed_group(cfg, model)
    if group is None:
        return
    primary = cfg.primary_for(alias)
    if primary not in cfg.shards[group] or selector.shard_keys_unchecked():
        return
    field, given = key_field(model)
    if given:
        return
    for name, value in values.items():
        if name not in (field.name, field.attname):
            continue
        if hasattr(value, 'as_sql') or hasattr(value, 'evaluate') or \
                hasattr(value, 'resolve_expression'):
            raise _misplaced(model, group, field, value, None, primary, cfg,
                             'an expression whose shard cannot be known before it runs')
        _check_key_on(cfg, model, group, field, value, primary)


# (model, its shard_key) -> (the key field, whether the shard hands it out)
_key_fields = {}


def key_field(model):
    """(shard_key_field(model), _given_by_the_shard() of it), worked out once
    per model and shard_key: every write to a keyed group asks."""
    cache_key = (model, getattr(model, 'shard_key', None))
    try:
        return _key_fields[cache_key]
    except (KeyError, TypeError):
        pass
    field = shard_key_field(model)
    found = (field, _given_by_the_shard(field))
    try:
        _key_fields[cache_key] = found
    except TypeError:
        pass
    return found


def _given_by_the_shard(field):
    """Whether the shard key is an auto-increment primary key: the shard the
    block chose hands it out, so it says nothing about where the row belongs.
    A multi-table-inheritance child's key, its parent link, is its parent's
    (written first, on the same shard)."""
    from django.db.models import AutoField
    for _ in range(20):
        if isinstance(field, AutoField):
            return True
        if hasattr(field, 'remote_field'):      # Django 1.9 and later (field.rel warns)
            rel = field.remote_field
        else:
            rel = getattr(field, 'rel', None)
        if not getattr(rel, 'parent_link', False):
            return False
        field = (getattr(rel, 'model', None) or rel.to)._meta.pk
    return False


def _key_value(field, key):
    """The key as the database will store it: a related object's key value, a
    value Django converts on save (u'3' for an integer field) converted."""
    if hasattr(key, '_meta'):
        rel = getattr(field, 'rel', None) or getattr(field, 'remote_field', None)
        return getattr(key, getattr(rel, 'field_name', None) or key._meta.pk.attname)
    try:
        return field.to_python(key)
    except Exception:
        return key      # the key function says what is wrong with it


def _check_key_on(cfg, model, group, field, key, primary):
    key = _key_value(field, key)
    number = shard_number(cfg, group, key)
    if cfg.shards[group][number] == primary:
        return
    raise _misplaced(model, group, field, key, number, primary, cfg)


def _misplaced(model, group, field, key, number, primary, cfg, why=None):
    shards = cfg.shards[group]
    block = shards.index(primary)
    if why is None:
        why = 'it maps to shard %d (%r) of group %r' % (number, shards[number], group)
        hint = 'write it inside using_shard(%d) or using_shard_for(%r)' % (number, key)
    else:
        hint = 'give the key as a value'
    error = ShardKeyError.__new__(ShardKeyError)
    error.group, error.key = group, key
    error.shard, error.block_shard = number, block
    Exception.__init__(
        error, "%s with shard key %s=%r cannot be written to shard %d (%r), which the block or "
        "queryset names: %s. Nothing was written; %s, or inside djpatch_multidb.resharding() "
        "when a tool moves rows between shards on purpose."
        % (model_label(model), field.name, key, block, primary, why, hint))
    return error


def ask_routers(cfg, method, *args, **kwargs):
    """The first answer other than None of DATABASE_ROUTERS' ``method``
    (the routers that have it, in order); None if none answers."""
    for router in cfg.routers:
        ask = getattr(router, method, None)
        if ask is not None:
            answer = ask(*args, **kwargs)
            if answer is not None:
                return answer
    return None


def ask_table_routers(cfg, alias, model):
    """The first answer other than None of DATABASE_ROUTERS' allow_syncdb or
    allow_migrate for ``model``'s table on ``alias``; allow_migrate is called
    the way the router is written: (db, model), or from Django 1.8 on
    (db, app_label, model_name=..., **hints), as Django itself decides."""
    for router in cfg.routers:
        for name in ('allow_syncdb', 'allow_migrate'):
            method = getattr(router, name, None)
            if method is None:
                continue
            if name == 'allow_migrate' and _takes_app_label(method):
                meta = model._meta
                answer = method(alias, meta.app_label,
                                model_name=getattr(meta, 'model_name', meta.object_name.lower()),
                                model=model)
            else:
                answer = method(alias, model)
            if answer is not None:
                return answer
    return None


def _takes_app_label(method):
    """Django 1.8's rule: (self, db, model) without **hints is the old signature."""
    names, keywords = argument_names(method)
    return not (len(names) == 3 and not keywords)


def raw_alias():
    """The alias django.db.connection stands for in this thread now."""
    try:
        entry, readonly = _thread.tops[-1]      # selector.raw_entry(), is_readonly()
    except AttributeError:
        return selector.raw_alias()
    alias = entry is None and 'default' or entry.raw_alias()
    if readonly:
        alias = replicas.for_read(alias)
    return alias


def placed_on(cfg, model, alias):
    """Whether MULTIDB_MODELS puts ``model`` on ``alias``: its alias, a shard of
    its group, or 'default' when it is not placed."""
    place = cfg.placement(model)
    if place is None:
        return alias == 'default'
    if place[0] == 'alias':
        return place[1] == alias
    return alias in cfg.shards[place[1]]


def same_place(model_a, model_b):
    """Whether two models live in the same database or shard group."""
    cfg = config.current()
    return cfg.placement(model_a) == cfg.placement(model_b)
