"""Django 1.2 and later: multiple databases are Django's own.

install() patches nothing in the ORM there.  It settles the settings once,
before Django reads them (``settle()``): DATABASES from the legacy
DATABASE_* settings when there is none, ENGINE short names as dotted paths,
TEST_MIRROR and TEST['MIRROR'] both, a connect timeout for MySQL replicas,
and djpatch_multidb's router first in DATABASE_ROUTERS.  The selector,
MULTIDB_MODELS, shard keys and replicas then reach Django through that
router (router.py).  ``connections`` here is a thin view of django.db.connections.

When: install() usually runs inside settings.py, while Django is loading it
(under django.setup() for a WSGI application or a script, from 1.7), when
nothing may be read yet.  So settle() runs where Django first builds what
reads those settings: ConnectionHandler() on Django 1.2 to 1.6, its
DATABASES and ConnectionRouter.routers from 1.7 (and django.setup() when
install() came before it).
"""
import sys
import threading

from djpatch_multidb.base import config, patcher, versions
from djpatch_multidb.base.config import ROUTER_PATH
from djpatch_multidb.native.router import MultiDBRouter
from djpatch_multidb.routing import replicas

_lock = threading.RLock()
_settled = [False]
_settling = []     # the thread settling now: what it reads may ask for settle() again


def settle():
    """Normalise DATABASES and put the router first in DATABASE_ROUTERS (once).

    Does nothing while the settings module is still being imported (install()
    at the top of settings.py): its settings are not all defined yet.  Every
    later path that builds connections or routers calls it again."""
    me = threading.current_thread()
    if _settled[0] or me in _settling or settings_loading():
        return
    _lock.acquire()
    try:
        if _settled[0]:
            return
        _settling.append(me)
        try:
            from django.conf import settings
            settings.DATABASES = databases_from(settings)
            routers = list(getattr(settings, 'DATABASE_ROUTERS', None) or [])
            if ROUTER_PATH not in routers:
                settings.DATABASE_ROUTERS = [ROUTER_PATH] + routers
            _add_to_live_router()
            _settled[0] = True
        finally:
            _settling.pop()
    finally:
        _lock.release()
    # Records that waited for the settings (signal receivers) apply now.
    patcher.tick()


def settle_if_ready():
    """settle() now if Django has its settings (install() after start-up)."""
    from django.conf import settings
    if settings.configured and 'django.db' in sys.modules:
        settle()


def settings_loading():
    """Whether the settings module is being imported right now, that is, whether
    install() is running inside settings.py: DJANGO_SETTINGS_MODULE is imported
    (or importing) but Django has not taken its settings from it yet.  Until
    then nothing may read a setting: Django would import the half-run module
    a second time and keep what it defines so far."""
    import os
    name = os.environ.get('DJANGO_SETTINGS_MODULE')
    if not name or name not in sys.modules:
        return False
    conf = sys.modules.get('django.conf')
    return conf is not None and not conf.settings.configured


def settings_loaded():
    """The opposite of settings_loading(): a record that reads settings when
    applied (Signal.connect reads DEBUG on Django 1.2 to 1.6) waits for this."""
    return not settings_loading()


def unsettle():
    """uninstall(): take the router out again (the normalised DATABASES stay)."""
    from django.conf import settings
    if settings.configured:
        routers = list(getattr(settings, 'DATABASE_ROUTERS', None) or [])
        if ROUTER_PATH in routers:
            routers.remove(ROUTER_PATH)
            settings.DATABASE_ROUTERS = routers
    router = _live_router()
    if router is not None:
        live = router.__dict__['routers']
        live[:] = [r for r in live if not isinstance(r, MultiDBRouter)]
    _settled[0] = False


def _live_router():
    """django.db.router, if it has built its list of routers already."""
    db = sys.modules.get('django.db')
    router = db is not None and getattr(db, 'router', None) or None
    if router is None or 'routers' not in router.__dict__:
        return None
    return router


def _add_to_live_router():
    router = _live_router()
    if router is None:
        return
    live = router.__dict__['routers']
    if not [r for r in live if isinstance(r, MultiDBRouter)]:
        live.insert(0, MultiDBRouter())


def databases_from(settings):
    """DATABASES as this Django wants it, from DATABASES or DATABASE_*."""
    raw = getattr(settings, 'DATABASES', None)
    if not raw:
        raw = config.legacy_databases(settings)
    config.check_databases(raw, strict=False)
    style = versions.feature('test_settings')
    timeout = config.replica_connect_timeout(settings)
    replicas = set()
    for names in config.replicas_setting(settings, raw).values():
        replicas.update(names)
    for alias, entry in raw.items():
        entry['ENGINE'] = config.backend_module_name(alias, entry['ENGINE'])
        test = dict(entry.get('TEST') or {})
        for key in ('NAME', 'MIRROR', 'CHARSET', 'COLLATION'):
            flat = 'TEST_' + key
            if entry.get(flat) and not test.get(key):
                test[key] = entry[flat]
            if style != 'dict' and test.get(key) and not entry.get(flat):
                entry[flat] = test[key]
            if style == 'dict':
                entry.pop(flat, None)
        if test and style != 'flat':
            entry['TEST'] = test
        elif style == 'flat':
            entry.pop('TEST', None)
        if (timeout and alias in replicas and 'mysql' in entry['ENGINE']
                and 'connect_timeout' not in (entry.get('OPTIONS') or {})):
            entry['OPTIONS'] = dict(entry.get('OPTIONS') or {}, connect_timeout=int(timeout))
        if not isinstance(entry, config.SafeDatabaseEntry):
            raw[alias] = config.SafeDatabaseEntry(entry)
    return raw


# -- patches: when to settle --------------------------------------------------

def make_handler_init(original):
    """Django 1.2 to 1.6 build ConnectionHandler(settings.DATABASES) when
    django.db is imported: settle first, and hand it the settled dict."""
    def __init__(self, databases=None, *args, **kwargs):
        settle()
        from django.conf import settings
        return original(self, settings.DATABASES, *args, **kwargs)
    return __init__


def make_setup(original):
    """Django 1.7 and later: django.setup() comes before any database use
    when install() ran before it (a script that configures settings itself)."""
    def setup(*args, **kwargs):
        settle()
        return original(*args, **kwargs)
    return setup


class SettleFirst(object):
    """In place of a ConnectionHandler or ConnectionRouter attribute that reads
    DATABASES or DATABASE_ROUTERS (Django's cached_property, or a method):
    settle() first.  From Django 1.7 connections and routers are built lazily,
    at the first database use; that is where install() run from settings.py
    (inside django.setup(), too late for the patch of setup()) settles them.
    Once a cached_property has its value, Django never comes back here."""

    def __init__(self, original):
        self.original = original

    def __get__(self, instance, owner=None):
        if instance is None:
            return self.original.__get__(None, owner)
        settle()
        return self.original.__get__(instance, owner)


def make_settle_first(original):
    return SettleFirst(original)


def forget_thread_replicas(**kwargs):
    """request_started / request_finished: the thread's pins and replica choices go."""
    replicas.clear_thread()
