"""ONNX Runtime: CPU by default; CUDA and TensorRT execution providers when present and asked for.

Works with onnxruntime 1.10 (the JetPack 4.6 builds) and current releases: only long-stable API
is used (``SessionOptions``, ``InferenceSession(path, options, providers=...)``, ``get_inputs``,
``get_providers``, ``run``; for ``--layers`` ``enable_profiling``, ``profile_file_prefix`` and
``end_profiling``: see :mod:`.ort_layers`).

The file carries its precision (an fp16 or QDQ int8 variant is a file of its own): ``--precision``
says which one the sweep asked for, and the profile records what the graph really is
(``graph_precision``, read from the file by :mod:`.ort_graph`, never by importing onnx).
"""
import logging
import os

import numpy as np

from edgeprof.agent.backends import ort_graph, ort_layers
from edgeprof.agent.backends.base import Backend, Session
from edgeprof.argtypes import non_negative_int
from edgeprof.errors import InputFileError, UsageError

# --ort-provider value -> ONNX Runtime execution providers, in order of preference.
PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}
_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
           "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(uint8)": np.uint8,
           "tensor(int8)": np.int8, "tensor(bool)": np.bool_}


log = logging.getLogger("edgeprof.onnxruntime")


def _import_ort():
    import onnxruntime
    return onnxruntime


class OnnxRuntimeSession(Session):
    """An ``InferenceSession`` with its inputs preallocated once for this batch size."""

    def __init__(self, ort, model_path, batch, provider, threads, precision="fp32", layers=False):
        Session.__init__(self, batch)
        self._ort, self._model_path, self._threads = ort, model_path, threads
        options = self._new_options()
        self._options = options
        wanted = PROVIDERS[provider]
        offered = set(ort.get_available_providers())
        if wanted[0] not in offered:
            raise UsageError("--ort-provider %s needs %s, which this onnxruntime build lacks (it has: %s)"
                             % (provider, wanted[0], ", ".join(sorted(offered))))
        self._providers = [p for p in wanted if p in offered]
        self._session = ort.InferenceSession(model_path, options, providers=self._providers)
        self._feed = {meta.name: _random_input(meta, batch, model_path) for meta in self._session.get_inputs()}
        self._output_names = [meta.name for meta in self._session.get_outputs()]
        self._provider = provider
        self._precision = precision
        self._layers = layers
        self._graph_facts = self._weighted = self._layer_facts = None

    def _new_options(self):
        options = self._ort.SessionOptions()
        options.intra_op_num_threads = self._threads
        options.graph_optimization_level = self._ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        return options

    def run_impl(self):
        self._session.run(self._output_names, self._feed)

    def describe(self):
        options = self._options
        facts = {
            "ort_provider": self._provider,
            "providers": list(self._session.get_providers()),
            "intra_op_num_threads": options.intra_op_num_threads,
            "inter_op_num_threads": options.inter_op_num_threads,
            "execution_mode": str(options.execution_mode).split(".")[-1],
            "graph_optimization_level": str(options.graph_optimization_level).split(".")[-1],
            "inputs": {name: list(value.shape) for name, value in self._feed.items()},
            "input_dtypes": {name: str(value.dtype) for name, value in self._feed.items()},
        }
        facts.update(self._graph())
        if self._layers:
            facts.update(self._layer_report())
        return facts

    def _graph(self):
        """``graph_precision`` of the file, and a warning when it is not the ``--precision`` asked for."""
        if self._graph_facts is None:
            try:
                graph = ort_graph.read_graph(self._model_path)
                precision, weighted, reason = graph.precision(), graph.weighted_matmuls(), None
            except (OSError, ValueError) as exc:  # ORT loaded it: the runs stand, the fact is unknown
                precision, weighted, reason = None, None, "%s: %s" % (self._model_path, exc)
            facts = {"graph_precision": precision, "graph_precision_basis": ort_graph.PRECISION_BASIS,
                     "warnings": []}
            if reason:
                facts["graph_precision_error"] = reason
            elif precision != self._precision:
                facts["warnings"].append("--precision %s, but %s holds an %s graph: the runs measure %s"
                                         % (self._precision, self._model_path, precision, precision))
            self._graph_facts, self._weighted = facts, weighted
        return dict(self._graph_facts, warnings=list(self._graph_facts["warnings"]))

    def _layer_report(self):
        """Per-node times from ORT's profiler (:mod:`.ort_layers`), once, in runs after the timed window."""
        if self._layer_facts is None:
            where = "%s batch %d" % (os.path.basename(self._model_path), self.batch)
            log.info("    %s: per-layer times, %d profiled runs each next to an unprofiled one",
                     where, ort_layers.PROFILE_RUNS)
            try:
                self._layer_facts = ort_layers.profile(self._ort, self._model_path, self._new_options(),
                                                       self._providers, self._session, self._feed,
                                                       self._output_names, self._weighted)
            except Exception as exc:  # ORT's own errors derive from Exception only; the timed runs still stand
                log.warning("    %s: the per-layer profile failed: %s", where, exc)
                return {"layer_times_ms": None, "layer_times_error": "%s: %s" % (type(exc).__name__, exc)}
            if self._provider != "cpu":
                self._layer_facts["layer_times_note"] = ort_layers.NOT_CPU_NOTE
            log.info("    %s: %s", where, ort_layers.summary(self._layer_facts))
        return self._layer_facts

    def close_impl(self):
        self._session = None
        self._feed = {}


