"""Redaction: strip what identifies a person or grants access before a report is written.

A `Redactor` is built from the machine's own names (user, home folder, host name) plus patterns that
catch the rest wherever it appears (paths from other machines in logs, tokens, e-mail, IP and MAC
addresses). The report redacts its *data* (every JSON value and key, every evidence text, every file
name) and only then renders it, so no renderer can leak what the data no longer holds.

GPU UUIDs and serial numbers are replaced by a short hash, not removed: support can still tell
whether two reports come from the same card, nobody can read the card's identity back.

Everything here is a pure function of its inputs; `machine_identity()` is the only reader of the
environment.
"""

from __future__ import annotations

import getpass
import hashlib
import ipaddress
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, List, Mapping, Optional, Pattern, Tuple

USER = "<user>"
HOST = "<host>"
SECRET = "<redacted>"

# Names too common to replace as words everywhere ("root" would turn --root into --<user>); they are
# still removed where they stand as a folder under a home directory.
_COMMON_NAMES = frozenset({
    "root", "admin", "administrator", "user", "users", "test", "guest", "default", "public", "home", "runner",
    "localhost", "local", "nvidia", "python", "cuda", "torch", "runtime", "windows", "linux", "ubuntu", "debian",
    "desktop", "pc", "owner", "system", "work", "app", "docker", "container", "gpt", "sovits", "dev", "model",
    "models", "data", "temp", "tmp", "lib", "bin", "site",
})

# Environment variable names whose values are secrets whatever the value looks like.
SECRET_NAME = re.compile(
    r"(?i)(token|secret|passw(or)?d|passwd|api[_-]?key|access[_-]?key|private[_-]?key|credential|"
    r"auth(?!or)|cookie|session|signature|webhook|hook[_-]?url|dsn|(^|[_-])key($|[_-]))"
)


def _hash(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode("utf-8")).hexdigest()[:10]


def _keep_scheme(match: re.Match) -> str:
    return match.group(1) + SECRET


def _ip_or_keep(match: re.Match) -> str:
    text = match.group(0)
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return text
    # Loopback and "any" addresses identify nobody and tell support where a server listened.
    if address.is_loopback or address.is_unspecified:
        return text
    return "<ip>"


# Also NVIDIA libraries whose versions have four parts ("cuDNN 9.19.0.56", "NCCL 2.28.9.1").
_VERSION_BEFORE = re.compile(
    r"(?i)(?:\bversion|\bver|\bv|\bcudnn|\bcublas\w*|\bcufft|\bnccl|\bnvrtc|\btensorrt|==|[-_+~])\s*[:=]?\s*$")


def _ipv4_or_keep(match: re.Match) -> str:
    """Four-part numbers are also versions (cuDNN 9.1.0.70): keep those that read as one."""
    before = match.string[max(0, match.start() - 12):match.start()]
    if _VERSION_BEFORE.search(before):
        return match.group(0)
    return _ip_or_keep(match)


# (name, pattern, replacement) in the order they are applied: specific secrets first, so that a
# generic rule (an e-mail, a user name) never eats half of a token and leaves the rest.
_Rule = Tuple[str, Pattern[str], Any]

