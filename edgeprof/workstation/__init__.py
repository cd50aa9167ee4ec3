"""The workstation side: the model zoo and ``edgeprof export`` (torch -> ONNX with static costs).

torch, torchvision and onnx are imported inside the functions that need them (``zoo_torch``, the
paper models that torchvision lacks, imports torch at module level and is itself imported lazily),
so listing the zoo or reading ``--help`` works without them. Nothing on the agent or reading side
imports this folder (``tests/agent/test_layout.py``).
"""
