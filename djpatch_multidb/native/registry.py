"""Every patch djpatch_multidb makes on Django 1.2 and later, declared once.

Nothing in the ORM is patched there: Django has multiple databases of its
own.  The settings are settled once (the router first in DATABASE_ROUTERS)
at the moment Django is about to read them, whichever entry point starts
the process; django.db.connection and Django's transaction functions and
blocks with no ``using`` follow the blocks.  install() applies ``NATIVE`` in
order and uninstall() reverts it in reverse.
"""
from djpatch_multidb.api import transactions
from djpatch_multidb.base import versions
from djpatch_multidb.base.patcher import Connect, Patch
from djpatch_multidb.context import selector
from djpatch_multidb.native import settle, writeguard
from djpatch_multidb.routing import proxy


def _is(value):
    return lambda original: value


class SettledConnect(Connect):
    """Connect, once the settings are loaded: Signal.connect reads
    settings.DEBUG on Django 1.2 to 1.6, which must not happen while
    settings.py, where install() runs, is still being imported."""

    def ready(self):
        return settle.settings_loaded() and Connect.ready(self)


TRANSACTION = 'django.db.transaction'
# Django 1.2 to 1.5's transaction functions that take using=None.
TRANSACTION_FUNCTIONS = ('enter_transaction_management', 'leave_transaction_management',
                         'is_dirty', 'set_dirty', 'set_clean', 'is_managed', 'managed',
                         'commit_unless_managed', 'rollback_unless_managed', 'commit',
                         'rollback', 'savepoint', 'savepoint_rollback', 'savepoint_commit')
BEFORE_1_6 = versions.Since((1, 2), (1, 6))
BEFORE_1_8 = versions.Since((1, 2), (1, 8))

NATIVE = [
    # Django 1.2 to 1.6 build their connections from settings when django.db is imported.
    Patch('django.db.utils', '__init__', settle.make_handler_init, owner='ConnectionHandler',
          versions=versions.Since((1, 2), (1, 7))),
    # From 1.7 on, django.setup() runs before any database use, but install()
    # in settings.py runs inside it; connections and routers are built at the
    # first database use, after settings.py: each settles first.
    Patch('django', 'setup', settle.make_setup, versions=versions.Since((1, 7))),
    Patch('django.db.utils', 'databases', settle.make_settle_first, owner='ConnectionHandler',
          versions=versions.Since((1, 7), (3, 2))),
    Patch('django.db.utils', 'configure_settings', settle.make_settle_first,
          owner='ConnectionHandler', versions=versions.Since((3, 2))),
    Patch('django.db.utils', 'routers', settle.make_settle_first, owner='ConnectionRouter',
          versions=versions.Since((1, 7))),
    # Each request starts and ends with no replica choice and no pin of the
    # thread's own (Django closes and resets the connections itself).
    SettledConnect('django.core.signals.request_started', settle.forget_thread_replicas),
    SettledConnect('django.core.signals.request_finished', settle.forget_thread_replicas),
    # ... and no context left open by the last one (a generator never finished).
    SettledConnect('django.core.signals.request_started', selector.begin_request),
    SettledConnect('django.core.signals.request_finished', selector.end_request),
    # Legacy code, unchanged: inside using() / using_shard(), django.db.connection
    # and Django's transaction functions and blocks with no ``using`` act on the
    # block's database, as on Django 1.0/1.1 (an explicit using is left alone).
    # Such a block joins another database that the router sends a write to
    # inside it, when no transaction holds it (transactions.check_write).
    Patch('django.db', 'connection', _is(proxy.connection)),
    Patch(TRANSACTION, 'get_connection', transactions.make_get_connection,
          versions=versions.Since((1, 6))),
    Patch(TRANSACTION, 'atomic', transactions.make_following_block, versions=versions.Since((1, 6))),
] + [
    Patch(TRANSACTION, name, transactions.make_following_function, versions=BEFORE_1_6)
    for name in TRANSACTION_FUNCTIONS
] + [
    Patch(TRANSACTION, 'abort', transactions.make_following_function,
          versions=versions.Since((1, 4), (1, 6))),
    Patch(TRANSACTION, 'clean_savepoints', transactions.make_following_function,
          versions=versions.Since((1, 4), (1, 6))),
] + [
    Patch(TRANSACTION, name, transactions.make_following_block, versions=BEFORE_1_8)
    for name in ('commit_on_success', 'commit_manually')
] + [
    Patch(TRANSACTION, 'autocommit', transactions.make_following_autocommit, versions=BEFORE_1_8),
    # Inside readonly(), saves and deletes that name their database write
    # nothing: pre_save / pre_delete receivers, connected while a block is open.
    Patch('djpatch_multidb.context.selector', 'readonly_watchers', writeguard.make_readonly_watchers),
]
