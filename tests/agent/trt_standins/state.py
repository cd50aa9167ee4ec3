"""The stand-ins' shared state: calls made, faults to simulate, what the checks found; reset before each test."""
import weakref


class Severity(object):
    INTERNAL_ERROR = 0
    ERROR = 1
    WARNING = 2
    INFO = 3
    VERBOSE = 4


class State(object):
    """Calls made and faults to simulate; reset by the tests before each use.

    Attributes:
        violations (list of str): what real TensorRT/CUDA would not accept, found by the stand-ins'
            checks (objects made or dropped without a CUDA context, short calibration buffers...).
        lost (list of str): objects dropped after their CUDA context broke (a sticky error).
        numpy_version (str): the numpy the stand-in ``nptype`` behaves for (dtypes.py).
    """

    def __init__(self):
        self.reset()

    def reset(self):
        self.calls = []
        self.faults = {}
        self.fast_fp16 = True
        self.fast_int8 = True
        self.sidecar = None
        self.violations = []
        self.lost = []
        self.alive = weakref.WeakSet()
        self.logger_users = weakref.WeakSet()
        self.pending_signal = None
        # The numpy deploy/jetson/install.sh gives Python 3.8 on JetPack 5 (review finding 1): with it a
        # TensorRT 8.0-8.4 nptype raises for every type.
        self.numpy_version = "1.24.4"

    def names(self):
        return [c.split("(")[0].split("=")[0] for c in self.calls]


STATE = State()


def record(text):
    STATE.calls.append(text)
