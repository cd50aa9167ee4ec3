"""Every call the TensorRT backend makes fits the real signature, in every version its API path claims.

The signatures in tests/data/trt_signatures/ come from the real bindings wheels (8.6.1, 10.13.0.35,
11.4.0.106; tools/extract_trt_signatures.py) and, for 7.1 and 8.2 (aarch64 only, not on the
registry), by hand from the 8.2 bindings source and the 7.1 headers (see each file's header).

The calls are recorded, not guessed: each stand-in module (trt_standins/trt_*.py) is wrapped by
trt_standins/recording.py, the backend opens, runs, describes and closes sessions on it through
the paths the stand-ins can take (builds, cache hits, layers, fp16, int8, parser errors, OOM,
corrupt caches), and every call, attribute read and assignment, constructor call and callback
override that backend code makes on a TensorRT object is checked against each real version in
the range of the API path that stand-in selects: the member exists on that class (or a base),
a call's positional count and keyword names fit one of its overloads, an assignment goes to a
read-write property, a callback override takes the arguments TensorRT passes. A member missing
in a version is allowed only where the backend guards it (hasattr, its FEATURES / OPTIONAL_NAMES
tables, or a precision that version lacks). An AST walk of the backend then shows no TensorRT
call site escaped the recording.
"""
import ast
import gc
import importlib
import json
import os
import re
import shutil
import sys
import tempfile

import pytest

from edgeprof.agent.backends import tensorrt as trt_backend
from edgeprof.agent.backends.tensorrt import cuda as cuda_layer
from edgeprof.errors import InputFileError, OutOfMemory, UsageError

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from trt_standins import core, recording  # noqa: E402  (found through the path set just above)
from trt_standins.cuda_standin import StandinCuda  # noqa: E402

SIGNATURES_DIR = os.path.join(os.path.dirname(HERE), "data", "trt_signatures")
NAMES_DIR = os.path.join(os.path.dirname(HERE), "data", "trt_names")
BACKEND_DIR = os.path.dirname(os.path.abspath(trt_backend.__file__))
BACKEND_SOURCES = sorted(os.path.join(BACKEND_DIR, n) for n in os.listdir(BACKEND_DIR) if n.endswith(".py"))
EXPECTED_VERSIONS = [(7, 1), (8, 2), (8, 6, 1), (10, 13, 0, 35), (11, 4, 0, 106)]
HAND_WRITTEN = [(7, 1), (8, 2)]
# pybind11 prints a type bound later in the module by its C++ name; these are the Python classes.
CPP_NAMES = {"IEngineInspector": "EngineInspector", "IParserError": "ParserError", "IBuilder": "Builder",
             "IRuntime": "Runtime", "IParser": "OnnxParser"}


# -- the signature files --------------------------------------------------------------------------

class Param(object):
    def __init__(self, text):
        self.text = text
        head = split_top(text, "=")[0]
        self.name = split_top(head, ":")[0].strip()
        self.has_default = len(split_top(text, "=")) > 1

    def __repr__(self):
        return self.text


class Overload(object):
    def __init__(self, params, returns):
        self.params = params
        self.returns = returns

    def __str__(self):
        return "(%s)%s" % (", ".join(p.text for p in self.params), " -> " + self.returns if self.returns else "")


class Member(object):
    def __init__(self, kind, writable=False, returns=None):
        self.kind = kind  # method, static, classmethod, property, attribute, noinit
        self.writable = writable
        self.returns = returns
        self.overloads = []


class Signatures(object):
    """One version's classes (bases, enum or not, members) and module functions."""

    def __init__(self, version):
        self.version = version
        self.classes = {}
        self.functions = {}
        self.header = []

    def find(self, cls, member):
        """The Member ``cls.member`` (searching the bases), or None."""
        seen = set()
        pending = [cls]
        while pending:
            name = pending.pop(0)
            if name in seen or name not in self.classes:
                continue
            seen.add(name)
            info = self.classes[name]
            if member in info["members"]:
                return info["members"][member]
            pending.extend(info["bases"])
        return None

    def class_named(self, annotation):
        """The class an annotation such as ``nvinfer1::IEngineInspector`` names in this version, or None."""
        if not annotation:
            return None
        name = re.sub(r"^(nvinfer1|nvonnxparser)::(v_\d+_\d+::)?", "", annotation.strip())
        name = CPP_NAMES.get(name, name)
        return name if name in self.classes else None


