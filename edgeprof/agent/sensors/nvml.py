"""Desktop and server NVIDIA GPUs through NVML (``pip install nvidia-ml-py``, module ``pynvml``).

Where every GPU has the total-energy counter (Volta and later:
``nvmlDeviceGetTotalEnergyConsumption``, mJ since the driver loaded) edgeprof reads it, and
the window's energy is the counter's difference. Otherwise it polls
``nvmlDeviceGetPowerUsage`` (mW), which the driver averages over its own period (about 1 s on
many boards). Never chosen on a Jetson: NVML there answers but reports no power.

Only the GPUs the run can use are measured: those ``CUDA_VISIBLE_DEVICES`` names
(``nvml_library.visible_indices``), all of them when it is unset.
"""
import collections

from edgeprof.agent import board, nvml_library
from edgeprof.errors import SensorError
from edgeprof.agent.sensors.base import GPU, PowerSensor, SensorReadError

NAME = "nvml"
MEASURES = GPU

# One channel per GPU: its rail name and its NVML device handle.
Gpu = collections.namedtuple("Gpu", "rail handle")


class NvmlSensor(PowerSensor):
    """One rail per visible GPU (``GPU0``, ``GPU1``... by NVML index); the total is their sum."""

    name = NAME
    default_rate_hz = 20.0
    scope = "gpu_board"

    def __init__(self, pynvml, handles, names, counts_energy, indices=None, visible_note=None):
        indices = list(range(len(handles))) if indices is None else indices
        rails = ["GPU%d" % i for i in indices]
        total = rails[0] if len(rails) == 1 else None
        method = "nvmlDeviceGetTotalEnergyConsumption (mJ)" if counts_energy else "nvmlDeviceGetPowerUsage (mW)"
        paths = ["%s: %s via %s" % (rail, name, method) for rail, name in zip(rails, names)]
        if visible_note:
            paths.append("GPUs chosen by " + visible_note)
        super(NvmlSensor, self).__init__(
            rails, total, "NVML %s" % nvml_library.driver_version(pynvml), paths,
            None if counts_energy else {"note": "the driver averages power over its own period (about 1 s)"})
        self.counts_energy = counts_energy
        self.catch_up_s = 0.0 if counts_energy else 1.0
        self.channels = [Gpu(rail, handle) for rail, handle in zip(rails, handles)]
        self._pynvml = pynvml

    def read_channel(self, gpu):
        try:
            if self.counts_energy:
                return self._pynvml.nvmlDeviceGetTotalEnergyConsumption(gpu.handle) / 1000.0
            return self._pynvml.nvmlDeviceGetPowerUsage(gpu.handle) / 1000.0
        except self._pynvml.NVMLError as exc:
            raise SensorReadError("NVML: %s" % exc)

    def close_impl(self):
        nvml_library.stop(self._pynvml)


def _has_energy_counter(pynvml, handle):
    try:
        pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    except pynvml.NVMLError:
        return False
    return True


def probe():
    """An :class:`NvmlSensor` over the GPUs the run can see, or SensorError saying why not."""
    if board.is_jetson():
        raise SensorError("NVML on a Jetson reports no power; edgeprof reads the INA3221 rails there")
    pynvml = nvml_library.start()
    try:
        count = pynvml.nvmlDeviceGetCount()
        if not count:
            raise SensorError("NVML sees no GPU")
        indices, note = nvml_library.visible_indices(pynvml, count)
        if not indices:
            raise SensorError("%s names no GPU NVML sees (%d GPUs)" % (note, count))
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in indices]
        names = [nvml_library.gpu_name(pynvml, h) for h in handles]
        counts_energy = all(_has_energy_counter(pynvml, h) for h in handles)
        sensor = NvmlSensor(pynvml, handles, names, counts_energy, indices, note)
    except pynvml.NVMLError as exc:
        nvml_library.stop(pynvml)
        raise SensorError("NVML could not read the GPUs: %s" % exc)
    except SensorError:
        nvml_library.stop(pynvml)
        raise
    if not sensor.read():
        sensor.close()
        raise SensorError("NVML reports no power for %s" % ", ".join(names))
    sensor.problems = {}
    return sensor
