"""Real parts for the upgrade tests: wheels built here, a PEP 503 index on 127.0.0.1, venv runtimes.

Fake torch/torchaudio wheels have real metadata (METADATA, WHEEL, RECORD with hashes), a real
`torch/version.py`, and a `torch/__init__.py` that answers what envdoctor's probes ask; what it says
comes from `torch/_fake.json` inside the wheel. When nvcc is on the machine, torch/lib carries a
real fat binary built for the wheel's archs.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from typing import Dict, Iterable, List, Optional, Sequence, Tuple
from urllib.parse import unquote

TORCH_INIT = '''
import json as _json, os as _os
_fake = _json.load(open(_os.path.join(_os.path.dirname(__file__), "_fake.json")))
if _fake.get("fail_import"):
    raise ImportError(_fake["fail_import"])
if _fake.get("sleep"):  # a child that is still running when envdoctor is killed (orphan tests)
    import time as _time
    _time.sleep(_fake["sleep"])
from torch.version import __version__
from torch import version, cuda
'''

TORCH_CUDA = '''
import json as _json, os as _os
_fake = _json.load(open(_os.path.join(_os.path.dirname(_os.path.dirname(__file__)), "_fake.json")))
def is_available():
    return False
def get_arch_list():
    return list(_fake.get("arch_list", []))
def device_count():
    return 0
'''


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build_wheel(out_dir: str, name: str, version: str, files: Dict[str, bytes],
                requires: Sequence[str] = (), tag: str = "py3-none-any") -> str:
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    meta += [f"Requires-Dist: {r}" for r in requires]
    content = dict(files)
    content[f"{info}/METADATA"] = ("\n".join(meta) + "\n").encode()
    content[f"{info}/WHEEL"] = (f"Wheel-Version: 1.0\nGenerator: envdoctor-tests\nRoot-Is-Purelib: true\n"
                                f"Tag: {tag}\n").encode()
    record_lines = []
    for path, data in content.items():
        record_lines.append(f"{path},sha256={_b64(hashlib.sha256(data).digest())},{len(data)}")
    record_lines.append(f"{info}/RECORD,,")
    content[f"{info}/RECORD"] = ("\n".join(record_lines) + "\n").encode()
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{dist}-{version}-{tag}.whl")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name_in, data in content.items():
            archive.writestr(name_in, data)
    return path


def torch_files(version: str, cuda: Optional[str], arch_list: Sequence[str], fail_import: str = "",
                fatbin: Optional[bytes] = None, padding: int = 0, sleep: float = 0,
                annotated: bool = False) -> Dict[str, bytes]:
    """`annotated`: version.py as torch >= 2.12 writes it (`cuda: Optional[str] = '13.0'`)."""
    fake: Dict[str, object] = {"arch_list": list(arch_list)}
    if sleep:
        fake["sleep"] = sleep
    if fail_import:
        fake["fail_import"] = fail_import
    files = {
        "torch/__init__.py": TORCH_INIT.encode(),
        "torch/cuda/__init__.py": TORCH_CUDA.encode(),
        "torch/version.py": ((f"from typing import Optional\n__version__ = '{version}'\ndebug = False\n"
                              f"cuda: Optional[str] = {cuda!r}\ngit_version = 'test'\nhip: Optional[str] = None\n")
                             if annotated else
                             (f"__version__ = '{version}'\ndebug = False\ncuda = {cuda!r}\n"
                              f"git_version = 'test'\nhip = None\n")).encode(),
        "torch/_fake.json": json.dumps(fake).encode(),
    }
    if fatbin is not None:
        files["torch/lib/libtorch_cuda.so"] = fatbin
    if padding:
        files["torch/lib/padding.bin"] = os.urandom(padding)
    return files


def build_fatbin(work: str, archs: Sequence[str]) -> Optional[bytes]:
    """A real shared library with a .nv_fatbin for these SASS archs (sm_90, sm_120...); None without nvcc."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        return None
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, "k.cu")
    with open(src, "w") as handle:
        handle.write("__global__ void envdoctor_k(float* x) { x[threadIdx.x] *= 2.0f; }\n"
                     "extern \"C\" void launch(float* x) { envdoctor_k<<<1, 32>>>(x); }\n")
    out = os.path.join(work, "lib-" + "-".join(archs) + ".so")
    gencode = []
    for arch in archs:
        num = arch.split("_")[1]
        gencode += ["-gencode", f"arch=compute_{num},code=sm_{num}"]
    result = subprocess.run([nvcc, "-shared", "-Xcompiler", "-fPIC", *gencode, src, "-o", out],
                            capture_output=True, timeout=300)
    if result.returncode != 0:
        return None
    with open(out, "rb") as handle:
        return handle.read()


