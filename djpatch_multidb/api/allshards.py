"""Queries across every shard of a group: ``Model.objects.all_shards()``.

The result is queryset-like.  filter(), exclude(), order_by(), values(),
values_list(), select_related(), extra() and distinct() build a new one; the
query then runs on every shard, in parallel (a bounded pool of threads, each
with its own connections), and the rows are streamed and merged: by the
ordering when there is one (a k-way merge of the per-shard ordered results),
shard by shard otherwise.  The merge gives the order one database holding
every row would give: text is compared the way the shards' collation compares
it (MySQL: WEIGHT_STRING() asked of the server; SQLite: BINARY, the UTF-8
bytes); what cannot be merged exactly is refused.  distinct() is distinct
across shards.  [:n] asks each shard for at most n rows and keeps the global
first n.  count(), exists() and aggregate() (Count, Sum, Min, Max, Avg) combine
the per-shard answers; latest(), earliest() and get() look on every shard;
create() and get_or_create() save where a save of the object goes (its key's
shard); update() and delete() run on every shard, one after another, in the
calling thread's transaction handling.

If a shard fails before the first row, ShardQueryError names it and no row is
returned; later, it names it and the iteration stops.  While the calling
thread is inside a managed transaction, or has uncommitted writes on one of
the shards, the shards are read one after another on its own connections,
buffered, so that it sees its own writes.
"""
import heapq
import re
import sys
import threading

from collections import deque

try:
    import queue
except ImportError:     # Python 2
    import Queue as queue

from django.core.exceptions import ImproperlyConfigured

