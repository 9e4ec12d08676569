"""Renderers: pure functions of a result object (terminal, JSON envelope, ...).

Renderers only: terminal (check's table), view/markdown/html (the support report), doctor_view,
check_data (check's envelope data), redact (what leaves the machine), logs and fileshape (copies of the user's
files in their own encoding).

May be imported by: cli, fix, support.
"""
