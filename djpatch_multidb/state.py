"""Where a model instance came from: ``instance._state.db``, as in Django 1.2."""


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


def instance_db(instance):
    state = instance.__dict__.get('_state')
    if state is None:
        return None
    return state.db


def set_instance_db(instance, alias):
    state = instance.__dict__.get('_state')
    if state is None:
        instance.__dict__['_state'] = ModelState(alias)
    else:
        state.db = alias
