"""The per-thread database selector: a stack of contexts, innermost last.

``using(alias)``, ``using_shard(n, group=None)`` and ``readonly()`` push an
entry for the length of a ``with`` block or a decorated call and pop exactly
that entry afterwards, whether the block ends normally or by an exception.
The library pushes ``Frame`` entries of its own while it runs an operation
whose database it has already decided (a save, a delete, a related lookup).
"""
import logging
import threading
import weakref

from djpatch_multidb.base import config, threadstate
from djpatch_multidb.base.shardkeys import shard_number

try:
    from functools import wraps
except ImportError:  # pragma: no cover
    from django.utils.functional import wraps

log = logging.getLogger('djpatch_multidb')

_state = threadstate.local     # the blocks: stack, tops, lock, marks (base/threadstate.py)

# Every thread's (stack, tops), by thread: a block closed in another thread
# than the one that opened it (a generator finished elsewhere) is removed
# from the stack of the thread that opened it.
_stacks = {}
_stacks_lock = threading.RLock()

# Entries dropped by a request boundary while still open (entry -> how many
# times): their own end, when it comes later, has nothing left to remove.
_abandoned = weakref.WeakKeyDictionary()


def _init():
    _state.stack = []
    # Per depth: (the innermost entry that decides raw SQL, whether a
    # readonly() is open); one list, so that a block pushes and pops once.
    _state.tops = [(None, False)]
    # Held while the stack changes, by this thread and by another that ends
    # one of its blocks (_pop_elsewhere).
    _state.lock = threading.Lock()
    thread = threading.current_thread()
    _stacks_lock.acquire()
    try:
        for other in list(_stacks):
            if other is not thread and not other.is_alive():
                del _stacks[other]
        _stacks[thread] = (_state.stack, _state.tops, _state.lock)
    finally:
        _stacks_lock.release()
    return _state.stack


threadstate.on_new_thread(_init)


def clear_thread():
    """Drop every context of this thread; returns what was open (a leak, if anything)."""
    try:
        leaked = list(_state.stack)
    except AttributeError:
        leaked = []
    _init()
    return leaked


def _in_process(sender):
    """Whether a request is the test client's (django.test.client.ClientHandler):
    made in the caller's own thread, inside the caller's blocks, like a call."""
    return getattr(sender, '__module__', None) == 'django.test.client'


def begin_request(sender=None, **kwargs):
    """request_started: a request a server handles starts with no context open
    in its thread (a block still open is a leak of an earlier request: dropped
    and logged).  The test client's request runs inside the blocks open
    around it, as a call would."""
    if _in_process(sender):
        marks = getattr(_state, 'marks', None)
        if marks is None:
            marks = _state.marks = []
        marks.append(len(stack()))
        return []
    _state.marks = []
    leaked = clear_thread()
    _abandon(leaked)
    return leaked


def end_request(sender=None, **kwargs):
    """request_finished: a block still open that the request opened (a
    generator left unfinished in it) is dropped and logged; its own end,
    whenever it comes, removes nothing more.  A server's request leaves no
    block open; the test client's leaves the blocks open around it."""
    marks = getattr(_state, 'marks', None)
    if marks:       # the end of the test client's request (Django 4.2 sends it as None's)
        depth = marks.pop()
        entries = stack()
        leaked = entries[depth:]
        for entry in reversed(leaked):
            pop(entry)
    else:
        _state.marks = []
        leaked = clear_thread()
    _abandon(leaked)
    return leaked


def _abandon(leaked):
    if not leaked:
        return
    _stacks_lock.acquire()
    try:
        for entry in leaked:
            try:
                _abandoned[entry] = _abandoned.get(entry, 0) + 1
            except TypeError:
                pass   # an entry that cannot be weakly referenced
    finally:
        _stacks_lock.release()
    log.warning('contexts left open at a request boundary were closed: %s',
                ', '.join([repr(entry) for entry in leaked]))


def stack():
    """This thread's context stack (a list, innermost entry last)."""
    try:
        return _state.stack
    except AttributeError:
        return _init()


