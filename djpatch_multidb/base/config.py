"""The multi-database configuration, read from Django settings when first needed.

Nothing here runs at import or at install(): ``current()`` builds the
configuration at the first database use, so install() may stand anywhere in
settings.py.  ``reload()`` forgets it (tests change settings between runs).
"""
import re
import sys
import threading

from django.core.exceptions import ImproperlyConfigured

from djpatch_multidb.base import threadstate, versions
from djpatch_multidb.base.compat import import_module
from djpatch_multidb.base.errors import ConnectionDoesNotExist

SHARD_PREFIX = 'shards:'
MAX_SHARDS = 1 << 30  # bound for shard numbers checked before a group is known

# The library's router as users name it in DATABASE_ROUTERS (Django 1.2+).
ROUTER_PATH = 'djpatch_multidb.router.MultiDBRouter'

ENGINE_ALIASES = {
    'mysql': 'django.db.backends.mysql',
    'sqlite3': 'django.db.backends.sqlite3',
    'postgresql_psycopg2': 'django.db.backends.postgresql_psycopg2',
    'postgresql': 'django.db.backends.postgresql',
    'oracle': 'django.db.backends.oracle',
    'dummy': 'django.db.backends.dummy',
}

ACCEPTED_KEYS = ('ENGINE', 'NAME', 'USER', 'PASSWORD', 'HOST', 'PORT',
                 'OPTIONS', 'TEST_NAME', 'TEST_MIRROR', 'TEST_CHARSET',
                 'TEST_COLLATION', 'TEST', 'TIME_ZONE')

LEGACY_KEYS = (('ENGINE', 'DATABASE_ENGINE'), ('NAME', 'DATABASE_NAME'),
               ('USER', 'DATABASE_USER'), ('PASSWORD', 'DATABASE_PASSWORD'),
               ('HOST', 'DATABASE_HOST'), ('PORT', 'DATABASE_PORT'),
               ('OPTIONS', 'DATABASE_OPTIONS'), ('TEST_NAME', 'TEST_DATABASE_NAME'))

_lock = threading.RLock()
_current = None
generation = [0]  # bumped by reload(); connections built before are dropped


def current():
    """The configuration in force, built from settings on first use.  Its
    MULTIDB_MODELS labels are checked against the installed models at the
    first use after the models are loaded (until then, at every use)."""
    config = _current
    if config is None:
        config = _build()
    if config.labels_unchecked:
        config.check_model_labels()
    return config


def reload():
    """Forget the configuration; the next database use reads settings again."""
    global _current
    _lock.acquire()
    try:
        _current = None
        generation[0] += 1
        proxy = sys.modules.get('djpatch_multidb.routing.proxy')
        if proxy is not None:
            proxy.forget_shared()    # backend objects kept by django.db.connection
    finally:
        _lock.release()


def _build():
    global _current
    _lock.acquire()
    try:
        if _current is None:
            from django.conf import settings
            _current = Config(settings)
        return _current
    finally:
        _lock.release()


# Driver options that carry a password (MySQLdb's passwd, psycopg2's password).
OPTION_PASSWORDS = ('passwd', 'password')


def masked_options(options):
    """``options`` with any password replaced by '***'."""
    shown = dict(options or {})
    for key in OPTION_PASSWORDS:
        if shown.get(key):
            shown[key] = '***'
    return shown


class SafeSettingsDict(dict):
    """A DatabaseWrapper settings dict whose repr never shows the password."""
    password_key = 'DATABASE_PASSWORD'
    options_key = 'DATABASE_OPTIONS'

    def __repr__(self):
        shown = dict(self)
        if shown.get(self.password_key):
            shown[self.password_key] = '***'
        if shown.get(self.options_key):
            shown[self.options_key] = masked_options(shown[self.options_key])
        return repr(shown)
    __str__ = __repr__


class SafeDatabaseEntry(SafeSettingsDict):
    """A Django 1.2+ DATABASES entry (its wrappers keep the entry itself as
    settings_dict) whose repr never shows the password."""
    password_key = 'PASSWORD'
    options_key = 'OPTIONS'


