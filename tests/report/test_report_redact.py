"""The Redactor on its own: what it removes, what it must leave alone, and that it is idempotent."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envdoctor.report.redact import Identity, Redactor, machine_identity

IDENTITY = Identity(user_names=("alice", "张伟"), home_dirs=("/home/alice", "C:\\Users\\张伟"),
                    host_names=("DESKTOP-7QX3",))
R = Redactor(IDENTITY)


@pytest.mark.parametrize("text, expected", [
    ("/home/alice/GPT-SoVITS/runtime", "~/GPT-SoVITS/runtime"),
    ("C:\\Users\\张伟\\GPT-SoVITS", "~\\GPT-SoVITS"),
    ('{"p": "C:\\\\Users\\\\张伟\\\\x"}', '{"p": "~\\\\x"}'),
    ("C:\\Users\\John Smith\\AppData", "C:\\Users\\<user>\\AppData"),
    ("/Users/bob/Library", "/Users/<user>/Library"),
    ("/home/alicex/data", "/home/<user>/data"),  # another user's home: still a name
    ("hello alice, from DESKTOP-7QX3", "hello <user>, from <host>"),
    ("Authorization: Bearer abc.def.ghi12345", "Authorization: Bearer <redacted>"),
    ("HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz123456", "HF_TOKEN=<redacted>"),
    ("key: sk-abcdefghijklmnopqrstuvwx", "key: <redacted>"),
    ("Running on http://192.168.1.23:7860", "Running on http://<ip>:7860"),
    ("server 10.1.2.3 down", "server <ip> down"),
    ("connect to 9.19.0.56 failed", "connect to <ip> failed"),
    ("mail bob@example.org", "mail <email>"),
    ("GPU-2f6a1c3e-1111-2222-3333-444455556666", "GPU-<hash:6a8775234e>"),
])
def test_redacts(text: str, expected: str) -> None:
    assert R.text(text) == expected


@pytest.mark.parametrize("text", [
    "nvidia-cudnn-cu12==9.1.0.70",  # a four-part version is not an IP address
    "cuDNN version 9.1.0.70",
    "2.11.0+cu130 (CUDA 13.0, cuDNN 9.19.0.56)",  # the report's torch line, as seen on the H200
    "http://0.0.0.0:9874 and http://127.0.0.1:9880 and [::1]",  # listen addresses identify nobody
    "12:30:45 std::vector<int> sm_120 2.6.0+cu124 576.02",
    "--root D:\\GPT-SoVITS --python runtime\\python.exe",
    "FATAL: this function is for sm80, but was built for sm370",
    "nvrtc: error: invalid value for --gpu-architecture (-arch)",
    "the announcement about alicea",  # a user name only as a whole word
    "error.no_runtime",
])
def test_leaves_alone(text: str) -> None:
    assert R.text(text) == text


def test_json_values_and_keys_are_redacted_and_secret_names_lose_their_value() -> None:
    value = {"HF_TOKEN": "anything", "/home/alice/x": ["alice"], "error": {"key": "error.no_runtime"},
             "count": 3, "password": "p"}
    assert R.value(value) == {"HF_TOKEN": "<redacted>", "~/x": ["<user>"], "error": {"key": "error.no_runtime"},
                              "count": 3, "password": "<redacted>"}


def test_version_fields_keep_four_part_versions() -> None:
    facts = {"torch": {"cudnn": "9.19.0.56", "version": "2.11.0+cu130"}, "peer": "9.19.0.56"}
    assert R.value(facts) == {"torch": {"cudnn": "9.19.0.56", "version": "2.11.0+cu130"}, "peer": "<ip>"}


def test_disabled_redactor_passes_everything() -> None:
    raw = Redactor(IDENTITY, enabled=False)
    assert raw.text("/home/alice hf_abcdefghijklmnopqrstuvwxyz123456") == \
        "/home/alice hf_abcdefghijklmnopqrstuvwxyz123456"


def test_common_account_names_are_not_replaced_as_words() -> None:
    redactor = Redactor(Identity(user_names=("root", "runner"), home_dirs=("/root",), host_names=("localhost",)))
    assert redactor.text("--root the runner on localhost") == "--root the runner on localhost"


def test_machine_identity_reads_user_home_and_host_from_the_environment() -> None:
    identity = machine_identity({"USER": "wangwu", "HOME": "/home/wangwu", "HOSTNAME": "box-17.lan",
                                 "USERPROFILE": "C:\\Users\\wangwu"})
    assert "wangwu" in identity.user_names
    assert {"/home/wangwu", "C:\\Users\\wangwu"} <= set(identity.home_dirs)
    assert {"box-17.lan", "box-17"} <= set(identity.host_names)


_PIECES = list("aZ09 .:/\\-_=@\"'\n") + ["alice", "hf_", "key=", "C:\\Users\\", "/home/", "Bearer ", "GPU-",
                                          "192.168.", "token: ", "sk-", "abcdefghij"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30).map("".join))
def test_redaction_is_idempotent(text: str) -> None:
    once = R.text(text)
    assert R.text(once) == once
