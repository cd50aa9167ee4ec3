"""Orchestration of a sweep: models x batch sizes x trials, idle power, resume, oom, lock.

A sweep runs in two passes. The first opens each pending (model, batch) once, in model order and
ascending batch, and runs one inference: TensorRT builds (or loads) its engine there and ONNX
Runtime reads and optimises its graph, so no build or first load heats the board right before a
timed window, and a batch that does not fit is found in size order (the larger batches of that
model are then recorded as ``oom`` without being run). The second pass measures: with ``--trials
N``, trial k of every (model, batch) runs in round k, each round in a fresh random order (seeded,
the seed recorded in each run's ``order``); each trial opens its own session.

Each finished trial (and each failed run) is saved at once: its raw times into the profile's sidecar
(:mod:`edgeprof.records.latencies`), then the profile itself, each with an atomic write, so a sweep
killed at any moment loses at most the trial in flight. A run already recorded with the same
``settings_id`` (the hash of its ``settings``: model sha256, backend and version, precision, device,
options, protocol and trials, the power mode) is skipped, and a run with fewer trials than asked
gets the missing ones: that is how ``--resume`` and a plain re-run finish an interrupted sweep. Runs
that ended in ``error`` are tried again; ``--redo`` measures everything again.
"""
import logging
import os
import signal
import time

from edgeprof import __version__
from edgeprof.agent import board, memory, trials
from edgeprof.records import files, latencies, profile
from edgeprof.errors import UsageError
from edgeprof.agent.lock import FolderLock
from edgeprof.agent.measure import measure
from edgeprof.records.runs import RunEntry
from edgeprof.util import one_line

log = logging.getLogger("edgeprof")
DONE_STATUSES = ("ok", "oom")


class SweepConfig(object):
    """Everything a sweep needs, as plain values (built by ``edgeprof.commands.sweep``)."""

    def __init__(self, *, models, batches, backend, backend_note, precision, out_dir, protocol,
                 monitor, idle_seconds=2.0, board_name=None, options=None, runtime_options=None,
                 redo=False, trials=1, seed=None):
        self.models = models
        self.batches = batches
        self.backend = backend
        self.backend_note = backend_note
        self.precision = precision
        self.out_dir = out_dir
        self.protocol = protocol
        self.monitor = monitor
        self.idle_seconds = idle_seconds
        self.board_name = board_name
        self.options = options or {}  # settings that change results: recorded, part of settings_id
        self.runtime_options = runtime_options or {}  # e.g. cache folder, --rebuild: passed, not recorded
        self.redo = redo
        self.trials = int(trials)
        self.seed = seed


class Summary(object):
    def __init__(self):
        self.measured = self.skipped = self.oom = self.errors = self.trials = 0
        self.files = []
        self.interrupted = False
        self.seed = None

    def line(self, folder):
        state = "interrupted" if self.interrupted else "done"
        trials = " (%d trials, order seed %d)" % (self.trials, self.seed) if self.trials > self.measured else ""
        return ("sweep %s: %d runs measured%s, %d already recorded (skipped), %d oom, %d errors; profiles in %s"
                % (state, self.measured, trials, self.skipped, self.oom, self.errors, folder))


def run_settings(model, backend_name, backend_version, precision, device, options, protocol, trials_count,
                 power_mode):
    """A run's ``settings``: everything that makes two runs of one batch comparable (its hash is settings_id)."""
    protocol_section = protocol.as_dict()
    protocol_section["trials"] = trials_count
    return {"model_sha256": model.get("sha256"), "backend": backend_name, "backend_version": backend_version,
            "precision": precision, "device": device, "options": dict(options), "protocol": protocol_section,
            "power_mode": power_mode}


def profile_path(folder, model_name, backend_name, precision):
    return os.path.join(folder, "%s__%s__%s.yaml" % (model_name, backend_name, precision))


def new_profile(identity, model, backend_section, protocol, power_section, idle_seconds, trials_count=1):
    static = dict((k, v) for k, v in model.items() if k not in ("path", "static_note"))
    if model.get("static_note"):
        static["note"] = model["static_note"]
    protocol_section = protocol.as_dict()
    protocol_section["idle_seconds"] = idle_seconds
    protocol_section["trials"] = trials_count
    return {
        "schema": profile.SCHEMA,
        "edgeprof_version": __version__,
        "created": profile.now_iso(),
        "board": identity,
        "model": static,
        "backend": backend_section,
        "protocol": protocol_section,
        "power": power_section,
        "runs": [],
    }


