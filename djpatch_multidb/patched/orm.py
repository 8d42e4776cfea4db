"""Replacements for the ORM's entry points: each decides the alias, then runs
Django's own code with that alias selected.

Every ``make_*`` takes the original attribute and returns its replacement;
the registry (``registry.py``) says where each one goes.  Binding a
queryset to an alias is in ``querysets.py``.
"""
import sys

from djpatch_multidb.api.allshards import AllShards
from djpatch_multidb.base import config, state
from djpatch_multidb.base.compat import reraise
from djpatch_multidb.base.errors import CrossDatabaseDelete, ShardNotSelected
from djpatch_multidb.base.shardkeys import shard_number
from djpatch_multidb.base.state import instance_db, remember_all, set_instance_db
from djpatch_multidb.context import selector
from djpatch_multidb.db.connections import connections
from djpatch_multidb.db.cursors import before_write, connection_failed
from djpatch_multidb.patched import relations
from djpatch_multidb.routing import precedence, replicas
from djpatch_multidb.routing.proxy import QueryConnection, query_forces_primary, query_route
from djpatch_multidb.routing.proxy import connection as proxy_connection
from djpatch_multidb.patched.querysets import (bound_view, family, read_alias, unrouted,
                                               write_alias)


def _keep_name(replacement, original):
    for attr in ('__name__', '__doc__', '__module__'):
        try:
            setattr(replacement, attr, getattr(original, attr))
        except (AttributeError, TypeError):
            pass
    if getattr(original, 'alters_data', False):
        replacement.alters_data = True
    replacement.djpatch_original = original
    return replacement


# -- QuerySet ---------------------------------------------------------------

# The hot path reads these directly (no call): the thread's blocks
# (selector._state.stack: none open = idle), the configuration in force and
# its generation (config.reload() bumps it; wrappers of before are stale).
thread = selector._state
generation = config.generation


def make_queryset_init(original):
    """QuerySet.__init__: a new query holds the wrapper it will run on.

    With no block open: the 'default' wrapper itself (query_route() reads it
    as no choice), so that running it reaches the connection directly.
    Inside a block that chooses for the model: that alias's wrapper, or a
    QueryConnection when the choice is 'default', readonly() or use_primary()
    (the queryset keeps the choice of the block it was built in).  When the
    aliases use different engines, django.db.connection's stand-in stays.
    """
    thread = selector._state

    def __init__(self, model=None, query=None, *args, **kwargs):
        original(self, model, query, *args, **kwargs)
        if query is None and model is not None:
            if not thread.stack:
                cfg = config._current
                if cfg is not None and cfg.single_engine:
                    wrapper = connections._generation == generation[0] and \
                        connections._all.get('default')
                    self.query.connection = wrapper or connections.default()
                return
            cfg = config.current()
            alias = selector.context_alias(model)
            readonly = thread.tops[-1][1]       # selector.is_readonly()
            primary = replicas.primary_forced()
            if alias is not None and alias != 'default' and not (readonly or primary) \
                    and cfg.primary_for(alias) == alias:
                self.query.connection = connections[alias]
            elif alias is not None or readonly or primary:
                self.query.connection = QueryConnection(alias, readonly, primary=primary)
            elif cfg.single_engine:
                self.query.connection = connections.default()
    return _keep_name(__init__, original)


def make_model_iterator(original):
    """QuerySet.iterator: read on the chosen alias; remember it on each object.

    The alias is decided when iterator() is called, not at the first next().
    """
    def iterator(self):
        if unrouted(self):
            # Run on the default wrapper itself: Django then reaches the
            # connection without going through django.db.connection's stand-in.
            view = self
            if self.query.connection is not connections.default():
                view = bound_view(self, 'default')
            return _remembering(original(view), 'default', bool(view.query.select_related))
        alias = read_alias(self)
        view = bound_view(self, alias)
        if view.query.select_related and relations.several_places():
            pruned = relations.pruned_select_related(view.query, view.model)
            if pruned is not None:
                if view is self:
                    view = bound_view(self, alias, force=True)
                view.query.select_related = pruned
        return _remembering(original(view), config.current().primary_for(alias),
                            bool(view.query.select_related))
    return _keep_name(iterator, original)


def _remembering(objects, home, related):
    if not related:
        return remember_all(objects, home)
    return _remembering_related(objects, home)


def _remembering_related(objects, home):
    for obj in objects:
        set_instance_db(obj, home)
        _mark_related(obj, home, 0)
        yield obj


