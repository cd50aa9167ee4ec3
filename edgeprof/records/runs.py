"""What one run writes into a profile, as typed records: each key is spelled here once.

A :class:`RunEntry` is one element of a profile's ``runs`` list and a :class:`PowerWindow` its
``power`` mapping (docs/profile-schema.md). Both are ``__slots__`` records (Python 3.6 has no
dataclasses): setting a field that does not exist is a ``TypeError`` at once, not a key that no
reader looks for. ``as_dict()`` gives the mapping in the order the profile lists the fields.
"""
from edgeprof.records.schema import NUMBER

# field -> (type, required), in the order a run entry lists them. The schema check of profiles
# (edgeprof.records.profile) reads this table.
RUN_FIELDS = (
    # which run: status is ok | oom | error; inferred: an oom not run (a smaller batch already ran out)
    ("batch", (int, True)), ("status", (str, True)), ("settings_id", (str, True)), ("started", (str, False)),
    ("inferred", (bool, False)), ("message", (str, False)),
    # what the timed window measured (edgeprof.agent.measure)
    ("runs", (int, False)), ("window_s", (NUMBER, False)), ("warmup_runs", (int, False)),
    ("latency_ms", (dict, False)), ("per_image_ms", (NUMBER, False)), ("throughput_ips", (NUMBER, False)),
    ("warnings", (list, False)),
    # where the runtime times the device (TensorRT, CUDA events): trtexec's GPU Compute Time, H2D and D2H
    # Latency, Enqueue Time, and Latency (= H2D + compute + D2H), each as latency statistics
    ("device_time_ms", (dict, False)), ("h2d_ms", (dict, False)), ("d2h_ms", (dict, False)),
    ("enqueue_ms", (dict, False)), ("device_latency_ms", (dict, False)),
    # with --trials N > 1: each trial's own entry (TRIAL_FIELDS) and the spread of their medians; the fields
    # above then pool the trials (their times as one sample, their windows as one window)
    ("trials", (list, False)), ("between_trials", (dict, False)),
    # where the raw per-inference times are: the sidecar <profile>.latencies.npz and their checksum
    ("raw_latencies", (dict, False)),
    # beside it: power (a PowerWindow), memory, the session's settings, what the board did meanwhile
    ("power", (dict, False)), ("memory", (dict, False)), ("backend", (dict, False)), ("board_state", (dict, False)),
    # what the sampler saw during the window (GPU load and clocks, CPU/EMC clocks, peak temperatures,
    # MemAvailable, over-current counters), and the idle measured just before it with the session open
    ("telemetry", (dict, False)), ("idle", (dict, False)),
    # what settings_id hashes, as they were for this run (the header describes the last sweep only), and
    # where the run stood in the sweep's randomised order
    ("settings", (dict, False)), ("order", (dict, False)),
)
# One element of a run's ``trials`` list: the measured fields of one trial and what surrounded it.
TRIAL_FIELDS = (
    ("trial", (int, True)), ("started", (str, False)), ("order", (dict, False)),
    ("runs", (int, True)), ("window_s", (NUMBER, False)), ("warmup_runs", (int, False)),
    ("latency_ms", (dict, True)), ("per_image_ms", (NUMBER, False)), ("throughput_ips", (NUMBER, False)),
    ("warnings", (list, False)),
    ("device_time_ms", (dict, False)), ("h2d_ms", (dict, False)), ("d2h_ms", (dict, False)),
    ("enqueue_ms", (dict, False)), ("device_latency_ms", (dict, False)),
    ("power", (dict, False)), ("memory", (dict, False)), ("board_state", (dict, False)),
    ("telemetry", (dict, False)), ("idle", (dict, False)),
)

# scope: what the power figures measure (module_input, sum_of_rails, gpu_board, cpu_package);
# achieved_rate_hz: the sensor's sampling rate as achieved in the window (not the one asked for)
POWER_WINDOW_FIELDS = ("rails", "total_mean_w", "total_peak_w", "idle_w", "energy_j", "energy_per_image_mj",
                       "energy_per_image_above_idle_mj", "images_per_j", "missing", "scope", "achieved_rate_hz")


class Record(object):
    """A record of named fields; unset fields are ``None``.

    ``KEEP_NONE``: whether :meth:`as_dict` writes ``None`` fields (as YAML ``null``) or leaves them out.
    """

    __slots__ = ()
    KEEP_NONE = False

    def __init__(self, **fields):
        for name in self.__slots__:
            object.__setattr__(self, name, None)
        self.update(fields)

    def update(self, fields):
        """Set several fields from a mapping; an unknown name is a ``TypeError``."""
        for name, value in fields.items():
            setattr(self, name, value)
        return self

    def __setattr__(self, name, value):
        if name not in self.__slots__:
            raise TypeError("%s has no field %r (fields: %s)" % (type(self).__name__, name, ", ".join(self.__slots__)))
        object.__setattr__(self, name, value)

    def __getitem__(self, name):
        if name not in self.__slots__:
            raise KeyError(name)
        return getattr(self, name)

    def as_dict(self):
        """The fields in order, as a plain dict for YAML."""
        return dict((name, getattr(self, name)) for name in self.__slots__
                    if self.KEEP_NONE or getattr(self, name) is not None)

    def __eq__(self, other):
        return type(other) is type(self) and self.as_dict() == other.as_dict()

    def __ne__(self, other):
        return not self == other

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join("%s=%r" % kv for kv in self.as_dict().items()))


class RunEntry(Record):
    """One element of a profile's ``runs``: one model at one batch size."""

    __slots__ = tuple(name for name, _ in RUN_FIELDS)

    @classmethod
    def started_now(cls, batch, settings_id, started):
        """An ``ok`` entry about to be measured (the sweep fills in the rest or turns it into a failure)."""
        return cls(batch=batch, status="ok", settings_id=settings_id, started=started)

    def failed(self, status, message):
        """The same run as a failure: ``oom`` or ``error`` with one line of ``message``; measured fields go."""
        return RunEntry(batch=self.batch, status=status, settings_id=self.settings_id, started=self.started,
                        message=message)

    @classmethod
    def inferred_oom(cls, batch, settings_id, started, oom_batch):
        """A batch not run because a smaller one (``oom_batch``) already ran out of memory."""
        return cls(batch=batch, status="oom", settings_id=settings_id, started=started, inferred=True,
                   message="not run: batch %d already ran out of memory" % oom_batch)


class TrialEntry(Record):
    """One element of a run's ``trials``: one of its ``--trials`` measurements."""
    __slots__ = tuple(name for name, _ in TRIAL_FIELDS)


class PowerWindow(Record):
    """A run's ``power`` mapping: every field written, ``null`` where it could not be measured."""

    __slots__ = POWER_WINDOW_FIELDS
    KEEP_NONE = True
