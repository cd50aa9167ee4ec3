"""NVML (nvidia-ml-py, module ``pynvml``) started, stopped and read in one place.

The board facts (``board.nvml_gpu_name``) and the NVML power sensor (``sensors/nvml.py``) both
start NVML here. ``pynvml`` is imported inside :func:`start`, so importing this module needs
nothing the board may lack. NVML counts its starts: each :func:`start` takes one reference and
:func:`stop` gives it back, and the library shuts down when the last one is given back.
"""
import contextlib

from edgeprof.errors import SensorError
from edgeprof.util import text_of


def start():
    """Import ``pynvml`` and start NVML (one reference; give it back with :func:`stop`).

    Returns:
        module: ``pynvml``, started.

    Raises:
        SensorError: nvidia-ml-py is not installed, or NVML cannot start (no NVIDIA GPU or driver).
    """
    try:
        import pynvml
    except ImportError:
        raise SensorError("nvidia-ml-py is not installed (pip install nvidia-ml-py) or no NVIDIA GPU driver")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        raise SensorError("NVML could not start (%s): no NVIDIA GPU or driver here" % exc)
    return pynvml


def stop(pynvml):
    """Give back the reference :func:`start` took; NVML already shut down leaves nothing to release."""
    try:
        pynvml.nvmlShutdown()
    except pynvml.NVMLError:  # already shut down: nothing left to release
        pass


@contextlib.contextmanager
def started():
    """``with started() as pynvml:`` NVML for the block (raises SensorError as :func:`start`)."""
    pynvml = start()
    try:
        yield pynvml
    finally:
        stop(pynvml)


def gpu_name(pynvml, handle):
    """The GPU's name as text (older nvidia-ml-py releases return bytes). Raises ``pynvml.NVMLError``."""
    return text_of(pynvml.nvmlDeviceGetName(handle))


def driver_version(pynvml):
    """The NVIDIA driver's version as text (``550.54.15``). Raises ``pynvml.NVMLError``."""
    return text_of(pynvml.nvmlSystemGetDriverVersion())


def first_gpu_name():
    """The first GPU's name, or ``None`` where NVML cannot start or sees no GPU. Never raises NVML's errors."""
    try:
        with started() as pynvml:
            try:
                if pynvml.nvmlDeviceGetCount() < 1:
                    return None
                return gpu_name(pynvml, pynvml.nvmlDeviceGetHandleByIndex(0))
            except pynvml.NVMLError:
                return None
    except SensorError:
        return None