def split_top(text, separator):
    """``text`` split at each ``separator`` outside brackets and quotes."""
    parts, depth, quote, current = [], 0, None, []
    for index, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{<":
            depth += 1
        elif char in ")]}" or (char == ">" and depth and text[index - 1] != "-"):
            depth -= 1
        elif char == separator and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return parts


def parse_call(text):
    """``name(params) -> returns`` as (name, [Param], returns or None)."""
    name, rest = text.split("(", 1)
    depth = 1
    for index, char in enumerate(rest):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                break
    params_text, tail = rest[:index], rest[index + 1:].strip()
    params = [Param(p.strip()) for p in split_top(params_text, ",") if p.strip()]
    returns = tail[len("->"):].strip() if tail.startswith("->") else None
    return name.strip(), params, returns


PROPERTY = re.compile(r"^(\w+)\.(\w+): property (readonly|readwrite)(?: -> (.*))?$")
ATTRIBUTE = re.compile(r"^(\w+)\.(\w+): attribute (.*)$")
NO_CONSTRUCTOR = re.compile(r"^(\w+)\.(__init__): no constructor$")
METHOD = re.compile(r"^(static |classmethod )?(\w+)\.(\w+\(.*)$")


def load_signatures(path):
    version = tuple(int(p) for p in os.path.basename(path)[:-len(".txt")].split("."))
    api = Signatures(version)

    def member_of(cls, name, kind, **kwargs):
        members = api.classes.setdefault(cls, {"bases": [], "enum": False, "members": {}})["members"]
        return members.setdefault(name, Member(kind, **kwargs))

    with open(path) as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.startswith("#"):
                api.header.append(line)
                continue
            if not line.strip() or line.startswith("    | "):
                continue
            if line.startswith("class "):
                name, params, _ = parse_call(line[len("class "):])
                api.classes.setdefault(name, {"bases": [], "enum": False, "members": {}})["bases"] = [
                    p.name for p in params]
            elif line.startswith("enum "):
                api.classes[line[len("enum "):].strip()] = {"bases": [], "enum": True, "members": {}}
            elif line.startswith("def "):
                name, params, returns = parse_call(line[len("def "):])
                api.functions.setdefault(name, []).append(Overload(params, returns))
            elif PROPERTY.match(line):
                cls, name, access, returns = PROPERTY.match(line).groups()
                member_of(cls, name, "property", writable=access == "readwrite", returns=returns)
            elif ATTRIBUTE.match(line):
                cls, name, _ = ATTRIBUTE.match(line).groups()
                member_of(cls, name, "attribute")
            elif NO_CONSTRUCTOR.match(line):
                cls, name = NO_CONSTRUCTOR.match(line).groups()
                member_of(cls, name, "noinit")
            elif METHOD.match(line):
                prefix, cls, call = METHOD.match(line).groups()
                name, params, returns = parse_call(call)
                member_of(cls, name, (prefix or "method").strip()).overloads.append(Overload(params, returns))
            else:
                raise ValueError("%s: cannot read %r" % (path, line))
    return api


def _load_all():
    found = {}
    for file_name in sorted(os.listdir(SIGNATURES_DIR)):
        if file_name.endswith(".txt"):
            api = load_signatures(os.path.join(SIGNATURES_DIR, file_name))
            found[api.version] = api
    return found


SIGNATURES = _load_all()
KNOWN_CLASSES = {name for api in SIGNATURES.values() for name in api.classes}


# -- checking one call against one overload ---------------------------------------------------------

def bind(params, npos, kwnames):
    """None when ``npos`` positional arguments and keywords ``kwnames`` fit ``params``; else why not."""
    positional, by_keyword, required = [], {}, []
    varargs = varkw = keyword_only = False
    for param in params:
        name = param.name
        if name == "/":
            for earlier in positional:
                by_keyword.pop(earlier.name, None)
            continue
        if name == "*":
            keyword_only = True
            continue
        if name.startswith("**"):
            varkw = True
            continue
        if name.startswith("*"):
            varargs = keyword_only = True
            continue
        if not keyword_only:
            positional.append(param)
        # pybind11 names an argument without py::arg "argN", and matches no keyword to it
        if name != "self" and not re.match(r"^arg\d+$", name):
            by_keyword[name] = param
        if not param.has_default:
            required.append(param)
    if npos > len(positional) and not varargs:
        return "takes %d positional arguments, given %d" % (len(positional), npos)
    filled = {p.name for p in positional[:npos]}
    for name in kwnames:
        if name in filled:
            return "%s given both by position and by keyword" % name
        if name not in by_keyword and not varkw:
            return "has no keyword argument %r" % name
        filled.add(name)
    missing = [p.name for p in required if p.name not in filled]
    if missing:
        return "needs %s" % ", ".join(missing)
    return None


def fits(overloads, npos, kwnames):
    """None when some overload takes the call; else each overload's reason."""
    reasons = []
    for overload in overloads:
        reason = bind(overload.params, npos, kwnames)
        if reason is None:
            return None
        reasons.append("%s %s" % (overload, reason))
    return "; ".join(reasons) or "no signature"


def callback_fits(overloads, capacity):
    """None when a Python override taking ``capacity`` = (max positional, required, *args) accepts the call
    TensorRT makes (every parameter but self, by position); else why not."""
    most, needed, varargs = capacity
    reasons = []
    for overload in overloads:
        passed = len([p for p in overload.params[1:] if not p.name.startswith("*") and p.name != "/"])
        if needed <= passed and (passed <= most or varargs):
            return None
        reasons.append("TensorRT calls it with %d arguments %s; the override takes %d to %s"
                       % (passed, overload, needed, "any" if varargs else most))
    return "; ".join(reasons) or "no signature"


# -- where the backend may use a member a version lacks ----------------------------------------------

def _hasattr_probes():
    """Member names the backend only touches behind ``hasattr(x, "name")`` or reads as ``getattr(x, "name", default)``."""
    probes = set()
    for source in BACKEND_SOURCES:
        with open(source) as f:
            tree = ast.parse(f.read())
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and (node.func.id, len(node.args)) in (("hasattr", 2), ("getattr", 3))):
                text = _string(node.args[1])
                if text:
                    probes.add(text)
    return probes


