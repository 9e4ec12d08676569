"""English catalogue: every module here contributes a MESSAGES dict (one module per feature)."""
