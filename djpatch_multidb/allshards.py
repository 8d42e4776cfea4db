"""Queries across every shard of a group: ``Model.objects.all_shards()``.

The result is queryset-like.  filter(), exclude(), order_by(), values(),
values_list(), select_related(), extra() and distinct() build a new one; the
query then runs on every shard, in parallel (a bounded pool of threads, each
with its own connections), and the rows are merged: by the ordering when there
is one (a k-way merge of the per-shard ordered results), shard by shard
otherwise.  [:n] asks each shard for at most n rows and keeps the global
first n.  count(), exists() and aggregate() (Count, Sum, Min, Max, Avg) combine
the per-shard answers; update() and delete() run on every shard, one after
another, in the calling thread's transaction handling.

If a shard fails, ShardQueryError names it; no partial result is returned.
While the calling thread is inside a managed transaction, or has
uncommitted writes on one of the shards, the shards are read one after another
on its own connections, so that it sees its own writes.
"""
import heapq
import sys
import threading

from django.core.exceptions import ImproperlyConfigured

from djpatch_multidb import config, selector, versions
from djpatch_multidb.compat import reraise, string_types
from djpatch_multidb.connections import connections
from djpatch_multidb.errors import ShardQueryError, model_label
from djpatch_multidb.proxy import QueryConnection, query_route

NATIVE = versions.is_native()
LIST_ROWS = ('ValuesListQuerySet', 'ValuesListIterable', 'FlatValuesListIterable',
             'NamedValuesListIterable')

DEFAULT_THREADS = 8