from djpatch_multidb.api import transactions
from djpatch_multidb.base import config, versions
from djpatch_multidb.base.compat import argument_names, reraise, string_types
from djpatch_multidb.base.errors import ShardQueryError, model_label
from djpatch_multidb.context import selector
from djpatch_multidb.db.connections import connections, drop
from djpatch_multidb.db.nativeconnections import in_transaction
from djpatch_multidb.routing import replicas
from djpatch_multidb.routing.proxy import QueryConnection, query_route

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
            thread.daemon = True
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

    def _plan(self):
        """What merging needs: the ordering's getters and the columns to compare."""
        order = []
        for spec in self._ordering():
            descending = spec.startswith('-')
            name = spec.lstrip('-+')
            if name == '?' or '__' in name or '.' in name:
                raise ImproperlyConfigured(
                    "all_shards() cannot merge ordering %r of %s: order by fields of the "
                    "model itself." % (spec, model_label(self.model)))
            meta = self.model._meta
            field = name == 'pk' and meta.pk or _field(meta, name)
            order.append((self._getter(name), descending, field))
        return Plan(self, order, bool(self.queryset.query.distinct))

    def _getter(self, name):
        meta = self.model._meta
        field = name == 'pk' and meta.pk or _field(meta, name)
        shape, names = self._shape()
        if shape in ('flat', 'tuple'):
            for candidate in (name, field and field.name, field and field.attname):
                if candidate in names:
                    index = names.index(candidate)
                    if shape == 'flat':
                        return lambda row: row
                    return lambda row: row[index]
            raise ImproperlyConfigured(
                "all_shards().values_list() must include %r to merge rows ordered by it." % name)
        if shape == 'dict':
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

    def _shape(self):
        """('model' | 'dict' | 'tuple' | 'flat', the names of a row's values)."""
        meta = self.model._meta
        fields = getattr(self.queryset, '_fields', None)
        # The row shape: a ValuesQuerySet/ValuesListQuerySet class up to Django
        # 1.8, an _iterable_class from 1.9.
        kind = getattr(self.queryset, '_iterable_class', type(self.queryset)).__name__
        flat = getattr(self.queryset, 'flat', False) or kind == 'FlatValuesListIterable'
        if hasattr(self.queryset, 'flat') or kind in LIST_ROWS:
            names = list(fields or [f.name for f in meta.fields])
            return flat and 'flat' or 'tuple', names
        if fields is not None or kind in ('ValuesQuerySet', 'ValuesIterable'):
            return 'dict', list(fields or [])
        return 'model', [f.attname for f in meta.fields]

    def iterator(self):
        """The rows, streamed: see __iter__."""
        return self._stream()

    def __iter__(self):
        """Every shard's rows, read as they are consumed (nothing is cached;
        see __len__ for list()).

        Each shard is read by a worker thread of its own connections, a chunk
        ahead of the merge; on MySQL through an unbuffered cursor (MySQLdb's
        SSCursor), so that memory does not grow with the number of rows.  On
        SQLite a shard's rows are fetched whole (a statement left open would
        keep the caller's writes to that file waiting), and so are they inside
        a transaction (see _must_stay_in_thread)."""
        slot = []
        self.__dict__['_unstarted'] = (threading.current_thread(), slot)
        return self._rows_for(slot)

    def _rows_for(self, slot):
        # Runs at the first row, not when the iteration is asked for: list()
        # asks for the iterator, then len(), then the rows; len() hands the
        # rows it read to the iterator this thread asked for just before,
        # when it has not started yet (see __len__).
        unstarted = self.__dict__.get('_unstarted')
        if unstarted is not None and unstarted[1] is slot:
            self.__dict__.pop('_unstarted', None)
        if slot:
            counted = slot.pop()
            while counted:
                yield counted.popleft()     # each row let go of as it is taken
            return
        for row in self._stream():
            yield row

    def _stream(self):
        plan = self._plan()
        high = self.high
        low = self.low or 0
        if high is not None and high <= low:
            return
        aliases = self.aliases
        querysets = []
        for alias in aliases:
            queryset = self._on(alias)
            if high is not None:
                queryset = queryset[:high]
            querysets.append(queryset)
        if self._must_stay_in_thread():
            feeds = InThreadFeeds(plan, aliases, querysets)
        else:
            feeds = WorkerFeeds(plan, aliases, querysets)
        try:
            described = feeds.start()
            plan.check(aliases, described)
            if plan.order:
                keyed = merge_streams([feeds.rows(i) for i in range(len(aliases))])
            else:
                keyed = chain_streams([feeds.rows(i) for i in range(len(aliases))])
            seen = None
            if plan.distinct:
                seen = set()
            position = 0
            for sort_key, identity, row in keyed:
                if seen is not None:
                    if identity in seen:
                        continue
                    seen.add(identity)
                if position >= low:
                    yield row
                position += 1
                if high is not None and position >= high:
                    break
        finally:
            feeds.close()

    def __len__(self):
        """The number of rows, read now.  list() asks for an iterator, then
        len(), then the rows: the rows len() read go to that iterator (this
        thread's, asked for just before and not started), so that list()
        reads the shards once, not twice.  Otherwise nothing is kept."""
        unstarted = self.__dict__.get('_unstarted')
        if unstarted is None or unstarted[0] is not threading.current_thread() or unstarted[1]:
            return self._count_rows()
        self.__dict__.pop('_unstarted', None)
        rows = deque(self._stream())
        unstarted[1].append(rows)
        return len(rows)

    def _count_rows(self):
        count = 0
        for row in self._stream():
            count += 1
        return count

    def __nonzero__(self):
        return self.exists()
    __bool__ = __nonzero__

    def __repr__(self):
        """As a QuerySet's: the list of the first 20 rows (templates print it)."""
        first = []
        for row in self._stream():
            first.append(row)
            if len(first) == 21:
                break
        if len(first) > 20:
            first[-1] = '...(remaining elements truncated)...'
        return repr(first)

    def count(self):
        if self.low is not None or self.high is not None or self.queryset.query.distinct:
            return self._count_rows()
        return sum(self._run(lambda queryset: queryset.count()))

    def exists(self):
        if self.low is not None or self.high is not None:
            return bool(self._count_rows())
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
        if not [k for k in type(self.queryset).__mro__ if 'aggregate' in vars(k)]:
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
                if count:
                    result[name] = float(total) / count
                else:
                    result[name] = None
            else:
                result[name] = _combine(kind, [a[name] for a in answers])
        return result

    def latest(self, *fields):
        """The object that comes last by ``fields`` (or Meta.get_latest_by) on any shard."""
        return self._first_by(fields, '-', 'latest')

    def earliest(self, *fields):
        """The object that comes first by ``fields`` (or Meta.get_latest_by) on any shard."""
        return self._first_by(fields, '', 'earliest')

    def _first_by(self, fields, direction, method):
        if self.low is not None or self.high is not None:
            raise TypeError('Cannot %s() an all_shards() query once it has been sliced.' % method)
        names = [name for name in fields if name]
        if not names:
            latest_by = self.model._meta.get_latest_by
            names = isinstance(latest_by, (list, tuple)) and list(latest_by) or [latest_by]
            names = [name for name in names if name]
        if not names:
            raise ValueError("%s() of %s needs a field name or Meta.get_latest_by."
                             % (method, model_label(self.model)))
        ordering = []
        for name in names:
            if direction and name.startswith('-'):
                ordering.append(name[1:])
            else:
                ordering.append(direction + name)
        found = list(AllShards(self.queryset.order_by(*ordering), self.group)[:1])
        if not found:
            raise self.model.DoesNotExist('%s matching query does not exist on any shard of %r.'
                                          % (self.model._meta.object_name, self.group))
        return found[0]

    # -- writing -------------------------------------------------------------
    def create(self, **kwargs):
        """A new object, saved where a save of it goes: the shard its key maps
        to (or the block's shard), as the queryset's own create() does."""
        self._refuse_sliced('create')
        return self.queryset.create(**kwargs)

    def get_or_create(self, defaults=None, **kwargs):
        """(the object matching ``kwargs`` on any shard, False), or (a new one
        created as create() does, True)."""
        self._refuse_sliced('get_or_create')
        try:
            return self.get(**kwargs), False
        except self.model.DoesNotExist:
            pass
        params = dict([(k, v) for k, v in kwargs.items() if '__' not in k])
        params.update(defaults or {})
        from django.db import IntegrityError
        try:
            return self.create(**params), True
        except IntegrityError:
            error = sys.exc_info()
            try:
                return self.get(**kwargs), False
            except self.model.DoesNotExist:
                reraise(*error)

    def update(self, **kwargs):
        """Update the matching rows on every shard; the number of rows updated."""
        self._refuse_sliced('update')
        return sum(self._run(lambda queryset: _written(queryset).update(**kwargs),
                             parallel=False))

    def delete(self):
        """Delete the matching rows (and their cascades) on every shard."""
        self._refuse_sliced('delete')
        self._run(lambda queryset: _written(queryset).delete(), parallel=False)

    def _refuse_sliced(self, operation):
        if self.low is not None or self.high is not None:
            raise TypeError('Cannot %s() an all_shards() query once it has been sliced.' % operation)


