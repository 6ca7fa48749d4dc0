"""Autosave writes while modified, is found after a crash, and is cleared on save."""

from __future__ import annotations

import pytest

from app.autosave import Autosaver, pending_recovery, recovery_dir


@pytest.fixture
def saver(doc, tmp_path):
    saver = Autosaver(doc, interval_ms=20, directory=tmp_path / "recovery")
    yield saver
    saver.stop()


def test_autosave_writes_only_while_modified(doc, saver, qtbot):
    assert not saver.save_now()
    doc.add_node("clean")
    qtbot.waitUntil(saver.file.exists, timeout=2000)
    assert "clean_1" in saver.file.read_text()


def test_pending_recovery_restores_as_unsaved_changes(doc, saver, orders, reg):
    from app.document import Document

    doc.open(orders)
    doc.set_param("split", "partitions", 3)
    assert saver.save_now()
    recovery = pending_recovery(saver.directory)
    assert recovery is not None and recovery.path == orders
    other = Document(reg)
    recovery.restore(other)
    assert other.modified and other.path == orders
    assert other.node("split").params["partitions"] == 3
    assert pending_recovery(saver.directory) is None


def test_save_and_clean_exit_clear_the_recovery_file(doc, saver, tmp_path):
    doc.add_node("clean")
    saver.save_now()
    doc.save(tmp_path / "p.graphmill.json")
    assert not saver.file.exists()
    doc.add_node("clean")
    saver.save_now()
    doc.undo_stack.undo()  # back to the saved state: nothing to recover
    assert not saver.file.exists()
    doc.add_node("clean")
    saver.save_now()
    saver.stop()
    assert pending_recovery(saver.directory) is None


def test_recovery_dir_is_a_test_location():
    assert "qttest" in str(recovery_dir()).lower() or ".qttest" in str(recovery_dir())


def test_pending_recovery_ignores_foreign_files(tmp_path):
    (tmp_path / "recovery-abc.json").write_text("{}")
    (tmp_path / "recovery-1.json").write_text('{"format": "other"}')
    assert pending_recovery(tmp_path) is None
