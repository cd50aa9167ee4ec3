"""Every TensorRT name the backend uses exists in the versions its API path claims to support.

The name lists in tests/data/trt_names/ come from the real Python bindings wheels
(tools/extract_trt_names.py: 8.6.1, 10.13.0.35, 11.4.0.106) and, for 7.1 and 8.2 (aarch64 only, not on
the registry), from NVIDIA's 7.1 and 8.2 API documentation. A name is present when a listed
name equals it or ends with it (the linker stores "Logger" inside "ILogger").
"""
import ast
import os
import sys

import pytest

from edgeprof.agent.backends import tensorrt as trt_backend

NAMES_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "trt_names")
BACKEND_DIR = os.path.dirname(os.path.abspath(trt_backend.__file__))
# Every module of the backend package but the CUDA layer (pycuda / cuda-python calls, not TensorRT ones).
BACKEND_SOURCES = sorted(os.path.join(BACKEND_DIR, n) for n in os.listdir(BACKEND_DIR)
                         if n.endswith(".py") and n != "cuda.py")


def _version(file_name):
    return tuple(int(part) for part in file_name[:-len(".txt")].split("."))


def _load():
    lists = {}
    for file_name in sorted(os.listdir(NAMES_DIR)):
        if file_name.endswith(".txt"):
            with open(os.path.join(NAMES_DIR, file_name)) as f:
                names = [line.strip() for line in f if line.strip() and not line.startswith("#")]
            lists[_version(file_name)] = names
    return lists


LISTS = _load()
EXPECTED_VERSIONS = [(7, 1), (8, 2), (8, 6, 1), (10, 13, 0, 35), (11, 4, 0, 106)]


def present(dotted, names):
    """Every part of ``Class.member`` is in the list (equal, or the tail of a merged string)."""
    return all(any(n == part or n.endswith(part) for n in names) for part in dotted.split("."))


def in_range(version, span):
    low, high = span
    return low <= version[:2] < high


def versions_in(span):
    return [v for v in LISTS if in_range(v, span)]


def test_the_checked_in_lists_are_the_expected_versions_and_small():
    assert sorted(LISTS) == EXPECTED_VERSIONS
    for file_name in os.listdir(NAMES_DIR):
        assert os.path.getsize(os.path.join(NAMES_DIR, file_name)) < 200 * 1024


@pytest.mark.parametrize("version", EXPECTED_VERSIONS)
def test_common_names_exist_in_every_version(version):
    missing = [n for n in trt_backend.COMMON_NAMES if not present(n, LISTS[version])]
    assert missing == []


@pytest.mark.parametrize("path", sorted(trt_backend.PATH_NAMES))
def test_each_path_names_exist_in_every_version_it_claims(path):
    claimed = versions_in(trt_backend.PATH_VERSIONS[path])
    assert claimed, "no name list inside the claimed range of %s" % path
    for version in claimed:
        missing = [n for n in trt_backend.PATH_NAMES[path] if not present(n, LISTS[version])]
        assert missing == [], "%s on TensorRT %s" % (path, version)


@pytest.mark.parametrize("version", EXPECTED_VERSIONS)
def test_every_feature_has_a_complete_alternative_in_every_version(version):
    for feature, alternatives in sorted(trt_backend.FEATURES.items()):
        assert any(all(present(n, LISTS[version]) for n in alt) for alt in alternatives), feature


@pytest.mark.parametrize("precision", sorted(trt_backend.PRECISION_NAMES))
def test_precision_names_exist_where_claimed_and_are_gone_in_tensorrt_11(precision):
    names = trt_backend.PRECISION_NAMES[precision]
    for version in versions_in(trt_backend.PRECISION_VERSIONS):
        assert [n for n in names if not present(n, LISTS[version])] == [], version
    assert not all(present(n, LISTS[(11, 4, 0, 106)]) for n in names)


def test_optional_names_exist_in_at_least_one_version():
    for name in trt_backend.OPTIONAL_NAMES:
        assert any(present(name, names) for names in LISTS.values()), name


class NamesModule(object):
    """A module-like object whose attributes are exactly the names of one list (flat, unqualified)."""

    def __init__(self, names, version):
        self._names = names
        self.__version__ = ".".join(str(p) for p in version)

    def __getattr__(self, name):
        if name.startswith("_") or not present(name, self._names):
            raise AttributeError(name)
        return NamesModule(self._names, ())


