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


# id(instance) -> (weak reference to it, its database) or, once someone asked
# for instance._state, (weak reference, database, ModelState).  Entries of
# instances that are gone are swept when the table has doubled since the last
# sweep (a stale entry is never read: the reference must still point to the
# instance asked about, whose id may be a reused one).
_states = {}
_limit = [1024]


def _sweep():
    states = _states
    for key, entry in list(states.items()):
        if entry[0]() is None:
            gone = states.pop(key, None)
            if gone is not None and gone is not entry:
                # Another thread stored a live instance under the reused id
                # since the snapshot: it goes back.
                states.setdefault(key, gone)
    _limit[0] = max(1024, 2 * len(states))


def _entry(instance):
    entry = _states.get(id(instance))
    if entry is not None and entry[0]() is instance:
        return entry
    return None


def _kept_state(instance, create):
    entry = _entry(instance)
    if entry is None:
        if not create:
            return None
        if len(_states) > _limit[0]:
            _sweep()
        entry = (weakref.ref(instance), None)
    if len(entry) == 3:
        return entry[2]
    state = ModelState(entry[1])
    _states[id(instance)] = (entry[0], entry[1], state)
    return state


def instance_db(instance):
    state = instance.__dict__.get('_state')      # Django 1.2 and later: its own
    if state is not None:
        return state.db
    entry = _entry(instance)
    if entry is None:
        return None
    if len(entry) == 3:
        return entry[2].db
    return entry[1]


def set_instance_db(instance, alias):
    state = instance.__dict__.get('_state')
    if state is not None:
        state.db = alias
        return
    key = id(instance)
    entry = _states.get(key)        # _entry(), written out
    if entry is not None and entry[0]() is instance:
        if len(entry) == 3:
            entry[2].db = alias
        else:
            _states[key] = (entry[0], alias)
        return
    if len(_states) > _limit[0]:
        _sweep()
    _states[key] = (weakref.ref(instance), alias)


def db_of(instance):
    """instance_db() of a Django 1.0/1.1 instance (its ``_state`` is never in
    its ``__dict__`` there): the ORM replacements' hot path."""
    entry = _states.get(id(instance))
    if entry is None or entry[0]() is not instance:
        return None
    if len(entry) == 3:
        return entry[2].db
    return entry[1]


def remember_all(objects, alias):
    """set_instance_db(obj, alias) for each of ``objects``, yielded as they
    come (a queryset's rows, just made): the quick loop."""
    states = _states
    ref = weakref.ref
    limit = _limit
    for obj in objects:
        states[id(obj)] = (ref(obj), alias)
        if len(states) > limit[0]:
            _sweep()
        yield obj


def _state(instance):
    return _kept_state(instance, True)


# Model._state on Django 1.0/1.1 (registry.py).
STATE = property(_state, doc="The instance's ModelState (db: where it came from), as in Django 1.2.")
