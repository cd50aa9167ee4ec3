"""The agent: what runs on the board during ``edgeprof sweep`` and ``edgeprof info``.

``sweep`` (models x batch sizes, resume, lock) drives ``measure`` (the timing protocol) over a
:mod:`backends` session while a :mod:`sensors` monitor samples power; ``board`` and ``sysroot``
read who the board is and what state it is in; ``memory`` reads what a run held; ``selection``
picks the models a sweep runs from a manifest or a bare ONNX file.

Contract: Python 3.6 (JetPack 4.6: Python 3.6.9, numpy 1.19, PyYAML); numpy and PyYAML are the only
third-party imports at module level. Runtimes (TensorRT, onnxruntime, CUDA) and sensor libraries
(jetson-stats, nvidia-ml-py) are imported inside functions. Never imports ``edgeprof.workstation``
or ``edgeprof.reading``; ``backends`` and ``sensors`` never import each other. ``selection`` may
ask :mod:`edgeprof.costs` for the static costs of a bare ``.onnx`` (no onnx needed for the ops its own
shape rules cover; ``tests/agent/test_layout.py`` holds these rules).
"""