class AllShards(object):
    """A query on every shard of ``group``, built like a QuerySet."""

    def __init__(self, queryset, group, low=None, high=None):
        self.queryset = queryset
        self.model = queryset.model
        self.group = group
        self.low = low
        self.high = high
        self._cache = None

    # -- building ------------------------------------------------------------
    def _chain(self, method, *args, **kwargs):
        if self.low is not None or self.high is not None:
            raise TypeError('Cannot %s() an all_shards() query once it has been sliced.' % method)
        return AllShards(getattr(self.queryset, method)(*args, **kwargs), self.group)

    def filter(self, *args, **kwargs):
        return self._chain('filter', *args, **kwargs)

    def exclude(self, *args, **kwargs):
        return self._chain('exclude', *args, **kwargs)

    def order_by(self, *fields):
        return self._chain('order_by', *fields)

    def values(self, *fields):
        return self._chain('values', *fields)

    def values_list(self, *fields, **kwargs):
        return self._chain('values_list', *fields, **kwargs)

    def select_related(self, *fields, **kwargs):
        return self._chain('select_related', *fields, **kwargs)

    def extra(self, *args, **kwargs):
        return self._chain('extra', *args, **kwargs)

    def distinct(self, *args):
        return self._chain('distinct', *args)

    def all(self):
        return AllShards(self.queryset, self.group, self.low, self.high)

    def __getitem__(self, k):
        if isinstance(k, slice):
            if k.step is not None or (k.start or 0) < 0 or (k.stop is not None and k.stop < 0):
                raise ValueError('all_shards() takes slices [a:b] with 0 <= a <= b and no step.')
            low = (self.low or 0) + (k.start or 0)
            high = self.high
            if k.stop is not None:
                high = (self.low or 0) + k.stop
                if self.high is not None:
                    high = min(high, self.high)
            return AllShards(self.queryset, self.group, low or None, high)
        if isinstance(k, bool) or not isinstance(k, config.int_types()) or k < 0:
            raise TypeError('all_shards() index must be a non-negative integer, not %r' % (k,))
        rows = list(self[k:k + 1])
        if not rows:
            raise IndexError('all_shards() index %d out of range' % k)
        return rows[0]

    # -- where it runs ---------------------------------------------------------
    @property
    def aliases(self):
        return config.current().shards[self.group]

    def _on(self, alias):
        """The queryset on one shard (replica reads kept when readonly)."""
        if NATIVE:
            if getattr(self.queryset, '_multidb_readonly', False) or selector.is_readonly():
                from djpatch_multidb import replicas
                clone = self.queryset.using(replicas.for_read(alias))
                clone._multidb_readonly = True
                return clone
            return self.queryset.using(alias)
        readonly = query_route(self.queryset.query)[1] or selector.is_readonly()
        clone = self.queryset._clone()
        clone.query.connection = QueryConnection(alias, readonly)
        return clone

    def _run(self, function, parallel=True):
        """function(queryset on shard) for every shard; a list in shard order."""
        aliases = self.aliases
        if not parallel or len(aliases) == 1 or self._must_stay_in_thread():
            results = []
            for alias in aliases:
                try:
                    results.append(function(self._on(alias)))
                except Exception:
                    error = sys.exc_info()
                    reraise(ShardQueryError, ShardQueryError(alias, error[1]), error[2])
            return results
        return self._run_parallel(function, aliases)

    def _must_stay_in_thread(self):
        if NATIVE:
            from djpatch_multidb.native import in_transaction
            return in_transaction()
        from django.db import transaction
        if transaction.is_managed():
            return True
        written = connections.written()
        for alias in self.aliases:
            if alias in written:
                return True
        return False

    def _run_parallel(self, function, aliases):
        from django.conf import settings
        limit = getattr(settings, 'MULTIDB_ALL_SHARDS_THREADS', None) or DEFAULT_THREADS
        results = [None] * len(aliases)
        logged = [None] * len(aliases)
        failures = {}
        tasks = list(enumerate(aliases))
        lock = threading.Lock()
        querysets = [self._on(alias) for alias in aliases]

        def worker():
            try:
                while True:
                    lock.acquire()
                    try:
                        if not tasks:
                            return
                        index, alias = tasks.pop(0)
                    finally:
                        lock.release()
                    try:
                        results[index] = function(querysets[index])
                    except Exception:
                        failures[index] = sys.exc_info()
                    logged[index] = list(connections[alias].queries)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker) for n in range(min(limit, len(aliases)))]
        for thread in threads:
            thread.setDaemon(True)
            thread.start()
        for thread in threads:
            thread.join()
        for index, alias in enumerate(aliases):
            if logged[index]:  # DEBUG: the caller's connection log shows the workers' queries
                wrapper = connections[alias]
                log = getattr(wrapper, 'queries_log', None)   # Django 1.8 on: queries is a copy
                (wrapper.queries if log is None else log).extend(logged[index])
        if failures:
            first = min(failures)
            error = failures[first]
            reraise(ShardQueryError, ShardQueryError(aliases[first], error[1], len(failures) - 1),
                    error[2])
        return results

    # -- reading -------------------------------------------------------------
    def _ordering(self):
        query = self.queryset.query
        ordering = list(query.order_by or [])
        if not ordering and query.default_ordering:
            ordering = list(self.model._meta.ordering or [])
        if query.extra_order_by:
            raise ImproperlyConfigured(
                "all_shards() cannot merge an extra(order_by=...) ordering; order by fields.")
        return ordering

    def _key_function(self):
        ordering = self._ordering()
        if not ordering:
            return None
        getters = []
        for spec in ordering:
            descending = spec.startswith('-')
            name = spec.lstrip('-+')
            if name == '?' or '__' in name or '.' in name:
                raise ImproperlyConfigured(
                    "all_shards() cannot merge ordering %r of %s: order by fields of the "
                    "model itself." % (spec, model_label(self.model)))
            getters.append((self._getter(name), descending))

        # MySQL's default collations compare text without case; SQLite's by code point.
        fold = 'mysql' in [config.current().databases[a].vendor for a in self.aliases]

        def key(item):
            parts = []
            for get, descending in getters:
                value = get(item)
                if fold and isinstance(value, string_types):
                    value = value.lower()
                parts.append((value, descending))
            return SortKey(parts)
        return key

    def _getter(self, name):
        meta = self.model._meta
        field = name == 'pk' and meta.pk or _field(meta, name)
        fields = getattr(self.queryset, '_fields', None)
        # The row shape: a ValuesQuerySet/ValuesListQuerySet class up to Django
        # 1.8, an _iterable_class from 1.9.
        kind = getattr(self.queryset, '_iterable_class', type(self.queryset)).__name__
        flat = getattr(self.queryset, 'flat', False) or kind == 'FlatValuesListIterable'
        if hasattr(self.queryset, 'flat') or kind in LIST_ROWS:
            names = list(fields or [f.name for f in meta.fields])
            for candidate in (name, field and field.name, field and field.attname):
                if candidate in names:
                    index = names.index(candidate)
                    if flat:
                        return lambda row: row
                    return lambda row: row[index]
            raise ImproperlyConfigured(
                "all_shards().values_list() must include %r to merge rows ordered by it." % name)
        if fields is not None or kind in ('ValuesQuerySet', 'ValuesIterable'):
            candidates = [c for c in (name, field and field.name, field and field.attname) if c]

            def from_dict(row):
                for candidate in candidates:
                    if candidate in row:
                        return row[candidate]
                raise ImproperlyConfigured(
                    "all_shards().values() must include %r to merge rows ordered by it." % name)
            return from_dict
        attname = field and field.attname or name
        return lambda obj: getattr(obj, attname)

    def _rows(self):
        high = self.high
        key = self._key_function()

        def fetch(queryset):
            if high is not None:
                queryset = queryset[:high]
            return list(queryset)
        per_shard = self._run(fetch)
        if key is None:
            merged = []
            for rows in per_shard:
                merged.extend(rows)
        else:
            merged = merge(per_shard, key)
        return merged[self.low or 0:high]

    def __iter__(self):
        if self._cache is None:
            self._cache = self._rows()
        return iter(self._cache)

    def __len__(self):
        return len(list(iter(self)))

    def __nonzero__(self):
        return self.exists()
    __bool__ = __nonzero__

    def __repr__(self):
        return '<AllShards %s over %r: %r>' % (model_label(self.model), self.group, list(self)[:21])

    def count(self):
        if self.low is not None or self.high is not None:
            return len(self)
        return sum(self._run(lambda queryset: queryset.count()))

    def exists(self):
        if self.low is not None or self.high is not None:
            return bool(len(self))
        return bool([1 for rows in self._run(lambda queryset: list(queryset[:1])) if rows])

    def get(self, *args, **kwargs):
        found = list(self.filter(*args, **kwargs)[:2])
        if not found:
            raise self.model.DoesNotExist('%s matching query does not exist on any shard of %r.'
                                          % (self.model._meta.object_name, self.group))
        if len(found) > 1:
            raise self.model.MultipleObjectsReturned(
                'get() returned more than one %s across the shards of %r.'
                % (self.model._meta.object_name, self.group))
        return found[0]

    def aggregate(self, *args, **kwargs):
        """Count, Sum, Min, Max and Avg, combined over every shard."""
        if not hasattr(self.queryset, 'aggregate'):
            raise ImproperlyConfigured('aggregate() needs Django 1.1 or later.')
        wanted = dict(kwargs)
        for arg in args:
            wanted[arg.default_alias] = arg
        per_shard_args = {}
        for name, aggregate in wanted.items():
            kind = type(aggregate).__name__
            if kind not in ('Count', 'Sum', 'Min', 'Max', 'Avg'):
                raise ImproperlyConfigured(
                    'all_shards().aggregate() combines Count, Sum, Min, Max and Avg, not %s.' % kind)
            if kind == 'Count' and (getattr(aggregate, 'distinct', False)
                                    or getattr(aggregate, 'extra', {}).get('distinct')):
                raise ImproperlyConfigured(
                    'all_shards().aggregate() cannot combine Count(distinct=True): the same '
                    'value may be counted on several shards.')
            if kind == 'Avg':
                from django.db.models import Count, Sum
                lookup = _aggregated_field(aggregate)
                per_shard_args[name + '__sum'] = Sum(lookup)
                per_shard_args[name + '__count'] = Count(lookup)
            else:
                per_shard_args[name] = aggregate
        answers = self._run(lambda queryset: queryset.aggregate(**per_shard_args))
        result = {}
        for name, aggregate in wanted.items():
            kind = type(aggregate).__name__
            if kind == 'Avg':
                total = _combine('Sum', [a[name + '__sum'] for a in answers])
                count = _combine('Count', [a[name + '__count'] for a in answers])
                result[name] = count and float(total) / count or None
            else:
                result[name] = _combine(kind, [a[name] for a in answers])
        return result

    # -- writing -------------------------------------------------------------
    def update(self, **kwargs):
        """Update the matching rows on every shard; the number of rows updated."""
        self._refuse_sliced('update')
        return sum(self._run(lambda queryset: queryset.update(**kwargs), parallel=False))

    def delete(self):
        """Delete the matching rows (and their cascades) on every shard."""
        self._refuse_sliced('delete')
        self._run(lambda queryset: queryset.delete(), parallel=False)

    def _refuse_sliced(self, operation):
        if self.low is not None or self.high is not None:
            raise TypeError('Cannot %s() an all_shards() query once it has been sliced.' % operation)


