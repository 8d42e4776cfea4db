"""Every patch djpatch_multidb makes on Django 1.0 and 1.1, declared once.

install() applies ``REGISTRY`` in order and uninstall() reverts it in
reverse; nothing else in the package changes Django.  A record whose module
is not imported yet is applied when it is.  (Django 1.2 and later:
djpatch_multidb.native.registry.)
"""
from djpatch_multidb.base import state
from djpatch_multidb.base.config import LEGACY_NAMES, legacy_setting
from djpatch_multidb.base.patcher import AliasSites, Connect, Patch, Receiver
from djpatch_multidb.context import selector
from djpatch_multidb.patched import backend, commands, orm, testdb
from djpatch_multidb.patched.backend import any_backend
from djpatch_multidb.routing import proxy

QUERY = 'django.db.models.query'
RELATED = 'django.db.models.fields.related'
V1_0 = ((1, 0),)
V1_1 = ((1, 1),)
GENERIC = 'django.contrib.contenttypes.generic'
COMMANDS = 'django.core.management.commands.'
DB_CACHE = 'django.core.cache.backends.db'


def _is(value):
    return lambda original: value


CONNECTION = Patch('django.db', 'connection', _is(proxy.connection))
DELETE_OBJECTS = Patch(QUERY, 'delete_objects', orm.make_delete_objects)
DATABASE_ERROR = Patch('django.db', 'DatabaseError', any_backend('DatabaseError'))
INTEGRITY_ERROR = Patch('django.db', 'IntegrityError', any_backend('IntegrityError'))
CLOSE_CONNECTION = Receiver('django.db', 'close_connection', backend.make_close_connection,
                            signal='django.core.signals.request_finished')

# Settings that define only DATABASES show DATABASES['default'] under the
# legacy DATABASE_* names too, for the code that reads those (South, Django).
LEGACY_SETTINGS = [Patch('django.conf', name, legacy_setting(name), owner=owner, add=True)
                   for owner in ('Settings', 'UserSettingsHolder') for name in LEGACY_NAMES]

