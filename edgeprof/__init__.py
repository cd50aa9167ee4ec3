"""edgeprof: profile deep neural networks on small NVIDIA boards.

One folder per side (docs/architecture.md):

- ``agent/``: the board (sweep, measure, backends, sensors, board state); Python 3.6 with numpy and
  PyYAML only.
- ``workstation/``: the zoo and export (torch, onnx, imported lazily).
- ``reading/``: compare, predict and report, from profiles only (matplotlib inside report only).
- ``records/``: the profiles and manifests the sides exchange, as plain data.
- ``costs/``: static costs of an ONNX graph (onnx, imported lazily).
- ``commands/`` and ``cli``: the command line.
"""

__version__ = "0.1.0"
