"""The engine cache: one file per serialized engine, found by a key over everything that makes it reusable.

A cache file is ``CACHE_MAGIC``, one line of JSON header (the key, the fields it hashes, the engine's
length, and the facts of its build: :data:`BUILD_FACTS`), then the engine bytes. A file is only loaded when its header matches the
cache key; a foreign, stale, truncated or corrupt one is rebuilt. The timing cache (8.0+) is one
file per device and TensorRT version, next to the engines.
"""
import collections
import hashlib
import json
import os

from edgeprof.records.files import write_atomic
from edgeprof.util import slug

DEFAULT_CACHE_DIR = os.path.join("~", ".cache", "edgeprof", "engines")
CACHE_FORMAT = 1
CACHE_MAGIC = b"EDGEPROF-TRT-ENGINE 1\n"

# Where one engine is cached: its file, its key and the fields the key hashes.
EngineFile = collections.namedtuple("EngineFile", ("path", "key", "fields"))
# What a build found, kept with its engine so that a cache hit reports it too: build time in seconds,
# whether TF32 was allowed, the int8 mode where the build chose it (Q/DQ networks), the engine's warnings.
BUILD_FACTS = ("seconds", "tf32", "int8_calibration", "warnings")


def cache_fields(model_sha256, trt_version, gpu_name, compute_capability, precision, batch, workspace_mb,
                 int8_calibration, layers):
    """Everything that makes a serialized engine reusable, as a dict (the cache key hashes it)."""
    return {
        "format": CACHE_FORMAT, "model_sha256": model_sha256, "tensorrt_version": trt_version,
        "gpu_name": gpu_name, "compute_capability": compute_capability, "precision": precision,
        "batch": int(batch), "workspace_mb": int(workspace_mb), "int8_calibration": int8_calibration,
        "profiling_verbosity": "detailed" if layers else "default",
    }


def cache_key(fields):
    """The sha256 of the canonical JSON of :func:`cache_fields`, hex, 32 characters."""
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def engine_path(cache_dir, fields, key):
    return os.path.join(cache_dir, "%s-b%d-%s-%s.engine"
                        % (fields["model_sha256"][:12], fields["batch"], fields["precision"], key[:16]))


def engine_file(cache_dir, fields):
    """The :data:`EngineFile` of the engine described by ``fields`` in ``cache_dir``."""
    key = cache_key(fields)
    return EngineFile(engine_path(cache_dir, fields, key), key, fields)


def read_cached_engine(path, key, fields):
    """The engine bytes and header of a cache file, or ``(None, reason)`` when it must be rebuilt.

    A file is used only when its header carries the same key and fields and the engine
    length it announces; anything else is foreign, stale or corrupt.
    """
    if not os.path.exists(path):
        return None, "not cached"
    try:
        with open(path, "rb") as f:
            if f.read(len(CACHE_MAGIC)) != CACHE_MAGIC:
                return None, "not an edgeprof engine file"
            header = json.loads(f.readline().decode("utf-8"))
            blob = f.read()
    except (OSError, ValueError) as exc:
        return None, "unreadable (%s)" % exc
    if not isinstance(header, dict) or header.get("key") != key or header.get("fields") != fields:
        return None, "built for other settings (stale or foreign)"
    if header.get("engine_bytes") != len(blob):
        return None, "truncated (%d of %s bytes)" % (len(blob), header.get("engine_bytes"))
    return blob, header


def write_cached_engine(path, key, fields, plan, facts):
    """Cache ``plan`` (any buffer: TensorRT's IHostMemory is written without a copy) with its build ``facts``."""
    facts = dict((name, facts.get(name)) for name in BUILD_FACTS)
    facts["seconds"] = round(facts["seconds"] or 0.0, 3)
    header = {"key": key, "fields": fields, "engine_bytes": memoryview(plan).nbytes, "build_seconds": facts["seconds"],
              "build": facts}
    line = json.dumps(header, sort_keys=True).encode("utf-8") + b"\n"
    write_atomic(path, [CACHE_MAGIC, line, plan])


def build_facts(header):
    """The :data:`BUILD_FACTS` a cache file's header keeps (None or empty where it has none)."""
    facts = dict(header.get("build") or {})
    facts.setdefault("seconds", header.get("build_seconds"))
    facts["warnings"] = list(facts.get("warnings") or [])
    return dict((name, facts.get(name)) for name in BUILD_FACTS)


def timing_cache_path(cache_dir, trt_version, gpu_name, compute_capability):
    return os.path.join(cache_dir, "timing-%s-sm%s-trt%s.cache"
                        % (slug(gpu_name), compute_capability.replace(".", ""), trt_version))