def _mark_related(obj, alias, depth):
    """Objects select_related() cached on ``obj`` came from the same database."""
    if depth > 10:
        return
    for field in obj._meta.fields:
        if field.rel is None:
            continue
        related = obj.__dict__.get(field.get_cache_name())
        if related is not None and instance_db(related) is None:
            set_instance_db(related, alias)
            _mark_related(related, alias, depth + 1)


def make_plain_iterator(original):
    """values(), values_list(), dates(): read on the chosen alias."""
    def iterator(self):
        if unrouted(self):
            return original(self)
        return original(bound_view(self, read_alias(self)))
    return _keep_name(iterator, original)


def make_read(original):
    """count(), aggregate(): one read on the chosen alias."""
    return _keep_name(RoutedRead(original), original)


class RoutedRead(object):
    """count() and aggregate(): looked up on a queryset, Django's own method
    bound to the queryset as it runs on the chosen alias.  The caller's
    arguments reach Django's method as they were passed: a wrapper that took
    and passed on **kwargs would hand it a rebuilt dict, whose key order (and
    so aggregate()'s result) can differ from Django's own."""

    def __init__(self, original):
        self.original = original

    def __get__(self, queryset, owner=None):
        if queryset is not None and not unrouted(queryset):
            queryset = bound_view(queryset, read_alias(queryset))
        return self.original.__get__(queryset, owner)


def make_write(operation, cascades=False):
    """update(), _update(), delete(), create(), get_or_create() on the chosen alias.

    A delete cascades to related models, so it selects the alias for every
    model that lives with this one; the others for the model and its parents.
    """
    def make(original):
        def write(self, *args, **kwargs):
            if unrouted(self):
                return original(self, *args, **kwargs)
            try:
                alias = write_alias(self, operation)
            except ShardNotSelected:
                if operation != 'create' or not _keyed(self.model):
                    raise
                return original(self, *args, **kwargs)  # the new object's key decides
            if operation == 'update':
                precedence.check_update_keys(self.model, alias, kwargs)
            models = cascades and relations.colocated(self.model) or family(self.model)
            view = bound_view(self, alias)
            try:
                if operation == 'get_or_create':
                    # It takes a savepoint through django.db.connection.
                    return run_on_object_db(alias, models, original, view, *args, **kwargs)
                return _framed(selector.run_for_models, alias, models, original, view,
                               *args, **kwargs)
            finally:
                if view is not self:
                    self._result_cache = None
        return _keep_name(write, original)
    return make


def make_build(original):
    """filter(), exclude(), values(), dates(): build with the queryset's alias selected.

    Django 1.0/1.1 turn lookup values and date functions into SQL while the
    queryset is built, with the module-level connection.  When the aliases
    use more than one engine, that connection must be the one the queryset
    will run on; with one engine everywhere, nothing needs doing.
    """
    def build(self, *args, **kwargs):
        if config.current().single_engine:
            return original(self, *args, **kwargs)
        try:
            alias = read_alias(self)
        except Exception:
            # No database can be decided yet (a sharded model outside any
            # shard context): build as Django would; running it will say why.
            return original(self, *args, **kwargs)
        return selector.run_in(alias, None, original, self, *args, **kwargs)
    return _keep_name(build, original)


def make_filter(original):
    """filter() / exclude(): refuse a lookup that would join two databases; a
    queryset value that reads another database is read there and its values
    passed (a subquery runs in one database); then build."""
    build = make_build(original)

    def _filter_or_exclude(self, negate, *args, **kwargs):
        cfg = config._current
        if cfg is None or cfg.labels_unchecked:
            cfg = config.current()
        if cfg.plain_building:
            return original(self, negate, *args, **kwargs)
        if cfg.models:      # relations.several_places()
            what = negate and 'exclude()' or 'filter()'
            relations.check_lookups(self.model, args, kwargs, what)
            args, kwargs = relations.values_from_other_databases(self, args, kwargs, what)
        if cfg.single_engine:
            return original(self, negate, *args, **kwargs)   # what build() would do, one call less
        return build(self, negate, *args, **kwargs)
    return _keep_name(_filter_or_exclude, original)


def make_values_build(original):
    """ValuesQuerySet._setup_query (values(), values_list()): refuse a field
    that would join two databases, then build."""
    build = make_build(original)

    def _setup_query(self, *args, **kwargs):
        fields = getattr(self, '_fields', None)
        if fields and relations.several_places():
            from django.db.models.query import ValuesListQuerySet
            what = isinstance(self, ValuesListQuerySet) and 'values_list()' or 'values()'
            for name in fields:
                if '__' in name:
                    relations.check_path(self.model, name, what)
        return build(self, *args, **kwargs)
    return _keep_name(_setup_query, original)