def _written(queryset):
    """``queryset`` (on one shard), about to write.  On Django 1.2 and later a
    queryset that names its database asks no router: inside Django's own
    transaction block with no using, the block holds that shard too, as it
    would a write the router sent there."""
    if NATIVE:
        if transactions.open_blocks_here():
            transactions.check_write(queryset.model, queryset.db)
    return queryset


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
    NULL first when ascending (as MySQL and SQLite sort it; last with
    ``nulls_first=False``, as PostgreSQL and Oracle do)."""
    __slots__ = ('parts', 'nulls_first')

    def __init__(self, parts, nulls_first=True):
        self.parts = parts
        self.nulls_first = nulls_first

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
                less = self.nulls_first
            elif theirs is None:
                less = not self.nulls_first
            else:
                less = mine < theirs
            return less != descending
        return False


# -- streaming the shards --------------------------------------------------------

CHUNK = 200            # rows handed from a shard's reader to the merge at a time
LONGEST_TEXT = 4096    # characters: longer text columns are not compared through weights
# A MySQL server gives up on a client that leaves an unbuffered result unread for
# net_write_timeout seconds; a shard whose rows sort last waits for the others.
STREAM_WRITE_TIMEOUT = 86400
NAME = re.compile(r'^[A-Za-z0-9_]+$')

# Django field types whose values are never text: no collation to look up.
NOT_TEXT = frozenset([
    'AutoField', 'BigAutoField', 'SmallAutoField', 'IntegerField', 'BigIntegerField',
    'SmallIntegerField', 'PositiveIntegerField', 'PositiveSmallIntegerField',
    'PositiveBigIntegerField', 'BooleanField', 'NullBooleanField', 'DateField',
    'DateTimeField', 'TimeField', 'DecimalField', 'FloatField', 'DurationField'])


def may_be_text(field):
    """Whether ``field``'s values may be text (compared by a collation)."""
    rel = getattr(field, 'remote_field', None) or getattr(field, 'rel', None)
    if rel is not None and hasattr(rel, 'get_related_field'):
        field = rel.get_related_field()
    return field.get_internal_type() not in NOT_TEXT