class AliasSettings(object):
    """Django 1.0's _cursor(settings) argument for one alias.

    DATABASE_* attributes come from the alias; anything else from the real
    settings.
    """

    def __init__(self, alias, settings_dict):
        self.__dict__['alias'] = alias
        self.__dict__['_values'] = settings_dict

    def __getattr__(self, name):
        values = self.__dict__['_values']
        if name in values:
            return values[name]
        from django.conf import settings
        return getattr(settings, name)

    def __repr__(self):
        return '<AliasSettings %r>' % self.__dict__['alias']


class Database(object):
    """One alias of DATABASES, normalised."""

    def __init__(self, alias, entry, time_zone):
        self.alias = alias
        self.engine = entry['ENGINE']
        self.backend = backend_module_name(alias, entry['ENGINE'])
        self.vendor = self.backend.split('.')[-1]
        self.name = entry['NAME']
        self.user = entry.get('USER') or ''
        self.password = entry.get('PASSWORD') or ''
        self.host = entry.get('HOST') or ''
        self.port = entry.get('PORT') or ''
        self.options = dict(entry.get('OPTIONS') or {})
        test = entry.get('TEST') or {}
        self.test_name = entry.get('TEST_NAME') or test.get('NAME')
        self.test_mirror = entry.get('TEST_MIRROR') or test.get('MIRROR')
        self.settings_dict = SafeSettingsDict({
            'DATABASE_ENGINE': self.backend.split('.')[-1],
            'DATABASE_HOST': self.host,
            'DATABASE_NAME': self.name,
            'DATABASE_OPTIONS': self.options,
            'DATABASE_PASSWORD': self.password,
            'DATABASE_PORT': self.port and str(self.port) or '',
            'DATABASE_USER': self.user,
            'TIME_ZONE': time_zone,
        })

    def describe(self):
        """engine, host, port and name: what error messages may show."""
        where = self.host or 'localhost'
        if self.port:
            where = '%s:%s' % (where, self.port)
        if self.vendor == 'sqlite3':
            return 'sqlite3 file %s' % self.name
        return '%s on %s, database %s' % (self.vendor, where, self.name)

    def __repr__(self):
        return '<Database %r: %s>' % (self.alias, self.describe())


def backend_module_name(alias, engine):
    if not isinstance(engine, basestring_types()) or not engine:
        raise ImproperlyConfigured(
            "DATABASES[%r]['ENGINE'] is %r; use one of %s or a dotted path "
            "such as 'django.db.backends.mysql'."
            % (alias, engine, ', '.join([repr(e) for e in sorted(ENGINE_ALIASES)])))
    return ENGINE_ALIASES.get(engine, engine)


def basestring_types():
    try:
        return (basestring,)
    except NameError:  # Python 3
        return (str,)