def _string(node):
    """The text of a string literal node (ast.Str before Python 3.8), else None."""
    if sys.version_info < (3, 8):  # noqa: UP036 - these tests also run on Python 3.6
        return node.s if isinstance(node, ast.Str) else None
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


# What detect_api probes to choose a path is no guard: each path must have its names in its whole range.
_PATH_PARTS = {part for names in list(trt_backend.PATH_NAMES.values()) + [trt_backend.COMMON_NAMES]
               for dotted in names for part in dotted.split(".")}
PROBES = _hasattr_probes() - _PATH_PARTS
GUARDED = set(trt_backend.OPTIONAL_NAMES) | {n for alts in trt_backend.FEATURES.values() for alt in alts for n in alt}
PRECISION_ONLY = {n for names in trt_backend.PRECISION_NAMES.values() for n in names}


def why_absent_is_fine(version, dotted):
    """Why the backend may meet a version without ``dotted`` ("Class.member", or a module name), or None."""
    cls = dotted.split(".")[0]
    module_level = "." not in dotted
    if (dotted in GUARDED or dotted.split(".")[-1] in PROBES
            or (module_level and any(g.startswith(dotted + ".") for g in GUARDED))):
        return "guarded (hasattr / FEATURES / OPTIONAL_NAMES)"
    low, high = trt_backend.PRECISION_VERSIONS
    if (dotted in PRECISION_ONLY or cls in PRECISION_ONLY) and not low <= version[:2] < high:
        return "only for fp16/int8, which TensorRT %s lacks" % ".".join(map(str, version))
    return None


# -- checking one record against one version -------------------------------------------------------

# The callbacks a Python subclass must define: pybind11 trampolines with PYBIND11_OVERLOAD_PURE_NAME (TensorRT
# release/8.2 python/src/infer/pyCore.cpp: ILogger "log", IProfiler "report_layer_time"; pyInt8.cpp: the
# calibrators' getBatchSize, getBatch, readCalibrationCache, writeCalibrationCache). A misspelt one is never called.
CALIBRATOR_CALLBACKS = ("get_batch", "get_batch_size", "read_calibration_cache", "write_calibration_cache")
REQUIRED_CALLBACKS = {"ILogger": ("log",), "IProfiler": ("report_layer_time",),
                      "IInt8EntropyCalibrator2": CALIBRATOR_CALLBACKS, "IInt8EntropyCalibrator": CALIBRATOR_CALLBACKS,
                      "IInt8MinMaxCalibrator": CALIBRATOR_CALLBACKS, "IInt8LegacyCalibrator": CALIBRATOR_CALLBACKS}


# The signature files leave enum classes' members out; every pybind11 enum value has these.
ENUM_MEMBERS = ("name", "value")


def owner_class(api, record):
    """The TensorRT class of the object a record is about, in ``api``'s version."""
    if record.cls:
        return record.cls
    if record.origin is not None:
        producer = api.find(owner_class(api, record.origin), record.origin.member)
        if producer is not None:
            returns = [o.returns for o in producer.overloads] + [producer.returns]
            for annotation in returns:
                if api.class_named(annotation):
                    return api.class_named(annotation)
    name = re.sub(r"Base$", "", record.standin or "")
    return name if name in api.classes else record.standin


