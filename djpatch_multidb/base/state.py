"""Where a model instance came from: ``instance._state.db``, as in Django 1.2.

On Django 1.2 and later every instance has ``_state`` of Django's own, in its
``__dict__``.  On Django 1.0/1.1 the library keeps it beside the instance, in a
table keyed by the instance's id with a weak reference to it, never in the
instance's ``__dict__``: code that reads an instance's ``__dict__`` (Django's own
tests print it, serializers and apps copy it) sees what it saw without the
library.  ``Model._state`` (a property, patched in by the registry) reads it.
"""
import weakref


class ModelState(object):
    """The database an instance was loaded from or saved to."""
    __slots__ = ('db', 'adding')

    def __init__(self, db=None, adding=False):
        self.db = db
        self.adding = adding

    def __getstate__(self):
        return (self.db, self.adding)

    def __setstate__(self, state):
        self.db, self.adding = state

    def __repr__(self):
        return '<ModelState db=%r>' % (self.db,)


_states = {}    # id(instance) -> (weak reference to it, its ModelState)


def _gone(ref):
    entry = _states.get(ref.key)
    if entry is not None and entry[0] is ref:
        del _states[ref.key]


def _kept_state(instance, create):
    key = id(instance)
    entry = _states.get(key)
    if entry is not None and entry[0]() is instance:
        return entry[1]
    if not create:
        return None
    state = ModelState()
    _states[key] = (weakref.KeyedRef(instance, _gone, key), state)
    return state


def instance_db(instance):
    state = instance.__dict__.get('_state')      # Django 1.2 and later: its own
    if state is None:
        state = _kept_state(instance, False)
        if state is None:
            return None
    return state.db


def set_instance_db(instance, alias):
    state = instance.__dict__.get('_state')
    if state is None:
        state = _kept_state(instance, True)
    state.db = alias


def _state(instance):
    return _kept_state(instance, True)


# Model._state on Django 1.0/1.1 (registry.py).
STATE = property(_state, doc="The instance's ModelState (db: where it came from), as in Django 1.2.")