class Config(object):
    """DATABASES, MULTIDB_SHARDS, MULTIDB_MODELS, MULTIDB_REPLICAS, DATABASE_ROUTERS."""

    def __init__(self, settings):
        time_zone = getattr(settings, 'TIME_ZONE', None)
        self.databases = {}
        for alias, entry in _databases_setting(settings).items():
            self.databases[alias] = Database(alias, entry, time_zone)
        self.aliases = tuple(sorted(self.databases))
        self.single_engine = len(set([d.backend for d in self.databases.values()])) == 1
        self.shards = _shards_setting(settings, self.databases)
        self.shard_keys = _shard_keys_setting(settings)
        self.models = _models_setting(settings, self.databases, self.shards)
        self.placed_labels = tuple(sorted(getattr(settings, 'MULTIDB_MODELS', None) or {}))
        self.labels_unchecked = bool(self.placed_labels)
        self.replicas = replicas_setting(settings, self.databases)
        self.replica_weights = _replica_weights_setting(settings, self.replicas)
        self.replica_balance = _replica_balance_setting(settings, self.replica_weights)
        _replica_connect_timeouts(settings, self.databases, self.replicas)
        self.router_paths = [r for r in getattr(settings, 'DATABASE_ROUTERS', None) or []
                             if r != ROUTER_PATH and type(r).__name__ != 'MultiDBRouter']
        self._routers = None
        self.route_cache = {}      # router.py: (model, db, adding, write) -> alias
        self.idle_routes = {}      # precedence.placed_once(): (model, write) -> alias
        self.keyed_groups = {}     # precedence.keyed_group(): model -> its group with a KEY, or None
        self._placements = {}
        self._nothing_away = {}
        # The hot path's questions, answered without a call (patched/orm.py):
        # unrouted holds the models routes_nothing_away() said yes to once the
        # MULTIDB_MODELS labels were checked; plain_building: querysets are
        # built as Django builds them (one engine, every model on 'default').
        self.unrouted = {}
        self.plain_building = self.single_engine and not self.models and \
            not self.labels_unchecked
        self._shard_aliases = {}
        self._primaries = {}
        for primary, names in self.replicas.items():
            for name in names:
                self._primaries[name] = primary

    # -- aliases -----------------------------------------------------------
    def check_alias(self, alias):
        if not isinstance(alias, basestring_types()) or alias not in self.databases:
            raise ConnectionDoesNotExist(alias, self.aliases)
        return alias

    # -- shards ------------------------------------------------------------
    def check_group(self, group):
        if group not in self.shards:
            raise ImproperlyConfigured(
                "Shard group %r is not in MULTIDB_SHARDS; the groups are %s."
                % (group, ', '.join([repr(g) for g in sorted(self.shards)]) or 'none'))
        return group

    def shard_alias(self, group, number):
        key = (group, type(number), number)
        try:
            return self._shard_aliases[key]
        except (KeyError, TypeError):
            pass
        aliases = self.shards[self.check_group(group)]
        check_shard_number(number, group, len(aliases))
        self._shard_aliases[key] = aliases[number]
        return aliases[number]

    def only_group(self, call):
        """The one shard group, for ``call`` (how the caller was written) that names none."""
        groups = sorted(self.shards)
        if len(groups) == 1:
            return groups[0]
        if not groups:
            raise ImproperlyConfigured(
                "%s needs MULTIDB_SHARDS, which defines no shard group." % call)
        raise ImproperlyConfigured(
            "%s names no group and MULTIDB_SHARDS has %d groups (%s): raw SQL through "
            "django.db.connection and keys cannot tell which one; write it with group=..."
            % (call, len(groups), ', '.join([repr(g) for g in groups])))

    # -- replicas ----------------------------------------------------------
    def primary_for(self, alias):
        return self._primaries.get(alias, alias)

    def routes_nothing_away(self, model):
        """Whether ``model`` goes to 'default' unless a context says otherwise:
        no placement, no router, no replica of 'default' to read from."""
        try:
            answer = self._nothing_away[model]
        except KeyError:
            answer = self._nothing_away[model] = (
                self.placement(model) is None and not self.router_paths
                and not self.replicas.get('default'))
        if answer and not self.labels_unchecked:
            self.unrouted[model] = True
        return answer

    # -- model placement ---------------------------------------------------
    def check_model_labels(self):
        """Raise ImproperlyConfigured if a MULTIDB_MODELS label names neither an
        installed model nor an app, naming the closest ones: its models would
        silently stay on 'default'.  Does nothing while the models are not
        loaded (asked again at the next use)."""
        if getattr(_checking, 'config_busy', False):
            return      # a database use while this thread loads the models
        _checking.config_busy = True
        try:
            known = installed_labels()
        finally:
            _checking.config_busy = False
        if known is None:
            return
        unknown = [label for label in self.placed_labels if label.lower() not in known]
        if unknown:
            raise ImproperlyConfigured(unknown_labels_message(unknown, known))
        self.labels_unchecked = False

    def placement(self, model):
        """('alias', name), ('shards', group) or None for a model class."""
        try:
            return self._placements[model]
        except KeyError:
            pass
        concrete = model
        while True:
            meta = concrete._meta
            if getattr(meta, 'proxy_for_model', None) is not None:
                concrete = meta.proxy_for_model  # proxy and deferred (only()) classes
            elif getattr(meta, 'auto_created', False) not in (False, True, None):
                concrete = meta.auto_created     # a many-to-many table lives with its model
            else:
                break
        meta = concrete._meta
        label = ('%s.%s' % (meta.app_label, meta.object_name)).lower()
        place = self.models.get(label)
        if place is None:
            place = self.models.get(meta.app_label.lower())
        self._placements[model] = place
        return place

    @property
    def routers(self):
        if self._routers is None:
            routers = []
            for entry in self.router_paths:
                if isinstance(entry, basestring_types()):
                    routers.append(import_object(entry, 'DATABASE_ROUTERS')())
                else:
                    routers.append(entry)
            self._routers = routers
        return self._routers