# torchaudio.load as the fixture's torchaudio does it: a real WAV read with the standard library; or,
# like torchaudio >= 2.9 without TorchCodec, the error that real torchaudio raises in that case.
AUDIO_LOAD = '''
def load(path):
    if {no_codec!r}:
        raise ImportError("TorchCodec is required for load_with_torchcodec. Please install torchcodec to use this "
                          "function.")
    import wave
    with wave.open(path, "rb") as handle:
        frames = handle.getnframes()
        rate = handle.getframerate()
        channels = handle.getnchannels()
        handle.readframes(frames)
    class _Shape:
        shape = (channels, frames)
    return _Shape(), rate
'''


def audio_files(full: str, no_codec: bool = False) -> Dict[str, bytes]:
    return {"torchaudio/__init__.py": (f"import torch\n__version__ = '{full}'\n"
                                       + AUDIO_LOAD.format(no_codec=no_codec)).encode()}


def build_set(out_dir: str, torch_version: str, variant: str, cuda: Optional[str], arch_list: Sequence[str],
              fail_import: str = "", fatbin: Optional[bytes] = None, dep: Optional[str] = None,
              no_codec: bool = False) -> List[str]:
    """torch + torchaudio wheels of one version (+ local tag)."""
    full = f"{torch_version}+{variant}"
    torch_requires = [dep] if dep else []
    paths = [build_wheel(out_dir, "torch", full, torch_files(full, cuda, arch_list, fail_import, fatbin),
                         torch_requires)]
    paths.append(build_wheel(out_dir, "torchaudio", full, audio_files(full, no_codec), [f"torch=={torch_version}"]))
    return paths


# -- a PEP 503 index on loopback, with failure modes ------------------------------------------------

