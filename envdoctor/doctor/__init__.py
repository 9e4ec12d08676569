"""`envdoctor doctor`: run the operations that break GPT-SoVITS on a new GPU, each in a child process.

scripts/   the smoke tests, as source files the runtime's own Python runs (never imported here)
catalog    which tests exist, what each stands for, which script and parameters it runs
runner     one test in one child process -> SmokeResult (classification of exits, aborts, hangs)
session    every selected test on every selected GPU, with progress callbacks
findings   smoke results -> findings, and reconciling check's predictions with what was proven
recommend  facts + smoke results + findings -> the FP16 / v2Pro SV / arch-list / upgrade defaults
"""
