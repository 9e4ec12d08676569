"""envdoctor as a running program: how the user started it, as a prefix they can type again (invocation);
where its output goes and in which encoding (streams); B started from the bundle's own python.exe
(relaunch); children that die with it (childlife); stage timings (timing); and the documented kill points
for fault-injection tests (faults).

Standard library only, the lowest layer: `check --launcher` imports parts of it on its fast path.

May be imported by: check, cli, doctor, explain, fileio, fix, gptsovits, i18n, probes, upgrade.
"""
