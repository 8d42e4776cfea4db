"""Relations between models that live in different databases.

A ForeignKey into another database stays a ForeignKey: following it loads
the object from its own database, reverse relations query the related model's
database, select_related() only joins within one database, a filter that would
join two databases raises CrossDatabaseQuery, and a delete cascades in every
database the collected objects came from.
"""
from djpatch_multidb import config, routing
from djpatch_multidb.errors import CrossDatabaseQuery
from djpatch_multidb.state import instance_db


def describe_place(model):
    place = config.current().placement(model)
    if place is None:
        return "'default'"
    if place[0] == 'shards':
        return "the shards of group %r" % place[1]
    return repr(place[1])


def several_places():
    """Whether any model lives anywhere but 'default' (else nothing here applies)."""
    return bool(config.current().models)


# -- filters ----------------------------------------------------------------

def check_lookups(model, args, kwargs, what='filter()'):
    """Raise CrossDatabaseQuery if a lookup would join two databases."""
    for key in kwargs:
        if '__' in key:
            check_path(model, key, what)
    for arg in args:
        for key in _q_keys(arg):
            if '__' in key:
                check_path(model, key, what)


def _q_keys(node):
    for child in getattr(node, 'children', ()):
        if isinstance(child, tuple):
            yield child[0]
        else:
            for key in _q_keys(child):
                yield key


_checked = {}


def check_path(model, path, what):
    """Raise CrossDatabaseQuery if ``path`` from ``model`` joins two databases
    (a path found fine is remembered for this configuration)."""
    cfg = config.current()
    if _checked.get((cfg, model, path)):
        return
    _check_path(model, path, what)
    _checked[(cfg, model, path)] = True


def _check_path(model, path, what):
    from django.db.models.fields import FieldDoesNotExist
    from django.db.models.sql.constants import QUERY_TERMS
    parts = path.split('__')
    current = model
    index = 0
    while index < len(parts):
        name = parts[index]
        if name in QUERY_TERMS and index == len(parts) - 1:
            return
        meta = current._meta
        if name == 'pk':
            return
        try:
            field, owner, direct, m2m = meta.get_field_by_name(name)
        except FieldDoesNotExist:
            return  # Django reports the bad name itself
        rest = parts[index + 1:]
        if direct and not m2m:
            if not getattr(field, 'rel', None):
                return
            target = field.rel.to
            if not rest or _is_target_key(target, field, rest):
                return  # compares the foreign key column: no join
        elif direct:
            target = field.rel.to
            if not rest or _is_target_key(target, None, rest):
                return  # the join table lives with the model
        else:
            target = field.model
        if not routing.same_place(current, target):
            raise CrossDatabaseQuery('%s.objects.%s with %r' % (
                current._meta.object_name, what, path), current, describe_place(current),
                target, describe_place(target))
        current = target
        index += 1


def _is_target_key(target, field, rest):
    from django.db.models.sql.constants import QUERY_TERMS
    names = ['pk', target._meta.pk.name, target._meta.pk.attname]
    if field is not None:
        names.append(field.rel.get_related_field().name)
    if rest[0] in names:
        return len(rest) == 1 or (len(rest) == 2 and rest[1] in QUERY_TERMS)
    return len(rest) == 1 and rest[0] in QUERY_TERMS


# -- select_related ---------------------------------------------------------

def pruned_select_related(query, model):
    """The select_related value without joins into other databases; None if unchanged."""
    requested = query.select_related
    if not requested:
        return None
    if requested is True:
        depth = query.max_depth or 5
        wanted = _follow_all(model, depth, 1)
        unchanged = wanted == _follow_all(model, depth, 1, everywhere=True)
    else:
        wanted = _follow_requested(model, requested)
        unchanged = wanted == requested
    if unchanged:
        return None
    return wanted or False


def _follow_all(model, max_depth, depth, everywhere=False):
    follow = {}
    if depth > max_depth:
        return follow
    for field in model._meta.fields:
        if not field.rel or field.null or getattr(field.rel, 'parent_link', False):
            continue
        if everywhere or routing.same_place(model, field.rel.to):
            follow[field.name] = _follow_all(field.rel.to, max_depth, depth + 1, everywhere)
    return follow


def _follow_requested(model, requested):
    follow = {}
    for name, deeper in requested.items():
        try:
            field = model._meta.get_field(name)
        except Exception:
            follow[name] = deeper
            continue
        if field.rel and routing.same_place(model, field.rel.to):
            follow[name] = _follow_requested(field.rel.to, deeper or {})
    return follow


# -- deletes ----------------------------------------------------------------

def colocated(model):
    """Every installed model that lives where ``model`` lives."""
    cfg = config.current()
    cache = cfg.__dict__.setdefault('_colocated', {})
    try:
        return cache[model]
    except KeyError:
        pass
    from django.db.models import get_models
    place = cfg.placement(model)
    found = frozenset([m for m in get_models() if cfg.placement(m) == place] + [model])
    cache[model] = found
    return found


def split_by_database(seen_objs, default_alias):
    """[(alias, CollectedObjects)] for collected objects from several databases.

    Each object goes to the database it was loaded from (``default_alias`` when
    it does not know); the dependency order within each database is kept.
    """
    groups = {}
    order = []
    for model in seen_objs.unordered_keys():
        for pk, obj in seen_objs[model].items():
            alias = instance_db(obj) or default_alias
            if alias not in groups:
                subset = seen_objs.__class__()
                subset.blocked = seen_objs.blocked
                groups[alias] = subset
                order.append(alias)
            groups[alias].data.setdefault(model, _sorted_dict())[pk] = obj
    for alias in order:
        subset = groups[alias]
        for parent, children in seen_objs.children.items():
            if parent in subset.data:
                subset.children[parent] = [c for c in children if c in subset.data]
    order.sort(key=lambda alias: alias == default_alias)
    return [(alias, groups[alias]) for alias in order]


def _sorted_dict():
    from django.utils.datastructures import SortedDict
    return SortedDict()