class Plan(object):
    """How the rows of one all_shards() query are compared while merging: the
    ordering (getter, descending, field) and, for distinct(), which values make
    a row the same row.  Text is compared the way the shards' collation
    compares it: on MySQL through WEIGHT_STRING() computed by the server, on
    SQLite (BINARY) by UTF-8 bytes."""

    def __init__(self, shards, order, distinct):
        self.model = shards.model
        meta = self.model._meta
        self.table = meta.db_table
        self.order = order
        self.distinct = distinct
        self.shape, self.names = shards._shape()
        self.fields = {}
        for field in meta.fields:
            self.fields[field.name] = field
            self.fields[field.attname] = field
        candidates = set()
        for getter, descending, field in order:
            if may_be_text(field):
                candidates.add(field.column)
        self.unknown = []     # distinct() values that are not the model's fields
        if distinct:
            names = self.names
            if self.shape == 'dict' and not names:
                names = [f.attname for f in meta.fields]
            for name in names:
                field = self.fields.get(name)
                if field is None:
                    self.unknown.append(name)
                elif may_be_text(field):
                    candidates.add(field.column)
        self.candidates = sorted(candidates)

    # -- in the reader of one shard
    def describe(self, vendor, helper):
        """{column: how this shard compares it} for the columns that may be
        text; a column absent from the answer holds no text on this shard."""
        if not self.candidates:
            return {}
        if vendor == 'mysql':
            found = {}
            for name, charset, collation, length in helper.query(
                    'SELECT COLUMN_NAME, CHARACTER_SET_NAME, COLLATION_NAME, '
                    'CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS '
                    'WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s', [self.table]):
                if name in self.candidates and collation is not None:
                    found[name] = (charset, collation, length and int(length) or None)
            return found
        if vendor == 'sqlite3':
            rows = helper.query("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = %s",
                                [self.table])
            sql = rows and rows[0][0] or ''
            return dict([(column, declared_collation(sql, column)) for column in self.candidates])
        return dict([(column, vendor) for column in self.candidates])

    def keyed(self, rows, vendor, described, helper):
        """[(sort key, identity, row)] for a chunk of one shard's rows."""
        weights = {}
        if vendor == 'mysql' and described:
            wanted = set()
            for row in rows:
                for column, value in self._text_values(row, described):
                    wanted.add((column, value))
            weights = helper.weights(described, sorted(wanted))

        def comparable(column, value, for_order):
            if value is None or not isinstance(value, string_types) or column not in described:
                return value
            if vendor == 'mysql':
                return weights.get((column, value), value)
            if vendor == 'sqlite3' and for_order and not isinstance(value, bytes):
                return value.encode('utf-8')     # BINARY: the order of the UTF-8 bytes
            return value

        nulls_first = vendor in ('mysql', 'sqlite3')
        result = []
        for row in rows:
            sort_key = identity = None
            if self.order:
                sort_key = SortKey([(comparable(field.column, getter(row), True), descending)
                                    for getter, descending, field in self.order], nulls_first)
            if self.distinct:
                identity = tuple([comparable(self._column(name), value, False)
                                  for name, value in self._parts(row)])
            result.append((sort_key, identity, row))
        return result

    def _text_values(self, row, described):
        for getter, descending, field in self.order:
            value = getter(row)
            if field.column in described and isinstance(value, string_types):
                yield field.column, value
        if self.distinct:
            for name, value in self._parts(row):
                column = self._column(name)
                if column in described and isinstance(value, string_types):
                    yield column, value

    def _column(self, name):
        field = self.fields.get(name)
        return field is not None and field.column or None

    def _parts(self, row):
        """(name, value) of every value that makes the row distinct."""
        if self.shape == 'model':
            return [(name, getattr(row, name)) for name in self.names]
        if self.shape == 'flat':
            return [(self.names and self.names[0] or None, row)]
        if self.shape == 'tuple':
            names = self.names
            if len(names) != len(row):
                names = [None] * len(row)
            return list(zip(names, row))
        return sorted(row.items())

    # -- in the calling thread, before any row is merged
    def check(self, aliases, described):
        """Refuse what cannot be merged exactly: a text column that the shards
        compare differently, or by a collation this merge cannot reproduce."""
        cfg = config.current()
        label = model_label(self.model)
        vendors = [cfg.databases[alias].vendor for alias in aliases]
        ordered = set([field.column for getter, descending, field in self.order])
        for column in self.candidates:
            ways = {}
            for alias, vendor, answer in zip(aliases, vendors, described):
                ways.setdefault((vendor, answer.get(column)), []).append(alias)
            if len(ways) > 1:
                raise ImproperlyConfigured(
                    "all_shards() cannot merge %s by %r exactly: its shards compare it "
                    "differently (%s). Give the column one collation on every shard."
                    % (label, column, '; '.join(['%s on %s' % (_describe_way(way),
                                                               ', '.join([repr(a) for a in found]))
                                                  for way, found in sorted(ways.items())])))
            (vendor, way), found = list(ways.items())[0]
            if way is None:
                continue        # not text there
            shards = ', '.join([repr(a) for a in found])
            if vendor == 'mysql' and not (way[2] and way[2] <= LONGEST_TEXT):
                raise ImproperlyConfigured(
                    "all_shards() cannot merge %s by %r exactly: the column holds up to %s "
                    "characters on %s; ordering and distinct() merge text columns of at most %d."
                    % (label, column, way[2], shards, LONGEST_TEXT))
            if vendor == 'sqlite3' and way != 'BINARY':
                raise ImproperlyConfigured(
                    "all_shards() cannot merge %s by %r exactly: it is declared COLLATE %s on "
                    "%s; only SQLite's BINARY order is merged." % (label, column, way, shards))
            if vendor not in ('mysql', 'sqlite3') and column in ordered:
                raise ImproperlyConfigured(
                    "all_shards() cannot merge %s ordered by the text column %r exactly on %s "
                    "(%s): the merge reproduces MySQL and SQLite collations only."
                    % (label, column, vendor, shards))
        if self.distinct and self.unknown and 'mysql' in vendors:
            raise ImproperlyConfigured(
                "all_shards().distinct() cannot compare %s across MySQL shards exactly: "
                "not fields of %s, so their collation is unknown; use values() of fields."
                % (', '.join([repr(n) for n in self.unknown]), label))


