"""`envdoctor doctor`: run the operations that break GPT-SoVITS on a new GPU, in child processes.

scripts/   the smoke tests, as source files the runtime's own Python runs (never imported here), and
           _harness.py, the worker that runs them one after another in that Python
catalog    which tests exist, what each stands for, which script and parameters it runs
worker     one worker process: its line protocol, per-test watchdog, bounded output, kill
runner     one test in a worker -> SmokeResult (classification of exits, aborts, hangs)
session    every selected test on every selected GPU: a worker per GPU, GPUs in parallel, progress events
progress   the live view of those events (rich, on the console it is given)
findings   smoke results -> findings, and reconciling check's predictions with what was proven
recommend  facts + smoke results + findings -> the FP16 / v2Pro SV / arch-list / upgrade defaults

May be imported by: cli, report, support, upgrade (stage verification), i18n (the catalogue's test names).
"""

from __future__ import annotations
