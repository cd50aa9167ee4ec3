"""Feeding real images to a model: a runner's ``infer(batch array) -> logits`` on any backend.

A backend session (:mod:`edgeprof.agent.backends.base`) runs on inputs it preallocated, filled at
random, which is all timing needs. Accuracy needs the images in and the logits out, so a runner
uses the session's ``infer(array)`` where the backend's session has one (feature detection, as
the TensorRT layer does for its API), and for ONNX Runtime, whose backend session has none yet,
its own ``InferenceSession`` opened with the same provider and threads as ``edgeprof sweep``.
"""
import numpy as np

from edgeprof.errors import BackendError, BackendUnavailable, InputFileError, UsageError

ORT_NAME = "onnxruntime"
_ORT_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64}


class Runner(object):
    """One opened model that takes (batch, 3, H, W) images and returns (batch, classes) logits.

    Attributes:
        input_shape (list): the model's input axes after the batch (ints; a str or None where dynamic).
        fixed_batch (int or None): the batch every call must have (a partial last batch is padded).
    """

    input_shape = None
    fixed_batch = None

    def infer(self, images):
        """The logits of ``images`` (a float32 array, batch first) as a float32 (batch, classes) array."""
        batch = images.shape[0]
        if self.fixed_batch is not None and batch < self.fixed_batch:
            padding = np.zeros((self.fixed_batch - batch,) + images.shape[1:], dtype=images.dtype)
            images = np.concatenate([images, padding])
        logits = np.asarray(self.infer_impl(images))
        if logits.ndim < 2 or logits.shape[0] != images.shape[0]:
            raise BackendError("the model's output has shape %s; edgeprof accuracy needs (batch, classes) logits"
                               % (tuple(logits.shape),))
        return logits.reshape(logits.shape[0], -1)[:batch].astype(np.float32)

    def infer_impl(self, images):
        raise NotImplementedError

    def close(self):
        """Release the runtime's objects; safe to call twice."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class SessionRunner(Runner):
    """A backend session that has ``infer``: its batch is the one it was opened for."""

    def __init__(self, session, input_shape):
        self._session = session
        self.fixed_batch = session.batch
        self.input_shape = list(input_shape)

    def infer_impl(self, images):
        return self._session.infer(images)

    def close(self):
        self._session.close()


class OrtRunner(Runner):
    """An ONNX Runtime ``InferenceSession`` fed with the images (first input, first output)."""

    def __init__(self, model_path, options):
        from edgeprof.agent.backends.onnxruntime import PROVIDERS
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise BackendUnavailable("onnxruntime is not importable (%s); install it: pip install 'edgeprof[ort]'"
                                     % exc)
        provider = options.get("ort_provider") or "cpu"
        session_options = ort.SessionOptions()
        session_options.intra_op_num_threads = int(options.get("threads") or 0)
        offered = set(ort.get_available_providers())
        if PROVIDERS[provider][0] not in offered:
            raise UsageError("--ort-provider %s needs %s, which this onnxruntime build lacks (it has: %s)"
                             % (provider, PROVIDERS[provider][0], ", ".join(sorted(offered))))
        try:
            self._session = ort.InferenceSession(model_path, session_options,
                                                 providers=[p for p in PROVIDERS[provider] if p in offered])
        except Exception as exc:  # onnxruntime raises its own exception types, per version
            raise BackendError("onnxruntime could not open %s: %s" % (model_path, exc))
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise InputFileError("%s has %d inputs; edgeprof accuracy feeds models with one image input"
                                 % (model_path, len(inputs)))
        meta = inputs[0]
        if meta.type not in _ORT_DTYPES:
            raise InputFileError("%s: input %r has type %s; edgeprof accuracy feeds float images"
                                 % (model_path, meta.name, meta.type))
        self._input = meta.name
        self._dtype = _ORT_DTYPES[meta.type]
        self._output = self._session.get_outputs()[0].name
        dims = list(meta.shape)
        self.input_shape = [d if isinstance(d, int) and d > 0 else None for d in dims[1:]]
        batch = dims[0] if dims else None
        self.fixed_batch = batch if isinstance(batch, int) and batch > 0 else None

    def infer_impl(self, images):
        try:
            return self._session.run([self._output], {self._input: images.astype(self._dtype, copy=False)})[0]
        except Exception as exc:  # onnxruntime's own exception types
            raise BackendError("onnxruntime failed on a batch of %d images: %s" % (images.shape[0], exc))

    def close(self):
        self._session = None


def open_runner(backend, model_path, batch, precision, options, input_shape=None):
    """A :class:`Runner` for ``model_path`` on ``backend`` (its session's ``infer``, or ONNX Runtime's own).

    Args:
        input_shape (list or None): the model's input axes after the batch, from its manifest entry
            (a backend session does not say them).
    """
    backend.check_precision(precision)
    if backend.name == ORT_NAME:
        return OrtRunner(model_path, options)
    session = backend.open(model_path, batch, precision, options)
    if not callable(getattr(session, "infer", None)):
        session.close()
        raise UsageError("edgeprof accuracy cannot feed images to --backend %s: its sessions have no infer() "
                         "(use --backend onnxruntime)" % backend.name)
    if not input_shape:
        session.close()
        raise InputFileError("%s: its input size is unknown (no manifest entry); export it with "
                             "`edgeprof export` to get one" % model_path)
    return SessionRunner(session, input_shape)
