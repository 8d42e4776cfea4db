"""Raw SQL through django.db.connection, outside any block, follows MULTIDB_MODELS.

A 2009 app that runs its own SQL (django-tagging, django-voting) writes
``cursor = connection.cursor(); cursor.execute(sql, params)``.  With its
models placed on another alias, that SQL has to go where its tables are:

  - a statement that names only tables of models placed together on one
    alias runs on that alias;
  - a statement that names tables on two databases (or a shard group's
    tables and others) raises CrossDatabaseSQL naming the tables and where
    each lives; a statement that names the tables of a shard group, and no
    others, raises ShardNotSelected: nothing is run;
  - a statement that names none of them runs on 'default', as before.

Only data statements are looked at (SELECT, INSERT, UPDATE, DELETE, REPLACE);
schema statements and the rest run on 'default' as they always did.  SQL that
Django itself sends through the connection (its management commands, test
runner and backends, the modules under ``django.``) keeps its meaning too.
Inside any block (using(), using_shard(), readonly(), ...) the block decides,
as before.  MULTIDB_ROUTE_RAW_SQL = False turns this off.  On Django 1.2 and later nothing
changes (django.db.connection is Django's own there).

Only raw cursors pay for it: the ORM never reaches django.db.connection
outside a block of its own.  A statement is read once (its table names are
kept by SQL text), and the table map once per configuration.
"""
import re

from django.core.exceptions import ImproperlyConfigured

from djpatch_multidb.base import config, versions
from djpatch_multidb.base.errors import CrossDatabaseQuery, ShardNotSelected
from djpatch_multidb.db.connections import connections

SETTING = 'MULTIDB_ROUTE_RAW_SQL'
ROUTED_VERBS = ('SELECT', 'INSERT', 'UPDATE', 'DELETE', 'REPLACE')

# String literals and comments (skipped), quoted identifiers, bare words.
_TOKENS = re.compile(
    r"'(?:[^'\\]|\\.|'')*'"           # 'text', 'it''s', 'it\'s'
    r"|--[^\n]*|#[^\n]*|/\*(?!!).*?\*/"   # comments (MySQL's /*! ... */ is code)
    r"|`((?:[^`]|``)+)`"              # `mysql_name`
    r'|"((?:[^"]|"")+)"'              # "sqlite_name"
    r"|([A-Za-z_][A-Za-z0-9_$]*)",    # bare word
    re.S)

_STATEMENTS_KEPT = 2000
_statements = {}    # sql text -> (verb, names in lower case)
_maps = {}          # 'config' -> the Config the map was built for; 'tables' -> the map


class CrossDatabaseSQL(CrossDatabaseQuery):
    """A raw statement names tables that live in two databases."""

    def __init__(self, places):
        self.places = places
        parts = []
        for place in sorted(places):
            parts.append('%s on %s' % (', '.join(sorted(places[place])), describe(place)))
        ImproperlyConfigured.__init__(
            self, "Raw SQL through django.db.connection names tables in %d databases: %s. One "
            "statement cannot reach two databases, and nothing was run. Place the apps whose "
            "tables it joins on one alias (MULTIDB_MODELS), or run it inside using(alias)."
            % (len(places), '; '.join(parts)))


def describe(place):
    if isinstance(place, tuple):
        cfg = config.current()
        return 'shard group %r (%s)' % (place[1], ', '.join(cfg.shards.get(place[1], ())))
    return repr(place)


def statement(sql):
    """(verb in capitals, set of the words and quoted names in ``sql``, lower case)."""
    try:
        return _statements[sql]
    except KeyError:
        pass
    except TypeError:
        return '', frozenset()      # not a string: leave it to the driver
    verb = ''
    names = set()
    after_as = False
    for match in _TOKENS.finditer(sql):
        backquoted, quoted, word = match.groups()
        name = backquoted or quoted or word
        if name is None:
            continue
        if not verb:
            if word is None:
                break               # a statement that starts with a quoted name
            verb = word.upper()
        if not after_as:            # a name given with AS is an alias, not a table
            names.add(name.lower())
        after_as = word is not None and word.upper() == 'AS'
    parsed = (verb, frozenset(names))
    if len(_statements) >= _STATEMENTS_KEPT:
        _statements.clear()
    _statements[sql] = parsed
    return parsed


def _place_key(place):
    """The database a placement means: an alias, or ('shards', group)."""
    if place is None:
        return 'default'
    if place[0] == 'alias':
        return place[1]
    return ('shards', place[1])


