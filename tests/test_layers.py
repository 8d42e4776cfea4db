"""The package's imports run one way: no module imports, directly or through
others, a module that imports it back.  Imports inside functions count.

The layer order itself (base, context, db, routing, api, patched | native,
management, installation) is import-linter's contract in .importlinter,
which ./run_tests.sh checks under Python 3; this test needs nothing but the
standard library, so it runs on every stack.
"""
import ast
import os
import unittest

import djpatch_multidb

PACKAGE = 'djpatch_multidb'
ROOT = os.path.dirname(os.path.abspath(djpatch_multidb._module.__file__))


def package_modules():
    """{dotted name: file path} for every module of the package."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(ROOT):
        if '__init__.py' not in filenames:
            dirnames[:] = []
            continue
        parts = [PACKAGE] + os.path.relpath(dirpath, ROOT).split(os.sep)
        parts = [p for p in parts if p != '.']
        for filename in filenames:
            if filename.endswith('.py'):
                name = filename[:-3]
                dotted = '.'.join(parts if name == '__init__' else parts + [name])
                found[dotted] = os.path.join(dirpath, filename)
    return found


def imported_modules(path, modules):
    """The package modules ``path`` imports, at any depth of its code."""
    source = open(path).read()
    tree = ast.parse(source, path)
    targets = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    targets.add(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module in modules:
                for alias in node.names:
                    submodule = '%s.%s' % (node.module, alias.name)
                    targets.add(submodule if submodule in modules else node.module)
    return targets


def import_graph():
    modules = package_modules()
    return dict((name, imported_modules(path, modules)) for name, path in modules.items())


def cycles(graph):
    """Each group of modules that import one another (Tarjan's strongly
    connected components of more than one module, or a module importing itself)."""
    index, low, on_stack, stack, groups = {}, {}, set(), [], []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in graph.get(node, ()):
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


class ImportCycles(unittest.TestCase):

    def test_no_module_of_the_package_imports_itself_back(self):
        found = cycles(import_graph())
        self.assertEqual(found, [], 'import cycles in djpatch_multidb: %s' % '; '.join(
            [' <-> '.join(group) for group in found]))

    def test_the_check_sees_a_cycle_when_there_is_one(self):
        graph = import_graph()
        self.assertTrue('djpatch_multidb.context.selector' in graph['djpatch_multidb.routing.proxy'])
        graph['djpatch_multidb.context.selector'] = \
            graph['djpatch_multidb.context.selector'] | set(['djpatch_multidb.routing.proxy'])
        found = cycles(graph)
        self.assertEqual(len(found), 1, found)
        self.assertTrue('djpatch_multidb.context.selector' in found[0], found)
        self.assertTrue('djpatch_multidb.routing.proxy' in found[0], found)

    def test_imports_inside_functions_count(self):
        graph = import_graph()
        # installation imports the registries inside install(): the package
        # must be importable before Django's settings exist.
        self.assertTrue('djpatch_multidb.patched.registry' in graph['djpatch_multidb.installation'])
        self.assertTrue('djpatch_multidb.native.registry' in graph['djpatch_multidb.installation'])

    def test_the_public_paths_still_import(self):
        from djpatch_multidb.router import MultiDBRouter
        from djpatch_multidb.middleware import PinningMiddleware
        from djpatch_multidb.xa import recover
        from djpatch_multidb.native.router import MultiDBRouter as Router
        self.assertTrue(MultiDBRouter is Router)
        self.assertTrue(callable(recover))
        self.assertTrue(isinstance(PinningMiddleware, type))
        for name in djpatch_multidb.__all__:
            self.assertTrue(getattr(djpatch_multidb, name) is not None, name)