_checking = threadstate.local   # config_busy: check_model_labels() is loading the models in this thread


def installed_labels():
    """{'app_label.modelname' and 'app_label', lower case: the label as Django
    spells it} for the models and apps Django knows, or None while the
    models are not loaded yet.  Django 1.0 to 1.6: the models the labels name
    may be imported later than the installed apps' (a model defined in a test
    module), so the answer waits for a question asked outside any import,
    which loads the installed apps' models, as Django's own first query with
    a filter does."""
    if versions.is_native() and versions.feature('app_registry') == 'apps':
        from django.apps import apps
        if not apps.models_ready:
            return None
        models = [m for app in list(apps.all_models.values()) for m in list(app.values())]
        app_labels = [app.label for app in apps.get_app_configs()]
    else:
        if _importing():
            return None     # a models module may be half run: the next use checks
        from django.db.models.loading import cache
        if not cache.app_cache_ready():
            cache.get_apps()
            if not cache.app_cache_ready():
                return None
        models = [m for app in list(cache.app_models.values()) for m in list(app.values())]
        app_labels = [app.__name__.split('.')[-2] for app in cache.get_apps()]
    known = {}
    for model in models:
        meta = model._meta
        if getattr(meta, 'auto_created', False) or getattr(model, '_deferred', False):
            continue    # a many-to-many table or an only() class: it lives with its model
        label = '%s.%s' % (meta.app_label, meta.object_name)
        known[label.lower()] = label
        known.setdefault(meta.app_label.lower(), meta.app_label)
    for label in app_labels:
        known.setdefault(label.lower(), label)
    return known


def _importing():
    """Whether an import is under way (Django 1.0 to 1.6 run on Python 2, whose
    import lock says so); True when it cannot be told."""
    try:
        import imp
        return imp.lock_held()
    except (ImportError, AttributeError):
        return True


def unknown_labels_message(unknown, known):
    """What ImproperlyConfigured says for MULTIDB_MODELS labels in ``unknown``."""
    import difflib
    parts = []
    for label in unknown:
        close = difflib.get_close_matches(label.lower(), list(known), 1)
        if close:
            parts.append('%r (the closest is %r)' % (label, known[close[0]]))
        else:
            parts.append('%r (nothing installed is close)' % (label,))
    apps = sorted([name for key, name in known.items() if '.' not in key])
    return ("MULTIDB_MODELS names %s, which %s no installed model or app: its rows would "
            "go to 'default'. A label is 'app_label.ModelName' or 'app_label'; the installed "
            "apps are %s." % (' and '.join(parts), len(unknown) > 1 and 'are' or 'is',
                              ', '.join([repr(a) for a in apps]) or 'none'))


def check_shard_number(number, group, count):
    if isinstance(number, bool) or not isinstance(number, int_types()):
        raise ImproperlyConfigured(
            "Shard number %r for group %r is not an integer; use 0 to %d."
            % (number, group, count - 1))
    if number < 0 or number >= count:
        raise ImproperlyConfigured(
            "Shard number %r is out of range for group %r, which has %d shards: use 0 to %d."
            % (number, group, count, count - 1))


def int_types():
    try:
        return (int, long)
    except NameError:  # Python 3
        return (int,)


def import_object(path, setting):
    try:
        module_name, name = path.rsplit('.', 1)
        return getattr(import_module(module_name), name)
    except (ValueError, ImportError, AttributeError):
        e = sys.exc_info()[1]
        raise ImproperlyConfigured("%s names %r, which cannot be imported: %s" % (setting, path, e))


