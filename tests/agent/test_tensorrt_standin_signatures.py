"""Every public method of every stand-in class takes the arguments real TensorRT's binding takes, by the same names.

test_tensorrt_signatures.py checks the calls the backend makes; this checks the stand-ins themselves, so
that they refuse what the real bindings refuse: a stand-in ``set_shape(self, name, ...)`` would take
``set_shape(name=...)``, which TensorRT (``input: str``) rejects. Each stand-in module (trt_standins/trt_*.py)
is checked against the signature file of the version it stands for (the file whose version begins its
``__version__``: 7.1.3.0 -> 7.1.txt, 8.2.1.8 -> 8.2.txt, 10.13.0.35 -> 10.13.0.35.txt):

- a class it exports under a TensorRT name, with every public method and property its stand-in classes
  define (mixins and bases included), is checked against that TensorRT class (and its bases);
- a shared class it does not export (``ITensor``, ``EngineInspector``...: its name less a ``Base`` suffix, or
  :data:`ALIASES`) against each stand-in version whose file has that class.

A method fits a real overload when its parameters are, in order, the overload's first ones by name and
kind, each with a default exactly where the real one has one, and the overload's parameters it leaves out
all have defaults (a stand-in lacking an optional trailing argument raises TypeError when given it, which
is stricter than TensorRT, not looser). A stand-in taking several overloads (native.overloaded) has each of
its ``overloads`` checked so. A constructor is checked where TensorRT binds one; a public method TensorRT
lacks is refused (stand-in machinery is private, ``_name``). pybind11's ``argN`` (positional-only, no
keyword) may have any name in a stand-in: Python 3.6 cannot say positional-only.
"""
import importlib
import inspect
import os
import re
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from test_tensorrt_signatures import SIGNATURES, SIGNATURES_DIR, STANDINS  # noqa: E402
from trt_standins import native, recording  # noqa: E402

# Stand-in classes whose name is no TensorRT class, and the class each stands for.
ALIASES = {"ICudaEngineBuilt": "ICudaEngine"}  # 7.1: what Builder.build_engine returns


def _module(name):
    return importlib.import_module("trt_standins." + name)


def version_of(name):
    """The signature version a stand-in module stands for: the longest one its ``__version__`` begins with."""
    parts = tuple(int(p) for p in _module(name).__version__.split("."))
    found = [v for v in SIGNATURES if parts[:len(v)] == v]
    return max(found, key=len) if found else None


def _line_numbers(version):
    """``{"Class.member": [line numbers]}`` of a signature file, for the messages."""
    lines = {}
    path = os.path.join(SIGNATURES_DIR, "%s.txt" % ".".join(map(str, version)))
    with open(path) as f:
        for number, text in enumerate(f, 1):
            match = re.match(r"^(?:static |classmethod )?(\w+\.\w+)[(:]", text)
            if match:
                lines.setdefault(match.group(1), []).append(number)
    return lines


def where(version, dotted):
    numbers = _line_numbers(version).get(dotted)
    file_name = "%s.txt" % ".".join(map(str, version))
    return "%s:%s" % (file_name, ",".join(map(str, numbers))) if numbers else file_name


# -- what the stand-ins define ---------------------------------------------------------------------

def exported_classes(name, api):
    """``[(TensorRT class name, stand-in class)]`` module ``name`` exports under a name ``api`` has."""
    found = []
    for exported, value in sorted(vars(_module(name)).items()):
        if isinstance(value, type) and recording.is_standin_class(value) and exported in api.classes:
            found.append((exported, value))
    return found


def shared_classes(exported):
    """``[(TensorRT class name, stand-in class)]`` of the stand-in classes no module exports and none of
    ``exported`` inherits (ITensor, EngineInspector...), named by :func:`real_name`."""
    covered = {base for klass in exported for base in klass.__mro__}
    return [(real_name(k), k) for k in recording.standin_classes() if k not in covered]


def real_name(klass):
    return ALIASES.get(klass.__name__, re.sub(r"Base$", "", klass.__name__))


def public_members(klass):
    """``{name: (defining stand-in class, raw attribute)}`` of the methods and properties ``klass``'s stand-in
    classes define (``__init__`` included; class constants and nested classes are the stand-ins' own)."""
    members = {}
    for base in reversed(klass.__mro__):
        if not recording.is_standin_class(base):
            continue
        for name, value in vars(base).items():
            if (name == "__init__" or not name.startswith("_")) and isinstance(value, (property, type(lambda: 0))):
                members[name] = (base, value)
    return members


# -- the rule ------------------------------------------------------------------------------------------

def _real_params(overload):
    """``[(name, has default, kind)]`` of a real overload's parameters after self (kind: positional/keyword)."""
    params, kind = [], "positional"
    for param in overload.params[1:]:
        if param.name == "/":
            continue
        if param.name == "*" or param.name.startswith("*"):
            kind = "keyword"
            if param.name != "*":
                params.append((param.name, True, "varargs"))
            continue
        params.append((param.name, param.has_default, kind))
    return params


