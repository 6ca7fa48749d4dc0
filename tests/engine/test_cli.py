"""The CLI in-process: validate, nodes, schema, version; no tracebacks for user mistakes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest

from engine.cli import main
from engine.errors import DataError, Terminated, interruption

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "resources" / "examples" / "orders.graphmill.json"


def test_cli_validate_example_ok(capsys: pytest.CaptureFixture[str], registry) -> None:
    assert main(["validate", str(EXAMPLE)], registry=registry) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "ok:" in captured.err and "5 nodes, 4 edges" in captured.err


def test_cli_validate_json_lists_issues(
    capsys: pytest.CaptureFixture[str], registry, projects_path: Path
) -> None:
    assert main(["validate", "--json", str(projects_path / "unknown-column.json")], registry=registry) == 2
    payload = json.loads(capsys.readouterr().out)
    assert payload["ok"] is False
    assert payload["issues"][0]["node"] == "stats"
    assert payload["issues"][0]["param"] == "columns.revenue"
    assert payload["issues"][0]["line"] > 1


def test_cli_validate_base_dir_changes_where_sources_are(
    tmp_path: Path, capsys, registry, projects_path: Path
) -> None:
    project = tmp_path / "p.graphmill.json"
    shutil.copy(projects_path / "csv-unknown-column.json", project)
    assert main(["validate", str(project)], registry=registry) == 0  # data/ not here: only a warning
    assert "warning: node 'orders', param 'path': file not found (yet)" in capsys.readouterr().out
    assert main(["validate", "--base-dir", str(projects_path), str(project)], registry=registry) == 2
    assert "unknown column 'prise'" in capsys.readouterr().out


def test_cli_nodes_lists_every_type_with_params(capsys: pytest.CaptureFixture[str], registry) -> None:
    assert main(["nodes"], registry=registry) == 0
    out = capsys.readouterr().out
    for spec in registry:
        assert spec.type in out
    assert "drop_duplicates" in out and "Rows per chunk" in out


def test_cli_nodes_unknown_type_exit_2(capsys: pytest.CaptureFixture[str], registry) -> None:
    assert main(["nodes", "clen"], registry=registry) == 2
    assert "unknown node type 'clen'" in capsys.readouterr().err


def test_cli_schema_accepts_examples_and_refuses_bad_params(
    capsys: pytest.CaptureFixture[str], registry, projects_path: Path
) -> None:
    assert main(["schema"], registry=registry) == 0
    schema = json.loads(capsys.readouterr().out)
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(json.loads(EXAMPLE.read_text()))
    for name in ("unknown-param", "wrong-param-type", "unknown-top-key", "missing-required-param", "bad-id"):
        project = json.loads((projects_path / f"{name}.json").read_text())
        assert not validator.is_valid(project), name


def test_cli_version(capsys: pytest.CaptureFixture[str]) -> None:
    from engine import __version__

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"graphmill {__version__}"


def test_cli_internal_error_no_traceback_unless_debug(monkeypatch, capsys, registry) -> None:
    import engine.validate

    def boom(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(engine.validate, "validate", boom)
    assert main(["validate", str(EXAMPLE)], registry=registry) == 1
    assert "internal error: RuntimeError: boom (run with --debug" in capsys.readouterr().err
    with pytest.raises(RuntimeError):
        main(["--debug", "validate", str(EXAMPLE)], registry=registry)


def test_cli_builtin_commands_skip_command_plugins() -> None:
    """A built-in command does not read every distribution's metadata for command plugins;
    help and unknown commands (`gui` is a plugin command) still see them."""
    from engine.cli import _builtin_command, _command_names, build_parser

    builtin = _command_names(build_parser(plugins=False))
    assert builtin == {"validate", "run", "demo", "nodes", "schema", "resources"}
    assert _builtin_command(["run", "p.graphmill.json", "--workers", "2"], builtin)
    assert _builtin_command(["--debug", "validate", "p.graphmill.json"], builtin)
    for argv in ([], ["gui"], ["run", "--help"], ["-h"], ["--version"]):
        assert not _builtin_command(argv, builtin), argv
    assert "gui" in _command_names(build_parser())


@pytest.mark.parametrize("stop", [KeyboardInterrupt, Terminated])
@pytest.mark.parametrize("wrapped", [RuntimeError, DataError])
def test_cli_run_stopped_inside_a_library_clean_up_is_interrupted_not_failed(
    monkeypatch, capsys, registry, tmp_path: Path, stop: type[BaseException], wrapped: type[Exception]
) -> None:
    """SIGINT landing while loky starts a worker surfaces as loky's own error ("cannot join
    thread before it is started"), or as our DataError wrapping it, with the KeyboardInterrupt
    only as its context: the run still ends as stopped (130/143), with no error event."""
    import engine.execute

    def interrupted_in_clean_up(*args: object) -> None:
        try:
            raise stop()
        finally:
            raise wrapped("cannot join thread before it is started")

    monkeypatch.setattr(engine.execute, "run", interrupted_in_clean_up)
    project = tmp_path / "orders.graphmill.json"
    shutil.copy(EXAMPLE, project)
    code = main(["run", "--events", "jsonl", str(project)], registry=registry)
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert code == (130 if stop is KeyboardInterrupt else 143)
    assert [e["event"] for e in events if e["event"] in ("error", "run_finished")] == ["run_finished"]
    assert events[-1]["status"] == "interrupted" and events[-1]["exit_code"] == code
    assert not (tmp_path / "out").exists()


def test_interruption_follows_causes_and_contexts_and_survives_cycles() -> None:
    inner = KeyboardInterrupt()
    middle = RuntimeError("clean-up")
    middle.__context__ = inner
    outer = DataError("wrapped")
    outer.__cause__ = middle
    assert interruption(outer) is inner
    plain = ValueError("x")
    loop = RuntimeError("y")
    plain.__context__, loop.__context__ = loop, plain
    assert interruption(plain) is None