def make_order_by(original):
    """QuerySet.order_by(): refuse an ordering that would join two databases."""
    def order_by(self, *field_names):
        cfg = config._current
        if (cfg is None or cfg.models) and relations.several_places():
            relations.check_ordering(self.model, field_names)
        return original(self, *field_names)
    return _keep_name(order_by, original)


def _keyed(model):
    """Whether the model's shard group has a KEY, so an instance can find its shard."""
    cfg = config.current()
    place = cfg.placement(model)
    return place is not None and place[0] == 'shards' and place[1] in cfg.shard_keys


def queryset_using(self, alias):
    """This queryset on ``alias`` (Django 1.2's QuerySet.using)."""
    config.current().check_alias(alias)
    clone = self._clone()
    clone.query.connection = QueryConnection(alias, query_route(self.query)[1])
    return clone


def queryset_db(self):
    """The alias this queryset would read from now (Django 1.2's QuerySet.db)."""
    return read_alias(self)


def manager_using(self, alias):
    """The manager's queryset on ``alias`` (Django 1.2's Manager.using)."""
    return self.get_query_set().using(alias)


# -- SQL execution ----------------------------------------------------------

def make_execute_sql(original):
    """BaseQuery.execute_sql: compile and run with the query's alias selected."""
    write_classes = {}

    def is_write(query):
        cls = query.__class__
        try:
            return write_classes[cls]
        except KeyError:
            from django.db.models.sql import subqueries
            answer = issubclass(cls, (subqueries.InsertQuery, subqueries.UpdateQuery,
                                      subqueries.DeleteQuery))
            write_classes[cls] = answer
            return answer

    def execute_sql(self, *args, **kwargs):
        routed = self.__dict__.get('djpatch_routed')
        if routed is not None and routed is thread.__dict__:
            # InsertQuery.execute_sql's own statement, routed and marked there
            # by this thread.
            return original(self, *args, **kwargs)
        write = write_classes.get(self.__class__)
        if write is None:
            write = is_write(self)
        cfg = config._current
        if cfg is not None and not thread.stack and \
                cfg.unrouted.get(self.model) and 'djpatch_bound' not in self.__dict__ and \
                connections._generation == generation[0]:
            # The common case, kept to one call: no block open, a model that
            # nothing routes away, a query that holds the 'default' wrapper
            # (or, for a write Django made for this statement, the stand-in):
            # run_query() would run it on 'default' as it is.
            wrapper = connections._all.get('default')
            conn = self.connection
            if wrapper is not None and (conn is wrapper or (
                    write and conn is proxy_connection and cfg.single_engine)):
                self.connection = wrapper
                work = getattr(thread, 'db_work', None)
                if work is None or work.generation != generation[0]:
                    work = connections._thread()
                if write and 'default' not in work.written:
                    before_write(wrapper, 'default')
                work.orm += 1
                try:
                    return original(self, *args, **kwargs)
                except Exception:
                    connection_failed(wrapper, 'default')
                finally:
                    work.orm -= 1
        return run_query(self, write, original, args, kwargs)
    return _keep_name(execute_sql, original)


def _statement(original, query, alias, write, args, kwargs):
    """Run the ORM's statement on ``alias`` (the query holds its wrapper, or
    a stand-in that means it): a write is noted first (commits reach it, XA
    starts its branch); an error names the alias, and a lost connection with
    uncommitted writes makes the alias refuse work until a rollback."""
    wrapper = connections._generation == generation[0] and connections._all.get(alias) or \
        connections[alias]
    work = thread.__dict__.get('db_work')      # connections._thread(), written out
    if work is None or work.generation != generation[0]:
        work = connections._thread()
    if write and alias not in work.written:
        before_write(wrapper, alias)
    work.orm += 1
    try:
        return original(query, *args, **kwargs)
    except Exception:
        connection_failed(wrapper, alias)
    finally:
        work.orm -= 1


def _holding(query, wrapper):
    """A shallow copy of ``query`` that holds ``wrapper``: running it is
    running the query itself, there; the query is not changed."""
    copy = query.__class__.__new__(query.__class__)
    copy.__dict__.update(query.__dict__)
    copy.connection = wrapper
    return copy


