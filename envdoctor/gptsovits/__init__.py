"""Knowledge of the GPT-SoVITS layout and its config files, and the writer behind `envdoctor configure`."""
