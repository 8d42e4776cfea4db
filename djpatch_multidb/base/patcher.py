"""The one piece of code that changes Django: apply and revert patch records.

A record names a module, optionally a class in it, an attribute, and a
factory that builds the replacement from the original.  ``apply()`` keeps the
original the first time (like gevent.monkey's ``saved`` with setdefault) and
remembers whether the attribute was the owner's own (like mock), so that
``revert()`` puts back exactly what was there: the same object with
``setattr``, or nothing with ``delattr`` when the attribute was inherited or
absent.

Modules that are not imported yet are patched the moment they are: an import
hook on ``sys.meta_path`` applies pending records right after a watched module
finishes loading, and on every other import checks whether a module that was
still loading when install() ran (django.db, while it reads settings.py) is
complete now.
"""
import sys
import threading

MISSING = object()
_lock = threading.RLock()


class Patch(object):
    """Replace ``module[.owner].attr`` with ``make(original)``.

    ``versions``: Django (major, minor) tuples the record applies to, or None
    for all.  ``optional``: the target may legitimately not exist (a backend
    whose driver is not installed, a method only some versions have).
    ``add``: the attribute is new (original MISSING is expected).
    ``source``: a Patch this attribute is a copy of; a module imported after
    the source was patched holds the source's replacement, and the true
    original is the source's.
    """

    def __init__(self, module, attr, make, owner=None, versions=None, add=False,
                 source=None):
        self.module = module
        self.source = source
        self.owner = owner
        self.attr = attr
        self.make = make
        self.versions = versions
        self.add = add
        self.original = MISSING
        self.was_local = False
        self.replacement = MISSING
        self.applied = False

    @property
    def name(self):
        return '.'.join([p for p in (self.module, self.owner, self.attr) if p])

    def __repr__(self):
        return '<Patch %s%s>' % (self.name, self.applied and ' (applied)' or '')

    def wanted(self, version):
        return self.versions is None or version in self.versions

    def target(self):
        """The object to patch, or None while it is not available."""
        module = sys.modules.get(self.module)
        if module is None:
            return None
        if self.owner is None:
            return module
        return module.__dict__.get(self.owner)

    def ready(self):
        target = self.target()
        if target is None:
            return False
        return self.add or self.attr in dir(target)

    def apply(self):
        target = self.target()
        local = _own_dict(target)
        self.was_local = self.attr in local
        if self.was_local:
            self.original = local[self.attr]
        else:
            self.original = getattr(target, self.attr, MISSING)
        if self.source is not None and self.original is self.source.replacement:
            self.original = self.source.original
        self.replacement = self.make(self.original)
        _set(target, self.attr, self.replacement)
        self.applied = True

    def revert(self):
        target = self.target()
        if target is not None and self.applied:
            if self.was_local:
                _set(target, self.attr, self.original)
            elif self.attr in _own_dict(target):
                delattr(target, self.attr)
        self.applied = False
        self.original = MISSING
        self.replacement = MISSING


class AliasSites(Patch):
    """Every module that copied ``source`` with ``from x import attr``.

    Applied after ``source`` (a Patch): each module in sys.modules whose
    ``attr`` is the source's original gets the source's replacement.  Modules
    imported later read the patched source and need nothing.
    """

    def __init__(self, source, attr, exclude=()):
        Patch.__init__(self, source.module, attr, None)
        self.source = source
        self.exclude = tuple(exclude) + (source.module,)

    @property
    def name(self):
        return 'modules that imported %s' % self.source.name

    def ready(self):
        return self.source.applied

    def _modules(self):
        for name, module in list(sys.modules.items()):
            if module is None or name in self.exclude or name.split('.')[0] == 'djpatch_multidb':
                continue
            yield module

    def apply(self):
        original = self.source.original
        if original is not MISSING:
            for module in self._modules():
                if _own_dict(module).get(self.attr, None) is original:
                    _set(module, self.attr, self.source.replacement)
        self.applied = True

    def revert(self):
        """Every copy of the replacement goes back to the original, including
        the copies taken by modules imported while installed."""
        replacement = self.source.replacement
        if replacement is not MISSING:
            for module in self._modules():
                if _own_dict(module).get(self.attr, None) is replacement:
                    _set(module, self.attr, self.source.original)
        self.applied = False


class Receiver(Patch):
    """Swap a signal receiver: disconnect ``module.attr``, connect ``make(original)``.

    The module attribute is replaced too, so code that later disconnects it by
    name (django.test.client does) finds the receiver that is connected.
    """

    def __init__(self, module, attr, make, signal, versions=None):
        Patch.__init__(self, module, attr, make, versions=versions)
        self.signal = signal

    def _signal(self):
        module_name, name = self.signal.rsplit('.', 1)
        return getattr(sys.modules[module_name], name)

    def apply(self):
        Patch.apply(self)
        signal = self._signal()
        signal.disconnect(self.original)
        signal.connect(self.replacement, weak=False)

    def revert(self):
        if self.applied:
            signal = self._signal()
            signal.disconnect(self.replacement)
            signal.connect(self.original)
        Patch.revert(self)


