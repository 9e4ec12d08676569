"""Compatibility facts (matrices/*.yaml): schema, loader and typed lookups."""