def _standin_params(function):
    """``[(name, has default, kind)]`` of a Python function's parameters after self."""
    kinds = {inspect.Parameter.POSITIONAL_OR_KEYWORD: "positional", inspect.Parameter.KEYWORD_ONLY: "keyword",
             inspect.Parameter.VAR_POSITIONAL: "varargs", inspect.Parameter.VAR_KEYWORD: "varargs"}
    return [(p.name, p.default is not p.empty, kinds.get(p.kind, "positional"))
            for p in list(inspect.signature(function).parameters.values())[1:]]


def mismatch(function, overload):
    """None when stand-in ``function`` takes a prefix of ``overload``'s parameters, as TensorRT names them; else why."""
    theirs, ours = _real_params(overload), _standin_params(function)
    if any(kind == "varargs" for _, _, kind in ours):
        return "takes *args/**kwargs: it would take any keyword (use native.overloaded)"
    if len(ours) > len(theirs):
        return "takes %d arguments, TensorRT %d" % (len(ours), len(theirs))
    for (name, default, kind), (real, real_default, real_kind) in zip(ours, theirs):
        if name != real and not re.match(r"^arg\d+$", real):
            return "argument %r is %r in TensorRT" % (name, real)
        if default != real_default:
            return "argument %r %s a default, TensorRT's %s" % (name, "has" if default else "lacks",
                                                                  "has one" if real_default else "does not")
        if kind != real_kind:
            return "argument %r is %s, TensorRT's %s" % (name, kind, real_kind)
    left_out = [real for real, real_default, _ in theirs[len(ours):] if not real_default]
    if left_out:
        return "lacks %s, which TensorRT needs" % ", ".join(left_out)
    return None


def problems_of(api, cls, klass):
    """What in stand-in ``klass`` (standing for TensorRT ``cls`` of ``api``) the real binding would not take."""
    found = []
    for name, (owner, value) in sorted(public_members(klass).items()):
        dotted = "%s.%s" % (cls, name)
        at = "%s (%s.%s)" % (dotted, owner.__module__.split(".")[-1], owner.__name__)
        member = api.find(cls, name)
        if member is None:
            found.append("%s: TensorRT %s has no %s" % (at, ".".join(map(str, api.version)), dotted))
            continue
        if isinstance(value, property):
            if member.kind not in ("property", "attribute"):
                found.append("%s: a property here, a %s in TensorRT (%s)" % (at, member.kind, where(api.version, dotted)))
            continue
        if member.kind == "noinit":  # TensorRT makes these itself; the stand-in's constructor is its own
            continue
        if member.kind != "method":
            found.append("%s: a method here, a %s in TensorRT (%s)" % (at, member.kind, where(api.version, dotted)))
            continue
        for function in getattr(value, "overloads", None) or (value,):
            reasons = [mismatch(function, overload) for overload in member.overloads]
            if all(reasons):
                found.append("%s%s: %s (%s)" % (at, inspect.signature(function), "; ".join(reasons),
                                                where(api.version, dotted)))
    return found


def standin_problems(name):
    api = SIGNATURES[version_of(name)]
    exported = exported_classes(name, api)
    found = []
    for cls, klass in exported:
        found.extend(problems_of(api, cls, klass))
    for cls, klass in shared_classes([k for n in STANDINS for _, k in exported_classes(n, SIGNATURES[version_of(n)])]):
        if cls in api.classes:
            found.extend(problems_of(api, cls, klass))
    return sorted(set(found))


# -- the tests -----------------------------------------------------------------------------------------

def test_every_stand_in_module_stands_for_a_version_with_a_signature_file():
    assert STANDINS == ["trt_10", "trt_7_1", "trt_8_2"]
    assert {n: version_of(n) for n in STANDINS} == {"trt_7_1": (7, 1), "trt_8_2": (8, 2),
                                                     "trt_10": (10, 13, 0, 35)}


@pytest.mark.parametrize("name", STANDINS)
def test_every_public_method_of_the_stand_ins_takes_the_real_arguments(name):
    assert standin_problems(name) == []


def test_every_stand_in_class_with_public_methods_stands_for_a_tensorrt_class():
    exported = [k for n in STANDINS for _, k in exported_classes(n, SIGNATURES[version_of(n)])]
    versions = [SIGNATURES[version_of(n)] for n in STANDINS]
    nameless = [k.__name__ for cls, k in shared_classes(exported)
                if [m for m in public_members(k) if m != "__init__"] and not any(cls in v.classes for v in versions)]
    assert nameless == []


def test_the_check_covers_the_classes_the_backend_drives():
    checked = {}
    for name in STANDINS:
        api = SIGNATURES[version_of(name)]
        exported = exported_classes(name, api)
        pairs = exported + [(c, k) for c, k in shared_classes(
            [k for n in STANDINS for _, k in exported_classes(n, SIGNATURES[version_of(n)])]) if c in api.classes]
        checked[name] = {"%s.%s" % (cls, m) for cls, klass in pairs for m in public_members(klass)}
    assert {"IOptimizationProfile.set_shape", "ITensor.set_dynamic_range", "OnnxParser.parse_from_file",
            "IBuilderConfig.create_timing_cache", "Runtime.deserialize_cuda_engine",
            "EngineInspector.get_engine_information", "ICudaEngine.create_execution_context",
            "IExecutionContext.set_tensor_address", "ILogger.log", "Builder.__init__"} <= checked["trt_10"]
    assert {"IExecutionContext.set_binding_shape", "IExecutionContext.get_binding_shape",
            "IExecutionContext.execute_async_v2", "ICudaEngine.serialize"} <= checked["trt_7_1"]
    assert {"IExecutionContext.execute_async_v2", "EngineInspector.get_engine_information"} <= checked["trt_8_2"]