def _describe_way(way):
    vendor, answer = way
    if answer is None:
        return '%s, not text' % vendor
    if vendor == 'mysql':
        return 'collation %s' % answer[1]
    if vendor == 'sqlite3':
        return 'COLLATE %s' % answer
    return vendor


def declared_collation(sql, column):
    """The COLLATE a CREATE TABLE statement gives ``column`` (BINARY if none)."""
    pattern = r'(?:^|[(,])\s*["`\[]?%s["`\]]?\s[^,]*?\bCOLLATE\s+["`\[]?(\w+)' % re.escape(column)
    found = re.search(pattern, sql, re.IGNORECASE)
    return found and found.group(1).upper() or 'BINARY'


class Helper(object):
    """A connection of its own to one shard, for the questions about its
    collation (the shard's reader may be busy streaming)."""

    def __init__(self, alias):
        self.alias = alias
        self.wrapper = None

    def query(self, sql, params):
        if self.wrapper is None:
            self.wrapper = connections.dedicated(self.alias)
        cursor = self.wrapper.cursor()
        cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()]

    def weights(self, described, wanted):
        """{(column, text): the bytes the column's collation sorts it by}, from
        the server itself (WEIGHT_STRING, padded as the collation pads)."""
        found = {}
        wanted = [(column, value) for column, value in wanted
                  if described[column][2] and described[column][2] <= LONGEST_TEXT]
        for start in range(0, len(wanted), 500):
            part = wanted[start:start + 500]
            expressions = [weight_sql(described[column]) for column, value in part]
            answer = self.query('SELECT ' + ', '.join(expressions), [v for c, v in part])[0]
            for key, weight in zip(part, answer):
                found[key] = weight is not None and bytes(weight) or None
        return found

    def close(self):
        if self.wrapper is not None:
            drop(self.wrapper)
            self.wrapper = None