_PATTERN_RULES: List[_Rule] = [
    ("private-key", re.compile(
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S),
     "-----BEGIN PRIVATE KEY-----" + SECRET + "-----END PRIVATE KEY-----"),
    ("authorization", re.compile(r"(?i)((?:proxy-)?authorization\s*[:=]\s*[\"']?(?:(?:bearer|basic|token|digest)\s+)?)"
                                 r"[^\s\"',;]+"), _keep_scheme),
    ("bearer", re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}"), _keep_scheme),
    ("url-credentials", re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^\s/@:\"']+:[^\s/@\"']+@"),
     lambda m: m.group(1) + SECRET + "@"),
    ("huggingface", re.compile(r"\bhf_[A-Za-z0-9]{20,}"), SECRET),
    ("github", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,})"), SECRET),
    ("openai", re.compile(r"\bsk-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_-]{16,}"), SECRET),
    ("aws", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), SECRET),
    ("google", re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), SECRET),
    ("slack", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"), SECRET),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), SECRET),
    ("stripe", re.compile(r"\b(?:sk|rk|pk|whsec)_(?:live_|test_)?[A-Za-z0-9]{16,}"), SECRET),
    ("aliyun", re.compile(r"\bLTAI[0-9A-Za-z]{12,30}\b"), SECRET),
    ("tencent", re.compile(r"\bAKID[0-9A-Za-z]{13,40}\b"), SECRET),
    ("telegram", re.compile(r"(?<![0-9])\d{6,12}:AA[A-Za-z0-9_-]{30,}"), SECRET),
    # key=value, key: value, "key": "value", --key value, with a secret-looking key name.
    ("assignment", re.compile(
        # The name starts at a word start and is bounded: an unanchored `[...]*` prefix backtracks
        # quadratically over long runs of letters (a 64 KiB log took seconds).
        r"(?i)((?<![A-Za-z0-9_.-])[\"']?[A-Za-z0-9_.-]{0,40}?"
        r"(?:token|secret|passw(?:or)?d|passwd|pwd|api[_-]?key|apikey|access[_-]?key|private[_-]?key|"
        r"client[_-]?secret|credential|cookie|session[_-]?id|webhook|hook[_-]?url|dsn|(?<![a-z])sig(?:nature)?|"
        r"(?<![a-z])key)[A-Za-z0-9_.-]{0,40}[\"']?"
        r"(?:\s*[:=：＝]\s*|\s+(?=[\"']))[\"']?)"
        r"(?!<redacted>)([^\s\"',;&}<]{3,})"),
     _keep_scheme),
    ("cli-secret", re.compile(r"(?i)(--(?:[a-z0-9-]*-)?(?:token|password|secret|api-key|key)(?:=|\s+))"
                              r"(?!<redacted>)([^\s\"']{3,})"), _keep_scheme),
    # A webhook's URL is its password (GRADIO_WEBHOOK, Slack, Discord, Feishu, DingTalk, WeCom bots):
    # the host stays (support sees where it pointed), the path and query go.
    ("webhook-url", re.compile(r"(?i)(\bhttps?://[^\s/\"'<>]+)(/(?:[^\s\"'<>]*?(?:hook|/robot/|/bot\d|/services/)|"
                               r"bot\d|robot/|services/)(?:[^\s\"'<>]|<redacted>)*)"),
     lambda m: m.group(1) + "/" + SECRET),
    # The same in Chinese: 密码：xxx (a full-width colon), 口令 = xxx, 密钥为 xxx.
    ("cjk-secret", re.compile(r"((?:密码|口令|密钥|秘钥|私钥|令牌|授权码|验证码|访问码)\s*(?:[:=：＝]|是|为)"
                              r"\s*[\"'“「]?)"
                              r"(?!<redacted>)([^\s\"'”」,，;；。]{2,})"), _keep_scheme),
    # \\server\share\folder (also JSON-escaped): the server, the share and the folder under it (often a user's).
    ("unc-path", re.compile(r"(?<![^\s\"'=(\[,;])(\\{2}|\\{4})(?![?.]\\)(?!<host>)[^\\/\s\"'<>|*?:]+"
                            r"(?:(\\{1,2})[^\\/\s\"'<>|*?:]+(\2[^\\/\s\"'<>|*?:]+)?)?"),
     lambda m: m.group(1) + HOST + (m.group(2) + "<share>" if m.group(2) else "") + (m.group(2) + USER if m.group(3)
                                                                                     else "")),
    ("cn-mobile", re.compile(r"(?<![0-9A-Za-z.+-])1[3-9]\d{9}(?![0-9A-Za-z])"), "<phone>"),
    ("cn-id", re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}"
                         r"[\dXx](?![0-9A-Za-z])"), "<id>"),
    ("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"), "<email>"),
    ("gpu-uuid", re.compile(r"\b(GPU|MIG)-([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
                            r"(?:/\d+/\d+)?)"),
     lambda m: f"{m.group(1)}-<hash:{_hash(m.group(2))}>"),
    ("serial", re.compile(r"(?i)(\bserial(?:[ _]?(?:number|no))?\s*[:=]\s*[\"']?)([A-Za-z0-9-]{4,})"),
     lambda m: f"{m.group(1)}<hash:{_hash(m.group(2))}>"),
    ("mac", re.compile(r"(?<![0-9A-Fa-f:-])[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?![0-9A-Fa-f:-])"),
     "<mac>"),
    ("ipv6", re.compile(r"(?<![0-9A-Za-z:.>])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:%[0-9A-Za-z]+)?"
                        r"(?![0-9A-Za-z:.])"), _ip_or_keep),
    ("ipv4", re.compile(r"(?<![0-9A-Za-z.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9A-Za-z]|\.\d)"), _ipv4_or_keep),
    # A user folder in a path from any machine: C:\Users\NAME, /home/NAME, /Users/NAME, in any slash
    # style and with the doubled backslashes of JSON or Python reprs.
    ("home-path", re.compile(
        r"(?i)((?:[A-Z]:)?(?:\\{1,4}|/)(?:Users|Documents and Settings|home)(?:\\{1,4}|/))"
        # A folder name may hold spaces ("John Smith") when a slash follows it.
        r"(?!<user>)(?:[^\\/\r\n\t\"'<>:|*?]{1,64}?(?=[\\/])|[^\\/\s\"'<>:|*?]+)"),
     lambda m: m.group(1) + USER),
]


_MAX_PASSES = 8  # each pass only turns text into placeholders; real texts settle after one


@dataclass(frozen=True)
class Identity:
    """What identifies this machine and its user: names and folders to remove as literal text."""

    user_names: Tuple[str, ...] = ()
    home_dirs: Tuple[str, ...] = ()
    host_names: Tuple[str, ...] = ()


