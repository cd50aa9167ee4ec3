"""Desktop and server NVIDIA GPUs through NVML (``pip install nvidia-ml-py``, module ``pynvml``).

Where every GPU has the total-energy counter (Volta and later:
``nvmlDeviceGetTotalEnergyConsumption``, mJ since the driver loaded) edgeprof reads it, and
the window's energy is the counter's difference. Otherwise it polls
``nvmlDeviceGetPowerUsage`` (mW), which the driver averages over its own period (about 1 s on
many boards). Never chosen on a Jetson: NVML there answers but reports no power.
"""
from edgeprof.agent import board
from edgeprof.errors import SensorError
from edgeprof.agent.sensors.base import PowerSensor
from edgeprof.util import text_of

NAME = "nvml"


class NvmlSensor(PowerSensor):
    """One rail per GPU (``GPU0``, ``GPU1``...); the total is their sum where there are several."""

    name = NAME
    default_rate_hz = 20.0

    def __init__(self, pynvml, handles, names, counts_energy):
        rails = ["GPU%d" % i for i in range(len(handles))]
        total = rails[0] if len(rails) == 1 else None
        method = "nvmlDeviceGetTotalEnergyConsumption (mJ)" if counts_energy else "nvmlDeviceGetPowerUsage (mW)"
        super(NvmlSensor, self).__init__(
            rails, total, "NVML %s" % text_of(pynvml.nvmlSystemGetDriverVersion()),
            ["%s: %s via %s" % (rail, name, method) for rail, name in zip(rails, names)],
            None if counts_energy else {"note": "the driver averages power over its own period (about 1 s)"})
        self.counts_energy = counts_energy
        self._pynvml = pynvml
        self._handles = handles

    def read(self):
        values = {}
        for rail, handle in zip(self.rails, self._handles):
            try:
                if self.counts_energy:
                    values[rail] = self._pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1000.0
                else:
                    values[rail] = self._pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0
            except self._pynvml.NVMLError as exc:
                self.note_problem(rail, "NVML: %s" % exc)
        return values

    def close(self):
        pynvml, self._pynvml = self._pynvml, None
        if pynvml is not None:
            try:
                pynvml.nvmlShutdown()
            except pynvml.NVMLError:  # already shut down: nothing left to release
                pass


def _has_energy_counter(pynvml, handle):
    try:
        pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    except pynvml.NVMLError:
        return False
    return True


def probe():
    """An :class:`NvmlSensor` over every GPU NVML sees, or SensorError saying why not."""
    if board.is_jetson():
        raise SensorError("NVML on a Jetson reports no power; edgeprof reads the INA3221 rails there")
    try:
        import pynvml
    except ImportError:
        raise SensorError("nvidia-ml-py is not installed (pip install nvidia-ml-py) or no NVIDIA GPU driver")
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as exc:
        raise SensorError("NVML could not start (%s): no NVIDIA GPU or driver here" % exc)
    try:
        count = pynvml.nvmlDeviceGetCount()
        handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        names = [text_of(pynvml.nvmlDeviceGetName(h)) for h in handles]
        if not handles:
            raise SensorError("NVML sees no GPU")
        counts_energy = all(_has_energy_counter(pynvml, h) for h in handles)
        sensor = NvmlSensor(pynvml, handles, names, counts_energy)
    except pynvml.NVMLError as exc:
        pynvml.nvmlShutdown()
        raise SensorError("NVML could not read the GPUs: %s" % exc)
    except SensorError:
        pynvml.nvmlShutdown()
        raise
    if not sensor.read():
        sensor.close()
        raise SensorError("NVML reports no power for %s" % ", ".join(names))
    sensor.problems = {}
    return sensor
