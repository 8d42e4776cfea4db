"""install(), uninstall() and is_installed(): walking the registry."""
import threading

from djpatch_multidb import versions

_lock = threading.RLock()
_patcher = None


def install():
    """Patch Django 1.0/1.1 for multiple databases; on Django 1.2 and later,
    route through Django's own (router.MultiDBRouter first in DATABASE_ROUTERS).
    Idempotent.

    Reads no setting and opens no connection: the configuration is read at
    the first database use, and modules not imported yet are patched when
    they are.  Raises ImproperlyConfigured on a Django version it does not
    support.
    """
    global _patcher
    versions.check_supported()
    _lock.acquire()
    try:
        if _patcher is not None:
            return
        from djpatch_multidb.patcher import Patcher
        from djpatch_multidb import registry
        version = versions.django_version()
        patcher = Patcher(registry.records(version), version)
        patcher.install()
        _patcher = patcher
        if versions.is_native(version):
            from djpatch_multidb import native
            native.settle_if_ready()
    finally:
        _lock.release()


def uninstall():
    """Put back every patched attribute exactly.  Raises RuntimeError if not installed."""
    global _patcher
    _lock.acquire()
    try:
        if _patcher is None:
            raise RuntimeError('djpatch_multidb.uninstall() was called, but install() was not.')
        _patcher.uninstall()
        _patcher = None
        if versions.is_native():
            from djpatch_multidb import native
            native.unsettle()
    finally:
        _lock.release()


def is_installed():
    return _patcher is not None


def patcher_tick():
    """Apply records whose modules have finished loading since the last look."""
    patcher = _patcher
    if patcher is not None:
        patcher.tick()


def applied_patches():
    """The records in force now (for the status command and the tests)."""
    patcher = _patcher
    if patcher is None:
        return []
    return list(patcher.applied)


def pending_patches():
    patcher = _patcher
    if patcher is None:
        return []
    return list(patcher.pending)