class Connect(Patch):
    """Connect a receiver of the library's own to ``signal`` (a dotted path);
    no attribute of Django changes.  Reverting disconnects it."""

    def __init__(self, signal, receiver, versions=None):
        module, attr = signal.rsplit('.', 1)
        Patch.__init__(self, module, attr, None, versions=versions)
        self.receiver = receiver

    @property
    def name(self):
        return '%s.%s -> %s' % (self.module, self.attr, self.receiver.__name__)

    def apply(self):
        # The plain Signal methods: Django 1.7+'s ModelSignal.connect would
        # import the model machinery while django.db.models is still loading.
        from django.dispatch import Signal
        Signal.connect(getattr(self.target(), self.attr), self.receiver, weak=False)
        self.applied = True

    def revert(self):
        target = self.target()
        if target is not None and self.applied:
            from django.dispatch import Signal
            Signal.disconnect(getattr(target, self.attr), self.receiver)
        self.applied = False


def _own_dict(target):
    return getattr(target, '__dict__', {})


def _set(target, attr, value):
    setattr(target, attr, value)


class Patcher(object):
    """Walks a registry: applies what it can now, the rest as modules load."""

    def __init__(self, registry, version):
        self.records = [r for r in registry if r.wanted(version)]
        self.pending = list(self.records)
        self.applied = []
        self.finder = None
        self._ticking = False

    def install(self):
        _lock.acquire()
        try:
            self.finder = _PostImportFinder(self)
            sys.meta_path.insert(0, self.finder)
            self.tick()
        finally:
            _lock.release()

    def uninstall(self):
        _lock.acquire()
        try:
            if self.finder in sys.meta_path:
                sys.meta_path.remove(self.finder)
            self.finder = None
            for record in reversed(self.applied):
                record.revert()
            self.applied = []
            self.pending = list(self.records)
        finally:
            _lock.release()

    def tick(self):
        """Apply every pending record whose target is loaded now.

        Applying a record may import modules, which calls tick() again from
        the import hook: that nested call returns at once.
        """
        if not self.pending or self._ticking:
            return
        _lock.acquire()
        self._ticking = True
        try:
            progress = True
            while progress:
                progress = False
                for record in list(self.pending):
                    if record.ready():
                        self.pending.remove(record)
                        record.apply()
                        self.applied.append(record)
                        progress = True
        finally:
            self._ticking = False
            _lock.release()

    def watched(self):
        names = {}
        for record in self.pending:
            names[record.module] = True
        return names


# The Patcher in force (install() sets it, uninstall() clears it): lower
# layers ask it for pending records without importing the installation.
active = [None]


def tick():
    """Apply records whose modules have finished loading since the last look."""
    patcher = active[0]
    if patcher is not None:
        patcher.tick()


def is_installed():
    return active[0] is not None


def applied_records():
    """The records in force now (for the status command and the tests)."""
    patcher = active[0]
    return patcher is not None and list(patcher.applied) or []


def pending_records():
    patcher = active[0]
    return patcher is not None and list(patcher.pending) or []


class _PostImportFinder(object):
    """A sys.meta_path entry that never loads anything itself but

    * before any import, applies records whose module has finished loading
      since the last look (a module still loading when install() ran);
    * for a watched module, lets the normal import run and applies the
      records that need it right after the module body has run.
    """

    def __init__(self, patcher):
        self.patcher = patcher
        self.loading = {}

    # Python 2 (PEP 302)
    def find_module(self, fullname, path=None):
        patcher = self.patcher
        if not patcher.pending:
            return None
        patcher.tick()
        if fullname in self.loading or fullname not in patcher.watched():
            return None
        return self

    def load_module(self, fullname):
        self.loading[fullname] = True
        try:
            __import__(fullname)
        finally:
            del self.loading[fullname]
        module = sys.modules[fullname]
        self.patcher.tick()
        return module

    # Python 3 (PEP 451)
    def find_spec(self, fullname, path=None, target=None):
        patcher = self.patcher
        if not patcher.pending:
            return None
        patcher.tick()
        if fullname in self.loading or fullname not in patcher.watched():
            return None
        import importlib.util
        self.loading[fullname] = True
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            del self.loading[fullname]
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _TickingLoader(spec.loader, patcher)
        return spec


class _TickingLoader(object):
    def __init__(self, loader, patcher):
        self.loader = loader
        self.patcher = patcher

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        self.patcher.tick()

    def __getattr__(self, name):
        return getattr(self.loader, name)