def machine_identity(environ: Optional[Mapping[str, str]] = None) -> Identity:
    """The current user's names, home folders and host names, from every place that knows them."""
    env = os.environ if environ is None else environ
    users = [env.get(name, "") for name in ("USER", "USERNAME", "LOGNAME")]
    try:
        users.append(getpass.getuser())
    except Exception:  # no user database entry in some containers
        pass
    homes = [env.get("HOME", ""), env.get("USERPROFILE", "")]
    try:
        homes.append(str(Path.home()))
    except RuntimeError:
        pass
    users.extend(Path(h).name for h in homes if h)
    hosts = [env.get(name, "") for name in ("HOSTNAME", "COMPUTERNAME", "USERDOMAIN")]
    try:
        hosts.append(socket.gethostname())
    except OSError:
        pass
    hosts.extend(h.split(".")[0] for h in list(hosts) if "." in h)
    return Identity(_clean(users), _clean(homes, minimum=2), _clean(hosts))


def _clean(values: Iterable[str], minimum: int = 3) -> Tuple[str, ...]:
    """Distinct names long enough to replace safely (two CJK characters make a full Chinese name)."""
    seen = []
    for value in values:
        value = (value or "").strip()
        wanted = 2 if not value.isascii() else minimum
        if len(value) >= wanted and value not in seen:
            seen.append(value)
    # Longest first: a home folder must be replaced before the user name inside it.
    return tuple(sorted(seen, key=lambda v: (-len(v), v)))


def _path_variants(path: str) -> List[str]:
    """One folder as it appears in text: native, other slash style, JSON-escaped backslashes."""
    variants = {path, path.replace("\\", "/"), path.replace("/", "\\")}
    variants |= {v.replace("\\", "\\\\") for v in list(variants)}
    return sorted((v for v in variants if len(v) > 1 and v not in ("/", "\\")), key=lambda v: (-len(v), v))


class Redactor:
    """Removes personal data and secrets from text and JSON-like values. `enabled=False` passes all through."""

    def __init__(self, identity: Identity = Identity(), enabled: bool = True) -> None:
        self.enabled = enabled
        self.identity = identity
        homes: List[Tuple[Pattern[str], str]] = []
        names: List[Tuple[Pattern[str], str]] = []
        for home in identity.home_dirs:
            if home.rstrip("/\\") in ("", "/root", "C:"):
                continue  # a home of "/" or the root account's carries no name worth hiding as a prefix
            for variant in _path_variants(home.rstrip("/\\")):
                # Only as a whole path component: /home/al must not eat /home/alice.
                homes.append((re.compile(re.escape(variant) + r"(?![^\\/\s\"'<>])", re.I), "~"))
        for name in identity.user_names:
            if name.lower() not in _COMMON_NAMES:
                names.append((_word(name), USER))
        for host in identity.host_names:
            if host.lower() not in _COMMON_NAMES:
                names.append((_word(host), HOST))
        self._homes = homes
        self._names = names

    @classmethod
    def for_machine(cls, enabled: bool = True, environ: Optional[Mapping[str, str]] = None) -> Redactor:
        return cls(machine_identity(environ), enabled=enabled)

    def text(self, value: str) -> str:
        """The redacted text, a fixed point of the rules: redacting it again changes nothing.

        One pass is not always enough by itself: a replacement can make a new match with what
        follows it (`alice::a` -> `<user>::a`, whose `::a` reads as an IPv6 address). So the rules
        run until a pass changes nothing (two passes for almost every text); `report --from`
        redacts again what it reads back and must get the same bytes."""
        if not self.enabled or not value:
            return value
        for _ in range(_MAX_PASSES):
            again = self._pass(value)
            if again == value:
                return value
            value = again
        return value

    def _pass(self, value: str) -> str:
        # Home folders first (they become "~"), then the patterns, then the bare names left anywhere.
        for pattern, replacement in self._homes:
            value = pattern.sub(replacement, value)
        for _name, pattern, replacement in _PATTERN_RULES:
            value = pattern.sub(replacement, value)
        for pattern, replacement in self._names:
            value = pattern.sub(replacement, value)
        return value

    def value(self, value: Any, key: str = "") -> Any:
        """A JSON-like tree with every string (keys included) redacted; secret-named keys lose their value."""
        if not self.enabled:
            return value
        if isinstance(value, str):
            if key and SECRET_NAME.search(key) and value and not _is_envdoctor_key(key, value):
                return SECRET
            if _VERSION_KEY.search(key) and _VERSION_VALUE.fullmatch(value):
                return value  # {"cudnn": "9.19.0.56"}: a version field, not an address
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v, key) for v in value]
        return value


_VERSION_KEY = re.compile(r"(?i)(?:^|_)(?:version|cudnn|cuda|driver|torch\w*|release)$")
_VERSION_VALUE = re.compile(r"\d+(?:\.\d+){1,4}(?:[+.][0-9A-Za-z.]+)?")


def _is_envdoctor_key(key: str, value: str) -> bool:
    """envdoctor's own fields named "key" hold message keys (error.no_runtime), not secrets."""
    return key == "key" and re.fullmatch(r"[a-z_]+(\.[a-z0-9_-]+)+", value) is not None


def _word(name: str) -> Pattern[str]:
    """A name as a whole word: 'ann' must not change 'announce'."""
    return re.compile(r"(?<![A-Za-z0-9])" + re.escape(name) + r"(?![A-Za-z0-9])", re.I)
