"""The folder layout is the architecture: who may import whom, checked on the source (AST) and by importing.

Each folder of ``edgeprof/`` is a part (docs/architecture.md). ``ALLOWED`` lists, per part, the
parts its modules may import; an import anywhere in a module counts, inside a function too, except
that the agent's model selection may ask ``costs`` for a bare .onnx inside a function only (onnx
may be missing on the board). Runs on Python 3.6 (``make test-py36``), so it also shows that every
agent and records module imports on the JetPack 4.6 stack.
"""
import ast
import os
import subprocess
import sys

from conftest import REPO

PACKAGE = os.path.join(REPO, "edgeprof")
SHARED = "shared"  # errors, util, argtypes, protowire, onnxproto, the package itself: standard library only
ALLOWED = {
    SHARED: {SHARED},
    "records": {SHARED, "records"},
    "costs": {SHARED, "costs"},
    "workstation": {SHARED, "records", "costs", "workstation"},
    "agent": {SHARED, "records", "agent", "backends", "sensors"},
    "backends": {SHARED, "records", "backends"},           # runtimes know nothing of power
    "sensors": {SHARED, "records", "agent", "sensors"},    # power knows nothing of runtimes
    "reading": {SHARED, "records", "reading"},             # reading profiles never runs a model
    "commands": {SHARED, "records", "costs", "workstation", "agent", "backends", "sensors", "reading",
                 "commands"},
}
LAZY_ONLY = {("agent", "costs")}  # allowed inside a function, never at module level
# Libraries the board may lack: never imported at module level by the agent or the records.
HEAVY = {"torch", "torchvision", "onnx", "onnxruntime", "matplotlib", "tensorrt", "pycuda", "cuda",
         "pynvml", "jtop", "PIL"}


def part_of(module):
    """The part of a dotted module name under ``edgeprof`` (``edgeprof.agent.sensors.jtop`` -> sensors)."""
    names = module.split(".")[1:]
    if not names or names[0] in ("errors", "util", "argtypes", "protowire", "onnxproto", "__init__"):
        return SHARED
    if names[0] in ("cli", "__main__"):
        return "commands"
    if names[0] == "agent" and len(names) > 1 and names[1] in ("backends", "sensors"):
        return names[1]
    return names[0]


def module_name(path, root):
    rel = os.path.relpath(path, os.path.dirname(root))[:-3].replace(os.sep, ".")
    return rel[:-len(".__init__")] if rel.endswith(".__init__") else rel


def is_module(dotted, root):
    """Whether ``dotted`` (``edgeprof.agent.board``) is a module or package file under ``root``'s folder."""
    path = os.path.join(os.path.dirname(root), *dotted.split("."))
    return os.path.isdir(path) or os.path.isfile(path + ".py")


