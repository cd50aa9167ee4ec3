"""The reading side: ``compare``, ``predict`` and ``report``, from profiles only.

It runs anywhere a profile can be copied to (the board included: numpy and PyYAML are enough for
``compare`` and ``predict``); matplotlib is imported inside ``report.figures`` only. It never opens
a backend or a sensor and never imports the workstation side (``tests/agent/test_layout.py``).
"""