def run_query(query, write, original, args, kwargs):
    """Run ``original`` for ``query`` with its alias selected.  A write pins the
    primary for this thread's later reads; a read on a replica that cannot be
    reached goes to the next replica, then to the primary."""
    conn = query.connection
    held = conn.__dict__.get('djpatch_alias')   # the query holds a wrapper itself
    bound = query.__dict__.get('djpatch_bound')
    if bound is not None and held == bound and not write and \
            connections._generation == generation[0] and connections._all.get(bound) is conn \
            and not thread.tops[-1][1] and config._current is not None and \
            config._current.single_engine:
        # A read bound for this evaluation to its primary's own wrapper
        # (querysets.bound_view, after the alias was decided), no readonly()
        # open: it runs there (see below), with no more questions.
        return _statement(original, query, bound, False, args, kwargs)
    if held is not None and connections[held] is not conn:
        # A wrapper of before a config.reload(): the query runs on a copy
        # that holds the alias's wrapper of now.
        query = _holding(query, connections[held])
        conn = query.connection
    route, readonly = query_route(query)
    idle = selector.is_idle()
    if idle and not readonly:
        cfg = config.current()
        if (route is None and cfg.routes_nothing_away(query.model)) or \
                (route == 'default' and not cfg.replicas.get('default')):
            # django.db.connection means 'default'.  A write query Django
            # made for this one statement (insert_query, delete_objects, an
            # update) with django.db.connection's stand-in runs on the
            # 'default' wrapper itself: no stand-in, no counting cursor.
            if write and conn is proxy_connection and cfg.single_engine:
                query.connection = connections.default()
            return _statement(original, query, 'default', write, args, kwargs)
    elif not write and 'djpatch_bound' in query.__dict__ and not selector.is_readonly() \
            and config.current().single_engine:
        # A read bound for this evaluation to its primary's own wrapper
        # (querysets.bound_view, after the alias was decided): it runs there,
        # and with one engine everywhere what the compiler reads of
        # django.db.connection is the same on every alias.
        return _statement(original, query, query.__dict__['djpatch_bound'], False, args, kwargs)
    chosen = route is None or conn.__dict__.get('chosen')
    alias = precedence.db_for(query.model, write, route, readonly, operation='change',
                           primary=query_forces_primary(query))
    if write:
        replicas.pin(alias)
    single = config.current().single_engine
    while True:
        try:
            target = query
            if held is not None and held != alias:
                # It holds another alias's wrapper (the 'default' one it was
                # built with, a replica's primary): it runs on a copy that
                # holds the chosen one; the query itself is not changed.
                target = _holding(query, connections[alias])
            elif single and conn is proxy_connection:
                # Built with django.db.connection's stand-in: a write query
                # Django made for this one statement holds the alias's
                # wrapper from now on; anything else runs on a copy.
                if write:
                    query.connection = connections[alias]
                else:
                    target = _holding(query, connections[alias])
            if (idle and alias == 'default') or \
                    (single and target.connection is connections[alias]):
                # It holds its wrapper (or django.db.connection means it):
                # with one engine everywhere, what the compiler reads of
                # django.db.connection is the same on every alias.
                return _statement(original, target, alias, write, args, kwargs)
            return selector.run_in(alias, None, _statement, original, target, alias, write,
                                   args, kwargs)
        except Exception:
            error = sys.exc_info()
            if write or not chosen or not replicas.failed(alias, error[1]):
                reraise(*error)
            primary = config.current().primary_for(alias)
            alias = replicas.for_read(primary)
            if isinstance(conn, QueryConnection):
                query.connection = QueryConnection(alias, chosen=True)


def make_insert_execute_sql(original):
    """InsertQuery.execute_sql: the insert runs, and is later committed, on its alias."""
    def execute_sql(self, *args, **kwargs):
        cfg = config._current
        if cfg is not None and self.connection is proxy_connection and cfg.single_engine \
                and not thread.stack and cfg.unrouted.get(self.model) \
                and 'djpatch_bound' not in self.__dict__:
            # insert_query()'s query, no block open, a model nothing routes
            # away: on the 'default' wrapper itself (see below).
            self.connection = connections._generation == generation[0] and \
                connections._all.get('default') or connections.default()
            return original(self, *args, **kwargs)
        if cfg is None or cfg.labels_unchecked:
            cfg = config.current()
        alias, readonly = query_route(self)
        if alias is None and not thread.stack and cfg.routes_nothing_away(self.model):
            if self.connection is proxy_connection and cfg.single_engine:
                self.connection = connections.default()     # see run_query()
            # Its statement runs through BaseQuery.execute_sql: run_query()
            # marks it and names its errors.
            return original(self, *args, **kwargs)
        alias = precedence.db_for(self.model, True, alias, readonly, operation='insert into')
        replicas.pin(alias)
        target = self
        wrapper = connections[alias]
        held = self.connection.__dict__.get('djpatch_alias')
        if held is not None and (held != alias or connections[held] is not self.connection):
            target = _holding(self, wrapper)     # see run_query()
        elif held is None and self.connection is proxy_connection and cfg.single_engine:
            self.connection = wrapper    # insert_query()'s query, made for this statement
        if cfg.single_engine and target.connection is wrapper:
            # It holds its wrapper and what the compiler reads of
            # django.db.connection is the same on every alias: no frame.  The
            # SQL it runs through BaseQuery.execute_sql is this statement,
            # already marked (djpatch_routed: this thread's, for this call).
            target.djpatch_routed = thread.__dict__
            try:
                return _statement(original, target, alias, True, args, kwargs)
            finally:
                del target.djpatch_routed
        return selector.run_in(alias, None, _statement, original, target, alias, True,
                               args, kwargs)
    return _keep_name(execute_sql, original)


