"""NVML (nvidia-ml-py, module ``pynvml``) started, stopped and read in one place.

The board facts (``board.nvml_gpu_name``) and the NVML power sensor (``sensors/nvml.py``) both
start NVML here. ``pynvml`` is imported inside :func:`start`, so importing this module needs
nothing the board may lack. NVML counts its starts: each :func:`start` takes one reference and
:func:`stop` gives it back, and the library shuts down when the last one is given back.
"""
import contextlib
import os

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


def visible_indices(pynvml, count, environ=None):
    """The NVML indices of the GPUs ``CUDA_VISIBLE_DEVICES`` lets CUDA see, and a note (or ``None``).

    As Zeus does (``ml-energy/zeus``, ``zeus/device/gpu/nvidia.py``, ``NVIDIAGPUs._init_gpus``):
    unset means every GPU; integers are NVML indices; an empty value or MIG devices are refused
    (NVML measures no MIG slice). edgeprof also accepts ``GPU-<uuid>`` entries (matched with
    ``nvmlDeviceGetUUID``) and, as CUDA does, stops at the first entry that names no GPU. CUDA
    numbers GPUs fastest first unless ``CUDA_DEVICE_ORDER=PCI_BUS_ID``; NVML numbers them in PCI
    order, so the note says when the two may differ.

    Raises:
        SensorError: the variable is empty or names MIG devices.
    """
    environ = os.environ if environ is None else environ
    value = environ.get("CUDA_VISIBLE_DEVICES")
    if value is None:
        return list(range(count)), None
    entries = [e.strip() for e in value.split(",")]
    if not value.strip():
        raise SensorError("CUDA_VISIBLE_DEVICES is empty: no GPU is visible to the run")
    if any(e.startswith("MIG") for e in entries):
        raise SensorError("CUDA_VISIBLE_DEVICES names MIG devices; NVML cannot measure the power of a MIG slice "
                          "(set it to whole-GPU indices to measure the whole GPU)")
    uuids = None
    indices = []
    for entry in entries:
        if entry.isdigit():
            index = int(entry)
        else:
            if uuids is None:
                uuids = [text_of(pynvml.nvmlDeviceGetUUID(pynvml.nvmlDeviceGetHandleByIndex(i))) for i in range(count)]
            matches = [i for i, uuid in enumerate(uuids) if uuid.startswith(entry)]
            index = matches[0] if len(matches) == 1 else -1
        if index < 0 or index >= count or index in indices:
            break
        indices.append(index)
    note = "CUDA_VISIBLE_DEVICES=%s" % value
    if count > 1 and environ.get("CUDA_DEVICE_ORDER") != "PCI_BUS_ID":
        note += " (CUDA numbers GPUs fastest first, NVML in PCI order; set CUDA_DEVICE_ORDER=PCI_BUS_ID " \
                "to be sure they agree)"
    return indices, note