@pytest.mark.parametrize("version,path,pool,explicit_batch,fp16,int8,memory", [
    ((7, 1), "v8.2-bindings", False, True, True, True, "device_memory_size"),
    ((8, 2), "v8.2-bindings", False, True, True, True, "device_memory_size"),
    ((8, 6, 1), "v10-named-tensors", True, True, True, True, "device_memory_size"),
    ((10, 13, 0, 35), "v10-named-tensors", True, False, True, True, "device_memory_size_v2"),
    ((11, 4, 0, 106), "v10-named-tensors", True, False, False, False, "device_memory_size_v2"),
])
def test_feature_detection_on_each_real_name_set(version, path, pool, explicit_batch, fp16, int8, memory):
    api = trt_backend.detect_api(NamesModule(LISTS[version], version))
    assert (api.name, api.memory_pool, api.explicit_batch_flag, api.fp16, api.int8,
            api.engine_memory_attr) == (path, pool, explicit_batch, fp16, int8, memory)


@pytest.mark.parametrize("version,timing_cache,parse_from_file,verbosity,serialized_build", [
    ((7, 1), False, False, "VERBOSE", False),
    ((8, 2), True, True, "DETAILED", True),
    ((10, 13, 0, 35), True, True, "DETAILED", True),
])
def test_the_7_1_fallbacks_are_chosen_exactly_where_the_newer_names_are_missing(
        version, timing_cache, parse_from_file, verbosity, serialized_build):
    api = trt_backend.detect_api(NamesModule(LISTS[version], version))
    assert (api.timing_cache, api.parse_from_file, api.layer_verbosity, api.serialized_build) == (
        timing_cache, parse_from_file, verbosity, serialized_build)


def test_the_7_1_list_lacks_the_8_x_names_the_backend_only_uses_behind_hasattr():
    later = ("Builder.build_serialized_network", "IBuilderConfig.create_timing_cache", "OnnxParser.parse_from_file",
             "ICudaEngine.create_engine_inspector", "ProfilingVerbosity.DETAILED")
    assert [n for n in later if present(n, LISTS[(7, 1)])] == []
    assert all(n in trt_backend.OPTIONAL_NAMES or any(n in alt for alts in trt_backend.FEATURES.values()
                                                      for alt in alts) for n in later)


def _declared_parts():
    tables = [trt_backend.COMMON_NAMES, trt_backend.OPTIONAL_NAMES]
    tables += list(trt_backend.PATH_NAMES.values()) + list(trt_backend.PRECISION_NAMES.values())
    tables += [n for alts in trt_backend.FEATURES.values() for alt in alts for n in alt]
    parts = set()
    for table in tables:
        for dotted in ([table] if isinstance(table, str) else table):
            parts.update(dotted.split("."))
    return parts


# Attributes and identifier strings the backend uses on its own objects, dict keys, numpy, json, os and the
# CUDA layer ("LayerType" is a key of the engine inspector's JSON, not an API name); none is a TensorRT call.
NOT_TENSORRT = {"LayerType", "float32", "key", "stream_handle", "tensorrt", "tensorrt_version", "type", "unknown",
                "workspace", "append", "get", "items", "values", "update", "pop", "join", "split", "startswith", "search",
                "path", "shape", "nbytes", "random", "random_sample", "astype", "hexdigest", "encode", "decode",
                "read", "write", "readline", "flush", "fileno", "exists", "isfile", "expanduser", "dirname",
                "makedirs", "debug", "info", "warning", "replace", "lower", "group", "monotonic", "sha256",
                "dumps", "loads", "rename", "unlink", "fdopen", "mkstemp", "fsync", "name", "errors",
                "cuda"}  # "cuda": the device label the backend reports for the profile


def _string(node):
    """The text of a string literal node (ast.Str before Python 3.8), else None."""
    if sys.version_info < (3, 8):  # noqa: UP036 - these tests also run on Python 3.6
        return node.s if isinstance(node, ast.Str) else None
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def test_every_tensorrt_name_the_backend_touches_is_declared_in_its_tables():
    assert {os.path.basename(p) for p in BACKEND_SOURCES} >= {"__init__.py", "api.py", "build.py", "session.py"}
    used = set()
    for source in BACKEND_SOURCES:
        with open(source) as f:
            tree = ast.parse(f.read())
        used |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
        used |= {text for text in (_string(node) for node in ast.walk(tree)) if text and text.isidentifier()}
    union = {n for names in LISTS.values() for n in names}
    tensorrt_like = {u for u in used if u in union and not u.startswith("_")}
    undeclared = sorted(tensorrt_like - _declared_parts() - NOT_TENSORRT)
    assert undeclared == []