# -- Model ------------------------------------------------------------------

def make_save_base(original):
    """Model.save_base: save on the alias the instance belongs to; remember it."""
    def save_base(self, *args, **kwargs):
        model = self.__class__
        cfg = config._current
        if cfg is None or cfg.labels_unchecked:
            cfg = config.current()
        if not thread.stack and (cfg.unrouted.get(model) or cfg.routes_nothing_away(model)):
            home = state.db_of(self)
            if home is None:
                result = original(self, *args, **kwargs)
                set_instance_db(self, 'default')
                return result
            if home == 'default':
                return original(self, *args, **kwargs)
        alias = precedence.db_for(model, True, instance=self, operation='save')
        result = _framed(run_with_callers_raw_sql, alias, family(model), original, self,
                         *args, **kwargs)
        set_instance_db(self, alias)
        return result
    return _keep_name(save_base, original)


def _framed(run, alias, models, func, *args, **kwargs):
    """``run(alias, models, func, *args, **kwargs)``: func inside the frame
    ``run`` pushes for ``models`` on ``alias``; or func itself when the block
    open already sends them there (_block_sends)."""
    if _block_sends(models, alias):
        return func(*args, **kwargs)
    return run(alias, models, func, *args, **kwargs)


def _block_sends(models, alias):
    """Whether the innermost block open is the caller's own (not a frame of the
    library's), decides raw SQL, and sends each of ``models`` to ``alias``:
    an operation on ``alias`` then needs no frame of its own (CallersRawFrame
    or a models-only Frame would send the same models there, and raw SQL
    where this block sends it)."""
    stack = thread.stack
    if not stack:
        return False
    top = stack[-1]
    if not top.decides_raw or isinstance(top, selector.Frame):
        return False
    try:
        return top.sends_all(models, alias)
    except Exception:
        # A model the block cannot place (a parent in a shard group without
        # the block's shard number): the frame sends it with the others.
        return False


def make_save(original):
    """Model.save: also takes Django 1.2's ``using=alias`` (its third argument
    there, as here)."""
    def save(self, force_insert=False, force_update=False, using=None):
        if using is None:
            return original(self, force_insert, force_update)
        config.current().check_alias(using)
        return selector.run_for_models(using, family(self.__class__), original, self,
                                       force_insert, force_update)
    return _keep_name(save, original)


def make_model_delete(original):
    """Model.delete: collect and delete on the instance's alias (``using=`` too)."""
    def delete(self, *args, **kwargs):
        using = kwargs.pop('using', None)
        if self._get_pk_val() is None:
            # Django's own refusal, before routing could number a ShardedIdField.
            return original(self, *args, **kwargs)
        cfg = config._current
        if cfg is None or cfg.labels_unchecked:
            cfg = config.current()
        if using is not None:
            cfg.check_alias(using)
            precedence.refuse_replica_write(cfg, self.__class__, using, 'delete')
        elif not thread.stack and state.db_of(self) in (None, 'default') and \
                (cfg.unrouted.get(self.__class__) or cfg.routes_nothing_away(self.__class__)):
            return original(self, *args, **kwargs)
        alias = using or precedence.db_for(self.__class__, True, instance=self, operation='delete')
        home = instance_db(self)
        if using is None and home is not None and config.current().primary_for(alias) != home:
            # Its row is on ``home``: a block naming another database would
            # delete another row with the same key there.
            raise CrossDatabaseDelete(self, home, alias)
        # The object is collected, and its rows deleted, where it is deleted
        # (using= beats the database it came from, as in Django 1.2).
        set_instance_db(self, alias)
        colocated = relations.colocated(self.__class__)
        if using is not None:
            return selector.run_for_models(alias, colocated, original, self, *args, **kwargs)
        return _framed(selector.run_for_models, alias, colocated, original, self,
                       *args, **kwargs)
    return _keep_name(delete, original)