def _terminate_as_interrupt(signum, frame):
    raise KeyboardInterrupt()


class Point(object):
    """One (model, batch) of the plan: its trials done and to do, and what its run entry needs."""

    def __init__(self, model_state, batch, done, pending, backend_facts=None):
        self.model = model_state
        self.batch = batch
        self.done = done            # trials.Trial list
        self.pending = pending      # trial indices still to measure
        self.backend = backend_facts
        self.failed = False
        self.first_open_s = None    # seconds the first pass's open and inference took


class ModelState(object):
    """One model's profile during the sweep."""

    def __init__(self, model, path, data, settings):
        self.model = model
        self.path = path
        self.data = data
        self.sidecar = latencies.Sidecar(path, data)
        self.settings = settings
        self.sid = profile.settings_digest(settings)
        self.points = []
        self.header_done = False
        self.idle = False
        self.idle_w = None


class Sweep(object):
    """One sweep over the configured models and batch sizes."""

    def __init__(self, config):
        self.config = config
        self.identity = board.identity()
        self.slug = board.slugify(config.board_name) if config.board_name else self.identity["slug"]
        if config.board_name:
            self.identity["name"] = config.board_name
        self.identity["slug"] = self.slug
        self.folder = os.path.join(config.out_dir, self.slug)
        self.backend_version = config.backend.version()
        self.power_mode = trials.power_mode()
        self.seed = config.seed if config.seed is not None else trials.new_seed()
        self.summary = Summary()
        self.summary.seed = self.seed
        self._done = 0
        self._total = 0
        self._started = None

    def backend_section(self):
        backend = self.config.backend
        return {"name": backend.name, "version": self.backend_version, "precision": self.config.precision,
                "chosen_because": self.config.backend_note, "options": dict(self.config.options),
                "device": backend.device(self.config.options)}

    def run(self):
        """Run the sweep; returns a :class:`Summary`. Ctrl-C / SIGTERM end it cleanly."""
        previous = signal.signal(signal.SIGTERM, _terminate_as_interrupt)
        try:
            with FolderLock(self.folder):
                self._run_locked()
        except KeyboardInterrupt:
            self.summary.interrupted = True
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.config.monitor.close()
        return self.summary

    def _plan(self):
        config = self.config
        plan = []
        for model in config.models:
            path = profile_path(self.folder, model["name"], config.backend.name, config.precision)
            data = profile.load(path) if os.path.exists(path) else None
            settings = run_settings(model, config.backend.name, self.backend_version, config.precision,
                                    config.backend.device(config.options), config.options, config.protocol,
                                    config.trials, self.power_mode)
            state = ModelState(model, path, data, settings)
            for batch in config.batches:
                point = self._point(state, batch)
                if point is None:
                    self.summary.skipped += 1
                else:
                    state.points.append(point)
            plan.append(state)
        return plan

    def _point(self, state, batch):
        """What is left to do at ``batch`` (``None``: nothing, it is recorded)."""
        planned = self.config.trials
        recorded = profile.find_run(state.data, batch, state.sid) if state.data else None
        if self.config.redo or not recorded or recorded.get("status") not in DONE_STATUSES:
            return Point(state, batch, [], list(range(planned)))
        count = len(profile.trial_entries(recorded))
        if recorded["status"] == "oom" or count >= planned:
            return None
        raw = state.sidecar.trials_of(recorded)
        done = trials.recorded_trials(recorded, raw) if raw is not None else None
        if not done:  # its raw times are lost: the trials cannot be pooled with new ones, so all again
            return Point(state, batch, [], list(range(planned)))
        indices = [t.index for t in done]
        return Point(state, batch, done, [i for i in range(planned) if i not in indices], recorded.get("backend"))

    def _run_locked(self):
        for name in files.remove_leftovers(self.folder):  # we hold the lock: these are a killed writer's
            log.debug("removed %s, left by a sweep killed while writing", name)
        plan = self._plan()
        points = [p for state in plan for p in state.points]
        log.info("sweep: %d models x %d batch sizes x %d trial%s on %s with %s %s (%s); %d runs to do, %d already "
                 "recorded; order seed %d", len(self.config.models), len(self.config.batches), self.config.trials,
                 "s" if self.config.trials > 1 else "",
                 self.identity["model"], self.config.backend.name, self.backend_version, self.config.precision,
                 len(points), self.summary.skipped, self.seed)
        try:
            self._prepare(plan)
            order = trials.measured_order([(p, p.pending) for p in points if not p.failed], self.seed)
            self._total = len(order)
            self._started = time.monotonic()
            for position, (point, index) in enumerate(order):
                if not point.failed:
                    self._measure(point, index, {"seed": self.seed, "position": position, "of": len(order)})
        finally:
            for state in plan:
                state.sidecar.prune()

    def _prepare(self, plan):
        """The first pass: open each pending (model, batch) once and run one inference, in size order."""
        started = time.monotonic()
        opened = 0
        for state in plan:
            oom_batch = None
            for point in sorted(state.points, key=lambda p: p.batch):
                if oom_batch is not None:
                    run = RunEntry.inferred_oom(point.batch, state.sid, profile.now_iso(), oom_batch)
                else:
                    run = self._attempt(point.batch, state.sid, lambda: self._open_once(point))
                    opened += 1
                if run is not None:
                    self._fail(point, run)
                    if run.status == "oom" and oom_batch is None:
                        oom_batch = point.batch
        if opened:
            log.info("opened %d sessions once before the measured trials (builds, first loads, oom) in %.1f s",
                     opened, time.monotonic() - started)

    def _open_once(self, point):
        config, model = self.config, point.model.model
        options = dict(config.options, model_sha256=model.get("sha256"), **config.runtime_options)
        started = time.monotonic()
        with config.backend.open(model["path"], point.batch, config.precision, options) as session:
            session.run_impl()
        point.first_open_s = round(time.monotonic() - started, 3)

    def _attempt(self, batch, sid, work):
        """Run ``work()``; ``None`` when it went well, else the failed run entry (oom or error)."""
        started = profile.now_iso()
        try:
            work()
        except (KeyboardInterrupt, UsageError):  # a bad flag fails every run: stop, exit 2
            raise
        except Exception as exc:  # one failed run never ends the sweep: it is recorded
            log.debug("run failed", exc_info=True)
            status = "oom" if self.config.backend.is_out_of_memory(exc) else "error"
            return RunEntry.started_now(batch, sid, started).failed(status, one_line(exc))
        return None

    def _fail(self, point, run):
        point.failed = True
        run.settings = point.model.settings
        self._save(point.model, run.as_dict())
        self._count_failure(run, point.model.model["name"])

    def _header(self, state):
        """The profile to write into, its header describing this sweep (which its new runs were measured with)."""
        if not state.header_done:
            fresh = new_profile(self.identity, state.model, self.backend_section(), self.config.protocol,
                                self.config.monitor.describe(), self.config.idle_seconds, self.config.trials)
            if state.data is None:
                state.data = fresh
            else:
                for key in ("edgeprof_version", "board", "model", "backend", "protocol", "power"):
                    state.data[key] = fresh[key]
            state.header_done = True
        return state.data

    def _save(self, state, run):
        """Sidecar first, then the profile: the profile on disk never names arrays the sidecar lacks."""
        data = self._header(state)
        profile.put_run(data, run)
        state.sidecar.save(data)
        profile.save(state.path, data)
        state.sidecar.committed(data)
        if state.path not in self.summary.files:
            self.summary.files.append(state.path)

    def _measure(self, point, index, order):
        state = point.model
        outcome = []
        failure = self._attempt(point.batch, state.sid, lambda: outcome.append(self._one_trial(point, index, order)))
        if failure is not None:
            self._done += 1
            self._fail(point, failure)
            return
        trial, facts = outcome[0]
        if point.backend is None:  # the first pass's open (a TensorRT build, when it was one) is recorded beside
            point.backend = dict(facts, first_open_s=point.first_open_s)
        point.done.append(trial)
        run = self._entry(point)
        self._save(state, run)
        self._count_trial(point, trial, run)

    def _one_trial(self, point, index, order):
        """Open, measure and close one trial; returns ``(trials.Trial, session facts)``."""
        config, state, batch = self.config, point.model, point.batch
        started = profile.now_iso()
        mode = trials.power_mode()
        if mode != self.power_mode:
            raise RuntimeError("the power mode changed during the sweep (%s); the runs measured before are recorded "
                               "with the old one: run the sweep again" % trials.changes(self.power_mode, mode))
        before = board.state()
        baseline = memory.system_memory().get("system_used_bytes")
        memory.reset_peak_rss()
        runtime = dict(config.runtime_options)
        if "rebuild" in runtime:  # the first pass built the engine already: load it, do not rebuild it again
            runtime["rebuild"] = False
        options = dict(config.options, model_sha256=state.model.get("sha256"), **runtime)
        power, extras = [], []
        with config.backend.open(state.model["path"], batch, config.precision, options) as session:
            # idle with the session open, right before its warm-up, once power has settled
            idle = config.monitor.measure_idle(config.idle_seconds) if config.idle_seconds > 0 else None
            idle_w = idle.get("idle_w") if idle else None
            if idle and not state.idle:  # the header keeps the model's first idle, as before
                state.idle = True
                self._header(state)["power"]["idle"] = idle

            def stop_power(runs):
                power.append(config.monitor.stop_window(batch * runs, idle_w))
                extras.append(config.monitor.window_extras())

            result = measure(session, config.protocol, on_window_start=config.monitor.start_window,
                             on_window_stop=stop_power)
            mem = self._memory_for(session, baseline)
            facts = session.describe()
        extra = (extras[0] if extras else None) or {}
        telemetry = extra.get("telemetry")
        if telemetry and telemetry.get("system_used_max_bytes") is not None:
            mem["system_used_max_bytes"] = telemetry["system_used_max_bytes"]  # the paper's maximum memory
        window = power[0].as_dict() if power and power[0] is not None else None
        trial = trials.measured_trial(index, result, started=started, order=order, power=window, memory=mem,
                                      board_state=board.state_change(before, board.state(), telemetry),
                                      telemetry=telemetry, idle=idle,
                                      runtime_warnings=list(facts.get("warnings") or []) + list(extra.get("notes") or []))
        return trial, facts

    def _entry(self, point):
        """The run entry of ``point`` from its trials so far, its raw times handed to the sidecar."""
        state = point.model
        run = RunEntry(batch=point.batch, status="ok", settings_id=state.sid)
        run.update(trials.run_fields(point.batch, point.done, self.config.trials))
        run.backend = point.backend
        for warning in (point.backend or {}).get("warnings") or []:
            if warning not in run.warnings:
                run.warnings.append(warning)
        raw = [t.raw for t in sorted(point.done, key=lambda t: t.index)]
        run.raw_latencies = latencies.reference(state.path, raw)
        state.sidecar.put(raw, run.raw_latencies)
        run.settings = state.settings
        return run.as_dict()

    def _memory_for(self, session, baseline):
        mem = {"runtime_bytes": None}
        mem.update(session.memory())
        mem["peak_rss_bytes"] = memory.peak_rss_bytes()
        mem.update(memory.system_memory())
        if baseline is not None and mem.get("system_used_bytes") is not None:
            mem["system_delta_bytes"] = mem["system_used_bytes"] - baseline
        return mem

    def _count_failure(self, run, name):
        if run.status == "oom":
            self.summary.oom += 1
        else:
            self.summary.errors += 1
        log.info("[%s] %-16s batch %-4d %s: %s", self._progress(), name, run.batch, run.status, run.message)

    def _count_trial(self, point, trial, run):
        self._done += 1
        self.summary.trials += 1
        planned = self.config.trials
        complete = len(point.done) >= planned
        if complete:
            self.summary.measured += 1
        fields = trial.fields
        lat = fields["latency_ms"]
        p90 = "%.3f" % lat["p90"] if lat.get("p90") is not None else "n/a: %d runs" % fields["runs"]
        detail = "%9.3f ms median (p90 %s, CoV %4.1f%%)  %9.2f img/s" % (
            lat["median"], p90, 100 * lat["cov"], fields["throughput_ips"])
        if fields.get("power") and fields["power"].get("energy_per_image_mj") is not None:
            detail += "  %.1f mJ/img" % fields["power"]["energy_per_image_mj"]
        which = " trial %d/%d" % (trial.index + 1, planned) if planned > 1 else ""
        log.info("[%s] %-16s batch %-4d%s %s", self._progress(), point.model.model["name"], point.batch, which, detail)
        for warning in fields.get("warnings", []):
            log.warning("    warning: %s", warning)
        spread = run.get("between_trials")
        if complete and spread and spread.get("cov_of_medians") is not None:
            log.info("    %d trials: medians %s ms, between-trial CoV %.1f%%", spread["trials"],
                     ", ".join("%.3f" % m for m in spread["medians_ms"]), 100 * spread["cov_of_medians"])

    def _progress(self):
        if not self._started:
            return "first pass"
        elapsed = time.monotonic() - self._started
        left = (self._total - self._done) * elapsed / max(self._done, 1)
        return "%d/%d eta %dm%02ds" % (self._done, self._total, left // 60, left % 60)