def push(entry):
    try:
        entries, tops, lock = _state.stack, _state.tops, _state.lock
    except AttributeError:
        entries = _init()
        tops, lock = _state.tops, _state.lock
    lock.acquire()
    try:
        raw, readonly_open = tops[-1]
        entries.append(entry)
        tops.append((entry.decides_raw and entry or raw, readonly_open or entry.readonly))
    finally:
        lock.release()
    return entry


def pop(entry, *exc_info):
    """Remove ``entry``: normally the innermost one; a block left out of order
    (two generators, each inside its own block, consumed in turn) removes its
    own entry from wherever it is.  (Also Context.__exit__, hence *exc_info:
    it returns None, so an exception in the block goes on.)"""
    try:
        entries = _state.stack
    except AttributeError:
        entries = _init()
    lock = _state.lock
    lock.acquire()
    try:
        if entries and entries[-1] is entry:
            entries.pop()
            _state.tops.pop()
            return
    finally:
        lock.release()
    for index in range(len(entries) - 1, -1, -1):
        if entries[index] is entry:
            del entries[index]
            remaining = list(entries)
            _init()
            for other in remaining:
                push(other)
            return
    _pop_elsewhere(entry)


def _pop_elsewhere(entry):
    """``entry`` is not open in this thread: it was dropped at a request
    boundary, or it is closed here after being opened in another thread
    (a generator finished elsewhere), whose stack then loses it."""
    _stacks_lock.acquire()
    try:
        count = _abandoned.get(entry, 0)
        if count:
            if count > 1:
                _abandoned[entry] = count - 1
            else:
                del _abandoned[entry]
            return
        me = threading.current_thread()
        holders = [(thread, pair) for thread, pair in _stacks.items()
                   if thread is not me and entry in pair[0]]
        if len(holders) == 1:
            entries, tops, lock = holders[0][1]
            lock.acquire()
            try:
                if entry in entries:
                    index = len(entries) - 1 - list(reversed(entries)).index(entry)
                    del entries[index]
                    rebuilt = [(None, False)]
                    for other in entries:
                        raw, readonly_open = rebuilt[-1]
                        rebuilt.append((other.decides_raw and other or raw,
                                        readonly_open or other.readonly))
                    tops[:] = rebuilt
            finally:
                lock.release()
            return
    finally:
        _stacks_lock.release()
    if holders:
        raise RuntimeError('djpatch_multidb: %r ended in thread %r, and it is open in several '
                           'other threads (%s): which one it closes is not known; give each '
                           'thread a context object of its own.' % (
                               entry, me.name, ', '.join([repr(t.name) for t, p in holders])))
    raise RuntimeError('djpatch_multidb: %r was left without being entered '
                       '(it is not an open context of any thread)' % (entry,))


def raw_alias():
    """The alias django.db.connection means for this thread right now."""
    try:
        entry = _state.tops[-1][0]
    except AttributeError:
        _init()   # this thread's first question: later ones take the short path
        return 'default'
    if entry is None:
        return 'default'
    return entry.raw_alias()


def raw_entry():
    """The innermost entry that decides what django.db.connection means (None: none)."""
    try:
        return _state.tops[-1][0]
    except AttributeError:
        _init()
        return None


def context_alias(model):
    """The alias the innermost context that applies to ``model`` chooses, or None."""
    try:
        entries = _state.stack
    except AttributeError:
        _init()
        return None
    for entry in reversed(entries):
        alias = entry.alias_for(model)
        if alias is not None:
            return alias
    return None


def is_idle():
    """Whether no context at all is open in this thread (the common case)."""
    try:
        return not _state.stack
    except AttributeError:
        _init()
        return True


def is_readonly():
    """Whether a readonly() block is open in this thread."""
    try:
        return _state.tops[-1][1]
    except AttributeError:
        _init()
        return False


_UNKNOWN = object()