def make_delete_objects(original):
    """The module-level delete_objects(): every DELETE on the database its objects
    came from, all of them in the caller's transaction.

    Each collected object is deleted where it was loaded from (an object that
    does not know: where its model is written now).  The objects of each
    database are deleted in a run of their own, in dependency order, with raw
    SQL going where the caller's contexts send it (signal handlers).  Outside
    transaction management the runs commit together at the end, or are all
    rolled back if one fails; inside it, the caller commits or rolls back.
    """
    def delete_objects(seen_objs, *args, **kwargs):
        models = seen_objs.unordered_keys()
        if not models or (not thread.stack and _all_on_default(seen_objs, models)):
            return original(seen_objs, *args, **kwargs)
        groups = relations.split_by_database(seen_objs, _delete_alias)
        for group_alias, subset in groups:
            for subset_model in subset.unordered_keys():
                precedence.db_for(subset_model, True, group_alias, operation='delete')
        if len(groups) == 1:
            # One database: Django's own delete_objects manages its transaction.
            return _delete_groups(original, groups, args, kwargs)
        _in_callers_transaction(_delete_groups, original, groups, args, kwargs)
    return _keep_name(delete_objects, original)


def make_collected_add(original):
    """CollectedObjects.add (what a delete collects into): objects of one model
    from two databases with the same primary key are both kept."""
    def add(self, model, pk, obj, *args, **kwargs):
        cfg = config._current
        if cfg is None or cfg.labels_unchecked:
            cfg = config.current()
        if cfg.models:      # relations.several_places()
            pk = relations.collected_key(self, model, pk, obj)
        return original(self, model, pk, obj, *args, **kwargs)
    return _keep_name(add, original)


def _delete_alias(model, obj):
    """Where a collected object that does not know its database is deleted."""
    alias = selector.context_alias(model)
    if alias is None:
        alias = precedence.db_for(model, True, instance=obj, operation='delete')
    return alias


def _delete_groups(original, groups, args, kwargs):
    for group_alias, subset in groups:
        _framed(run_with_callers_raw_sql, group_alias, frozenset(subset.unordered_keys()),
                original, subset, *args, **kwargs)


def _in_callers_transaction(func, *args):
    """Call ``func`` as one unit of work: under the caller's transaction
    management if there is one; else in a managed block of its own, committed
    on every connection when ``func`` returns, rolled back on all if it raises."""
    from django.db import transaction
    if transaction.is_managed():
        return func(*args)
    transaction.enter_transaction_management()
    try:
        transaction.managed(True)
        try:
            result = func(*args)
        except BaseException:
            error = sys.exc_info()
            try:
                transaction.rollback()
            except Exception:
                pass  # the first error is the one to see
            reraise(*error)
        transaction.commit()
        return result
    finally:
        transaction.leave_transaction_management()


# -- raw SQL during an operation ------------------------------------------

class ObjectFrame(selector.Frame):
    """A frame for an operation on an object or a queryset whose database is
    decided (a related manager's writes, get_or_create): Django's own raw SQL in
    it (savepoints) goes there, the raw SQL of signal handlers does not."""


class CallersRawFrame(selector.Frame):
    """A frame around a whole save or delete: its models go to ``alias``; raw
    SQL goes where the caller's contexts send it, as for a plain save(), even
    inside an ObjectFrame (signal handlers run in it), and is the caller's
    (inside readonly(), a write is refused).  When the caller has no block
    open, raw SQL follows the tables it names as outside any block
    (``raw_follows_tables``: django.db.connection's cursors are rawsql's)."""
    runs_library_sql = False

    def __init__(self, alias, models):
        selector.Frame.__init__(self, alias, models, raw=True)
        self.callers = None
        for entry in reversed(selector.stack()):
            if entry.decides_raw and not isinstance(entry, (ObjectFrame, CallersRawFrame)):
                self.callers = entry
                break
        self.raw_follows_tables = self.callers is None

    def raw_alias(self):
        if self.callers is None:
            return 'default'
        return self.callers.raw_alias()

    def __repr__(self):
        return 'CallersRawFrame(%r)' % (self.alias,)


def run_on_object_db(alias, models, func, *args, **kwargs):
    """Call ``func`` with an ObjectFrame for ``alias`` pushed."""
    return selector.run_with(ObjectFrame(alias, models), func, *args, **kwargs)


def run_with_callers_raw_sql(alias, models, func, *args, **kwargs):
    """Call ``func`` with ``models`` on ``alias`` and raw SQL where the caller's contexts say."""
    return selector.run_with(CallersRawFrame(alias, models), func, *args, **kwargs)


def _all_on_default(seen_objs, models):
    """Whether every collected object is a 'default' one that nothing routes away."""
    cfg = config._current
    if cfg is None or cfg.labels_unchecked:
        cfg = config.current()
    unrouted = cfg.unrouted
    for model in models:
        if not (unrouted.get(model) or cfg.routes_nothing_away(model)):
            return False
        for obj in seen_objs[model].values():
            home = state.db_of(obj)
            if home is not None and home != 'default':
                return False
    return True


