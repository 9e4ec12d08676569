"""Messages of `envdoctor scan`."""

MESSAGES = {
    "ui.scan.binary": "Binary",
    "ui.scan.no_cuda": "No CUDA kernels found in the given paths.",
    "ui.scan.summary": "All binaries together on {arch}: {verdict}",
    "ui.scan.embedded": "embedded",
    "ui.scan.embedded_note": (
        "\"embedded\": fat binaries found in a library's data sections, which it loads itself (cuobjdump does "
        "not list them); coverage counts them together with the registered ones."
    ),
    "error.path_not_found": "{path} does not exist.",
    "error.bad_cc": "{value} is not a compute capability; write it like 8.6 or 12.0.",
}