class IndexServer:
    """Serves /simple/<project>/ pages with #sha256= links and /files/<name> with Range support.

    Failure modes per file name: wrong_hash (the page publishes another hash), drop_after (close the
    connection after N bytes, the first `drops` times), missing (the link 404s), plus a request log.
    """

    def __init__(self, wheel_paths: Iterable[str], pep658: bool = False, ranges: bool = True) -> None:
        self.pep658 = pep658  # serve <file>.metadata and announce it (data-core-metadata)
        self.ranges = ranges  # answer Range requests (False: always the whole file, as some servers do)
        self.served: Dict[str, int] = {}  # body bytes sent per path (wheels and .metadata files)
        self.files: Dict[str, str] = {}
        for path in wheel_paths:
            self.add(path)
        self.wrong_hash: set = set()
        self.missing: set = set()
        self.truncated: set = set()  # serve the file short, with a Content-Length that matches the short body
        self.drop_after: Dict[str, Tuple[int, int]] = {}  # name -> (bytes, times left)
        self.requests: List[Tuple[str, str, Optional[str]]] = []
        self.extra_links: Dict[str, List[str]] = {}
        self.variants_asked: List[str] = []  # <variant> of /whl/<variant>/... and /flat/<variant>/ requests
        handler = self._handler()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def add(self, path: str) -> None:
        self.files[os.path.basename(path)] = path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/simple/"

    @property
    def flat_url(self) -> str:
        """A find-links page: every wheel on one flat listing, as several PyTorch mirrors are laid out."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/flat/"

    @property
    def root(self) -> str:
        """The server's base URL; a mirror test writes `root + "whl/{variant}/"` into mirrors.yaml."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def wheel_bytes_served(self, name: str) -> int:
        return self.served.get(f"/files/{name}", 0)

    def file_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/files/{name}"

    def __enter__(self) -> IndexServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _project_of(self, filename: str) -> str:
        return filename.split("-", 1)[0].replace("_", "-").lower()

    def _handler(self):
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self._serve(head=True)

            def do_GET(self) -> None:
                self._serve(head=False)

            def _send(self, code: int, body: bytes, ctype: str = "text/html", extra: Optional[dict] = None,
                      head: bool = False) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                if not head:
                    self.wfile.write(body)
                    path = self.path.split("?")[0]
                    server.served[path] = server.served.get(path, 0) + len(body)

            def _serve(self, head: bool) -> None:
                server.requests.append((self.command, self.path, self.headers.get("Range")))
                parts = [unquote(p) for p in self.path.split("?")[0].split("/") if p]
                if len(parts) >= 2 and parts[0] in ("whl", "flat") and (parts[0] == "whl" or len(parts) == 2):
                    # a mirror laid out per wheel variant: /whl/<variant>/ is an index, /flat/<variant>/ a page
                    server.variants_asked.append(parts[1])
                    parts = (["simple"] + parts[2:]) if parts[0] == "whl" else ["flat"]
                    if parts == ["flat"]:
                        links = [f'<a href="/files/{n}">{n}</a>' for n in sorted(server.files)]
                        return self._send(200, ("<html><body>" + "\n".join(links) + "</body></html>").encode(),
                                          head=head)
                if len(parts) == 1 and parts[0] == "simple":
                    names = sorted({server._project_of(f) for f in server.files})
                    body = "".join(f'<a href="{n}/">{n}</a>\n' for n in names)
                    return self._send(200, f"<html><body>{body}</body></html>".encode(), head=head)
                if len(parts) == 2 and parts[0] == "simple":
                    project = parts[1].lower()
                    links = []
                    for name, path in sorted(server.files.items()):
                        if server._project_of(name) != project:
                            continue
                        with open(path, "rb") as handle:
                            digest = hashlib.sha256(handle.read()).hexdigest()
                        if name in server.wrong_hash:
                            digest = hashlib.sha256(b"not this file").hexdigest()
                        meta = ""
                        if server.pep658:
                            with zipfile.ZipFile(path) as archive:
                                text = archive.read(_metadata_name(archive))
                            meta = f' data-core-metadata="sha256={hashlib.sha256(text).hexdigest()}"'
                        links.append(f'<a href="/files/{name}#sha256={digest}"{meta}>{name}</a>')
                    links += server.extra_links.get(project, [])
                    if not links:
                        return self._send(404, b"not found", head=head)
                    return self._send(200, ("<html><body>" + "\n".join(links) + "</body></html>").encode(),
                                      head=head)
                if parts == ["flat"]:
                    links = [f'<a href="../files/{n}">{n}</a>' for n in sorted(server.files)]
                    return self._send(200, ("<html><body>" + "\n".join(links) + "</body></html>").encode(),
                                      head=head)
                if len(parts) == 2 and parts[0] == "files" and parts[1].endswith(".whl.metadata"):
                    name = parts[1][:-len(".metadata")]
                    if not server.pep658 or name not in server.files:
                        return self._send(404, b"not found", head=head)
                    with zipfile.ZipFile(server.files[name]) as archive:
                        return self._send(200, archive.read(_metadata_name(archive)), "text/plain", head=head)
                if len(parts) == 2 and parts[0] == "files":
                    name = parts[1]
                    if name in server.missing or name not in server.files:
                        return self._send(404, b"not found", head=head)
                    with open(server.files[name], "rb") as handle:
                        data = handle.read()
                    if name in server.truncated:
                        data = data[: len(data) // 2]
                    start = 0
                    rng = self.headers.get("Range")
                    extra = {"Accept-Ranges": "bytes"}
                    code = 200
                    end = len(data) - 1
                    if rng and rng.startswith("bytes=") and server.ranges:
                        first, _, last = rng[6:].partition("-")
                        if not first:  # a suffix: the last N bytes
                            start = max(0, len(data) - int(last))
                        else:
                            start = int(first)
                            end = min(int(last), len(data) - 1) if last else len(data) - 1
                        if start >= len(data):
                            return self._send(416, b"", extra={"Content-Range": f"bytes */{len(data)}"},
                                              head=head)
                        code = 206
                        extra["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                    body = data[start:end + 1]
                    drop = server.drop_after.get(name)
                    if drop and drop[1] > 0 and not head:
                        server.drop_after[name] = (drop[0], drop[1] - 1)
                        self.send_response(code)
                        self.send_header("Content-Length", str(len(body)))
                        for k, v in extra.items():
                            self.send_header(k, v)
                        self.end_headers()
                        self.wfile.write(body[: drop[0]])
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    return self._send(code, body, "application/octet-stream", extra, head=head)
                return self._send(404, b"not found", head=head)

        return Handler


def _metadata_name(archive: zipfile.ZipFile) -> str:
    return next(n for n in archive.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA"))


# -- runtimes and matrices --------------------------------------------------------------------------

def make_venv(path: str, with_pip: bool = True) -> str:
    """A real venv. Where ensurepip is missing (some distro Pythons), pip is copied in from the
    interpreter running the tests (pip is pure Python; its dist-info comes along)."""
    args = [sys.executable, "-m", "venv", path]
    if not with_pip:
        args.insert(3, "--without-pip")
    result = subprocess.run(args, capture_output=True, timeout=300)
    if result.returncode != 0 and with_pip:
        shutil.rmtree(path, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", path], check=True, capture_output=True,
                       timeout=300)
        _copy_host_pip(path)
    elif result.returncode != 0:
        raise subprocess.CalledProcessError(result.returncode, args, result.stdout, result.stderr)
    return os.path.join(path, "bin", "python")


def _copy_host_pip(venv: str) -> None:
    import glob
    from importlib import metadata

    import pip

    site = glob.glob(os.path.join(venv, "lib", "python3*", "site-packages"))[0]
    shutil.copytree(os.path.dirname(pip.__file__), os.path.join(site, "pip"))
    dist = metadata.distribution("pip")
    info = str(dist._path)  # type: ignore[attr-defined]
    shutil.copytree(info, os.path.join(site, os.path.basename(info)))


def pip_install(python: str, files: Sequence[str]) -> None:
    subprocess.run([python, "-m", "pip", "install", "--no-index", "--no-deps", "--disable-pip-version-check",
                    *files], check=True, capture_output=True, timeout=300)


def manifest(root: str) -> Dict[str, Tuple[str, int, str]]:
    """{relative path: (kind, size, sha256 or link target)} of a whole tree."""
    out: Dict[str, Tuple[str, int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                out[os.path.relpath(path, root)] = ("link", 0, os.readlink(path))
        for name in filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            if os.path.islink(path):
                out[rel] = ("link", 0, os.readlink(path))
                continue
            with open(path, "rb") as handle:
                data = handle.read()
            out[rel] = ("file", len(data), hashlib.sha256(data).hexdigest())
    return out


ARCHS_OLD = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]
ARCHS_NEW = ["sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"]

MATRIX_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "matrix")


def write_matrix(directory: str, overrides: Optional[Dict[str, str]] = None) -> str:
    """The test matrix (data/matrix/*.yaml) copied to `directory`, with some files replaced."""
    os.makedirs(directory, exist_ok=True)
    texts = {}
    for name in os.listdir(MATRIX_DIR):
        with open(os.path.join(MATRIX_DIR, name), encoding="utf-8") as handle:
            texts[name] = handle.read()
    for name, text in {**texts, **(overrides or {})}.items():
        with open(os.path.join(directory, name), "w", encoding="utf-8") as handle:
            handle.write(text)
    return directory


def mirrors_yaml(root_url: str) -> str:
    """A mirrors.yaml naming two mirrors on an IndexServer, laid out per wheel variant: a PEP 503 index
    (loop-index: /whl/<variant>/) and a flat page (loop-flat: /flat/<variant>/)."""
    return f"""schema_version: 1
mirrors:
  - name: loop-index
    title: {{en: "loopback index", zh_CN: "本机索引"}}
    region: global
    layout: pep503
    url: "{root_url}whl/{{variant}}/"
    source: "tests/upgrade/upgrade_helpers.py IndexServer"
  - name: loop-flat
    title: {{en: "loopback flat page", zh_CN: "本机平铺页面"}}
    region: cn
    layout: find-links
    url: "{root_url}flat/{{variant}}/"
    source: "tests/upgrade/upgrade_helpers.py IndexServer"
"""


def torch_version(root):
    """The torch version the bundle's runtime imports (None: no runtime, or torch does not import)."""
    python = os.path.join(root, "runtime", "bin", "python")
    if not os.path.exists(python):
        return None
    out = subprocess.run([python, "-B", "-c", "import torch; print(torch.__version__)"], capture_output=True,
                         text=True, timeout=60)
    return out.stdout.strip() if out.returncode == 0 else None
