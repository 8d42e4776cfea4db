"""manage.py multidb_export_settings: the MULTIDB_* settings as Django's own.

``settings_text()`` is a settings.py fragment (DATABASES with dotted ENGINE
paths and TEST MIRROR for replicas, DATABASE_ROUTERS), ``router_text()`` a
router module that needs nothing of this library: MULTIDB_MODELS, the shard
groups with their 'mod' or 'crc32' keys, and replicas, as data.  What a router
cannot know (the shard a with-block chose, ``readonly()``) becomes
``.using(alias)`` in the application.  Passwords are never printed.
"""
import pprint

from djpatch_multidb.base import config
from djpatch_multidb.base.config import ROUTER_PATH

HIDDEN = 'PASSWORD-NOT-EXPORTED'


def databases(cfg):
    """The DATABASES entries, for Django 1.2 and later."""
    replica_of = {}
    for primary, names in cfg.replicas.items():
        for name in names:
            replica_of[name] = primary
    exported = {}
    for alias, db in cfg.databases.items():
        entry = {'ENGINE': db.backend, 'NAME': db.name}
        options = dict(db.options)
        for key in config.OPTION_PASSWORDS:
            if options.get(key):
                options[key] = HIDDEN
        for key, value in (('USER', db.user), ('HOST', db.host), ('PORT', db.port),
                           ('OPTIONS', options)):
            if value:
                entry[key] = value
        if db.password:
            entry['PASSWORD'] = HIDDEN
        test = {}
        if db.test_name:
            test['NAME'] = db.test_name
        mirror = db.test_mirror or replica_of.get(alias)
        if mirror:
            test['MIRROR'] = mirror
        if test:
            entry['TEST'] = test
            for key, value in test.items():   # Django 1.2 to 1.8 read TEST_NAME, TEST_MIRROR
                entry['TEST_' + key] = value
        exported[alias] = entry
    return exported


def settings_text(cfg=None, module='multidb_router'):
    cfg = cfg or config.current()
    exported = databases(cfg)
    routers = ['%s.PlacementRouter' % module] + [
        r for r in cfg.router_paths if isinstance(r, str) and r != ROUTER_PATH]
    lines = ['# settings.py: the MULTIDB_* settings as Django 1.2+ settings.',
             '# Made by manage.py multidb_export_settings.  Passwords are not exported:']
    hidden = sorted([a for a, e in exported.items() if e.get('PASSWORD')])
    if hidden:
        lines.append('# put them back for %s.' % ', '.join(hidden))
    else:
        lines.append('# no alias has one.')
    lines.append("# Replicas get TEST['MIRROR'] and TEST_MIRROR, the spelling of Django 1.2 to 1.8.")
    lines.append('DATABASES = ' + pprint.pformat(exported))
    lines.append('DATABASE_ROUTERS = ' + pprint.pformat(routers))
    return '\n'.join(lines) + '\n'


def router_text(cfg=None):
    cfg = cfg or config.current()
    models = {}
    for label, (kind, target) in cfg.models.items():
        models[label] = kind == 'shards' and config.SHARD_PREFIX + target or target
    shards = dict([(g, list(a)) for g, a in cfg.shards.items()])
    keys = {}
    for group in cfg.shards:
        key = cfg.shard_keys.get(group) or 'mod'
        keys[group] = key
    replicas = dict([(p, list(r)) for p, r in cfg.replicas.items()])
    from django.conf import settings
    read_from_replicas = bool(getattr(settings, 'MULTIDB_READ_FROM_REPLICAS', False))
    return ROUTER_TEMPLATE % {
        'models': pprint.pformat(models), 'shards': pprint.pformat(shards),
        'keys': pprint.pformat(keys), 'replicas': pprint.pformat(replicas),
        'read_from_replicas': read_from_replicas}


