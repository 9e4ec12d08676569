"""Gathering a support report: run the check, read the evidence, run doctor when asked.

The action half of `envdoctor report`; envdoctor/report/ only redacts and renders what this gathers.

May be imported by: cli, fix (the last upgrade attempt's record, support/upgrade_state.py).
"""