def check(api, record):
    """("ok" | "skip" | "bad", text) for one record on one version."""
    version = api.version
    if record.kind in ("module-get", "module-call"):
        name = record.member
        if name == "__version__":  # every version's __init__.py sets it (see tests/data/trt_names)
            return "ok", name
        if name not in api.classes and name not in api.functions:
            reason = why_absent_is_fine(version, name)
            return ("skip", "tensorrt.%s: %s" % (name, reason)) if reason else (
                "bad", "tensorrt.%s does not exist" % name)
        if record.kind == "module-call":
            if name in api.classes:
                return "ok", name  # the constructor's own record checks the arguments
            problem = fits(api.functions[name], record.npos, record.kwnames)
            return ("bad", "tensorrt.%s(%d positional, keywords %s): %s" % (
                name, record.npos, list(record.kwnames), problem)) if problem else ("ok", name)
        return "ok", name
    cls = owner_class(api, record)
    if record.kind == "subclass":
        if cls not in api.classes:
            reason = why_absent_is_fine(version, cls)
            return ("skip", "%s(%s): %s" % (record.member, cls, reason)) if reason else (
                "bad", "%s subclasses %s, which does not exist" % (record.member, cls))
        missing = [m for m in REQUIRED_CALLBACKS.get(cls, ()) if m not in record.detail and api.find(cls, m)]
        return ("bad", "%s(%s) lacks %s, which TensorRT calls (pure virtual)" % (
            record.member, cls, ", ".join(missing))) if missing else ("ok", record.member)
    dotted = "%s.%s" % (cls, record.member)
    member = api.find(cls, record.member)
    if member is None and api.classes.get(cls, {}).get("enum") and record.member in ENUM_MEMBERS:
        return "ok", "%s (every pybind11 enum value has it)" % dotted
    if member is None and record.kind == "override" and cls in api.classes:
        return "ok", "%s: a helper of the subclass; TensorRT never calls it" % dotted
    if member is None:
        reason = why_absent_is_fine(version, dotted)
        if reason:
            return "skip", "%s: %s" % (dotted, reason)
        return "bad", "%s does not exist%s" % (dotted, "" if cls in api.classes else " (no class %s)" % cls)
    if record.kind == "get":
        return "ok", dotted
    if api.classes.get(cls, {}).get("enum") and record.member in ENUM_MEMBERS:
        return "ok", dotted
    if record.kind == "set":
        if member.kind == "property" and member.writable:
            return "ok", dotted
        return "bad", "%s = ...: it is a %s%s" % (dotted, "read-only " if member.kind == "property" else "",
                                                   member.kind if member.kind != "noinit" else "constructor")
    if record.kind == "override":
        if member.kind not in ("method",):
            return "bad", "override of %s: TensorRT's %s is a %s, not a method it calls" % (dotted, dotted, member.kind)
        problem = callback_fits(member.overloads, record.detail)
        return ("bad", "override of %s: %s" % (dotted, problem)) if problem else ("ok", dotted)
    # a call
    if member.kind == "noinit":
        return "bad", "%s(...): TensorRT binds no constructor for %s" % (cls, cls)
    if member.kind not in ("method", "static", "classmethod"):
        return "bad", "%s(...): it is a %s, not a method" % (dotted, member.kind)
    npos = record.npos - (1 if member.kind in ("static", "classmethod") else 0)
    problem = fits(member.overloads, npos, record.kwnames)
    if problem:
        return "bad", "%s(%d positional with self, keywords %s): %s" % (dotted, record.npos, list(record.kwnames),
                                                                          problem)
    return "ok", dotted


def problems(api, records):
    found = []
    for record in records:
        status, text = check(api, record)
        if status == "bad":
            found.append("%s: %s" % (record.site, text))
    return sorted(set(found))


# -- recording the backend on each stand-in --------------------------------------------------------

def _standin_names():
    folder = os.path.join(HERE, "trt_standins")
    return sorted(n[:-len(".py")] for n in os.listdir(folder) if re.match(r"^trt_\w+\.py$", n))


def _standin(name):
    return importlib.import_module("trt_standins." + name)


def versions_for(name):
    """The signature versions inside the range of the API path the backend picks on stand-in ``name``."""
    path = trt_backend.detect_api(_standin(name)).name
    low, high = trt_backend.PATH_VERSIONS[path]
    return [v for v in sorted(SIGNATURES) if low <= v[:2] < high]


STANDINS = _standin_names()


def _session(options, model, batch=2, precision="fp32"):
    return trt_backend.TensorRTBackend().open(model, batch, precision, dict(options))


def _timing_files(cache_dir):
    return [os.path.join(cache_dir, n) for n in os.listdir(cache_dir) if n.startswith("timing-")] \
        if os.path.isdir(cache_dir) else []


