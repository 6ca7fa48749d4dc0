"""app/selftest.py: the designer's self-test (`graphmill gui --self-test DIR`), as the desktop
bundle's build runs it; here on threads, which start at once (the bundle's check uses processes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.selftest import OUTPUT, self_test


def test_self_test_orders_on_threads_passes_and_writes_output(
    qapp, reg, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = self_test(tmp_path, reg, backend="threads", workers=2)
    out = capsys.readouterr().out
    assert code == 0, out
    assert "self-test: passed" in out and "FAIL" not in out
    assert "backend 'threads', 2 workers" in out
    assert (tmp_path / OUTPUT).read_text(encoding="utf-8").startswith("region,")


def test_self_test_run_past_its_deadline_fails(
    qapp, reg, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = self_test(tmp_path, reg, backend="threads", workers=2, timeout_s=0.001)
    out = capsys.readouterr().out
    assert code == 1
    assert "self-test: FAIL run finished within 0.001 s" in out and "self-test: FAILED" in out