# -- related objects --------------------------------------------------------

def make_descriptor_get(related_model_of):
    """A related descriptor's __get__: follow the relation in the right database.

    When the related model lives where the instance's model lives (the same
    alias or the same shard group), the lookup, and any manager it returns,
    uses the database the instance came from.  Into another database: a
    foreign key into a keyed shard group goes to the key's shard, a reverse
    relation into a shard group reads every shard, anything else goes where
    the related model lives.
    """
    def make(original):
        def __get__(self, instance, instance_type=None):
            if instance is None:
                return original(self, instance, instance_type)
            return follow(self, instance, related_model_of(self), original,
                          self, instance, instance_type)
        return _keep_name(__get__, original)
    return make


def make_delete_manager(original):
    """ForeignRelatedObjectsDescriptor.delete_manager (what a delete collects
    through): the same rules as following the relation."""
    def delete_manager(self, instance):
        return follow(self, instance, related_model(self), original, self, instance)
    return _keep_name(delete_manager, original)


def follow(descriptor, instance, related, original, *args):
    alias = instance_db(instance)
    if alias is not None and (precedence.same_place(instance.__class__, related) or
                              _parent_link(descriptor)):
        # (A multi-table-inheritance link, either way: a save writes the
        # parent's row with the child's, wherever each model is placed.)
        models = frozenset([related, instance.__class__])
        result = selector.run_in(alias, models, original, *args)
        if hasattr(result, 'get_query_set'):
            bind_manager(result, alias, models)
        return result
    target = _shard_by_key(descriptor, instance, related)
    if target is not None:
        return selector.run_in(target, frozenset([related]), original, *args)
    result = original(*args)
    declaring = relations.several_places() and _join_table_owner(descriptor, instance)
    if declaring and hasattr(result, 'get_query_set'):
        _bind_join_table_writes(result, declaring, instance)
    group = _other_group(instance.__class__, related)
    if group is not None and hasattr(result, 'get_query_set'):
        _across_shards(result, group)
    return result


def _parent_link(descriptor):
    """Whether ``descriptor`` follows a multi-table-inheritance link: child to
    parent (the parent_ptr field) or parent to child."""
    field = getattr(descriptor, 'field', None)
    if field is None:
        field = getattr(getattr(descriptor, 'related', None), 'field', None)
    return bool(getattr(getattr(field, 'rel', None), 'parent_link', False))


def _join_table_owner(descriptor, instance):
    """For a many-to-many descriptor: the model that declares the field (its
    join table lives with it); None for any other descriptor."""
    from django.db.models.fields.related import (ManyRelatedObjectsDescriptor,
                                                 ReverseManyRelatedObjectsDescriptor)
    if isinstance(descriptor, ReverseManyRelatedObjectsDescriptor):
        for model in instance.__class__.__mro__:
            meta = getattr(model, '_meta', None)
            if meta is not None and descriptor.field in meta.local_many_to_many:
                return model
        return instance.__class__
    if isinstance(descriptor, ManyRelatedObjectsDescriptor):
        return descriptor.related.model
    return None


def _bind_join_table_writes(manager, declaring, instance):
    """A many-to-many manager between two databases: add(), remove() and
    clear() write the join table where it lives, with ``declaring``."""
    def framed(method, operation):
        def call(*objs):
            alias = _join_table_alias(declaring, instance, objs, operation)
            return run_on_object_db(alias, frozenset([declaring]), method, *objs)
        return call
    for name, operation in (('add', 'add to'), ('remove', 'remove from'), ('clear', 'clear')):
        method = getattr(manager, name, None)
        if method is not None:
            setattr(manager, name, framed(method, operation))


def _join_table_alias(declaring, instance, objs, operation):
    """The alias of a join table that lives with ``declaring``: where the
    declaring object is (``instance``, or every one of ``objs``)."""
    cfg = config.current()
    if isinstance(instance, declaring):
        return precedence.db_for(declaring, True, instance=instance, operation=operation)
    place = cfg.placement(declaring)
    if place is None or place[0] != 'shards':
        return precedence.db_for(declaring, True, operation=operation)
    aliases = set()
    for obj in objs:
        if not isinstance(obj, declaring):
            aliases.add(None)
        else:
            aliases.add(precedence.db_for(declaring, True, instance=obj, operation=operation))
    if len(aliases) == 1 and None not in aliases:
        return aliases.pop()
    if selector.context_alias(declaring) is not None:
        return precedence.db_for(declaring, True, operation=operation)
    raise ShardNotSelected(
        declaring, place[1], cfg.shards[place[1]],
        "the rows of %s's join table %r that %s() %s live on the shard of each %s: "
        "%s (nothing was written)" % (
            declaring._meta.object_name, _join_table_name(declaring, instance), operation.split()[0],
            objs and 'writes' or 'clears', declaring._meta.object_name,
            objs and 'pass %s objects of one shard' % declaring._meta.object_name
            or 'clear() cannot tell which shard'))