def scenarios(module, work):
    """(name, function, expected exception or None): the paths the backend can take on a stand-in."""
    model = core.write_model(os.path.join(work, "model.json"))
    cache = os.path.join(work, "engines")
    base = {"cache_dir": cache, "model_sha256": "ab" * 32, "workspace_mb": 64}

    def full_use(options, precision="fp32"):
        session = _session(options, model, precision=precision)
        session.run()
        session.start_device_window(4)
        session.run()
        session.device_times()
        session.memory()
        session.describe()
        session.close()

    def layers():
        full_use(dict(base, cache_dir=os.path.join(work, "layers"), layers=True))

    def corrupt_timing_cache():
        for path in _timing_files(cache):
            with open(path, "wb") as f:
                f.write(b"rubbish")
        full_use(dict(base, rebuild=True))

    def calibrated():
        import numpy
        calib = os.path.join(work, "calib")
        os.makedirs(calib)
        for index in range(2):
            numpy.save(os.path.join(calib, "img%d.npy" % index), numpy.ones((2, 3, 8, 8), numpy.float32))
        full_use(dict(base, cache_dir=os.path.join(work, "int8cal"), calib_dir=calib), "int8")

    def bad_cached_engine():
        names = [n for n in os.listdir(cache) if n.endswith(".engine")]
        path = os.path.join(cache, sorted(names)[0])
        with open(path, "rb") as f:
            magic, header, _ = f.read().split(b"\n", 2)
        fields = json.loads(header.decode("utf-8"))
        fields["engine_bytes"] = 5
        with open(path, "wb") as f:
            f.write(magic + b"\n" + json.dumps(fields).encode("utf-8") + b"\n" + b"XXXXX")
        full_use(base)

    def fault(name, value=True):
        def run():
            core.STATE.faults[name] = value
            full_use(dict(base, rebuild=True))
        return run

    def slow(kind):
        def run():
            setattr(core.STATE, "fast_" + kind, False)
            full_use(dict(base, cache_dir=os.path.join(work, "slow" + kind)), kind)
        return run

    found = [
        ("build, run, time, memory, describe, close", lambda: full_use(base), None),
        ("cache hit", lambda: full_use(base), None),
        ("rebuild", lambda: full_use(dict(base, rebuild=True)), None),
        ("layers", layers, None),
        ("fp16", lambda: full_use(dict(base, cache_dir=os.path.join(work, "fp16")), "fp16"), None),
        ("int8 without calibration", lambda: full_use(dict(base, cache_dir=os.path.join(work, "int8")), "int8"), None),
        ("int8 calibrated", calibrated, None),
        ("corrupt timing cache", corrupt_timing_cache, None),
        ("engine cache not loadable", bad_cached_engine, None),
        ("parser error", fault("parse_fail_node", (7, "Fancy_7")), InputFileError),
        ("out of memory building", fault("build_oom"), OutOfMemory),
        ("out of memory for the context", fault("context_oom"), OutOfMemory),
        ("no fast fp16", slow("fp16"), UsageError),
        ("no fast int8", slow("int8"), None),
    ]
    if hasattr(module.IBuilderConfig, "set_timing_cache"):
        def mismatch():
            original = module.IBuilderConfig.set_timing_cache
            module.IBuilderConfig.set_timing_cache = lambda self, *args, **kwargs: False
            try:
                full_use(dict(base, rebuild=True))
            finally:
                module.IBuilderConfig.set_timing_cache = original
        found.append(("timing cache does not fit", mismatch, None))
    return found


def record_backend(name, extra_sources=(), only=None):
    """(records, scenario errors) of the backend driven through :func:`scenarios` on stand-in ``name``."""
    module = _standin(name)
    recorder = recording.Recorder(module, BACKEND_SOURCES + list(extra_sources), KNOWN_CLASSES)
    saved = {"tensorrt": sys.modules.get("tensorrt"), "open_layer": cuda_layer.open_layer,
             "unavailable_reason": cuda_layer.unavailable_reason}
    work = tempfile.mkdtemp(prefix="trt-signatures-")
    errors = []
    try:
        sys.modules["tensorrt"] = recorder.module
        cuda_layer.open_layer = StandinCuda
        cuda_layer.unavailable_reason = lambda: None
        recorder.install()
        for title, run, expected in scenarios(module, work):
            if only is not None and title not in only:
                continue
            core.STATE.reset()
            try:
                run()
            except Exception as exc:  # any failure is reported; the records made so far are still checked
                if expected is None or not isinstance(exc, expected):
                    errors.append("%s: %s: %s" % (title, type(exc).__name__, exc))
            else:
                if expected is not None:
                    errors.append("%s: no %s raised" % (title, expected.__name__))
    finally:
        recorder.uninstall()
        core.STATE.reset()
        cuda_layer.open_layer = saved["open_layer"]
        cuda_layer.unavailable_reason = saved["unavailable_reason"]
        if saved["tensorrt"] is None:
            sys.modules.pop("tensorrt", None)
        else:
            sys.modules["tensorrt"] = saved["tensorrt"]
        shutil.rmtree(work, ignore_errors=True)
    return recorder.records, errors