def legacy_databases(settings):
    """{'default': ...} from Django 1.0's DATABASE_* settings."""
    entry = {}
    for key, legacy in LEGACY_KEYS:
        entry[key] = getattr(settings, legacy, '')
    entry['ENGINE'] = entry['ENGINE'] or 'dummy'
    if entry['ENGINE'] == 'dummy' and not entry['NAME']:
        entry['NAME'] = 'dummy'
    return {'default': entry}


# Django 1.0/1.1's own names for the one database, which code of that time
# (South, Django itself) reads from settings.
LEGACY_NAMES = ('DATABASE_ENGINE', 'DATABASE_NAME', 'DATABASE_USER', 'DATABASE_PASSWORD',
                'DATABASE_HOST', 'DATABASE_PORT', 'DATABASE_OPTIONS', 'TEST_DATABASE_NAME',
                'TEST_DATABASE_CHARSET', 'TEST_DATABASE_COLLATION')


def legacy_values(entry):
    """The DATABASE_* and TEST_DATABASE_* values of a DATABASES entry, as
    Django 1.0/1.1 spell them (the password too: Django connects with it)."""
    test = entry.get('TEST') or {}
    engine = backend_module_name('default', entry.get('ENGINE'))
    if engine.startswith('django.db.backends.'):
        engine = engine[len('django.db.backends.'):]
    return {
        'DATABASE_ENGINE': engine,
        'DATABASE_NAME': entry.get('NAME') or '',
        'DATABASE_USER': entry.get('USER') or '',
        'DATABASE_PASSWORD': entry.get('PASSWORD') or '',
        'DATABASE_HOST': entry.get('HOST') or '',
        'DATABASE_PORT': entry.get('PORT') and str(entry['PORT']) or '',
        'DATABASE_OPTIONS': entry.get('OPTIONS') or {},
        'TEST_DATABASE_NAME': entry.get('TEST_NAME') or test.get('NAME'),
        'TEST_DATABASE_CHARSET': entry.get('TEST_CHARSET') or test.get('CHARSET'),
        'TEST_DATABASE_COLLATION': entry.get('TEST_COLLATION') or test.get('COLLATION'),
    }


_UNSET = object()


def _legacy_unset(name, value):
    """Whether ``value`` of ``name`` is Django's default ('dummy' is what
    django.db writes into an empty DATABASE_ENGINE)."""
    return (value is _UNSET or value in (None, '', {})
            or (name == 'DATABASE_ENGINE' and value == 'dummy'))


def _own_setting(holder, name):
    """``name`` as the settings object ``holder`` has it, without LegacySetting:
    its own value, else (settings.configure()) its default settings' value."""
    if name in holder.__dict__:
        return holder.__dict__[name]
    defaults = holder.__dict__.get('default_settings')
    if defaults is not None:
        return getattr(defaults, name, _UNSET)
    return _UNSET


class LegacySetting(object):
    """One of LEGACY_NAMES on the classes of Django 1.0/1.1's settings objects
    (a data descriptor, so it is asked before the object's own value): where
    the settings define DATABASES and not DATABASE_ENGINE, a name left at
    Django's default reads as DATABASES['default'] says, now; a value set
    since (the test runner's DATABASE_NAME) reads as set.  Settings with
    DATABASE_ENGINE of their own read as they are."""

    def __init__(self, name):
        self.name = name

    def __get__(self, holder, owner=None):
        if holder is None:
            return self
        value = _own_setting(holder, self.name)
        if _legacy_unset(self.name, value):
            entry = _default_entry(holder)
            if entry is not None:
                try:
                    return legacy_values(entry)[self.name]
                except ImproperlyConfigured:
                    pass    # the first database use says what is wrong with DATABASES
        if value is _UNSET:
            raise AttributeError(self.name)
        return value

    def __set__(self, holder, value):
        holder.__dict__[self.name] = value

    def __delete__(self, holder):
        del holder.__dict__[self.name]


