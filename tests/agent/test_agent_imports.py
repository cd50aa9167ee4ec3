"""The agent never needs torch, onnx or matplotlib: importing and running it pulls none of them in.

(A bare .onnx file given to ``sweep`` gets its static costs from edgeprof.costs, which needs onnx
only for a model whose nodes its own shape rules do not cover. A manifest, the normal way, needs
nothing.)
"""
import hashlib
import shutil
import subprocess
import sys

import yaml

from conftest import REPO, TINY_ONNX

AGENT_CHECK = """
import sys
from edgeprof import cli
from edgeprof.agent import sweep, measure, board, sensors, selection
from edgeprof.records import profile, manifest
from edgeprof.reading import compare, predict
from edgeprof.agent.backends import onnxruntime, tensorrt
from edgeprof.agent.sensors import ina3221, jtop, tegrastats, nvml, rapl
assert cli.main(["info", "--json"]) == 0
assert cli.main(["sweep", "--models", sys.argv[1], "--out", sys.argv[2], "--batch", "1", "--min-seconds", "0.01",
                 "--min-runs", "2", "--warmup-runs", "1", "--warmup-seconds", "0", "--idle-seconds", "0"]) == 0
assert cli.main(["compare", sys.argv[2]]) == 0
heavy = sorted(m for m in ("torch", "torchvision", "onnx", "matplotlib") if m in sys.modules)
assert not heavy, "the agent imported %s" % heavy
"""


def test_the_agent_imports_no_workstation_library(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(TINY_ONNX, str(models / "tiny.onnx"))
    with open(TINY_ONNX, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    manifest = {"schema": "edgeprof/manifest/v1", "edgeprof_version": "0.1.0",
                "models": [{"name": "tiny", "file": "tiny.onnx", "sha256": digest, "input_shape": [3, 32, 32],
                            "weights": "none"}]}
    (models / "manifest.yaml").write_text(yaml.safe_dump(manifest))
    result = subprocess.run([sys.executable, "-c", AGENT_CHECK, str(models), str(tmp_path / "out")], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True,
                            env={"PYTHONPATH": REPO, "PATH": "/usr/bin:/bin", "EDGEPROF_ROOT": str(tmp_path)})
    assert result.returncode == 0, result.stderr


BARE_CHECK = """
import sys
sys.modules["onnx"] = None  # as on a board without onnx: any import of it fails
from edgeprof.agent import selection
model, = selection.resolve(sys.argv[1])
print(model.get("macs"), model.get("params"), model.get("static_note"))
"""


def test_a_bare_onnx_gets_its_static_costs_without_onnx():
    result = subprocess.run([sys.executable, "-c", BARE_CHECK, TINY_ONNX], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True, env={"PYTHONPATH": REPO, "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    from edgeprof import costs
    expected = costs.analyze(TINY_ONNX)
    assert result.stdout.split() == [str(expected.macs), str(expected.params), "None"]
    assert expected.macs > 0 and expected.shapes_by == "edgeprof"
