"""`envdoctor` entry point: parse arguments, pick the language, run one command, map errors to exit 3.

Each command module exposes `register(subparsers, parent)` and `run(args, ui) -> CommandResult`; this
module alone turns a result into output (the JSON envelope or the text view) and the exit code.
Modules import their heavy dependencies inside `run` so that `envdoctor check` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import List, Optional

from envdoctor import __version__
from envdoctor.cli.ui import Ui
from envdoctor.errors import EnvdoctorError, UsageError
from envdoctor.i18n import LANGUAGES, detect_language, message
from envdoctor.process.streams import prepare as prepare_streams
from envdoctor.result import CommandResult

COMMANDS = ("check", "doctor", "explain", "scan", "configure", "upgrade", "rollback", "recover", "report", "summarize",
            "matrix", "fix")


class Relaunched(Exception):
    """The command ran from the interpreter copy outside runtime\\ (envdoctor/process/relaunch.py): its exit code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad arguments; launchers read 2 as "will fail", so bad input must be 3."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError("error.bad_arguments", detail=message, usage=self.format_usage().strip())


def common_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--lang", choices=LANGUAGES, help="message language (default: from the system locale)")
    parent.add_argument("--json", action="store_true", help="print a versioned JSON envelope instead of text")
    parent.add_argument("--debug", action="store_true", help="show tracebacks of unexpected errors")
    return parent


def build_parser(only: Optional[str] = None, lang: str = "en") -> argparse.ArgumentParser:
    """The parser; with `only`, just that command's subparser (a launcher's check need not import the
    other nine command modules). Help and unknown commands get the full parser. LANG: its help texts'."""
    from envdoctor.process.invocation import current  # usage lines name the command as the user starts it

    parser = _Parser(
        prog=current(),
        description="Checks, diagnoses and safely upgrades the GPU runtime of GPT-SoVITS bundles.",
    )
    parser.add_argument("--version", action="version", version=f"envdoctor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    parent = common_options()
    for name in COMMANDS if only not in COMMANDS else (only,):
        importlib.import_module(f"envdoctor.cli.{name}").register(sub, parent)
    if lang != "en":
        from envdoctor.cli.zh_argparse import translate_parser

        translate_parser(parser, lang)
    return parser


_GLOBAL_FLAGS = ("--debug", "--json")


def hoist_common_options(argv: List[str]) -> List[str]:
    """`envdoctor --debug check` and `envdoctor --lang zh_CN check`: the common options are the
    subcommands' (argparse would let a subcommand's default overwrite a top-level value), so those
    written before the command are moved after it."""
    before: List[str] = []
    index = 0
    while index < len(argv):
        item = argv[index]
        if item in _GLOBAL_FLAGS or item.startswith("--lang="):
            before.append(item)
            index += 1
        elif item == "--lang" and index + 1 < len(argv):
            before += argv[index:index + 2]
            index += 2
        else:
            break
    if before and index < len(argv) and argv[index] in COMMANDS:
        return [argv[index], *before, *argv[index + 1:]]
    return argv


def _reopen_closed_streams() -> List[str]:
    """A standard stream closed by the caller (`>&-`, `<&-`, a service without a console) is None in
    Python: every print or isatty() would crash. It becomes the null device; the names are returned."""
    closed = []
    for name, mode in (("stdin", "r"), ("stdout", "w"), ("stderr", "w")):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, mode, encoding="utf-8"))  # noqa: SIM115 - for the whole run
            closed.append(name)
    return closed


def main(argv: Optional[List[str]] = None) -> int:
    argv = hoist_common_options(list(sys.argv[1:] if argv is None else argv))
    closed = _reopen_closed_streams()
    prepare_streams(argv)  # before the replay too: a replayed answer is printed the same way
    # Start-up: imported here, after argv is read, so that a replayed check pays only for the replay.
    from envdoctor.check.replay import finish_recording, replay, start_recording

    try:
        replayed = replay(argv)  # an unchanged pre-launch check answers before anything heavy is imported
    except OSError:
        replayed = None  # e.g. the current folder was deleted: the command below says so clearly
    if replayed is not None:
        return replayed
    command = argv[0] if argv and argv[0] in COMMANDS else ""
    ui = Ui(lang=detect_language(_peek_lang(argv)), json_mode="--json" in argv, debug="--debug" in argv)
    try:
        recorder = start_recording(argv)  # only an eligible `check` is recorded, for the replay above
    except OSError:
        recorder = None
    result: Optional[CommandResult] = None
    code = 3
    try:
        try:
            result = _run(argv, ui)
        except EnvdoctorError as error:
            result = CommandResult.failed(command, error)
        except KeyboardInterrupt:
            # A short line instead of silence (or a traceback): what happened, and where a change was
            # under way, how to finish or undo it. Exit 130 as shells expect.
            key = "error.interrupted_change" if command in ("upgrade", "rollback", "recover", "fix") \
                else "error.interrupted"
            try:
                sys.stderr.write("\n" + message(ui.lang, key) + "\n")
            except (OSError, ValueError):
                pass
            return 130
        except Relaunched as done:  # the copy outside runtime\ ran the command in this console
            return done.code
        except Exception as exc:  # an envdoctor bug: say so plainly, keep the traceback for --debug
            if ui.debug:
                raise
            result = CommandResult.failed(command, EnvdoctorError("error.unexpected",
                                                                  detail=f"{type(exc).__name__}: {exc}"))
        code = emit(result, ui)
        _notice_refused_caches(ui)
        if "stdout" in closed and ui.json_mode and "stderr" not in closed:
            sys.stderr.write(f"{ui.text('error.prefix')}: {ui.text('error.stdout_closed', code=code)}\n")
        return code
    finally:
        deps = result.replay_deps() if result is not None and result.replay_deps is not None else None
        finish_recording(recorder, argv, deps, code)