def _random_input(meta, batch, model_path):
    """A fixed random array for one model input: the batch axis set to ``batch``."""
    dims = list(meta.shape)
    if not dims:
        raise InputFileError("%s: input %r is a scalar; edgeprof needs a batched image input"
                             % (model_path, meta.name))
    shape = [batch]
    for index, dim in enumerate(dims[1:], start=1):
        if not isinstance(dim, int) or dim < 1:
            raise InputFileError("%s: input %r has a dynamic axis %d (%r) besides the batch axis; "
                                 "export it with a fixed input size" % (model_path, meta.name, index, dim))
        shape.append(dim)
    dtype = _DTYPES.get(meta.type)
    if dtype is None:
        raise InputFileError("%s: input %r has type %s, which edgeprof cannot fill"
                             % (model_path, meta.name, meta.type))
    rng = np.random.RandomState(0)
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(shape).astype(dtype)
    return np.zeros(shape, dtype=dtype)


class OnnxRuntimeBackend(Backend):
    name = "onnxruntime"
    PRECISIONS = ("fp32", "fp16", "int8")  # each the file's own precision
    ONNX_PER_PRECISION = True  # sweep --precision fp16|int8 runs the manifest's variant file (selection.py)

    @classmethod
    def add_arguments(cls, group):
        group.add_argument("--ort-provider", default="cpu", choices=tuple(PROVIDERS),
                           help="execution provider (default cpu)")
        group.add_argument("--threads", type=non_negative_int, default=0,
                           help="intra-op threads, 0 = onnxruntime's default")

    @classmethod
    def options(cls, args):
        """``layers`` is recorded only when asked for: profiles made before ``--layers`` existed for
        onnxruntime keep their settings_id (the timed window is the same with or without it)."""
        recorded = {"ort_provider": args.ort_provider, "threads": args.threads}
        if getattr(args, "layers", False):
            recorded["layers"] = True
        return recorded, {}

    def unavailable_reason(self):
        try:
            _import_ort()
        except ImportError as exc:
            return "onnxruntime is not importable (%s); install it: pip install 'edgeprof[ort]'" % exc
        return None

    def version(self):
        return _import_ort().__version__

    def device(self, options):
        return {"cpu": "cpu", "cuda": "cuda", "tensorrt": "cuda"}[options.get("ort_provider") or "cpu"]

    def open(self, model_path, batch, precision, options):
        provider = options.get("ort_provider") or "cpu"
        if provider not in PROVIDERS:
            raise UsageError("unknown --ort-provider %r; choose one of: %s" % (provider, ", ".join(PROVIDERS)))
        self.check_precision(precision)
        return OnnxRuntimeSession(_import_ort(), model_path, batch, provider, int(options.get("threads") or 0),
                                  precision, bool(options.get("layers")))
