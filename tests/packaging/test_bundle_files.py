"""The desktop bundle's files, checked without building it (`make bundle` builds and runs it):
the .desktop file and the MIME type agree with each other and with the project suffix, the
spec carries what a frozen app cannot discover, and install.sh writes a usable desktop entry."""

from __future__ import annotations

import ast
import configparser
import importlib.util
import os
import shutil
import struct
import subprocess
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

from engine.executable import LOKY_WORKER
from engine.projectfile import SUFFIX

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
DESKTOP = PACKAGING / "linux" / "graphmill.desktop"
MIME_XML = PACKAGING / "linux" / "graphmill-mime.xml"
ICONS = ROOT / "resources" / "icons"
MIME_NS = "{http://www.freedesktop.org/standards/shared-mime-info}"
MIME_TYPE = "application/x-graphmill+json"


def _desktop_entry(path: Path = DESKTOP) -> dict[str, str]:
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return dict(parser["Desktop Entry"])


def _spec_strings() -> set[str]:
    tree = ast.parse((PACKAGING / "graphmill.spec").read_text(encoding="utf-8"))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def _spec_call_args(function: str) -> list[str]:
    """The first string argument of every call of `function` in the spec."""
    tree = ast.parse((PACKAGING / "graphmill.spec").read_text(encoding="utf-8"))
    return [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == function
        and node.args
        and isinstance(node.args[0], ast.Constant)
    ]


def _build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("graphmill_bundle_build", PACKAGING / "build.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_desktop_entry_opens_project_files_in_the_designer() -> None:
    entry = _desktop_entry()
    assert entry["Type"] == "Application" and entry["Terminal"] == "false"
    assert entry["Exec"] == "graphmill gui %f"  # one file per window, as `graphmill gui [PROJECT]` takes
    assert entry["MimeType"].split(";") == [MIME_TYPE, ""]
    assert entry["Icon"] == "graphmill"


def test_mime_xml_type_globs_the_project_suffix_as_json() -> None:
    root = ET.parse(MIME_XML).getroot()
    assert root.tag == f"{MIME_NS}mime-info"
    (mime,) = root.findall(f"{MIME_NS}mime-type")
    assert mime.get("type") == MIME_TYPE
    assert [g.get("pattern") for g in mime.findall(f"{MIME_NS}glob")] == [f"*{SUFFIX}"]
    assert [s.get("type") for s in mime.findall(f"{MIME_NS}sub-class-of")] == ["application/json"]
    assert mime.findtext(f"{MIME_NS}comment")


def test_desktop_entry_with_desktop_file_validate_has_no_complaint() -> None:
    validate = shutil.which("desktop-file-validate")
    if validate is None:
        pytest.skip("desktop-file-validate is not installed (Debian: desktop-file-utils)")
    result = subprocess.run([validate, str(DESKTOP)], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


def test_icons_svg_and_png_exist_and_png_is_256_square() -> None:
    svg = ET.parse(ICONS / "graphmill.svg").getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg" and svg.get("viewBox") == "0 0 256 256"
    head = (ICONS / "graphmill.png").read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR"
    assert struct.unpack(">II", head[16:24]) == (256, 256)


def test_spec_names_the_entry_point_modules_and_loky_helpers() -> None:
    strings = _spec_strings()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    commands = pyproject["project"]["entry-points"]["graphmill.commands"]
    for target in commands.values():  # reached only through entry points: hidden imports
        assert target.split(":")[0] in strings
    assert _spec_call_args("copy_metadata") == ["graphmill"]  # the entry points themselves
    assert {LOKY_WORKER, "joblib.externals.loky.backend.resource_tracker"} <= strings
    assert "engine/resources" in strings  # where engine/bundled.py finds the examples


def test_spec_qt_modules_the_app_never_uses_are_excluded() -> None:
    strings = _spec_strings()
    assert {"QtQml", "QtQuick", "Qt3DCore", "QtMultimedia", "QtWebEngineCore"} <= strings
    used = {"QtCore", "QtGui", "QtWidgets", "QtSvg", "QtOpenGL", "QtOpenGLWidgets"}
    assert not used & strings


def test_entry_freeze_support_runs_before_the_cli() -> None:
    text = (PACKAGING / "entry.py").read_text(encoding="utf-8")
    assert text.index("multiprocessing.freeze_support()") < text.index("bundle_child(sys.argv)")
    assert text.index("bundle_child(sys.argv)") < text.index("from engine.cli import main")


def test_build_worker_pids_from_events_reads_run_and_worker_pids() -> None:
    events = "\n".join(
        [
            '{"v":1,"event":"run_started","t":0,"project":"p","nodes":[],"backend":"processes","workers":2,"pid":10}',
            '{"v":1,"event":"partition_done","t":1,"node":"a","stage":"s1","partition":0,"rows_in":1,'
            '"rows_out":1,"bytes":8,"seconds":0.1,"worker":"pid:11"}',
            '{"v":1,"event":"partition_done","t":1,"node":"a","stage":"s1","partition":1,"rows_in":1,'
            '"rows_out":1,"bytes":8,"seconds":0.1,"worker":"pid:10"}',
        ]
    )
    assert _build_module()._worker_pids(events) == (10, {10, 11})


def test_install_script_bundle_path_with_space_is_quoted_in_exec(tmp_path: Path) -> None:
    bundle = tmp_path / "my apps" / "graphmill"
    bundle.mkdir(parents=True)
    exe = bundle / "graphmill"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    home = tmp_path / "home"
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "share"),
        "XDG_CONFIG_HOME": str(home / "cfg"),
    }
    script = PACKAGING / "linux" / "install.sh"
    subprocess.run(["bash", str(script), str(bundle)], env=env, capture_output=True, check=True)
    entry = _desktop_entry(home / "share" / "applications" / "graphmill.desktop")
    assert entry["Exec"] == f'"{exe}" gui %f' and entry["TryExec"] == str(exe)
    assert (home / "share" / "mime" / "packages" / "graphmill.xml").read_bytes() == MIME_XML.read_bytes()
    assert (home / ".local" / "bin" / "graphmill").resolve() == exe.resolve()
    subprocess.run(["bash", str(script), "--uninstall"], env=env, capture_output=True, check=True)
    assert not (home / "share" / "applications" / "graphmill.desktop").exists()
    assert not (home / ".local" / "bin" / "graphmill").is_symlink()


def test_install_script_missing_bundle_exits_2(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path)}
    script = PACKAGING / "linux" / "install.sh"
    result = subprocess.run(
        ["bash", str(script), str(tmp_path)], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2 and "make bundle" in result.stderr
    assert not (tmp_path / ".local").exists()