def _default_entry(holder):
    """DATABASES['default'] of settings that do not set DATABASE_ENGINE, or None."""
    if not _legacy_unset('DATABASE_ENGINE', _own_setting(holder, 'DATABASE_ENGINE')):
        return None
    databases = _own_setting(holder, 'DATABASES')
    entry = isinstance(databases, dict) and databases.get('default') or None
    if isinstance(entry, dict) and entry.get('ENGINE'):
        return entry
    return None


def legacy_setting(name):
    """The registry's factory for LEGACY_NAMES[name] (nothing to keep of the original)."""
    return lambda original: LegacySetting(name)


def _databases_setting(settings):
    databases = getattr(settings, 'DATABASES', None)
    if databases is None:
        return legacy_databases(settings)
    return check_databases(databases, strict=not versions.is_native())


def check_databases(databases, strict=True):
    """Raise ImproperlyConfigured for a DATABASES setting that cannot work.
    ``strict``: only the keys Django 1.0/1.1 entries may have (Django 1.2 and
    later add keys of their own, which they check themselves)."""
    if not isinstance(databases, dict):
        raise ImproperlyConfigured(
            "DATABASES must be a dict of alias -> settings, not %s." % type(databases).__name__)
    if 'default' not in databases:
        raise ImproperlyConfigured(
            "DATABASES must define 'default'; it defines %s."
            % (', '.join([repr(a) for a in sorted(databases)]) or 'no alias'))
    for alias, entry in databases.items():
        if not isinstance(alias, basestring_types()):
            raise ImproperlyConfigured("DATABASES alias %r is not a string." % (alias,))
        if not isinstance(entry, dict):
            raise ImproperlyConfigured(
                "DATABASES[%r] must be a dict, not %s." % (alias, type(entry).__name__))
        unknown = sorted([k for k in entry if k not in ACCEPTED_KEYS])
        if unknown and strict:
            raise ImproperlyConfigured(
                "DATABASES[%r] has unknown key(s) %s; accepted keys are %s."
                % (alias, ', '.join([repr(k) for k in unknown]), ', '.join(ACCEPTED_KEYS)))
        for key in ('ENGINE', 'NAME'):
            if not entry.get(key) and not (key == 'NAME' and 'dummy' in str(entry.get('ENGINE'))):
                raise ImproperlyConfigured(
                    "DATABASES[%r] is missing %r, which every alias needs." % (alias, key))
        backend_module_name(alias, entry['ENGINE'])
    return databases


def _shards_setting(settings, databases):
    raw = getattr(settings, 'MULTIDB_SHARDS', None) or {}
    if not isinstance(raw, dict):
        raise ImproperlyConfigured("MULTIDB_SHARDS must be a dict of group -> list of aliases.")
    shards = {}
    for group, aliases in raw.items():
        if isinstance(aliases, dict):
            aliases = aliases.get('SHARDS')
        if not isinstance(aliases, (list, tuple)) or not aliases:
            raise ImproperlyConfigured(
                "MULTIDB_SHARDS[%r] must be a non-empty list of aliases, not %r." % (group, aliases))
        for alias in aliases:
            if alias not in databases:
                raise ImproperlyConfigured(
                    "MULTIDB_SHARDS[%r] names %r, which is not in DATABASES (%s)."
                    % (group, alias, ', '.join([repr(a) for a in sorted(databases)])))
        shards[group] = tuple(aliases)
    return shards


DEFAULT_SHARD_KEY = 'mod'


def _shard_keys_setting(settings):
    """group -> its key function: the KEY a MULTIDB_SHARDS entry names (dict
    form), else 'mod', for every group, so that a new row of any group goes
    to the shard of its key."""
    raw = getattr(settings, 'MULTIDB_SHARDS', None) or {}
    keys = {}
    for group, entry in raw.items():
        if isinstance(entry, dict) and entry.get('KEY'):
            keys[group] = entry['KEY']
        else:
            keys[group] = DEFAULT_SHARD_KEY
    return keys


