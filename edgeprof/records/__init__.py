"""Records: the files the parts of edgeprof exchange, as plain data.

Profiles (``profile``), the models manifest (``manifest``), their schema checks (``schema``),
the typed entries a run writes (``runs``), the paper's published figures (``paper``) and atomic
file writing and hashing (``files``).

Contract: Python 3.6 with numpy and PyYAML only. A module here imports the standard library,
PyYAML, ``edgeprof.errors``, ``edgeprof.util`` and other modules of ``edgeprof.records``;
never the agent, the workstation, the reading side or the commands (``tests/agent/test_layout.py``).
"""
