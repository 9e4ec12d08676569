"""Gathering what the checks say about a bundle: for a support report (run the check, read the evidence,
run doctor when asked), and for configure's `auto` (advice: the check's findings through doctor's
recommendation logic); and a written report read back (readback: `report --from`).

The action half of `envdoctor report`; envdoctor/report/ only redacts and renders what this gathers.

May be imported by: cli, fix (the last upgrade attempt's record, support/upgrade_state.py).
"""