# The stand-ins' former names (and arities), each of which the rule must refuse.
def _old_set_shape(self, name, min, opt, max):
    pass


def _old_get_engine_information(self, fmt):
    pass


def _old_set_dynamic_range(self, low, high):
    pass


def _old_parse_from_file(self, path):
    pass


def _old_create_timing_cache(self, data):
    pass


def _old_deserialize_cuda_engine(self, data):
    pass


def _old_set_binding_shape(self, index, shape):
    pass


def _any_arguments(self, *args, **kwargs):
    pass


def _one_too_many(self, bindings, stream_handle, input_consumed=None, extra=None):
    pass


def _default_where_tensorrt_has_none(self, bindings, stream_handle=0):
    pass


@pytest.mark.parametrize("version,cls,member,function,needle", [
    ((10, 13, 0, 35), "IOptimizationProfile", "set_shape", _old_set_shape, "'name' is 'input'"),
    ((8, 2), "EngineInspector", "get_engine_information", _old_get_engine_information, "'fmt' is 'format'"),
    ((7, 1), "ITensor", "set_dynamic_range", _old_set_dynamic_range, "'low' is 'min'"),
    ((8, 2), "OnnxParser", "parse_from_file", _old_parse_from_file, "'path' is 'model'"),
    ((10, 13, 0, 35), "IBuilderConfig", "create_timing_cache", _old_create_timing_cache,
     "'data' is 'serialized_timing_cache'"),
    ((8, 2), "Runtime", "deserialize_cuda_engine", _old_deserialize_cuda_engine, "'data' is 'serialized_engine'"),
    ((8, 2), "IExecutionContext", "set_binding_shape", _old_set_binding_shape, "'index' is 'binding'"),
    ((10, 13, 0, 35), "ICudaEngine", "create_execution_context", _any_arguments, "*args/**kwargs"),
    ((8, 2), "IExecutionContext", "execute_async_v2", _one_too_many, "takes 4 arguments, TensorRT 3"),
    ((8, 2), "IExecutionContext", "execute_async_v2", _default_where_tensorrt_has_none, "'stream_handle' has a default"),
    ((8, 2), "IExecutionContext", "set_binding_shape", lambda self, binding: None, "lacks shape"),
])
def test_the_rule_refuses_the_old_names_and_shapes(version, cls, member, function, needle):
    overloads = SIGNATURES[version].find(cls, member).overloads
    reasons = [mismatch(function, overload) for overload in overloads]
    assert all(reasons) and any(needle in r for r in reasons), reasons


def test_a_stand_in_may_leave_out_optional_trailing_arguments():
    overload, = SIGNATURES[(8, 2)].find("OnnxParser", "parse").overloads  # (model, path=None)
    assert mismatch(lambda self, model: None, overload) is None
    overload, = SIGNATURES[(8, 2)].find("IExecutionContext", "execute_async_v2").overloads
    assert mismatch(lambda self, bindings, stream_handle: None, overload) is None


def test_a_public_helper_the_real_class_lacks_is_refused():
    class IOptimizationProfile(object):
        def problem(self):
            pass

    found = problems_of(SIGNATURES[(8, 2)], "IOptimizationProfile", _standin_like(IOptimizationProfile))
    assert found and "has no IOptimizationProfile.problem" in found[0], found


def _standin_like(klass):
    """``klass`` as if a stand-in module defined it (public_members looks at stand-in classes only)."""
    klass.__module__ = "trt_standins.made_up"
    return klass


def test_the_overloads_of_10_create_execution_context_are_each_checked_and_dispatched(monkeypatch):
    trt = _module("trt_10")
    method = vars(trt.ICudaEngine)["create_execution_context"]
    assert [list(inspect.signature(f).parameters) for f in method.overloads] == [
        ["self", "strategy"], ["self", "runtime_config"]]

    seen = []

    @native.overloaded(*method.overloads)
    def create(self, overload, arguments):
        seen.append((overload, arguments))

    create(None)
    create(None, strategy=trt.ExecutionContextAllocationStrategy.USER_MANAGED)
    create(None, runtime_config="config")
    assert seen == [(0, {"strategy": trt.ExecutionContextAllocationStrategy.STATIC}),
                    (0, {"strategy": trt.ExecutionContextAllocationStrategy.USER_MANAGED}),
                    (1, {"runtime_config": "config"})]
    with pytest.raises(TypeError, match="incompatible function arguments"):
        create(None, strategy=1, runtime_config=None)
    with pytest.raises(TypeError, match="incompatible function arguments"):
        create(None, allocation="static")
