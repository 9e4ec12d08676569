"""One pre-launch check: probes -> matrix -> diagnosis (pipeline); the answer a launcher gets, with the
runtime's live facts read in the background where the files already answer, and the inputs the answer
stands on (prelaunch); and its replay when none of those has changed (replay).

Shared by check, doctor, report, explain, configure's `auto` and the upgrade's verification.

May be imported by: cli, doctor, support, upgrade.
"""
