"""The small interface every runtime fills in (after Polygraphy's base/runner split).

A :class:`Backend` knows whether its runtime can run here and opens a :class:`Session`
for one model at one batch size and precision. A session runs one synchronous inference
on inputs it preallocated when it opened; the timing loop lives in ``edgeprof.agent.measure``,
never in a backend.

Errors: ``open`` and ``run`` raise :class:`edgeprof.errors.OutOfMemory` when the runtime
cannot allocate what the batch needs (the sweep records ``status: oom``), and
:class:`edgeprof.errors.BackendUnavailable` when the runtime is missing.
"""
from edgeprof.errors import OutOfMemory


class Session(object):
    """One opened model at one batch size. Subclasses fill in the ``*_impl`` methods.

    ``has_device_time`` is True where ``gpu_time_ms`` returns the device time of each run.
    """

    has_device_time = False

    def __init__(self, batch):
        self.batch = batch

    def run(self):
        """Run one synchronous inference on the preallocated inputs."""
        self.run_impl()

    def gpu_time_ms(self):
        """Device time of the last ``run`` in ms (CUDA events), or ``None`` where the runtime has none."""
        return None

    def memory(self):
        """What the runtime holds, as a dict of ``*_bytes`` fields (empty when it cannot say)."""
        return {}

    def describe(self):
        """Settings to record in the profile (providers, threads, engine facts...)."""
        return {}

    def close(self):
        """Free what the session holds. Safe to call twice."""

    def run_impl(self):
        raise NotImplementedError


class Backend(object):
    """A runtime. ``name`` is what ``--backend`` takes."""

    name = None

    # Words in a runtime's error message that mean an allocation failed.
    OOM_MARKERS = ("out of memory", "failed to allocate", "bad_alloc", "cannot allocate memory",
                   "memoryallocation", "out_of_memory")

    def is_out_of_memory(self, exc):
        """True when ``exc`` (raised by ``open`` or ``run``) means the batch did not fit in memory."""
        if isinstance(exc, (MemoryError, OutOfMemory)):
            return True
        text = str(exc).lower().replace(" ", "")
        return any(marker.replace(" ", "") in text for marker in self.OOM_MARKERS)

    def device(self, options):
        """Where the model runs for these options: 'cpu' or 'cuda' (recorded; picks the power sensor)."""
        return "cpu"

    def available(self):
        """``None`` when this runtime can run here, else one line saying why not and what to do."""
        raise NotImplementedError

    def version(self):
        """The runtime's version string (only called when available)."""
        raise NotImplementedError

    def open(self, model_path, batch, precision, options):
        """Open ``model_path`` for ``batch`` images at ``precision`` ('fp32', 'fp16', 'int8').

        Args:
            model_path (str): an ONNX file with a dynamic batch axis.
            batch (int): images per inference.
            precision (str): 'fp32', 'fp16' or 'int8'.
            options (dict): backend options from the command line (may be empty).

        Returns:
            Session
        """
        raise NotImplementedError
