"""Relations between models that live in different databases.

A ForeignKey into another database stays a ForeignKey: following it loads
the object from its own database, reverse relations query the related model's
database, select_related() only joins within one database, a filter that would
join two databases raises CrossDatabaseQuery, and a delete cascades in every
database the collected objects came from.
"""
from djpatch_multidb.base import config
from djpatch_multidb.routing import precedence
from djpatch_multidb.base import versions
from djpatch_multidb.base.compat import string_types
from djpatch_multidb.base.errors import CrossDatabaseQuery
from djpatch_multidb.patched.querysets import bound_view, read_alias
from djpatch_multidb.routing.proxy import query_route
from djpatch_multidb.base.state import instance_db


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
        if not precedence.same_place(current, target):
            raise CrossDatabaseQuery('%s.objects.%s with %r' % (
                current._meta.object_name, what, path), current, describe_place(current),
                target, describe_place(target))
        current = target
        index += 1


def check_ordering(model, names, what='order_by()'):
    """Raise CrossDatabaseQuery if ordering by ``names`` would join two databases
    (a related field, or a foreign key to a model with a default ordering)."""
    for name in names:
        if not isinstance(name, string_types):
            continue
        path = name.lstrip('-+')
        if not path or path == '?' or '.' in path:
            continue  # random, or a table.column of extra()
        if '__' in path:
            check_path(model, path, what)
            continue
        from django.db.models.fields import FieldDoesNotExist
        try:
            field, owner, direct, m2m = model._meta.get_field_by_name(path)
        except FieldDoesNotExist:
            continue  # Django reports the bad name itself
        target = direct and not m2m and getattr(field, 'rel', None) and field.rel.to
        if target and target._meta.ordering and not precedence.same_place(model, target):
            raise CrossDatabaseQuery('%s.objects.%s with %r (%s orders by %s)' % (
                model._meta.object_name, what, name, target._meta.object_name,
                ', '.join(target._meta.ordering)), model, describe_place(model),
                target, describe_place(target))


# -- querysets as filter values ----------------------------------------------

def values_from_other_databases(queryset, args, kwargs, what='filter()'):
    """filter()/exclude() arguments in which every queryset value that reads
    another database than ``queryset`` is read there, its values passed as a
    list (an ``__in`` lookup): each time the outer query runs, as a subquery
    would be (ValuesOfAnotherDatabase), or when filter() is called on Django
    1.0, which reads a queryset value then itself.  One that follows
    ``queryset``'s database stays a subquery.  Any other lookup with such a
    queryset raises CrossDatabaseQuery."""
    new_kwargs = None
    for key, value in kwargs.items():
        if _is_queryset(value):
            replaced = _lookup_value(queryset, key, value, what)
            if replaced is not value:
                if new_kwargs is None:
                    new_kwargs = dict(kwargs)
                new_kwargs[key] = replaced
    new_args = None
    for index, arg in enumerate(args):
        replaced = _node_values(queryset, arg, what)
        if replaced is not arg:
            if new_args is None:
                new_args = list(args)
            new_args[index] = replaced
    if new_args is not None:
        args = tuple(new_args)
    if new_kwargs is not None:
        kwargs = new_kwargs
    return args, kwargs


_queryset_class = []


def _is_queryset(value):
    if not _queryset_class:
        from django.db.models.query import QuerySet
        _queryset_class.append(QuerySet)
    return isinstance(value, _queryset_class[0])


def _node_values(queryset, node, what):
    """A Q object with its queryset values replaced (itself when none is)."""
    children = getattr(node, 'children', None)
    if not children:
        return node
    new_children = []
    changed = False
    for child in children:
        if isinstance(child, tuple) and len(child) == 2 and _is_queryset(child[1]):
            value = _lookup_value(queryset, child[0], child[1], what)
            if value is not child[1]:
                child = (child[0], value)
                changed = True
        elif not isinstance(child, tuple):
            replaced = _node_values(queryset, child, what)
            if replaced is not child:
                child = replaced
                changed = True
        new_children.append(child)
    if not changed:
        return node
    import copy
    copied = copy.copy(node)
    copied.children = new_children
    return copied


def _lookup_value(queryset, key, inner, what):
    if _same_database(queryset, inner):
        return inner
    if key.split('__')[-1] != 'in':
        raise CrossDatabaseQuery('%s.objects.%s with %r=<a %s queryset>' % (
            queryset.model._meta.object_name, what, key, inner.model._meta.object_name),
            queryset.model, _where(queryset), inner.model, _where(inner))
    if versions.feature('filter_values_compiled_late'):
        return ValuesOfAnotherDatabase(inner)
    return _read_values(inner)


class ValuesOfAnotherDatabase(object):
    """An ``__in`` value that is a queryset of another database: read on that
    database each time the outer query is compiled, and compiled as the list
    of its values.  WhereNode compiles a value that has as_sql() in place
    (relabel_aliases() makes the field's get_db_prep_lookup keep it as it
    is); EmptyResultSet when there are none, as for an empty list."""

    value_annotation = True   # not known to be empty until as_sql() reads it

    def __init__(self, inner):
        _check_one_column(inner)
        self.inner = inner._clone()
        # The database it reads is decided now, where it was built: the outer
        # query is compiled inside the outer database's frame (and a pickled
        # query keeps no connection).
        self.alias = read_alias(inner)

    def as_sql(self, qn=None, connection=None):
        values = _read_values(bound_view(self.inner._clone(), self.alias, force=True))
        if not values:
            from django.db.models.sql.datastructures import EmptyResultSet
            raise EmptyResultSet
        return '(%s)' % ', '.join(['%s'] * len(values)), tuple(values)

    def relabel_aliases(self, change_map):
        pass   # no table of the outer query in it

    def __deepcopy__(self, memo):
        return self   # never changed: clones of the outer query share it

    def __repr__(self):
        return '<values of %s on %r>' % (self.inner.model._meta.object_name, self.alias)