def table_places(cfg):
    """{table name in lower case: (database key, model)} for every installed
    model, its many-to-many tables included (they live with their model)."""
    if _maps.get('config') is cfg:
        return _maps['tables']
    from django.db.models.loading import cache
    models = cache.get_models()
    tables = {}
    for model in models:
        tables[model._meta.db_table.lower()] = (_place_key(cfg.placement(model)), model)
    for model in models:
        for field in model._meta.local_many_to_many:
            try:
                table = field.m2m_db_table()
            except Exception:
                continue
            tables.setdefault(table.lower(), (_place_key(cfg.placement(model)), model))
    if cache.app_cache_ready():
        _maps['tables'] = tables
        _maps['config'] = cfg
    return tables


def route(sql, cfg=None):
    """The alias a raw statement outside any block runs on: None for 'default'
    (as without the library); raises when it cannot run on one database."""
    verb, names = statement(sql)
    if verb not in ROUTED_VERBS:
        return None
    cfg = cfg or config.current()
    tables = table_places(cfg)
    places = {}
    first_model = {}
    for name in names:
        hit = tables.get(name)
        if hit is not None:
            places.setdefault(hit[0], set()).add(name)
            first_model.setdefault(hit[0], hit[1])
    if not places:
        return None
    if len(places) > 1:
        raise CrossDatabaseSQL(places)
    place = list(places)[0]
    if isinstance(place, tuple):
        group = place[1]
        raise ShardNotSelected(
            first_model[place], group, cfg.shards[group],
            'raw SQL through django.db.connection names its table%s %s outside any block '
            '(nothing was run)' % (len(places[place]) > 1 and 's' or '',
                                   ', '.join(sorted(places[place]))))
    if place == 'default':
        return None
    return place


def enabled(cfg):
    """Whether raw SQL outside blocks is routed: Django 1.0/1.1 (on 1.2 and
    later django.db.connection is Django's own), something is placed, and
    MULTIDB_ROUTE_RAW_SQL is not False."""
    if not cfg.models or versions.is_native():
        return False
    from django.conf import settings
    return getattr(settings, SETTING, True) is not False


def cursor_method(make_cursor, caller):
    """What django.db.connection.cursor is outside any block, as read by the
    module ``caller`` (its __name__): ``make_cursor`` (the 'default'
    connection's) for Django's own modules (the ORM, commands, creation, the
    test runner: their SQL keeps its meaning and they pay nothing more) and
    when there is nothing to route; else a method that gives cursors whose
    statements go where their tables live.

    The hook, in ConnectionProxy.__getattr__ when no block is open::

        if name == 'cursor' and type(self) is ConnectionProxy:
            return rawsql.cursor_method(value, caller_module_name)
    """
    if caller == 'django' or caller.startswith('django.'):
        return make_cursor
    cfg = config.current()
    if not enabled(cfg):
        return make_cursor

    def cursor(*args, **kwargs):
        return RoutedCursor(make_cursor(*args, **kwargs), cfg)
    cursor.__doc__ = make_cursor.__doc__
    return cursor


class RoutedCursor(object):
    """A cursor of django.db.connection opened outside any block: each
    statement runs on the database of the tables it names (route()); rows,
    rowcount, lastrowid and description come from where the last one ran."""

    def __init__(self, default_cursor, cfg):
        self.__dict__['_cursors'] = {None: default_cursor}
        self.__dict__['_current'] = default_cursor
        self.__dict__['_config'] = cfg

    def _cursor_for(self, sql):
        alias = route(sql, self.__dict__['_config'])
        cursors = self.__dict__['_cursors']
        cursor = cursors.get(alias)
        if cursor is None:
            cursor = cursors[alias] = connections[alias].cursor()
        self.__dict__['_current'] = cursor
        return cursor

    def execute(self, sql, *args, **kwargs):
        return self._cursor_for(sql).execute(sql, *args, **kwargs)

    def executemany(self, sql, *args, **kwargs):
        return self._cursor_for(sql).executemany(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.__dict__['_current'], name)

    def __setattr__(self, name, value):
        setattr(self.__dict__['_current'], name, value)

    def __iter__(self):
        return iter(self.__dict__['_current'])

    def __repr__(self):
        return '<djpatch_multidb raw cursor, last statement on %r>' % (
            [alias or 'default' for alias, cursor in self.__dict__['_cursors'].items()
             if cursor is self.__dict__['_current']][0],)
