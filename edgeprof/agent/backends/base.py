"""The small interface every runtime fills in (after Polygraphy's base/runner split).

A :class:`Backend` says whether its runtime can run here (:meth:`Backend.probe`), declares its own
command-line flags, defaults and precisions (:meth:`Backend.add_arguments`,
:meth:`Backend.options`, :attr:`Backend.PRECISIONS`), and opens a :class:`Session` for one model at
one batch size and precision. A session runs one synchronous inference on inputs it preallocated
when it opened; the timing loop lives in ``edgeprof.agent.measure``, never in a backend. Use a
session as a context manager (``with backend.open(...) as session:``); ``close()`` is safe to call
twice and never raises.

Errors: ``open`` and ``run`` raise :class:`edgeprof.errors.OutOfMemory` when the runtime
cannot allocate what the batch needs (the sweep records ``status: oom``),
:class:`edgeprof.errors.BackendError` when the runtime fails on the model (``status: error``), and
:class:`edgeprof.errors.BackendUnavailable` when the runtime is missing.
"""
from edgeprof.errors import BackendUnavailable, OutOfMemory, UsageError
from edgeprof.util import Closeable


class Session(Closeable):
    """One opened model at one batch size. Subclasses fill in the ``*_impl`` methods.

    ``has_device_time`` is True where the runtime times each run on the device too: the timing loop
    then calls :meth:`start_device_window` before the timed window and :meth:`device_times` after it,
    never in between.
    """

    has_device_time = False

    def __init__(self, batch):
        self.batch = batch

    def run(self):
        """Run one synchronous inference on the preallocated inputs (the timed loop calls ``run_impl``)."""
        self.run_impl()

    def start_device_window(self, expected_runs):
        """Get ready to time about ``expected_runs`` runs on the device (called just before the window)."""

    def device_times(self):
        """Per-run device times of the runs since :meth:`start_device_window`, in ms, read after the window.

        Returns:
            dict: ``compute_ms`` (GPU compute), ``h2d_ms``, ``d2h_ms`` and ``enqueue_ms`` (the host time
            of the enqueue call), each a list with one value per run; empty where the runtime has none.
        """
        return {}

    def memory(self):
        """What the runtime holds, as a dict of ``*_bytes`` fields (empty when it cannot say)."""
        return {}

    def describe(self):
        """Settings to record in the profile (providers, threads, engine facts...)."""
        return {}

    def run_impl(self):
        raise NotImplementedError

    def close_impl(self):
        """Release the runtime's objects (called once by :meth:`close`, which logs a failure)."""


def is_out_of_memory_text(text, markers=None):
    """Whether a runtime's message says an allocation failed: one of ``markers`` (default
    :attr:`Backend.OOM_MARKERS`) in it, ignoring case and spaces (``OutOfMemory`` matches "out of memory")."""
    text = (text or "").lower().replace(" ", "")
    return any(marker.lower().replace(" ", "") in text for marker in (markers or Backend.OOM_MARKERS))


class Backend(object):
    """A runtime. ``name`` is what ``--backend`` takes and the profile records.

    Class attributes a backend sets:
        name (str): the ``--backend`` value.
        PRECISIONS (tuple of str): the ``--precision`` values it measures, the first the default.
        AUTO_NEEDS_JETSON (bool): ``--backend auto`` considers it only on a Jetson.
        ONNX_PER_PRECISION (bool): it runs fp16/int8 from their own ONNX files (the manifest's
            ``variants``, made by ``edgeprof export --precision``) rather than building them from
            the fp32 file as TensorRT does.
    """

    name = None
    PRECISIONS = ("fp32",)
    AUTO_NEEDS_JETSON = False
    ONNX_PER_PRECISION = False

    # Words in a runtime's error message that mean an allocation failed.
    OOM_MARKERS = ("out of memory", "failed to allocate", "bad_alloc", "cannot allocate memory",
                   "memoryallocation", "out_of_memory")

    @classmethod
    def add_arguments(cls, group):
        """Add this backend's flags to ``group`` (an argparse group titled after the backend)."""

    @classmethod
    def options(cls, args):
        """This backend's settings from the parsed flags.

        Returns:
            (dict, dict): settings that change results (recorded in the profile and hashed into
            ``settings_id``), and runtime-only ones (cache folder, ``--rebuild``: passed, not recorded).
        """
        return {}, {}

    @classmethod
    def check_precision(cls, precision):
        """Raise :class:`UsageError` before any run when this backend does not measure ``precision``."""
        if precision not in cls.PRECISIONS:
            raise UsageError("--precision %s is not measured with --backend %s (it measures %s)"
                             % (precision, cls.name, ", ".join(cls.PRECISIONS)))

    def is_out_of_memory(self, exc):
        """True when ``exc`` (raised by ``open`` or ``run``) means the batch did not fit in memory."""
        if isinstance(exc, (MemoryError, OutOfMemory)):
            return True
        return is_out_of_memory_text(str(exc), self.OOM_MARKERS)

    def device(self, options):
        """Where the model runs for these options: 'cpu' or 'cuda' (recorded; picks the power sensor)."""
        return "cpu"

    def probe(self):
        """Return this backend when its runtime can run here; else raise :class:`BackendUnavailable`
        with one line saying why not and what to do."""
        reason = self.unavailable_reason()
        if reason:
            raise BackendUnavailable(reason)
        return self

    def unavailable_reason(self):
        """``None`` when the runtime can run here, else the one-line reason (what :meth:`probe` raises)."""
        raise NotImplementedError

    def version(self):
        """The runtime's version string (only called when available)."""
        raise NotImplementedError

    def open(self, model_path, batch, precision, options):
        """Open ``model_path`` for ``batch`` images at ``precision`` ('fp32', 'fp16', 'int8').

        Args:
            model_path (str): an ONNX file with a dynamic batch axis.
            batch (int): images per inference.
            precision (str): one of :attr:`PRECISIONS`.
            options (dict): this backend's recorded and runtime options (:meth:`options`), plus
                ``model_sha256``.

        Returns:
            Session
        """
        raise NotImplementedError
