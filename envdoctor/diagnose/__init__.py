"""Facts + matrix -> findings. Rules are pure: no I/O, no printing."""