def weight_sql(way):
    charset, collation, length = way
    if not NAME.match(charset or '') or not NAME.match(collation or ''):
        raise ImproperlyConfigured('Unexpected character set or collation %r, %r.'
                                   % (charset, collation))
    if 'nopad' in collation.lower():
        return 'WEIGHT_STRING(CONVERT(%%s USING %s) COLLATE %s)' % (charset, collation)
    return 'WEIGHT_STRING(CONVERT(%%s USING %s) COLLATE %s AS CHAR(%d))' % (
        charset, collation, length)


def produce(plan, alias, queryset, stream):
    """The reader of one shard: first (how it compares text, first chunk),
    then each further chunk of keyed rows."""
    vendor = config.current().databases[alias].vendor
    helper = Helper(alias)
    rows = None
    try:
        described = plan.describe(vendor, helper)
        rows = shard_rows(queryset, alias, vendor, stream)
        chunk = _take(rows)
        yield described, plan.keyed(chunk, vendor, described, helper)
        while len(chunk) == CHUNK:
            chunk = _take(rows)
            if not chunk:
                break
            yield plan.keyed(chunk, vendor, described, helper)
    finally:
        if rows is not None:
            rows.close()
        helper.close()


def _take(rows):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            break
    return chunk


def shard_rows(queryset, alias, vendor, stream):
    """The rows of ``queryset``: on MySQL (``stream``) read from the server as
    they are taken; on SQLite fetched whole, then made into rows as taken."""
    restore = None
    if stream and vendor == 'mysql':
        restore = _unbuffered(queryset, alias)
    try:
        if vendor == 'sqlite3':
            rows = whole_rows(queryset)
        else:
            rows = queryset.iterator()
        for row in rows:
            yield row
    finally:
        if restore is not None:
            restore()


def whole_rows(queryset):
    """Every row the database returns for ``queryset``, fetched at once (an
    SQLite read left open holds the file's SHARED lock: a write from the
    caller's loop would wait for it), made into objects as they are taken."""
    iterable = getattr(queryset, '_iterable_class', None)
    if iterable is None:
        # Django's SQLite backend up to 1.8 turns chunked reads off: its
        # iterator() fetches every row before the first is returned.
        return queryset.iterator()
    if 'chunked_fetch' in argument_names(iterable.__init__)[0]:
        return iter(iterable(queryset, chunked_fetch=False))   # Django 1.11 on
    return iter(iterable(queryset))


def _unbuffered(queryset, alias):
    """Make this thread's connection to the queryset's database hand out
    MySQLdb's unbuffered SSCursor (the reader's own connection, closed when it
    ends); a function that puts the buffered cursor back."""
    if NATIVE:
        target = queryset.db
    else:
        target, readonly = query_route(queryset.query)
        if readonly:
            return None     # the replica is picked as the query runs: read it buffered
        target = target or alias
    wrapper = connections[target]
    if hasattr(wrapper, 'ensure_connection'):
        wrapper.ensure_connection()
    else:
        wrapper.cursor()     # Django 1.0/1.1 connect on the first cursor
    raw = wrapper.connection
    if not hasattr(raw, 'cursorclass'):
        return None
    from MySQLdb.cursors import SSCursor
    cursor = raw.cursor()
    cursor.execute('SET SESSION net_write_timeout = %d' % STREAM_WRITE_TIMEOUT)
    cursor.close()
    previous = raw.cursorclass
    raw.cursorclass = SSCursor

    def restore():
        raw.cursorclass = previous
    return restore


def merge_streams(streams):
    """k-way merge of per-shard streams of (sort key, identity, row), each in
    sort key order; equal keys keep shard order."""
    heap = []
    for index, stream in enumerate(streams):
        for entry in stream:
            heap.append((entry[0], index, entry, stream))
            break
    heapq.heapify(heap)
    while heap:
        sort_key, index, entry, stream = heap[0]
        yield entry
        for following in stream:
            heapq.heapreplace(heap, (following[0], index, following, stream))
            break
        else:
            heapq.heappop(heap)


