"""The package's import graph: no cycles, and the library never imports the
benchmark harness (``mmswtat.benchmark``)."""
import ast
import os
import os.path as osp

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PACKAGE = osp.join(ROOT, 'mmswtat')


def _modules():
    """``{module name: file}`` of every module of the package."""
    out = {}
    for folder, _, files in os.walk(PACKAGE):
        for f in files:
            if f.endswith('.py'):
                rel = osp.relpath(osp.join(folder, f), ROOT)[:-3]
                name = rel.replace(os.sep, '.')
                out[name[:-len('.__init__')] if name.
                    endswith('__init__') else name] = osp.join(folder, f)
    return out


def _imports(name: str, path: str, known) -> set:
    """The package modules that module ``name`` imports, at module level or
    inside functions (``from a import b`` counts ``a.b`` where that is a
    module, else ``a``)."""
    is_pkg = path.endswith('__init__.py')
    base = name.split('.') if is_pkg else name.split('.')[:-1]
    out = set()
    for node in ast.walk(ast.parse(open(path, encoding='utf-8').read())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ''
            if node.level:
                parent = base[:len(base) - node.level + 1]
                mod = '.'.join(parent + ([mod] if mod else []))
            subs = [f'{mod}.{a.name}' for a in node.names]
            targets = [t for t in subs if t in known] or [mod]
        else:
            continue
        out.update(t for t in targets if t in known and t != name)
    return out


def _graph():
    """Every import between the package's modules, except ``import
    mmswtat`` itself: functions import the root package for its side
    effect (registering the ``mmswtat`` scope), which is no cycle of
    code."""
    known = _modules()
    return {n: _imports(n, p, known) - {'mmswtat'} for n, p in known.items()}


def _cycle(graph):
    """One import cycle as a list of modules, or None."""
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        state[n] = 2
        stack.pop()
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_the_walk_sees_the_package_imports():
    graph = _graph()
    assert 'mmswtat.recipes' in graph['mmswtat.config_gen.methods']
    assert 'mmswtat.benchmark.accuracy.methods' in graph[
        'mmswtat.benchmark.accuracy.tasks']
    # a function-level import counts too
    assert 'mmswtat.utils.value_checks' in graph['mmswtat.recipes']
    assert _cycle(dict(a={'b'}, b={'c'}, c={'a'})) == ['a', 'b', 'c', 'a']


def test_no_import_cycles():
    cycle = _cycle(_graph())
    assert cycle is None, 'import cycle: ' + ' -> '.join(cycle)


def test_the_library_never_imports_the_benchmark():
    graph = _graph()
    bad = {
        n: sorted(m for m in deps if m.startswith('mmswtat.benchmark'))
        for n, deps in graph.items() if not n.startswith('mmswtat.benchmark')
    }
    assert {n: d for n, d in bad.items() if d} == {}