_RECORDED = {}


def recorded(name):
    if name not in _RECORDED:
        _RECORDED[name] = record_backend(name)
    return _RECORDED[name]


# -- the data files --------------------------------------------------------------------------------

def test_the_signature_files_are_the_expected_versions_and_small():
    assert sorted(SIGNATURES) == EXPECTED_VERSIONS
    total = sum(os.path.getsize(os.path.join(SIGNATURES_DIR, n)) for n in os.listdir(SIGNATURES_DIR))
    assert total < 1024 * 1024


@pytest.mark.parametrize("version", [v for v in EXPECTED_VERSIONS if v not in HAND_WRITTEN])
def test_each_extracted_file_names_its_wheel_its_command_and_the_wheel_of_the_name_list(version):
    header = "\n".join(SIGNATURES[version].header)
    digest = re.search(r"^# wheel: (\S+) \(sha256 ([0-9a-f]{64})\), from pip download --no-deps \S+==\S+ ", header, re.M)
    assert digest and "# written by: python tools/extract_trt_signatures.py " in header
    with open(os.path.join(NAMES_DIR, "%s.txt" % ".".join(map(str, version)))) as f:
        assert digest.group(2) in f.read(), "the names list was taken from another wheel"


@pytest.mark.parametrize("version", HAND_WRITTEN)
def test_the_hand_written_files_say_so(version):
    assert "HAND-WRITTEN" in SIGNATURES[version].header[0]


@pytest.mark.parametrize("version", EXPECTED_VERSIONS)
def test_the_classes_the_backend_drives_are_in_every_file(version):
    api = SIGNATURES[version]
    for cls in ("Builder", "IBuilderConfig", "INetworkDefinition", "ITensor", "ILayer", "OnnxParser", "ParserError",
                "IOptimizationProfile", "Runtime", "ICudaEngine", "IExecutionContext", "ILogger", "IProfiler"):
        assert cls in api.classes and api.classes[cls]["members"], cls


# -- the checker itself ------------------------------------------------------------------------------

def _call(cls, member, npos, kwnames=(), kind="call", detail=None):
    return recording.Record(kind, cls, cls, None, member, npos, tuple(kwnames), "made-up.py:1", detail)


@pytest.mark.parametrize("version,record,needle", [
    ((8, 2), _call("IExecutionContext", "execute_async_v2", 2), "needs stream_handle"),
    ((7, 1), _call("IExecutionContext", "execute_async_v2", 5), "takes 4 positional arguments, given 5"),
    ((10, 13, 0, 35), _call("IExecutionContext", "set_tensor_address", 2, ["ptr"]), "no keyword argument 'ptr'"),
    ((10, 13, 0, 35), _call("EngineInspector", "get_engine_information", 1, ["fmt"]), "no keyword argument 'fmt'"),
    ((8, 6, 1), _call("IOptimizationProfile", "set_shape", 1, ["max", "min", "name", "opt"]), "'name'"),
    ((8, 2), _call("IExecutionContext", "execute_async_v3", 2), "IExecutionContext.execute_async_v3 does not exist"),
    ((11, 4, 0, 106), _call("IExecutionContext", "execute_async_v2", 3), "does not exist"),
    ((8, 2), _call("IExecutionContext", "execute_v2", 2, ["bindings"]), "given both by position and by keyword"),
    ((10, 13, 0, 35), _call("ICudaEngine", "num_io_tensors", 0, kind="set"), "read-only property"),
    ((10, 13, 0, 35), _call("IExecutionContext", "execute_async_v3", 0, kind="set"), "it is a method"),
    ((8, 6, 1), _call("OnnxParser", "num_errors", 1), "it is a property, not a method"),
    ((10, 13, 0, 35), _call("ICudaEngine", "__init__", 1), "binds no constructor"),
    ((8, 2), _call("ILogger", "log", 0, kind="override", detail=(1, 1, False)), "calls it with 2 arguments"),
    ((8, 2), _call("IProfiler", "LayerProfiler", 0, kind="subclass", detail=("report_layer_times",)),
     "lacks report_layer_time"),
    ((10, 13, 0, 35), _call("IInt8EntropyCalibrator2", "FileCalibrator", 0, kind="subclass",
                            detail=("get_batch", "get_batch_size", "read_calibration_cache")), "write_calibration_cache"),
    ((10, 13, 0, 35), _call(None, "nptype", 2, kind="module-call"), "takes 1 positional arguments, given 2"),
    ((11, 4, 0, 106), _call(None, "NoSuchClass", 0, kind="module-get"), "tensorrt.NoSuchClass does not exist"),
])
def test_the_checker_rejects_a_wrong_call(version, record, needle):
    status, text = check(SIGNATURES[version], record)
    assert status == "bad" and needle in text, text


