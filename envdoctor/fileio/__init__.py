"""Reading and writing files safely, the one way each: the atomic writer (atomicfile), bounded reads of
untrusted paths and output files only where a file belongs (safeio), bounded YAML (safeyaml), the bytes of
a user's text file turned into text (textcodec), the JSON cache and where caches live (jsoncache, paths),
the bundle's own state folder and writer lock (bundlestate), and report.json read back (reportfile).

Below every layer that touches the disk; it imports only errors and process (fault injection points).

May be imported by: check, cli, doctor, explain, fix, gptsovits, matrix, probes, report, support, upgrade.
"""