def _models_setting(settings, databases, shards):
    raw = getattr(settings, 'MULTIDB_MODELS', None) or {}
    if not isinstance(raw, dict):
        raise ImproperlyConfigured(
            "MULTIDB_MODELS must be a dict of 'app_label.ModelName' or 'app_label' -> alias.")
    models = {}
    for label, target in raw.items():
        if not isinstance(label, basestring_types()):
            raise ImproperlyConfigured(
                "MULTIDB_MODELS has the key %r; a key is 'app_label.ModelName' or "
                "'app_label', a string." % (label,))
        if not isinstance(target, basestring_types()):
            raise ImproperlyConfigured(
                "MULTIDB_MODELS[%r] is %r; use an alias or 'shards:<group>'." % (label, target))
        if target.startswith(SHARD_PREFIX):
            group = target[len(SHARD_PREFIX):]
            if group not in shards:
                raise ImproperlyConfigured(
                    "MULTIDB_MODELS[%r] is %r: shard group %r is not in MULTIDB_SHARDS.%s"
                    % (label, target, group, _target_hint(target, group, databases, shards)))
            models[label.lower()] = ('shards', group)
        else:
            if target not in databases:
                raise ImproperlyConfigured(
                    "MULTIDB_MODELS[%r] names %r, which is not in DATABASES (%s).%s"
                    % (label, target, _names(databases),
                       _target_hint(target, None, databases, shards)))
            models[label.lower()] = ('alias', target)
    return models


# 'shard:users', 'Shards:users', 'shards users', 'shards_users': the prefix and the rest
_LIKE_SHARDS = re.compile(r'^\s*shards?(?P<separator>[\s:;=/.,_-]*)(?P<rest>.*)$', re.I)


def _names(names):
    return ', '.join([repr(n) for n in sorted(names)]) or 'none'


def _target_hint(target, group, databases, shards):
    """A hint for a MULTIDB_MODELS value that is neither an alias nor
    'shards:<group>' with a known group: the spelling it most likely meant."""
    import difflib
    if group is None:
        like = _LIKE_SHARDS.match(target)
        if like is not None and (like.group('separator') or like.group('rest').strip() in shards):
            group = like.group('rest')          # a misspelt 'shards:' prefix
        elif target.strip().lower() in [g.lower() for g in shards]:
            group = target                      # a group named without the prefix
    if group is None:
        close = difflib.get_close_matches(target, list(databases), 1)
        return close and ' Did you mean %r?' % close[0] or ''
    if not shards:
        return (" A sharded model is placed with 'shards:<group>', a group MULTIDB_SHARDS "
                "defines; it defines none. Otherwise name one alias of DATABASES (%s)."
                % _names(databases))
    wanted = group.strip()
    by_lower = dict([(g.lower(), g) for g in shards])
    if wanted.lower() in by_lower:
        meant = by_lower[wanted.lower()]
    else:
        close = difflib.get_close_matches(wanted.lower(), list(by_lower), 1)
        meant = close and by_lower[close[0]] or None
    hint = " A sharded model is placed with 'shards:<group>' (lower case, a colon, no spaces)"
    if meant is not None:
        hint += ": did you mean %r?" % (SHARD_PREFIX + meant)
    else:
        hint += '.'
    return hint + ' The shard groups are %s; the aliases are %s.' % (_names(shards), _names(databases))


def replicas_setting(settings, databases):
    raw = getattr(settings, 'MULTIDB_REPLICAS', None) or {}
    if not isinstance(raw, dict):
        raise ImproperlyConfigured("MULTIDB_REPLICAS must be a dict of primary alias -> list of replicas.")
    replicas = {}
    for primary, entries in raw.items():
        if primary not in databases:
            raise ImproperlyConfigured(
                "MULTIDB_REPLICAS names primary %r, which is not in DATABASES." % (primary,))
        if isinstance(entries, basestring_types()):
            entries = [entries]
        names = []
        for entry in entries:
            name = isinstance(entry, (list, tuple)) and entry[0] or entry
            if isinstance(entry, (list, tuple)):
                _replica_weight(primary, entry)
            if name not in databases:
                raise ImproperlyConfigured(
                    "MULTIDB_REPLICAS[%r] names %r, which is not in DATABASES." % (primary, name))
            if name == primary:
                raise ImproperlyConfigured(
                    "MULTIDB_REPLICAS[%r] names %r as its own replica." % (primary, name))
            names.append(name)
        replicas[primary] = tuple(names)
    for primary, names in replicas.items():
        for name in names:
            if name in replicas:
                raise ImproperlyConfigured(
                    "MULTIDB_REPLICAS[%r] names %r, which is itself a primary with replicas: "
                    "chains and cycles of replicas are not accepted." % (primary, name))
    return replicas


