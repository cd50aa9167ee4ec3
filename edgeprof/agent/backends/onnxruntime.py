"""ONNX Runtime: CPU by default; CUDA and TensorRT execution providers when present and asked for.

Works with onnxruntime 1.10 (the JetPack 4.6 builds) and current releases: only long-stable API
is used (``SessionOptions``, ``InferenceSession(path, options, providers=...)``, ``get_inputs``,
``get_providers``, ``run``).
"""
import numpy as np

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


def _import_ort():
    import onnxruntime
    return onnxruntime


class OnnxRuntimeSession(Session):
    """An ``InferenceSession`` with its inputs preallocated once for this batch size."""

    def __init__(self, ort, model_path, batch, provider, threads):
        Session.__init__(self, batch)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._options = options
        wanted = PROVIDERS[provider]
        offered = set(ort.get_available_providers())
        if wanted[0] not in offered:
            raise UsageError("--ort-provider %s needs %s, which this onnxruntime build lacks (it has: %s)"
                             % (provider, wanted[0], ", ".join(sorted(offered))))
        self._session = ort.InferenceSession(model_path, options,
                                             providers=[p for p in wanted if p in offered])
        self._feed = {meta.name: _random_input(meta, batch, model_path) for meta in self._session.get_inputs()}
        self._output_names = [meta.name for meta in self._session.get_outputs()]
        self._provider = provider

    def run_impl(self):
        self._session.run(self._output_names, self._feed)

    def describe(self):
        options = self._options
        return {
            "ort_provider": self._provider,
            "providers": list(self._session.get_providers()),
            "intra_op_num_threads": options.intra_op_num_threads,
            "inter_op_num_threads": options.inter_op_num_threads,
            "execution_mode": str(options.execution_mode).split(".")[-1],
            "graph_optimization_level": str(options.graph_optimization_level).split(".")[-1],
            "inputs": {name: list(value.shape) for name, value in self._feed.items()},
            "input_dtypes": {name: str(value.dtype) for name, value in self._feed.items()},
        }

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
    PRECISIONS = ("fp32",)

    @classmethod
    def add_arguments(cls, group):
        group.add_argument("--ort-provider", default="cpu", choices=tuple(PROVIDERS),
                           help="execution provider (default cpu)")
        group.add_argument("--threads", type=non_negative_int, default=0,
                           help="intra-op threads, 0 = onnxruntime's default")

    @classmethod
    def options(cls, args):
        return {"ort_provider": args.ort_provider, "threads": args.threads}, {}

    @classmethod
    def check_precision(cls, precision):
        if precision != "fp32":
            raise UsageError("--precision %s is not measured with onnxruntime (it runs the model's own "
                             "fp32 graph); use --backend tensorrt for fp16/int8" % precision)

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
        return OnnxRuntimeSession(_import_ort(), model_path, batch, provider, int(options.get("threads") or 0))