class Context(object):
    """A selector entry usable as a context manager and as a decorator.

    Each ``with`` (or each decorated call) pushes the object itself on this
    thread's stack and its end removes the innermost occurrence, so the same
    object can be nested, reused and shared between threads.
    """
    readonly = False
    decides_raw = False
    # What resharding() and replicas.use_primary() say; every other entry says
    # no without an AttributeError (their checks ask each entry of the stack).
    allows_any_shard = False
    forces_primary = False
    # Frames the library pushes around Django's own SQL say yes: inside
    # readonly(), what runs through django.db.connection in them (a
    # savepoint) is the library's, not a write of the caller's to refuse.
    runs_library_sql = False

    # push(self) returns self; pop(self, *exc_info) returns None: the block's
    # own exception goes on.  (The functions themselves: one call less.)
    __enter__ = push
    __exit__ = pop

    def __call__(self, func):
        if not callable(func):
            raise TypeError('%r decorates a function (or is used in a with statement), '
                            'not %r.' % (self, func))
        context = self

        def wrapper(*args, **kwargs):
            push(context)
            try:
                return func(*args, **kwargs)
            finally:
                pop(context)
        return wraps(func)(wrapper)

    # -- what the entry selects --------------------------------------------
    def alias_for(self, model):
        return None

    def raw_alias(self):
        return None

    def sends_all(self, models, alias):
        """Whether this entry sends each of ``models`` to ``alias``."""
        for model in models:
            if self.alias_for(model) != alias:
                return False
        return True


class using(Context):
    """Send every query, model or raw SQL, to ``alias`` inside the block."""
    decides_raw = True

    def __init__(self, alias):
        config.current().check_alias(alias)
        self.alias = alias

    def alias_for(self, model):
        return self.alias

    def raw_alias(self):
        return self.alias

    def sends_all(self, models, alias):
        return alias == self.alias

    def __repr__(self):
        return 'using(%r)' % (self.alias,)


class using_shard(Context):
    """Send sharded models to shard ``number`` of their group (or of ``group``)."""
    decides_raw = True

    # What a block opened again and again (a loop, every request) works out
    # once per configuration: (number, group) -> the config it was checked
    # against; _found: (number, group) -> what its blocks answer, each under
    # the config it was worked out for: {model: (config, alias or None),
    # None: (config, raw alias), (models, alias): (config, sends_all())}.
    _checked = {}
    _found = {}

    def __init__(self, number, group=None):
        cfg = config._current
        if cfg is None or cfg.labels_unchecked:
            cfg = config.current()
        try:
            known = number.__class__ is int and self._checked.get((number, group)) is cfg
        except TypeError:       # unhashable: the checks below say what is wrong
            known = False
        if not known:
            self._check(cfg, number, group)
        self.number = number
        self.group = group
        found = self._found
        try:
            self._answers = found[(number, group)]
        except KeyError:
            if len(found) > 4096:
                found.clear()
            self._answers = found.setdefault((number, group), {})
        except TypeError:
            self._answers = {}      # a number that cannot be a key: worked out each time

    def _check(self, cfg, number, group):
        if group is not None or len(cfg.shards) == 1:
            cfg.shard_alias(group or list(cfg.shards)[0], number)
        elif not cfg.shards:
            cfg.only_group('using_shard(%r)' % (number,))
        else:
            # Several groups: the range is checked against the model's group.
            config.check_shard_number(number, 'any group', config.MAX_SHARDS)
        if len(self._checked) > 4096:
            self._checked.clear()
        self._checked[(number, group)] = cfg

    def alias_for(self, model):
        known = self._answers.get(model)    # _known(model), written out: every query asks
        if known is not None and known[0] is config._current:
            return known[1]
        cfg = config.current()
        alias = self._alias_for(cfg, model)
        self._answers[model] = (cfg, alias)
        return alias

    def sends_all(self, models, alias):
        key = (models, alias)
        answer = self._known(key)
        if answer is _UNKNOWN:
            answer = Context.sends_all(self, models, alias)
            self._remember(key, config._current, answer)
        return answer

    def _alias_for(self, cfg, model):
        place = cfg.placement(model)
        if place is None or place[0] != 'shards':
            return None
        if self.group is not None and place[1] != self.group:
            return None
        return cfg.shard_alias(place[1], self.number)

    def _known(self, key):
        """What this block's number and group answer for ``key`` under the
        configuration in force, or _UNKNOWN."""
        try:
            known = self._answers.get(key)
        except TypeError:
            return _UNKNOWN
        if known is not None and known[0] is config._current:
            return known[1]
        return _UNKNOWN

    def _remember(self, key, cfg, answer):
        try:
            self._answers[key] = (cfg, answer)
        except TypeError:
            pass

    def raw_alias(self):
        known = self._known(None)
        if known is not _UNKNOWN:
            return known
        cfg = config.current()
        group = self.group
        if group is None:
            group = cfg.only_group(repr(self))
        alias = cfg.shard_alias(group, self.number)
        self._remember(None, cfg, alias)
        return alias

    def __repr__(self):
        if self.group is None:
            return 'using_shard(%r)' % (self.number,)
        return 'using_shard(%r, group=%r)' % (self.number, self.group)