def imports(tree, root, source, is_package):
    """``(dotted name, line, at module level)`` of every import in ``tree`` (of module ``source``).

    ``from edgeprof.agent import board`` counts as an import of ``edgeprof.agent.board``; relative
    imports are resolved against ``source``.
    """
    top_level = set(id(node) for node in tree.body)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = source.split(".") if is_package else source.split(".")[:-1]
                package = package[:len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            names = [base + "." + alias.name if is_module(base + "." + alias.name, root) else base
                     for alias in node.names]
        else:
            continue
        for name in names:
            yield name, node.lineno, id(node) in top_level


def violations(root=PACKAGE):
    """Every import that breaks a rule, as ``path:line: message`` lines."""
    found = []
    for folder, _, files in os.walk(root):
        for filename in sorted(files):
            if not filename.endswith(".py"):
                continue
            path = os.path.join(folder, filename)
            source = module_name(path, root)
            here = part_of(source)
            with open(path, "rb") as f:
                tree = ast.parse(f.read(), path)
            for name, line, module_level in imports(tree, root, source, filename == "__init__.py"):
                where = "%s:%d" % (os.path.relpath(path, os.path.dirname(root)), line)
                if name.split(".")[0] == "edgeprof":
                    there = part_of(name)
                    if there in ALLOWED[here]:
                        continue
                    if (here, there) in LAZY_ONLY and not module_level:
                        continue
                    found.append("%s: %s (%s) imports %s (%s)" % (where, source, here, name, there))
                elif module_level and here in ("agent", "backends", "sensors", "records", SHARED) \
                        and name.split(".")[0] in HEAVY:
                    found.append("%s: %s imports %s at module level; the board may not have it"
                                 % (where, source, name))
    return found


def test_no_part_imports_what_the_layout_forbids():
    assert violations() == []


def test_the_check_catches_a_forbidden_import(tmp_path):
    package = tmp_path / "edgeprof"
    for folder in ("agent", "agent/backends", "agent/sensors", "reading", "records", "workstation", "costs"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text(u"")
    (package / "__init__.py").write_text(u"")
    (package / "workstation" / "zoo.py").write_text(u"")
    (package / "costs" / "graph.py").write_text(u"")
    (package / "agent" / "board.py").write_text(u"")
    (package / "agent" / "sweep.py").write_text(u"from edgeprof.workstation import zoo\n")
    (package / "agent" / "selection.py").write_text(u"def f():\n    from edgeprof.costs import graph\n")
    (package / "agent" / "backends" / "x.py").write_text(u"from edgeprof.agent.sensors import y\n")
    (package / "agent" / "sensors" / "y.py").write_text(u"from edgeprof.agent import board\nimport pynvml\n")
    (package / "records" / "profile.py").write_text(u"from edgeprof.agent import board\n")
    (package / "reading" / "compare.py").write_text(u"from edgeprof.agent.backends import x\n")
    (package / "costs" / "rules.py").write_text(u"import onnx\n")  # costs is not on the board: allowed
    (package / "reading" / "predict.py").write_text(u"from ..agent import board\nfrom . import compare\n")
    found = violations(str(package))
    assert len(found) == 6, found
    assert any("edgeprof/reading/predict.py:1" in line and "(agent)" in line for line in found)
    assert any("edgeprof/agent/sweep.py:1" in line and "(workstation)" in line for line in found)
    assert any("edgeprof/agent/backends/x.py:1" in line and "(sensors)" in line for line in found)
    assert any("edgeprof/agent/sensors/y.py:2" in line and "pynvml at module level" in line for line in found)
    assert any("edgeprof/records/profile.py:1" in line and "(agent)" in line for line in found)
    assert any("edgeprof/reading/compare.py:1" in line and "(backends)" in line for line in found)
    (package / "agent" / "selection.py").write_text(u"from edgeprof.costs import graph\n")  # now at module level
    assert any("edgeprof/agent/selection.py:1" in line for line in violations(str(package)))


def board_modules():
    """Every module under edgeprof/agent and edgeprof/records, as dotted names."""
    names = []
    for part in ("agent", "records"):
        for folder, _, files in os.walk(os.path.join(PACKAGE, part)):
            names.extend(module_name(os.path.join(folder, f), PACKAGE) for f in sorted(files) if f.endswith(".py"))
    return sorted(names)


IMPORT_EACH = """
import importlib, sys
heavy = %r
for name in sys.argv[1:]:
    importlib.import_module(name)
loaded = sorted(m for m in heavy if m in sys.modules)
assert not loaded, "importing the agent and records loaded %%s" %% loaded
print("imported %%d modules on Python %%s" %% (len(sys.argv) - 1, sys.version.split()[0]))
""" % (sorted(HEAVY),)


def test_every_agent_and_records_module_imports_with_numpy_and_pyyaml_only():
    names = board_modules()
    assert "edgeprof.agent.sweep" in names and "edgeprof.records.profile" in names and len(names) > 20
    result = subprocess.run([sys.executable, "-c", IMPORT_EACH] + names, cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True,
                            env={"PYTHONPATH": REPO, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert "imported %d modules" % len(names) in result.stdout
