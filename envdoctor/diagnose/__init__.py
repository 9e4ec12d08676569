"""Facts + matrix -> findings. Rules are pure: no I/O, no printing.

One rule per module under rules/; context.py is the rules' view of facts + matrix; engine.py runs
them (a crashing rule becomes a finding); trust.py lowers a blocker resting on an unverified fact;
coverage.py and scan_result.py turn arch lists and scans into native / PTX JIT / none.

May be imported by: cli, doctor, upgrade, check (the check pipeline).
"""
