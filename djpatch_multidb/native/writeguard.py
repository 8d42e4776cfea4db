"""Inside readonly(), on Django 1.2 and later: saves and deletes that name
their database (save(using=...), which Django asks no router about) write
nothing.  The receivers are connected only while a readonly() block is open.
"""
import threading

from djpatch_multidb.base.errors import ReadOnlyError
from djpatch_multidb.context import selector


class WriteGuard(object):
    """Connects refuse_in_readonly to pre_save and pre_delete while at least one
    readonly() block is open in the process, and only then: a receiver of
    those signals costs every save, and turns off Django's fast deletes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.open = 0

    def enter(self):
        self.lock.acquire()
        try:
            self.open += 1
            if self.open == 1:
                self._switch(True)
        finally:
            self.lock.release()

    def leave(self):
        self.lock.acquire()
        try:
            self.open -= 1
            if self.open == 0:
                self._switch(False)
        finally:
            self.lock.release()

    def _switch(self, on):
        # The plain Signal methods: Django 1.7+'s ModelSignal.connect resolves
        # lazy senders, which none of these are.
        from django.db.models import signals
        from django.dispatch import Signal
        for signal in (signals.pre_save, signals.pre_delete):
            if on:
                Signal.connect(signal, refuse_in_readonly, weak=False)
            else:
                Signal.disconnect(signal, refuse_in_readonly)


write_guard = WriteGuard()


def make_readonly_watchers(original):
    return list(original) + [write_guard]


def refuse_in_readonly(sender, **kwargs):
    """pre_save / pre_delete: inside readonly(), a save or delete that names its
    database (save(using=...), which Django asks no router about) writes nothing."""
    if selector.is_readonly():
        raise ReadOnlyError(sender, kwargs.get('using') or 'default',
                            'delete' if 'raw' not in kwargs else 'save')
