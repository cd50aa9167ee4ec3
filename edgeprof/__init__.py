"""edgeprof: profile deep neural networks on small NVIDIA boards.

The agent side (sweep, measure, profile, backends, sensors, board, compare) runs on
Python 3.6 with numpy and PyYAML only; export and report need torch/onnx/matplotlib
and import them lazily.
"""

__version__ = "0.1.0"
