"""Knowledge of the GPT-SoVITS layout and its config files, and the writer behind `envdoctor configure`.

layout: which GPT-SoVITS generation a folder is and where it keeps its settings; mitigations and
show: what it is configured to avoid; settings/plan/writer/patches/yamledit/textfile/blocks/launchers:
the `configure` transaction (preview, backup, byte-exact revert).

May be imported by: check, cli, demo, doctor, support.
"""
