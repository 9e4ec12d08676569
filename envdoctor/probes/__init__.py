"""Facts about the machine and the runtime.

Probes collect facts and never judge them. gpus/nvml/driverfiles/nvidia_smi/windriver: the GPUs and
the driver (with the driver fingerprint); runtime/torchfiles: the runtime and torch read from files;
fatbin/: the fat-binary scanner; live: the runtime's own Python asked in a child; runner: every child
process; inputs: what each probe reads (environment and files), the replay's keys; collect: all of
them for one check.

May be imported by: check, cli, diagnose, doctor, support, upgrade.
"""