def _same_database(outer, inner):
    """Whether ``inner`` as a subquery of ``outer`` reads the database it would
    read on its own: it has no database of its own and its model lives where
    ``outer``'s does, or both chose the same one."""
    inner_route = query_route(inner.query)
    if inner_route == (None, False):
        return precedence.same_place(outer.model, inner.model)
    return inner_route[0] is not None and inner_route == query_route(outer.query)


def _where(queryset):
    alias, readonly = query_route(queryset.query)
    if alias is not None:
        return repr(alias)
    return describe_place(queryset.model)


def _read_values(inner):
    """The values a queryset stands for as a filter value, read on its own database."""
    from django.db.models.query import ValuesQuerySet
    if not isinstance(inner, ValuesQuerySet):
        return list(inner.values_list('pk', flat=True))
    _check_one_column(inner)
    values = []
    for row in inner:
        if isinstance(row, dict):
            row = list(row.values())[0]
        elif isinstance(row, tuple):
            row = row[0]
        values.append(row)
    return values


def _check_one_column(inner):
    """Refuse a values() queryset of several fields as a filter value, as Django does."""
    from django.db.models.query import ValuesQuerySet
    if not isinstance(inner, ValuesQuerySet):
        return
    fields = inner._fields
    if (fields and len(fields) > 1) or (not fields and len(inner.model._meta.fields) > 1):
        raise TypeError('Cannot use a multi-field %s as a filter value.'
                        % inner.__class__.__name__)


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
        if everywhere or precedence.same_place(model, field.rel.to):
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
        if field.rel and precedence.same_place(model, field.rel.to):
            follow[name] = _follow_requested(field.rel.to, deeper or {})
    return follow


# -- deletes ----------------------------------------------------------------

def colocated(model):
    """Every installed model that lives where ``model`` lives."""
    cfg = config._current
    if cfg is None or cfg.labels_unchecked:
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


class CollectedKey(object):
    """The key of a collected object whose primary key another collected
    object of its model, from another database, already has (two shards
    number their rows alike): the pair, so that neither replaces the other."""
    __slots__ = ('alias', 'pk')

    def __init__(self, alias, pk):
        self.alias = alias
        self.pk = pk

    def __eq__(self, other):
        return (isinstance(other, CollectedKey) and self.alias == other.alias
                and self.pk == other.pk)

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash((self.alias, self.pk))

    def __repr__(self):
        return 'CollectedKey(%r, %r)' % (self.alias, self.pk)


def collected_key(collected, model, pk, obj):
    """The key ``obj`` is collected under: its primary key, unless an object of
    ``model`` from another database was collected (or deleted) with it."""
    alias = instance_db(obj)
    if alias is None:
        return pk
    primary_for = config.current().primary_for
    for seen in (collected.blocked.get(model), collected.data.get(model)):
        other = seen and seen.get(pk)
        if other is not None:
            other_alias = instance_db(other)
            if other_alias is not None and primary_for(other_alias) != primary_for(alias):
                return CollectedKey(primary_for(alias), pk)
    return pk


def join_table_aliases(model, table):
    """Where a delete of ``model`` objects clears their rows of join table
    ``table``: None when it lives with ``model``; else the alias of the model
    that declares the ManyToManyField, or every shard of its group (the rows
    of the deleted objects can be on any of them)."""
    cfg = config.current()
    for related in model._meta.get_all_related_many_to_many_objects():
        if related.field.m2m_db_table() != table:
            continue
        declaring = related.model
        if precedence.same_place(model, declaring):
            return None
        place = cfg.placement(declaring)
        if place is not None and place[0] == 'shards':
            return [precedence.db_for(declaring, True, shard, operation='delete')
                    for shard in cfg.shards[place[1]]]
        return [precedence.db_for(declaring, True, operation='delete')]
    return None


def split_by_database(seen_objs, alias_of):
    """[(alias, CollectedObjects)] for collected objects from several databases.

    Each object goes to the database it was loaded from (``alias_of(model,
    object)`` when it does not know); the dependency order within each database
    is kept.  'default' comes last.
    """
    models = seen_objs.unordered_keys()
    only = None
    for model in models:
        for pk, obj in seen_objs[model].items():
            alias = instance_db(obj) or alias_of(model, obj)
            if isinstance(pk, CollectedKey) or (only is not None and alias != only):
                break
            only = alias
        else:
            continue
        break
    else:
        if only is not None:
            # The common case: every object from one database, under its own
            # key: the collection itself.
            return [(only, seen_objs)]
    groups = {}
    order = []
    for model in models:
        for pk, obj in seen_objs[model].items():
            alias = instance_db(obj) or alias_of(model, obj)
            if alias not in groups:
                subset = seen_objs.__class__()
                subset.blocked = seen_objs.blocked
                groups[alias] = subset
                order.append(alias)
            if isinstance(pk, CollectedKey):
                pk = pk.pk
            groups[alias].data.setdefault(model, _sorted_dict())[pk] = obj
    for alias in order:
        subset = groups[alias]
        for parent, children in seen_objs.children.items():
            if parent in subset.data:
                subset.children[parent] = [c for c in children if c in subset.data]
    order.sort(key=lambda alias: (alias == 'default', alias))
    return [(alias, groups[alias]) for alias in order]


def _sorted_dict():
    from django.utils.datastructures import SortedDict
    return SortedDict()
