"""One pre-launch check: probes -> matrix -> diagnosis (pipeline), and its replay when nothing it read
has changed (replay, keyed by the inputs the probes declare in probes/inputs.py).

Shared by check, doctor, report, explain, configure's `auto` and the upgrade's verification.

May be imported by: cli, doctor, support, upgrade.
"""