def _run(argv: List[str], ui: Ui) -> CommandResult:
    from envdoctor.cli.zh_argparse import speaking

    lang = ui.lang  # --lang, ENVDOCTOR_LANG, the locale: help and argparse's errors speak it too
    with speaking(lang):
        args = _parse(argv, lang)
    args.argv = argv
    ui.lang = detect_language(getattr(args, "lang", None)) if getattr(args, "command", None) else ui.lang
    ui.json_mode = getattr(args, "json", False)
    ui.debug = getattr(args, "debug", False)
    if not getattr(args, "command", None):
        with speaking(lang):
            build_parser(lang=lang).print_help(sys.stderr)
        raise UsageError("safety.no_command")
    if args.command in ("upgrade", "rollback", "recover", "fix"):
        from envdoctor.process.relaunch import relaunch  # start-up: only commands that may rename runtime\

        code = relaunch(args, argv)
        if code is not None:
            raise Relaunched(code)
    _notice_interrupted(args, ui)
    module = importlib.import_module(f"envdoctor.cli.{args.command}")
    return module.run(args, ui)


def _parse(argv: List[str], lang: str) -> argparse.Namespace:
    if not [a for a in argv if a not in _GLOBAL_FLAGS and not a.startswith("--lang")]:
        build_parser(lang=lang).print_help(sys.stderr)  # no command: the help, and exit 3 ("could not check")
        raise UsageError("safety.no_command")
    _require_working_directory(argv)
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        _unknown_command(argv[0])
    parser = build_parser(argv[0] if argv else None, lang)
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # argparse would blame the top-level parser and print its usage; the command's usage helps more.
        command_parser = _subparser(parser, getattr(args, "command", None)) or parser
        command_parser.error(argparse._("unrecognized arguments: %s") % " ".join(unknown))  # type: ignore
    return args


def _unknown_command(typed: str) -> None:
    """`envdoctor chek`: say which command was meant, in the user's language, instead of argparse's list."""
    import difflib

    close = difflib.get_close_matches(typed.lower(), COMMANDS, n=1, cutoff=0.6)
    if close:
        raise UsageError("error.unknown_command_close", command=typed, suggestion=close[0])
    raise UsageError("error.unknown_command", command=typed, commands=", ".join(COMMANDS))


def _subparser(parser: argparse.ArgumentParser, command: Optional[str]) -> Optional[argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return None


def emit(result: CommandResult, ui: Ui) -> int:
    """Show a command's result (JSON envelope or text view) and return its exit code."""
    if ui.json_mode:
        from envdoctor.envelope import write_result  # start-up: text output never needs the envelope

        ui.print_json(write_result(result, ui.lang))
    elif result.error is not None:
        ui.show_error(result.error)
    elif result.render is not None:
        result.render(ui)
    return result.exit_code


def _notice_refused_caches(ui: Ui) -> None:
    """Say once that a cache folder was not safe to use and which private one served instead (stderr)."""
    from envdoctor.fileio.paths import REFUSED

    for path, reason, fallback in REFUSED:
        ui.console(stderr=True).print(ui.text("cache.untrusted", path=path, fallback=fallback,
                                              reason=ui.text("cache.reason." + reason)), markup=False)
    del REFUSED[:]


def _require_working_directory(argv: List[str]) -> None:
    """A deleted current folder makes every relative path (and os.getcwd itself) fail: say so once."""
    if argv and argv[0] in ("-h", "--help", "--version"):
        return
    try:
        os.getcwd()
    except OSError as exc:
        raise UsageError("safety.cwd_missing") from exc


def _notice_interrupted(args: argparse.Namespace, ui: Ui) -> None:
    """Every command says so when an upgrade/rollback was interrupted (upgrade commands do it themselves)."""
    if args.command in ("upgrade", "rollback", "recover"):
        return
    root = getattr(args, "root", None) or os.getcwd()
    if os.path.exists(os.path.join(root, ".envdoctor", "upgrade", "journal.jsonl")):
        from envdoctor.cli.upgrade_view import interrupted_notice  # start-up: only after an interrupted upgrade

        try:
            interrupted_notice(root, ui)
        except EnvdoctorError:
            pass  # a damaged journal is for `recover`/`rollback` to report; the check itself goes on


def _peek_lang(argv: List[str]) -> Optional[str]:
    for index, item in enumerate(argv):
        if item == "--lang" and index + 1 < len(argv):
            return argv[index + 1]
        if item.startswith("--lang="):
            return item.split("=", 1)[1]
    return None


if __name__ == "__main__":
    raise SystemExit(main())
