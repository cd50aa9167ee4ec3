"""Orchestration of a sweep: models x batch sizes, idle power, resume, oom, lock.

Each finished run (ok, oom or error) is saved at once into its profile with an atomic write, so
a sweep killed at any moment loses at most the run in flight. A run already recorded with the
same ``settings_id`` (model sha256, backend and version, precision, options, protocol) is
skipped, which is how ``--resume`` and a plain re-run finish an interrupted sweep. Runs that
ended in ``error`` are tried again.
"""
import hashlib
import json
import logging
import os
import signal
import time

from edgeprof import __version__
from edgeprof.agent import board, memory
from edgeprof.records import profile
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
                 redo=False):
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


class Summary(object):
    def __init__(self):
        self.measured = self.skipped = self.oom = self.errors = 0
        self.files = []
        self.interrupted = False

    def line(self, folder):
        state = "interrupted" if self.interrupted else "done"
        return ("sweep %s: %d runs measured, %d already recorded (skipped), %d oom, %d errors; profiles in %s"
                % (state, self.measured, self.skipped, self.oom, self.errors, folder))


def settings_id(model, backend_name, backend_version, precision, options, protocol):
    """A short hash of everything that makes two runs of one batch comparable."""
    key = {"sha256": model.get("sha256"), "backend": backend_name, "version": backend_version,
           "precision": precision, "options": options, "protocol": protocol.as_dict()}
    text = json.dumps(key, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def profile_path(folder, model_name, backend_name, precision):
    return os.path.join(folder, "%s__%s__%s.yaml" % (model_name, backend_name, precision))


def new_profile(identity, model, backend_section, protocol, power_section, idle_seconds):
    static = dict((k, v) for k, v in model.items() if k not in ("path", "static_note"))
    if model.get("static_note"):
        static["note"] = model["static_note"]
    protocol_section = protocol.as_dict()
    protocol_section["idle_seconds"] = idle_seconds
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
        self.summary = Summary()
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
        plan = []
        for model in self.config.models:
            path = profile_path(self.folder, model["name"], self.config.backend.name, self.config.precision)
            data = profile.load(path) if os.path.exists(path) else None
            sid = settings_id(model, self.config.backend.name, self.backend_version, self.config.precision,
                              self.config.options, self.config.protocol)
            pending = []
            for batch in self.config.batches:
                recorded = profile.find_run(data, batch, sid) if data else None
                if recorded and recorded.get("status") in DONE_STATUSES and not self.config.redo:
                    self.summary.skipped += 1
                    continue
                pending.append(batch)
            plan.append((model, path, data, sid, pending))
        return plan

    def _run_locked(self):
        plan = self._plan()
        self._total = sum(len(p[4]) for p in plan)
        self._started = time.monotonic()
        log.info("sweep: %d models x %d batch sizes on %s with %s %s (%s); %d runs to do, %d already recorded",
                 len(self.config.models), len(self.config.batches), self.identity["model"],
                 self.config.backend.name, self.backend_version, self.config.precision, self._total,
                 self.summary.skipped)
        for model, path, data, sid, pending in plan:
            if pending:
                self._sweep_model(model, path, data, sid, pending)

    def _sweep_model(self, model, path, data, sid, pending):
        monitor = self.config.monitor
        idle = monitor.measure_idle(self.config.idle_seconds) if self.config.idle_seconds > 0 else None
        idle_w = idle.get("idle_w") if idle else None
        fresh = new_profile(self.identity, model, self.backend_section(), self.config.protocol,
                            monitor.describe(), self.config.idle_seconds)
        if data is None:
            data = fresh
        else:  # the header describes the settings of this sweep, which its new runs were measured with
            for key in ("edgeprof_version", "board", "model", "backend", "protocol", "power"):
                data[key] = fresh[key]
        if idle:
            data["power"]["idle"] = idle
        oom_batch = None
        for batch in pending:
            if oom_batch is not None:
                run = RunEntry.inferred_oom(batch, sid, profile.now_iso(), oom_batch)
            else:
                run = self._one_run(model, batch, sid, idle_w)
            run = run.as_dict()
            profile.put_run(data, run)
            profile.save(path, data)
            self._count(run, model["name"])
            if run["status"] == "oom" and oom_batch is None:
                oom_batch = batch
        if path not in self.summary.files:
            self.summary.files.append(path)

    def _one_run(self, model, batch, sid, idle_w):
        """Open, measure and close one batch; returns its :class:`RunEntry` (ok, oom or error)."""
        config = self.config
        run = RunEntry.started_now(batch, sid, profile.now_iso())
        before = board.state()
        baseline = memory.system_memory().get("system_used_bytes")
        try:
            memory.reset_peak_rss()
            options = dict(config.options, model_sha256=model.get("sha256"), **config.runtime_options)
            with config.backend.open(model["path"], batch, config.precision, options) as session:
                power = []

                def stop_power(runs):
                    power.append(config.monitor.stop_window(batch * runs, idle_w))

                result = measure(session, config.protocol, on_window_start=config.monitor.start_window,
                                 on_window_stop=stop_power)
                run.update(result.summary())
                if power and power[0] is not None:
                    run.power = power[0].as_dict()
                run.memory = self._memory_for(session, baseline)
                run.backend = session.describe()
                # a warning of the runtime's (e.g. tactics skipped for lack of memory) is the run's too
                run.warnings = list(run.warnings or []) + list(run.backend.get("warnings") or [])
        except (KeyboardInterrupt, UsageError):  # a bad flag fails every run: stop, exit 2
            raise
        except Exception as exc:  # one failed run never ends the sweep: it is recorded
            run = run.failed("oom" if config.backend.is_out_of_memory(exc) else "error", one_line(exc))
            log.debug("run failed", exc_info=True)
        run.board_state = board.state_change(before, board.state())
        return run

    def _memory_for(self, session, baseline):
        mem = {"runtime_bytes": None}
        mem.update(session.memory())
        mem["peak_rss_bytes"] = memory.peak_rss_bytes()
        mem.update(memory.system_memory())
        if baseline is not None and mem.get("system_used_bytes") is not None:
            mem["system_delta_bytes"] = mem["system_used_bytes"] - baseline
        return mem

    def _count(self, run, name):
        self._done += 1
        status = run["status"]
        if status == "ok":
            self.summary.measured += 1
            lat = run["latency_ms"]
            p90 = "%.3f" % lat["p90"] if lat.get("p90") is not None else "n/a: %d runs" % run["runs"]
            detail = "%9.3f ms median (p90 %s, CoV %4.1f%%)  %9.2f img/s" % (
                lat["median"], p90, 100 * lat["cov"], run["throughput_ips"])
            if run.get("power") and run["power"].get("energy_per_image_mj") is not None:
                detail += "  %.1f mJ/img" % run["power"]["energy_per_image_mj"]
        elif status == "oom":
            self.summary.oom += 1
            detail = "oom: %s" % run["message"]
        else:
            self.summary.errors += 1
            detail = "error: %s" % run["message"]
        log.info("[%d/%d %s] %-16s batch %-4d %s", self._done, self._total, self._eta(), name, run["batch"], detail)
        for warning in run.get("warnings", []):
            log.warning("    warning: %s", warning)

    def _eta(self):
        elapsed = time.monotonic() - self._started
        left = (self._total - self._done) * elapsed / max(self._done, 1)
        return "eta %dm%02ds" % (left // 60, left % 60)