@pytest.mark.parametrize("version,record", [
    ((7, 1), _call("IExecutionContext", "execute_async_v2", 3)),
    ((8, 2), _call("IExecutionContext", "execute_async_v2", 1, ["bindings", "stream_handle"])),
    ((10, 13, 0, 35), _call("IExecutionContext", "set_tensor_address", 1, ["memory", "name"])),
    ((10, 13, 0, 35), _call("ICudaEngine", "create_execution_context", 1)),
    ((10, 13, 0, 35), _call("IExecutionContext", "profiler", 0, kind="set")),
    ((8, 6, 1), _call("IInt8EntropyCalibrator2", "read_calibration_cache", 0, kind="override", detail=(0, 0, False))),
    ((11, 4, 0, 106), _call(None, "nptype", 1, kind="module-call")),
    ((8, 2), _call("ILogger", "start_capture", 0, kind="override", detail=(0, 0, False))),  # a helper
    ((8, 2), _call("ILogger", "CapturingLogger", 0, kind="subclass", detail=("log", "start_capture"))),
])
def test_the_checker_accepts_a_right_call(version, record):
    assert check(SIGNATURES[version], record)[0] == "ok"


def test_a_member_a_version_lacks_is_fine_only_behind_a_guard():
    assert check(SIGNATURES[(8, 6, 1)], _call("ICudaEngine", "device_memory_size_v2", 0, kind="get"))[0] == "skip"
    assert check(SIGNATURES[(11, 4, 0, 106)], _call("ITensor", "set_dynamic_range", 3))[0] == "skip"
    assert check(SIGNATURES[(10, 13, 0, 35)], _call("ITensor", "set_dynamic_range_v2", 3))[0] == "bad"


def record_snippet(name, snippet):
    """(records, exception or None) of ``snippet(tensorrt)``: code in this file driving stand-in ``name`` as the
    backend would (recorded like the backend's own calls)."""
    recorder = recording.Recorder(_standin(name), [__file__], KNOWN_CLASSES).install()
    try:
        snippet(recorder.module)
    except TypeError as exc:  # a stand-in that rejects a call itself: the call was recorded first
        return recorder.records, exc
    finally:
        recorder.uninstall()
    return recorder.records, None


def test_a_wrong_call_is_caught_on_live_objects_by_the_recorder_whatever_the_stand_in_does():
    def snippet(trt):
        builder = trt.Builder(trt.ILogger())
        profile = builder.create_optimization_profile()
        # TensorRT's first argument is input, not name; the stand-in (named as TensorRT) refuses name= too,
        # after the recorder has seen the call
        try:
            profile.set_shape(name="input", min=(1, 3, 8, 8), opt=(1, 3, 8, 8), max=(1, 3, 8, 8))
        except TypeError:
            pass
        builder.create_network(0, 1)  # one argument too many: TensorRT's create_network(self, flags=0)

    records, error = record_snippet("trt_10", snippet)
    # the error's traceback holds the snippet's builder and profile, made with no CUDA context on purpose
    # (this test is about signatures): let them go here, where they were made, instead of in whichever
    # later test's lifetime check (tests/agent/trt_standins/fixtures.py) the garbage collector picks
    del error
    gc.collect()
    core.STATE.violations[:] = [v for v in core.STATE.violations if not v.startswith(("Builder ", "IOptimizationProfile "))]
    for version in versions_for("trt_10"):
        found = problems(SIGNATURES[version], records)
        assert [p for p in found if "IOptimizationProfile.set_shape" in p and "'name'" in p], found
        assert [p for p in found if "Builder.create_network" in p and "given 3" in p], found
        assert [p for p in found if "test_tensorrt_signatures.py:" in p] == found


# -- the backend's calls --------------------------------------------------------------------------

@pytest.mark.parametrize("name", STANDINS)
def test_the_backend_runs_every_scenario_on_the_stand_in(name):
    assert recorded(name)[1] == []


@pytest.mark.parametrize("name,kinds", [
    ("trt_7_1", ("Builder.build_engine", "ICudaEngine.serialize", "IExecutionContext.execute_async_v2",
                 "IExecutionContext.execute_v2", "ILogger.log", "IInt8EntropyCalibrator2.get_batch")),
    ("trt_8_2", ("Builder.build_serialized_network", "IBuilderConfig.set_timing_cache",
                 "IExecutionContext.set_binding_shape", "EngineInspector.get_engine_information")),
    ("trt_10", ("IBuilderConfig.set_memory_pool_limit", "IExecutionContext.set_tensor_address",
                "IExecutionContext.execute_async_v3", "ParserError.node_name", "IProfiler.report_layer_time")),
])
def test_the_recording_sees_the_calls_of_each_path(name, kinds):
    if name not in STANDINS:
        pytest.skip("no stand-in %s" % name)
    api = SIGNATURES[max(versions_for(name))] if name != "trt_7_1" else SIGNATURES[(7, 1)]
    seen = {"%s.%s" % (owner_class(api, r), r.member) for r in recorded(name)[0]}
    assert [k for k in kinds if k not in seen] == []


