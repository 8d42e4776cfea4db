"""install(), uninstall() and is_installed(): walking the registry."""
import threading

from djpatch_multidb.base import patcher as patching
from djpatch_multidb.base import versions
from djpatch_multidb.base.patcher import Patcher

_lock = threading.RLock()


def install():
    """Patch Django 1.0/1.1 for multiple databases; on Django 1.2 and later,
    route through Django's own (router.MultiDBRouter first in DATABASE_ROUTERS).
    Idempotent.

    Reads no setting and opens no connection: the configuration is read at
    the first database use, and modules not imported yet are patched when
    they are.  Raises ImproperlyConfigured on a Django version it does not
    support.
    """
    versions.check_supported()
    _lock.acquire()
    try:
        if patching.active[0] is not None:
            return
        version = versions.django_version()
        patcher = Patcher(records(version), version)
        patcher.install()
        patching.active[0] = patcher
        if versions.is_native(version):
            from djpatch_multidb.native import settle
            settle.settle_if_ready()
    finally:
        _lock.release()


def uninstall():
    """Put back every patched attribute exactly.  Raises RuntimeError if not installed."""
    _lock.acquire()
    try:
        if patching.active[0] is None:
            raise RuntimeError('djpatch_multidb.uninstall() was called, but install() was not.')
        patching.active[0].uninstall()
        patching.active[0] = None
        if versions.is_native():
            from djpatch_multidb.native import settle
            settle.unsettle()
    finally:
        _lock.release()


def records(version):
    """The records for Django ``version``: patched.registry's on Django 1.0/1.1,
    native.registry's from 1.2 on."""
    # Imported here, not at the top: the package is imported by settings.py
    # before Django's settings exist (see djpatch_multidb/__init__.py).
    if versions.is_native(version):
        from djpatch_multidb.native import registry
        return registry.NATIVE
    from djpatch_multidb.patched import registry
    return registry.REGISTRY


is_installed = patching.is_installed
applied_patches = patching.applied_records
pending_patches = patching.pending_records
