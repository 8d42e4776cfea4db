"""A queryset bound to an alias, and the alias a queryset reads or writes:
what the ORM's replacements (orm.py) and the checks across databases
(relations.py) both use.
"""
from djpatch_multidb.base import config
from djpatch_multidb.context import selector
from djpatch_multidb.db.connections import connections
from djpatch_multidb.routing import precedence
from djpatch_multidb.routing.proxy import QueryConnection, query_forces_primary, query_route

_thread = selector._state      # the selector's thread-local stack (read, never written here)


def bound_view(queryset, alias, force=False):
    """``queryset`` itself if it is bound to ``alias``; else a shallow copy that is.

    The copy shares the query's internals, so running it is running the
    queryset itself, only on ``alias``; the queryset is not changed, which
    matters for querysets shared between threads.
    """
    query = queryset.query
    conn = query.connection
    if not force and query.__dict__.get('djpatch_bound') == alias:
        return queryset
    bound_query = query.__class__.__new__(query.__class__)
    bound_query.__dict__.update(query.__dict__)
    if alias == 'default':
        # The 'default' wrapper itself means "no choice" (query_route()): a
        # stand-in keeps the choice through Django's own clones of the query.
        bound_query.connection = QueryConnection(alias)
        bound_query.djpatch_bound = alias
    elif config.current().primary_for(alias) == alias:
        bound_query.connection = connections[alias]   # its own wrapper: no stand-in per access
        bound_query.djpatch_bound = alias
    else:
        bound_query.__dict__.pop('djpatch_bound', None)
        explicit = isinstance(conn, QueryConnection) and conn.__dict__['alias'] == alias
        bound_query.connection = QueryConnection(alias, chosen=not explicit)
    view = queryset.__class__.__new__(queryset.__class__)
    view.__dict__.update(queryset.__dict__)
    view.query = bound_query
    return view


def unrouted(queryset):
    """Whether nothing sends this queryset anywhere but 'default' right now: no
    choice of its own, no context open, no placement, router or replica.  The
    replacements then run Django's code as it is, since django.db.connection
    already means 'default'.  (Asked by every evaluation: its checks are
    query_route() and selector.is_idle() written out.)"""
    query = queryset.query
    if 'djpatch_bound' in query.__dict__ or _thread.stack:
        return False
    conn = query.connection
    if conn.__class__ is QueryConnection:
        return False
    held = conn.__dict__.get('djpatch_alias')
    if held is not None and held != 'default':
        return False
    cfg = config._current
    if cfg is not None and cfg.unrouted.get(queryset.model):
        return True
    return config.current().routes_nothing_away(queryset.model)


def read_alias(queryset):
    alias, readonly = query_route(queryset.query)
    return precedence.db_for(queryset.model, False, alias, readonly,
                          primary=query_forces_primary(queryset.query))


def write_alias(queryset, operation):
    alias, readonly = query_route(queryset.query)
    return precedence.db_for(queryset.model, True, alias, readonly, operation=operation)


_families = {}


def family(model):
    """A model and the parents a save also writes (multi-table inheritance)."""
    try:
        return _families[model]
    except KeyError:
        pass
    models = [model]
    models.extend(model._meta.get_parent_list())
    found = frozenset(models)
    if len(_families) > 4096:
        _families.clear()
    _families[model] = found
    return found
