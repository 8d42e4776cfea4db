"""Globally unique ids for sharded models, from a ticket table.

Auto-increment per shard hands out the same ids on every shard.  A
``ShardedIdField`` takes each new id from a ticket table on one alias
(``source``, 'default' unless MULTIDB_ID_SOURCE says otherwise): on MySQL
``REPLACE INTO ... ; SELECT LAST_INSERT_ID()`` on a MyISAM table (table locks:
no deadlocks between concurrent REPLACEs), on SQLite ``REPLACE INTO ...;
SELECT last_insert_rowid()`` on an AUTOINCREMENT table.  Every id is committed
at once on a connection of its own, so ids are never handed out twice, even
when the transaction that asked for one rolls back (that id is skipped).
On SQLite, give the ticket table a file of its own (an alias used for nothing
else): a write transaction open on the same file would block it.

    class Profile(models.Model):
        id = ShardedIdField()
"""
import sys
import threading
import time

from django.db import models

from djpatch_multidb.base import config, threadstate
from djpatch_multidb.base.compat import reraise
from djpatch_multidb.db.connections import connections

TABLE = 'djpatch_multidb_ids_%s'
CREATE = {
    'mysql': ('CREATE TABLE IF NOT EXISTS %s (id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT '
              'PRIMARY KEY, stub CHAR(1) NOT NULL UNIQUE) ENGINE=MyISAM'),
    'sqlite3': ('CREATE TABLE IF NOT EXISTS %s (id INTEGER PRIMARY KEY AUTOINCREMENT, '
                'stub CHAR(1) NOT NULL UNIQUE)'),
}
LAST_ID = {'mysql': 'SELECT LAST_INSERT_ID()', 'sqlite3': 'SELECT last_insert_rowid()'}


class TicketSource(object):
    """next_id(alias, sequence): the next id of a sequence kept on ``alias``."""

    def __init__(self):
        self._local = threadstate.local
        self._created = {}
        self._lock = threading.Lock()

    def _wrapper(self, alias):
        wrappers = getattr(self._local, 'ids_wrappers', None)
        if wrappers is None or self._local.ids_generation != config.generation[0]:
            wrappers = self._local.ids_wrappers = {}
            self._local.ids_generation = config.generation[0]
        if alias not in wrappers:
            wrappers[alias] = connections.dedicated(alias)
        return wrappers[alias]

    def next_id(self, alias, sequence):
        db = config.current().databases[config.current().check_alias(alias)]
        if db.vendor not in CREATE:
            from django.core.exceptions import ImproperlyConfigured
            raise ImproperlyConfigured(
                "ShardedIdField keeps its tickets on %r, a %s database; use a mysql or "
                "sqlite3 alias (MULTIDB_ID_SOURCE or ShardedIdField(source=...))."
                % (alias, db.vendor))
        table = TABLE % sequence
        wrapper = self._wrapper(alias)
        for attempt in range(50):
            try:
                cursor = wrapper.cursor()
                self._ensure_table(alias, db.vendor, table, cursor)
                cursor.execute('REPLACE INTO %s (stub) VALUES (%%s)' % table, ['a'])
                cursor.execute(LAST_ID[db.vendor])
                value = int(cursor.fetchone()[0])
                wrapper._commit()
                return value
            except Exception:
                error = sys.exc_info()
                try:
                    wrapper._rollback()
                except Exception:
                    pass
                if not retryable(error[1]) or attempt == 49:
                    reraise(*error)
                time.sleep(0.01 * (attempt + 1))

    def _ensure_table(self, alias, vendor, table, cursor):
        key = (config.generation[0], alias, table)
        if key in self._created:
            return
        cursor.execute(CREATE[vendor] % table)
        self._created[key] = True


def retryable(error):
    """SQLite's 'database is locked', MySQL's deadlock and lock wait timeout."""
    code = getattr(error, 'args', (None,))[:1]
    return 'locked' in str(error) or code in ((1213,), (1205,))


tickets = TicketSource()

# The instance attribute that holds an id taken for an object not saved yet.
NUMBERED = '_djpatch_numbered_id'


class ShardedIdField(models.IntegerField):
    """A primary key whose values come from a ticket table: unique across shards."""

    def __init__(self, source=None, sequence='ids', *args, **kwargs):
        kwargs.setdefault('primary_key', True)
        kwargs.setdefault('editable', False)
        kwargs.setdefault('blank', True)
        self.id_source = source
        self.sequence = sequence
        models.IntegerField.__init__(self, *args, **kwargs)

    def source_alias(self):
        if self.id_source:
            return self.id_source
        from django.conf import settings
        return getattr(settings, 'MULTIDB_ID_SOURCE', None) or 'default'

    def allocate(self, instance):
        """Give ``instance`` its id now (before the save picks a shard by it)."""
        value = tickets.next_id(self.source_alias(), self.sequence)
        setattr(instance, self.attname, value)
        instance.__dict__[NUMBERED] = value     # numbered, not saved yet
        return value

    def pre_save(self, instance, add):
        value = getattr(instance, self.attname)
        if value is None and add:
            value = self.allocate(instance)
        if add:
            instance.__dict__.pop(NUMBERED, None)
        return value

    def contribute_to_class(self, cls, name, *args, **kwargs):
        models.IntegerField.contribute_to_class(self, cls, name, *args, **kwargs)
        from django.db.models import signals
        signals.pre_delete.connect(self.refuse_unsaved_delete, sender=cls, weak=False)

    def refuse_unsaved_delete(self, sender, instance, **kwargs):
        """pre_delete: an object whose id was only taken to route it (Django 1.2
        to 1.11 ask the router for the database of a delete() before checking
        the primary key) was never saved: refuse as Django does, delete nothing."""
        value = instance.__dict__.get(NUMBERED)
        if value is None or getattr(instance, self.attname) != value:
            return
        del instance.__dict__[NUMBERED]
        setattr(instance, self.attname, None)
        raise AssertionError("%s object can't be deleted because its %s attribute is set to None."
                             % (instance._meta.object_name, self.attname))
