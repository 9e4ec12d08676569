"""Compatibility facts (matrices/*.yaml): schema, loader and typed lookups.

schema.py validates matrices/*.yaml against matrices/schema.yaml; loader.py reads and caches them;
views.py is the typed view the rules use; verification.py and facts.py say which facts are verified
(only those may block); summary.py is `envdoctor matrix`.

May be imported by: cli, diagnose, doctor, explain, fix, check, support, upgrade.
"""