def _aggregated_field(aggregate):
    """The field name an aggregate reads (Django 1.8 made aggregates expressions)."""
    lookup = getattr(aggregate, 'lookup', None)
    if lookup is None:
        lookup = aggregate.get_source_expressions()[0].name
    return lookup


def _field(meta, name):
    for field in meta.fields:
        if name in (field.name, field.attname):
            return field
    raise ImproperlyConfigured('%s.%s has no field %r to order all_shards() by.'
                               % (meta.app_label, meta.object_name, name))


def _combine(kind, values):
    present = [v for v in values if v is not None]
    if kind == 'Count':
        return sum(present)
    if not present:
        return None
    if kind == 'Sum':
        return sum(present)
    if kind == 'Min':
        return min(present)
    return max(present)


class SortKey(object):
    """Compares like ORDER BY: field by field, each ascending or descending,
    NULL first when ascending (as MySQL and SQLite sort it)."""
    __slots__ = ('parts',)

    def __init__(self, parts):
        self.parts = parts

    def __eq__(self, other):
        return not (self < other or other < self)

    def __ne__(self, other):
        return not self == other

    __hash__ = None

    def __lt__(self, other):
        for (mine, descending), (theirs, _) in zip(self.parts, other.parts):
            if mine == theirs:
                continue
            if mine is None:
                less = True
            elif theirs is None:
                less = False
            else:
                less = mine < theirs
            return less != descending
        return False


def merge(per_shard, key):
    """k-way merge of per-shard lists, each already in ``key`` order."""
    heap = []
    for index, rows in enumerate(per_shard):
        if rows:
            heap.append((key(rows[0]), index, 0))
    heapq.heapify(heap)
    merged = []
    while heap:
        sort_key, index, position = heapq.heappop(heap)
        rows = per_shard[index]
        merged.append(rows[position])
        if position + 1 < len(rows):
            heapq.heappush(heap, (key(rows[position + 1]), index, position + 1))
    return merged