REGISTRY = LEGACY_SETTINGS + [
    # The module-level connection and every module that copied it.
    CONNECTION,
    AliasSites(CONNECTION, 'connection', exclude=('django.db.transaction',)),
    # except DatabaseError / IntegrityError catch every configured backend's errors.
    DATABASE_ERROR,
    AliasSites(DATABASE_ERROR, 'DatabaseError'),
    INTEGRITY_ERROR,
    AliasSites(INTEGRITY_ERROR, 'IntegrityError'),
    # Commits and rollbacks reach every connection the thread has open.
    Patch('django.db.transaction', 'connection', _is(proxy.transaction_connection),
          source=CONNECTION),
    # Requests close and reset every connection, not only the default one.
    CLOSE_CONNECTION,
    AliasSites(CLOSE_CONNECTION, 'close_connection'),
    Receiver('django.db', 'reset_queries', backend.make_reset_queries,
             signal='django.core.signals.request_started'),
    # A request runs with no context open; blocks open around it (a test
    # client's request) come back when it finishes (receivers of their own:
    # the test client disconnects close_connection while it finishes).
    Connect('django.core.signals.request_started', selector.begin_request),
    Connect('django.core.signals.request_finished', selector.end_request),
    # Connection choice: each alias connects with its own settings.
    Patch('django.db.backends.sqlite3.base', '_cursor', backend.make_cursor, owner='DatabaseWrapper'),
    Patch('django.db.backends.mysql.base', '_cursor', backend.make_cursor, owner='DatabaseWrapper'),
    Patch('django.db.backends.postgresql_psycopg2.base', '_cursor', backend.make_cursor,
          owner='DatabaseWrapper'),
    Patch('django.db.backends.postgresql.base', '_cursor', backend.make_cursor, owner='DatabaseWrapper'),
    Patch('django.db.backends.sqlite3.base', 'close', backend.make_sqlite_close,
          owner='DatabaseWrapper', versions=V1_0),
    # The database cache backend keeps to its own table's alias.
    Patch(DB_CACHE, 'get', backend.make_on_cache_alias, owner='CacheClass'),
    Patch(DB_CACHE, '_base_set', backend.make_on_cache_alias, owner='CacheClass'),
    Patch(DB_CACHE, 'delete', backend.make_on_cache_alias, owner='CacheClass'),
    Patch(DB_CACHE, 'has_key', backend.make_on_cache_alias, owner='CacheClass'),
    # The test runner creates and destroys a test database for every alias.
    Patch('django.db.backends.creation', 'create_test_db', testdb.make_create_test_db,
          owner='BaseDatabaseCreation'),
    Patch('django.db.backends.creation', 'destroy_test_db', testdb.make_destroy_test_db,
          owner='BaseDatabaseCreation'),
    # --database for management commands; syncdb --all-databases.
    Patch('django.core.management.base', 'execute', commands.make_execute, owner='BaseCommand'),
    Patch(COMMANDS + 'syncdb', 'option_list',
          commands.with_options(commands.DATABASE, commands.ALL_DATABASES), owner='Command'),
    Patch(COMMANDS + 'sqlall', 'option_list', commands.with_options(commands.DATABASE),
          owner='Command'),
    Patch(COMMANDS + 'dbshell', 'option_list', commands.with_options(commands.DATABASE),
          owner='Command'),
    Patch(COMMANDS + 'flush', 'option_list', commands.with_options(commands.DATABASE),
          owner='Command'),
    Patch(COMMANDS + 'loaddata', 'option_list', commands.with_options(commands.DATABASE),
          owner='Command'),
    Patch(COMMANDS + 'dumpdata', 'option_list', commands.with_options(commands.DATABASE),
          owner='Command'),
    # SQL runs with its query's alias selected; inserts on theirs.
    Patch('django.db.models.sql.query', 'execute_sql', orm.make_execute_sql, owner='BaseQuery'),
    Patch('django.db.models.sql.subqueries', 'execute_sql', orm.make_insert_execute_sql,
          owner='InsertQuery'),
    # Querysets remember the context they were built in and read where they belong.
    Patch(QUERY, '__init__', orm.make_queryset_init, owner='QuerySet'),
    Patch(QUERY, '_filter_or_exclude', orm.make_filter, owner='QuerySet'),
    Patch(QUERY, '_setup_query', orm.make_values_build, owner='ValuesQuerySet'),
    Patch(QUERY, '_setup_query', orm.make_build, owner='DateQuerySet'),
    Patch(QUERY, 'order_by', orm.make_order_by, owner='QuerySet'),
    Patch(QUERY, 'iterator', orm.make_model_iterator, owner='QuerySet'),
    Patch(QUERY, 'iterator', orm.make_plain_iterator, owner='ValuesQuerySet'),
    Patch(QUERY, 'iterator', orm.make_plain_iterator, owner='ValuesListQuerySet'),
    Patch(QUERY, 'iterator', orm.make_plain_iterator, owner='DateQuerySet'),
    Patch(QUERY, 'count', orm.make_read, owner='QuerySet'),
    Patch(QUERY, 'aggregate', orm.make_read, owner='QuerySet', versions=V1_1),
    # Writes through querysets.
    Patch(QUERY, 'update', orm.make_write('update'), owner='QuerySet'),
    Patch(QUERY, '_update', orm.make_write('update'), owner='QuerySet'),
    Patch(QUERY, 'delete', orm.make_write('delete', cascades=True), owner='QuerySet'),
    Patch(QUERY, 'create', orm.make_write('create'), owner='QuerySet'),
    Patch(QUERY, 'get_or_create', orm.make_write('get_or_create'), owner='QuerySet'),
    # Deletes, wherever they are called from; what they collect from two
    # databases is kept apart even where the primary keys are the same.
    Patch(QUERY, 'add', orm.make_collected_add, owner='CollectedObjects'),
    # ... and the rows of join tables that live with a model of another database there.
    Patch('django.db.models.sql.subqueries', 'do_query', orm.make_delete_do_query,
          owner='DeleteQuery'),
    DELETE_OBJECTS,
    AliasSites(DELETE_OBJECTS, 'delete_objects'),
    # Django 1.2's spellings.
    Patch(QUERY, 'using', _is(orm.queryset_using), owner='QuerySet', add=True),
    Patch(QUERY, 'db', _is(property(orm.queryset_db)), owner='QuerySet', add=True),
    Patch('django.db.models.manager', 'using', _is(orm.manager_using), owner='Manager', add=True),
    # Instances know where they came from (instance._state.db), as in Django 1.2.
    Patch('django.db.models.base', '_state', _is(state.STATE), owner='Model', add=True),
    # Instances save and delete where they belong.
    Patch('django.db.models.base', 'save_base', orm.make_save_base, owner='Model'),
    Patch('django.db.models.base', 'save', orm.make_save, owner='Model'),
    Patch('django.db.models.base', 'delete', orm.make_model_delete, owner='Model'),
    Patch('django.db.models.base', '_get_next_or_previous_by_FIELD', orm.make_on_instance_db(0),
          owner='Model'),
    Patch('django.db.models.base', '_get_next_or_previous_in_order', orm.make_on_instance_db(0),
          owner='Model'),
    Patch('django.db.models.query_utils', '__get__', orm.make_on_instance_db(1),
          owner='DeferredAttribute', versions=V1_1),
    Patch('django.contrib.auth.backends', 'get_group_permissions', orm.make_on_instance_db(1),
          owner='ModelBackend'),
    # Relations are followed in the database of the instance they start from.
    Patch(RELATED, '__get__', orm.make_descriptor_get(orm.fk_target),
          owner='ReverseSingleRelatedObjectDescriptor'),
    Patch(RELATED, '__get__', orm.make_descriptor_get(orm.related_model),
          owner='SingleRelatedObjectDescriptor'),
    Patch(RELATED, '__get__', orm.make_descriptor_get(orm.related_model),
          owner='ForeignRelatedObjectsDescriptor'),
    Patch(RELATED, 'delete_manager', orm.make_delete_manager,
          owner='ForeignRelatedObjectsDescriptor'),
    Patch(RELATED, '__get__', orm.make_descriptor_get(orm.related_model),
          owner='ManyRelatedObjectsDescriptor'),
    Patch(RELATED, '__get__', orm.make_descriptor_get(orm.fk_target),
          owner='ReverseManyRelatedObjectsDescriptor'),
    Patch(GENERIC, '__get__', orm.make_generic_get, owner='GenericForeignKey'),
    Patch(GENERIC, '__get__', orm.make_descriptor_get(orm.generic_target),
          owner='ReverseGenericRelatedObjectsDescriptor'),
]