def _replica_weight(primary, entry):
    """The weight of an (alias, weight) entry of MULTIDB_REPLICAS[primary]."""
    if len(entry) != 2:
        raise ImproperlyConfigured(
            "MULTIDB_REPLICAS[%r] has %r; a replica is an alias or an (alias, weight) pair."
            % (primary, entry))
    weight = entry[1]
    if isinstance(weight, bool) or not isinstance(weight, int_types() + (float,)) or weight < 0:
        raise ImproperlyConfigured(
            "MULTIDB_REPLICAS[%r] gives %r the weight %r; a weight is a number >= 0."
            % (primary, entry[0], weight))
    return weight


def _replica_weights_setting(settings, replicas):
    """primary -> the weights of its replicas, in the order of Config.replicas,
    for the primaries whose entries give at least one weight (others weigh 1)."""
    raw = getattr(settings, 'MULTIDB_REPLICAS', None) or {}
    weights = {}
    for primary in replicas:
        entries = raw[primary]
        if isinstance(entries, basestring_types()):
            continue
        given, explicit = [], False
        for entry in entries:
            if isinstance(entry, (list, tuple)):
                given.append(_replica_weight(primary, entry))
                explicit = True
            else:
                given.append(1)
        if explicit:
            weights[primary] = tuple(given)
    return weights


BALANCE_MODES = ('round_robin', 'weighted')


def _replica_balance_setting(settings, weights):
    """MULTIDB_REPLICA_BALANCE, or None: weighted where weights are given,
    round robin elsewhere."""
    mode = getattr(settings, 'MULTIDB_REPLICA_BALANCE', None)
    if mode is not None and mode not in BALANCE_MODES:
        raise ImproperlyConfigured(
            "MULTIDB_REPLICA_BALANCE is %r; use %s (or leave it out)."
            % (mode, ' or '.join([repr(m) for m in BALANCE_MODES])))
    return mode


DEFAULT_REPLICA_CONNECT_TIMEOUT = 2


def _replica_connect_timeouts(settings, databases, replicas):
    """MySQL replicas get OPTIONS['connect_timeout'] (MULTIDB_REPLICA_CONNECT_TIMEOUT,
    default 2 s) unless their OPTIONS set one: a replica that does not answer
    costs seconds, not minutes."""
    timeout = replica_connect_timeout(settings)
    if not timeout:
        return
    for names in replicas.values():
        for name in names:
            db = databases[name]
            if db.vendor == 'mysql' and 'connect_timeout' not in db.options:
                db.options['connect_timeout'] = int(timeout)


def replica_connect_timeout(settings):
    timeout = getattr(settings, 'MULTIDB_REPLICA_CONNECT_TIMEOUT', None)
    if timeout is None:
        timeout = DEFAULT_REPLICA_CONNECT_TIMEOUT
    return timeout


def with_settings(values, func, *args, **kwargs):
    """``func(*args, **kwargs)`` with the settings ``values`` (name -> value)
    in force; afterwards each setting is what it was (or unset) again.  For
    Django 1.0/1.1 code that reads settings instead of its connection."""
    from django.conf import settings
    holder = getattr(settings, '_wrapped', settings)
    saved = dict([(name, holder.__dict__[name]) for name in values if name in holder.__dict__])
    try:
        for name, value in values.items():
            setattr(holder, name, value)
        return func(*args, **kwargs)
    finally:
        for name in values:
            if name in saved:
                setattr(holder, name, saved[name])
            else:
                holder.__dict__.pop(name, None)