STANDIN_VERSIONS = [(name, version) for name in STANDINS for version in versions_for(name)]


@pytest.mark.parametrize("name,version", STANDIN_VERSIONS,
                         ids=["%s-on-%s" % (n, ".".join(map(str, v))) for n, v in STANDIN_VERSIONS])
def test_every_call_the_backend_makes_fits_the_real_signatures(name, version):
    records, _ = recorded(name)
    assert len(records) > 50
    assert problems(SIGNATURES[version], records) == []


def test_every_stand_in_is_checked_against_some_real_version():
    assert STANDINS and all(versions_for(name) for name in STANDINS)


# -- no TensorRT call escapes the recording ---------------------------------------------------------

def _dotted(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return inner + "." + node.attr if inner else None
    return None


# Receivers whose calls are not TensorRT's: the CUDA layer, edgeprof's own modules and objects, the stdlib.
NOT_TENSORRT_RECEIVERS = {"cuda", "self._cuda", "self.cuda", "cache", "calibrator", "log", "json", "os", "os.path",
                          "numpy", "time", "re", "f", "self", "engines", "session", "settings", "cuda_layer",
                          "importlib", "hashlib", "digest", "group", "problems", "types", "totals", "order",
                          "self._logger.errors", "self.errors", "self.warnings", "parser_errors", "tensors", "facts"}
TRT_MODULE = {"trt", "self._trt", "self.trt", "engines.trt"}


# Methods of Python's own types: a call of one is on a list, dict, str, bytes... (TensorRT classes define none).
BUILTIN_METHODS = {n for t in (list, dict, str, bytes, bytearray, set, tuple, int, float) for n in dir(t)}


def _statement_spans(tree):
    """``{id(call node): (first, last line)}`` of the innermost statement holding each call (line numbers
    inside a multi-line statement differ between Python versions, so a call is placed by its statement)."""
    spans = {}
    for statement in ast.walk(tree):
        if not isinstance(statement, ast.stmt):
            continue
        inner = list(ast.walk(statement))
        span = (statement.lineno, max(getattr(n, "lineno", statement.lineno) for n in inner))
        for node in inner:
            if isinstance(node, ast.Call):
                known = spans.get(id(node))
                if known is None or span[1] - span[0] <= known[1] - known[0]:
                    spans[id(node)] = span
    return spans


def static_call_sites():
    """``(file, first line, last line, member, callee)`` of every call in the backend that may reach TensorRT;
    the lines are those of the statement, ``member`` is what a record of it names."""
    members = {m for api in SIGNATURES.values() for info in api.classes.values() for m in info["members"]}
    members -= BUILTIN_METHODS
    classes = {n for api in SIGNATURES.values() for n in api.classes}
    functions = {n for api in SIGNATURES.values() for n in api.functions}
    sites = []
    for source in BACKEND_SOURCES:
        if os.path.basename(source) == "cuda.py":  # the CUDA layer: pycuda / cuda-python, no TensorRT
            continue
        with open(source) as f:
            tree = ast.parse(f.read())
        spans = _statement_spans(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            receiver = _dotted(node.func.value) or "<expr>"
            attr = node.func.attr
            root = receiver.split(".")[0]
            if receiver in TRT_MODULE:
                member = "__init__" if attr in classes else attr if attr in functions else None
            elif any(receiver.startswith(m + ".") for m in TRT_MODULE):
                member = attr  # trt.ILogger.__init__(self)
            elif (attr in members and not attr.startswith("_") and receiver not in NOT_TENSORRT_RECEIVERS
                  and root not in NOT_TENSORRT_RECEIVERS - {"self"}):
                member = attr
            else:
                member = None
            if member:
                first, last = spans[id(node)]
                sites.append((os.path.basename(source), first, last, member, "%s.%s" % (receiver, attr)))
    return sorted(sites)


def test_no_tensorrt_call_site_of_the_backend_escapes_the_recording():
    sites = static_call_sites()
    assert len(sites) > 40
    lines = {}
    for name in STANDINS:
        for record in recorded(name)[0]:
            if record.kind in ("call", "module-call"):
                file_name, line = record.site.rsplit(":", 1)
                lines.setdefault((file_name, record.member), set()).add(int(line))
    unseen = ["%s:%d %s" % (file_name, first, callee) for file_name, first, last, member, callee in sites
              if not any(first <= line <= last for line in lines.get((file_name, member), ()))]
    assert unseen == []