ROUTER_TEMPLATE = '''"""A Django (1.2 and later) router for the placement djpatch_multidb's
MULTIDB_* settings described.  Made by manage.py multidb_export_settings; it
needs nothing of djpatch_multidb.

Sharded models go to the shard their instance's shard key maps to (saves and
deletes of an instance, relations followed from one); a query of a sharded
model names its shard itself: Model.objects.using('shard2').  Reads of a
primary with replicas go to a random replica when READ_FROM_REPLICAS is True.
A key function other than 'mod' and 'crc32' is imported by its dotted path.
ShardedIdField, all_shards() and the with-blocks belong to djpatch_multidb:
a project that uses them keeps the library (its router does this one's work).
"""
import random
import zlib

MODELS = %(models)s
SHARDS = %(shards)s
SHARD_KEYS = %(keys)s
REPLICAS = %(replicas)s
READ_FROM_REPLICAS = %(read_from_replicas)r


def mod(key, count):
    return key %% count


def crc32(key, count):
    text = key if isinstance(key, (bytes, type(u''))) else str(key)
    if not isinstance(text, bytes):
        text = text.encode('utf-8')
    return (zlib.crc32(text) & 0xffffffff) %% count


def key_function(group):
    name = SHARD_KEYS.get(group, 'mod')
    if name in ('mod', 'crc32'):
        return globals()[name]
    module, attr = name.rsplit('.', 1)
    return getattr(__import__(module, {}, {}, [attr]), attr)


def place(model):
    """The alias or ('shards', group) of a model, or None (Django's default).
    Proxy models and many-to-many tables live with their model."""
    while True:
        if getattr(model._meta, 'proxy_for_model', None) is not None:
            model = model._meta.proxy_for_model
        elif getattr(model._meta, 'auto_created', False) not in (False, True, None):
            model = model._meta.auto_created
        else:
            break
    meta = model._meta
    target = MODELS.get(('%%s.%%s' %% (meta.app_label, meta.object_name)).lower())
    if target is None:
        target = MODELS.get(meta.app_label.lower())
    if target is not None and target.startswith('shards:'):
        return ('shards', target[len('shards:'):])
    return target


def shard_of(model, group, instance):
    name = getattr(model, 'shard_key', None)
    field = model._meta.pk
    for candidate in model._meta.fields:
        if name in (candidate.name, candidate.attname):
            field = candidate
    key = getattr(instance, field.attname)
    if key is None:
        return None
    return SHARDS[group][key_function(group)(key, len(SHARDS[group]))]


def primary_of(alias):
    for primary, names in REPLICAS.items():
        if alias in names:
            return primary
    return alias


class PlacementRouter(object):

    def _alias(self, model, hints):
        instance = hints.get('instance')
        where = place(model)
        if isinstance(where, tuple):
            if instance is not None and isinstance(instance, model):
                return shard_of(model, where[1], instance)
            db = instance is not None and instance._state.db or None
            if db is not None and primary_of(db) in SHARDS[where[1]] and place(type(instance)) == where:
                return primary_of(db)
            return None
        return where

    def db_for_read(self, model, **hints):
        alias = self._alias(model, hints) or 'default'
        if READ_FROM_REPLICAS and REPLICAS.get(alias):
            return random.choice(REPLICAS[alias])
        return alias

    def db_for_write(self, model, **hints):
        return self._alias(model, hints)

    def allow_relation(self, obj1, obj2, **hints):
        if place(type(obj1)) != place(type(obj2)):
            return True
        if obj1._state.db is None or obj2._state.db is None:
            return None
        return primary_of(obj1._state.db) == primary_of(obj2._state.db)

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        model = hints.get('model')
        if hasattr(app_label, '_meta'):    # Django 1.7: (db, model)
            model = app_label
        if model is None:
            return None
        return self.allow_syncdb(db, model)

    def allow_syncdb(self, db, model):
        db = primary_of(db)
        where = place(model)
        if where is None:
            return db == 'default'
        if isinstance(where, tuple):
            return db in SHARDS[where[1]]
        return db == where
'''
