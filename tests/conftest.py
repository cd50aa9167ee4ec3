"""Shared test helpers: run the CLI in a subprocess, the tiny model, a machine root."""
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_ONNX = os.path.join(REPO, "tests", "data", "tiny.onnx")
if REPO not in sys.path:
    sys.path.insert(0, REPO)


def check_analysis_tool():
    """tools/check_analysis.py as a module (its model builder and exporter; needs torch to use)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("check_analysis", os.path.join(REPO, "tools", "check_analysis.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_cli(args, env=None, timeout=300):
    """Run ``python -m edgeprof ARGS``; returns the CompletedProcess (text stdout/stderr)."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = REPO + os.pathsep + full_env.get("PYTHONPATH", "")
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "edgeprof"] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, universal_newlines=True, env=full_env, timeout=timeout)


@pytest.fixture(autouse=True)
def _profile_index_in_tmp(tmp_path, monkeypatch):
    """compare/report/table keep an index of the profiles they read under $XDG_CACHE_HOME/edgeprof
    (edgeprof.records.store): each test gets its own, so no test writes ~/.cache or sees another's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def tiny_onnx():
    return TINY_ONNX


@pytest.fixture
def empty_root(tmp_path, monkeypatch):
    """A machine root with nothing in it: no sensors, not a Jetson."""
    root = tmp_path / "root"
    root.mkdir()
    monkeypatch.setenv("EDGEPROF_ROOT", str(root))
    return root