def _join_table_name(declaring, instance):
    for field in declaring._meta.many_to_many:
        if isinstance(instance, field.rel.to):
            return field.m2m_db_table()
    return '?'


def make_delete_do_query(original):
    """DeleteQuery.do_query (a delete's many-to-many rows): a join table that
    lives with a model of another database (a ManyToManyField declared there)
    is cleared where that model lives; on every shard of a shard group."""
    def do_query(self, table, where):
        cfg = config._current
        if cfg is None or cfg.labels_unchecked:
            cfg = config.current()
        aliases = cfg.models and relations.join_table_aliases(self.model, table)
        if not aliases:
            return original(self, table, where)
        for alias in aliases:
            selector.run_in(alias, None, original, self, table, where)
    return _keep_name(do_query, original)


def make_on_instance_db(position):
    """A method that queries for an instance (args[position]) runs on the
    database the instance came from: next/previous by field or in order,
    deferred fields, group permissions."""
    def make(original):
        def method(*args, **kwargs):
            instance = args[position]
            alias = instance is not None and instance_db(instance) or None
            if alias is None:
                return original(*args, **kwargs)
            return selector.run_in(alias, relations.colocated(instance.__class__), original,
                                   *args, **kwargs)
        return _keep_name(method, original)
    return make


def make_generic_get(original):
    """GenericForeignKey.__get__: load the object from the instance's database
    when its model lives there, else from its own."""
    def __get__(self, instance, instance_type=None):
        alias = instance is not None and instance_db(instance) or None
        if alias is None or self.cache_attr in instance.__dict__:
            return original(self, instance, instance_type)
        ct_id = getattr(instance, instance._meta.get_field(self.ct_field).get_attname(), None)
        if ct_id is None:
            return original(self, instance, instance_type)
        from django.contrib.contenttypes.models import ContentType
        target = ContentType.objects.get_for_id(ct_id).model_class()
        if target is None or not precedence.same_place(instance.__class__, target):
            return original(self, instance, instance_type)
        return selector.run_in(alias, frozenset([target]), original, self, instance, instance_type)
    return _keep_name(__get__, original)


def generic_target(descriptor):
    return descriptor.field.rel.to


def _shard_by_key(descriptor, instance, related):
    """For a foreign key into a sharded model whose group has a KEY: the shard
    of the key (the related primary key); None otherwise."""
    field = getattr(descriptor, 'field', None)
    if field is None or not hasattr(field.rel, 'field_name'):
        return None  # not a ForeignKey seen from its own side
    cfg = config.current()
    place = cfg.placement(related)
    if place is None or place[0] != 'shards' or place[1] not in cfg.shard_keys:
        return None
    if precedence.shard_key_field(related) is not related._meta.pk:
        return None
    value = getattr(instance, field.attname, None)
    if value is None:
        return None
    return cfg.shard_alias(place[1], shard_number(cfg, place[1], value))


def _other_group(model, related):
    """The shard group of ``related`` when ``model`` is not in it; else None."""
    place = config.current().placement(related)
    if place is None or place[0] != 'shards' or precedence.same_place(model, related):
        return None
    return place[1]


def _across_shards(manager, group):
    """Make a reverse-relation manager into a sharded model read every shard."""
    build = manager.get_query_set

    def get_query_set():
        return AllShards(build(), group)
    manager.get_query_set = get_query_set


def bind_manager(manager, alias, models):
    """Make a related manager's queries and writes use ``alias``; inside
    readonly() its writes raise ReadOnlyError before anything is written."""
    def framed(method, write):
        def call(*args, **kwargs):
            if write:
                precedence.db_for(manager.model, True, alias, operation=write)
            return run_on_object_db(alias, models, method, *args, **kwargs)
        return call
    for name, write in (('get_query_set', None), ('add', 'add to'), ('remove', 'remove from'),
                        ('clear', 'clear'), ('create', 'create'),
                        ('get_or_create', 'get_or_create')):
        method = getattr(manager, name, None)
        if method is not None:
            setattr(manager, name, framed(method, write))


def fk_target(descriptor):
    return descriptor.field.rel.to


def related_model(descriptor):
    return descriptor.related.model
