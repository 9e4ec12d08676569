"""Renderers: pure functions of a result object (terminal, JSON envelope, ...)."""