class using_shard_for(using_shard):
    """using_shard() for the shard a key maps to with the group's key function."""

    def __init__(self, key, group=None):
        cfg = config.current()
        if group is None:
            group = cfg.only_group('using_shard_for(%r)' % (key,))
        using_shard.__init__(self, shard_number(cfg, group, key), group)
        self.key = key

    def __repr__(self):
        return 'using_shard_for(%r, group=%r)' % (self.key, self.group)


class resharding(Context):
    """Inside the block, a model with a shard key is written to the shard the
    block (or the queryset) names even when its key maps to another shard:
    for tools that copy rows between shards.  Outside it, such a write raises
    ShardKeyError and writes nothing."""
    allows_any_shard = True

    def __repr__(self):
        return 'resharding()'


def shard_keys_unchecked():
    """Whether a resharding() block is open in this thread."""
    try:
        entries = _state.stack
    except AttributeError:
        return False
    for entry in entries:
        if entry.__class__ is resharding or getattr(entry, 'allows_any_shard', False):
            return True
    return False


# Objects told when a readonly() block opens and closes, in any thread
# (enter() / leave()): on Django 1.2 and later, native.write_guard.
readonly_watchers = []


class readonly(Context):
    """Send reads to a replica of the database they would use; refuse writes."""
    readonly = True

    def __enter__(self):
        for watcher in readonly_watchers:
            watcher.enter()
        try:
            return Context.__enter__(self)
        except BaseException:
            for watcher in readonly_watchers:
                watcher.leave()
            raise

    def __exit__(self, exc_type, exc_value, traceback):
        try:
            return Context.__exit__(self, exc_type, exc_value, traceback)
        finally:
            for watcher in readonly_watchers:
                watcher.leave()

    def __call__(self, func):
        wrapped = Context.__call__(self, func)

        def watched(*args, **kwargs):
            for watcher in readonly_watchers:
                watcher.enter()
            try:
                return wrapped(*args, **kwargs)
            finally:
                for watcher in readonly_watchers:
                    watcher.leave()
        return wraps(func)(watched)

    def __repr__(self):
        return 'readonly()'


class Frame(Context):
    """The library's own entry: ``alias`` for ``models`` (all models if None).

    ``raw``: whether django.db.connection means ``alias`` inside it too.  Frames
    around Django's SQL (query execution, many-to-many writes) say yes; frames
    around a whole save or delete say no, so that raw SQL in a signal handler
    goes where it would go without the save.
    """

    runs_library_sql = True

    def __init__(self, alias, models=None, raw=True):
        self.alias = alias
        self.models = models
        self.decides_raw = raw

    def alias_for(self, model):
        if self.models is None or model in self.models:
            return self.alias
        return None

    def raw_alias(self):
        return self.alias

    def __repr__(self):
        return 'Frame(%r)' % (self.alias,)


def run_with(entry, func, *args, **kwargs):
    """Call ``func`` with ``entry`` (a Frame of the caller's kind) pushed."""
    push(entry)
    try:
        return func(*args, **kwargs)
    finally:
        pop(entry)


def run_in(alias, models, func, *args, **kwargs):
    """Call ``func`` with a Frame for ``alias`` pushed (raw SQL included)."""
    entry = push(Frame(alias, models))
    try:
        return func(*args, **kwargs)
    finally:
        pop(entry)


def run_for_models(alias, models, func, *args, **kwargs):
    """Call ``func`` with a Frame for ``alias`` and ``models`` only (not raw SQL)."""
    entry = push(Frame(alias, models, raw=False))
    try:
        return func(*args, **kwargs)
    finally:
        pop(entry)