def chain_streams(streams):
    for stream in streams:
        for entry in stream:
            yield entry


def _shard_error(alias, failure, others=0):
    reraise(ShardQueryError, ShardQueryError(alias, failure[1], others), failure[2])


class InThreadFeeds(object):
    """The shards read one after another on the calling thread's own
    connections (inside a transaction: it sees its own writes), buffered."""

    def __init__(self, plan, aliases, querysets):
        self.aliases = aliases
        self.producers = [produce(plan, alias, queryset, False)
                          for alias, queryset in zip(aliases, querysets)]
        self.heads = []

    def start(self):
        described = []
        for alias, producer in zip(self.aliases, self.producers):
            try:
                first = next(producer)
            except Exception:
                _shard_error(alias, sys.exc_info())
            described.append(first[0])
            self.heads.append(first[1])
        return described

    def rows(self, index):
        chunk, self.heads[index] = self.heads[index], None
        while chunk:
            for entry in chunk:
                yield entry
            try:
                chunk = next(self.producers[index], None)
            except Exception:
                _shard_error(self.aliases[index], sys.exc_info())

    def close(self):
        for producer in self.producers:
            producer.close()


class WorkerFeeds(object):
    """The shards read by worker threads (at most MULTIDB_ALL_SHARDS_THREADS),
    each on connections of its own, a chunk ahead of the merge."""

    def __init__(self, plan, aliases, querysets):
        from django.conf import settings
        limit = getattr(settings, 'MULTIDB_ALL_SHARDS_THREADS', None) or DEFAULT_THREADS
        self.plan = plan
        self.aliases = aliases
        self.querysets = querysets
        count = min(limit, len(aliases))
        self.requests = [queue.Queue() for n in range(count)]
        self.replies = [queue.Queue() for alias in aliases]
        self.owner = [index % count for index in range(len(aliases))]
        self.logged = {}
        self.closing = False
        self.heads = []
        self.threads = [threading.Thread(target=self._work, args=(n,)) for n in range(count)]
        for thread in self.threads:
            thread.daemon = True
            thread.start()

    def _work(self, number):
        producers = {}
        try:
            while True:
                index = self.requests[number].get()
                if index is None:
                    return
                if self.closing:
                    continue
                try:
                    if index not in producers:
                        producers[index] = produce(self.plan, self.aliases[index],
                                                   self.querysets[index], True)
                    self.replies[index].put((True, next(producers[index], None)))
                except Exception:
                    self.replies[index].put((False, sys.exc_info()))
        finally:
            for index, producer in producers.items():
                try:
                    producer.close()
                except Exception:
                    pass
                alias = self.aliases[index]
                queries = getattr(connections[alias], 'queries', None)
                if queries:
                    self.logged[alias] = list(queries)
            connections.close_all()

    def _ask(self, index):
        self.requests[self.owner[index]].put(index)

    def _answer(self, index):
        ok, item = self.replies[index].get()
        if not ok:
            _shard_error(self.aliases[index], item)
        return item

    def start(self):
        for index in range(len(self.aliases)):
            self._ask(index)
        answers = [self.replies[index].get() for index in range(len(self.aliases))]
        failed = [index for index, (ok, item) in enumerate(answers) if not ok]
        if failed:
            _shard_error(self.aliases[failed[0]], answers[failed[0]][1], len(failed) - 1)
        self.heads = [item[1] for ok, item in answers]
        return [item[0] for ok, item in answers]

    def rows(self, index):
        chunk, self.heads[index] = self.heads[index], None
        more = chunk and len(chunk) == CHUNK
        while chunk:
            if more:
                self._ask(index)        # the next chunk is read while this one is merged
            for entry in chunk:
                yield entry
            if not more:
                return
            chunk = self._answer(index)
            more = chunk and len(chunk) == CHUNK

    def close(self):
        self.closing = True
        for requests in self.requests:
            requests.put(None)
        for thread in self.threads:
            thread.join()
        for alias, queries in self.logged.items():
            if queries:   # DEBUG: the caller's connection log shows the workers' queries
                wrapper = connections[alias]
                log = getattr(wrapper, 'queries_log', None)   # Django 1.8 on: queries is a copy
                (wrapper.queries if log is None else log).extend(queries)
