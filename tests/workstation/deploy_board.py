"""A fake Jetson for the deploy/ script tests: a copy of a fixture root plus the stand-in tools.

The stand-ins (tests/fixtures/deploy/bin: nvpmodel, jetson_clocks, systemd-run, systemctl, sudo,
id) copy what the real tools do, each citing its source; they keep the board's state (power mode,
clocks, fan, transient units, a log of calls) in one folder, FAKE_BOARD. Nothing touches the
real machine's power mode, clocks or services.
"""
import os
import shutil
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(REPO, "tests", "fixtures", "deploy")
STAND_INS = os.path.join(FIXTURES, "bin")
JETSON = os.path.join(REPO, "deploy", "jetson")
INSTALL = os.path.join(JETSON, "install.sh")
PREPARE = os.path.join(JETSON, "prepare.sh")
SWEEP = os.path.join(JETSON, "sweep.sh")
JETPACKS = ("jp46", "jp5", "jp6")


def run_script(script, *args, root=None, env=None, stdin=None, timeout=60):
    """Run a deploy script with bash; EDGEPROF_ROOT is the given root or unset."""
    full_env = dict(os.environ)
    full_env.pop("EDGEPROF_ROOT", None)
    if root:
        full_env["EDGEPROF_ROOT"] = root
    full_env.update(env or {})
    return subprocess.run(["bash", script, *args], capture_output=True, text=True, env=full_env, timeout=timeout,
                          check=False, stdin=stdin if stdin is not None else subprocess.DEVNULL)


def commands(output):
    """The commands a script printed (lines starting with '+ ', also inside '    | ' blocks), without sudo."""
    found = []
    for line in output.splitlines():
        line = line[6:] if line.startswith("    | ") else line
        if line.startswith("+ "):
            found.append(line[2:].replace("sudo ", "", 1))
    return found


class Board:
    """A fixture root copied to tmp_path and the stand-ins' state folder.

    uid: what the stand-in `id -u` says (0: the scripts run as root; else they go through the
    stand-in sudo, which runs the command with uid 0). mode: the power mode id now.
    """

    def __init__(self, tmp_path, jetpack="jp5", uid=0, mode=None):
        self.root = str(tmp_path / "root")
        shutil.copytree(os.path.join(FIXTURES, jetpack), self.root)
        self.dir = tmp_path / "board"
        self.dir.mkdir()
        self.state = str(tmp_path / "state")
        self.env = {"PATH": STAND_INS + os.pathsep + os.environ["PATH"], "FAKE_BOARD": str(self.dir),
                    "FAKE_UID": str(uid), "EDGEPROF_ROOT": self.root}
        if mode is not None:
            self.set_mode(mode)

    def set_mode(self, mode):
        (self.dir / "nvpmodel_status").write_text("pmode:%04d\n" % mode)

    def mode(self):
        status = self.dir / "nvpmodel_status"
        return int(status.read_text().split(":")[1]) if status.exists() else None

    def clocks(self):
        path = self.dir / "clocks"
        return path.read_text().strip() if path.exists() else "default"

    def fan(self):
        path = self.dir / "fan"
        return path.read_text().strip() if path.exists() else "auto"

    def log(self):
        path = self.dir / "log"
        return path.read_text().splitlines() if path.exists() else []

    def set_boot_id(self, boot_id):
        with open(os.path.join(self.root, "proc", "sys", "kernel", "random", "boot_id"), "w") as f:
            f.write(boot_id + "\n")

    def run(self, script, *args, env=None, stdin=None, timeout=60):
        full = dict(self.env)
        full.update(env or {})
        return run_script(script, *args, env=full, stdin=stdin, timeout=timeout)

    def prepare(self, *args, env=None):
        return self.run(PREPARE, "--state-dir", self.state, "--no-drop-caches", *args, env=env)

    def restore(self, *args, env=None):
        return self.run(PREPARE, "--state-dir", self.state, "--restore", *args, env=env)

    def wait_for(self, condition, timeout_s=30.0):
        """Poll until condition() is true; False when it never became true (no timing is asserted)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.1)
        return condition()
