"""A work-around for PySide6 6.12.0 on Python 3.11: signals lose references to `True` (and None).

`SignalInstance.emit`, `.connect` and `.disconnect` called from Python return `True` without
taking a reference to it, so every call drops one of `True`'s references. After a few thousand
emits (NodeGraphQt, our runner and pytest-qt's waitSignal all emit or connect from Python) the
count reaches zero and the interpreter aborts with "bool_dealloc: deallocating True or False",
mid-run or at exit. A run shown in the run panel also loses thousands of references to `None`
(somewhere in slot calls from C++; "none_dealloc" at exit). Python 3.12 made these singletons
immortal, which hides the bugs there; here we do what 3.12 does, once, and only when a probe
shows that an emit really loses a reference.

Every app module that uses Qt signals calls `keep_bools_alive()` when it is imported (not
app/__init__.py: `graphmill run` imports `app.main` for its `gui` command, and must not import
Qt). The main window should call it too, before anything emits.
"""

from __future__ import annotations

import sys

_IMMORTAL = 1 << 40
_checked: list[bool] = []  # the answer, once known


def keep_bools_alive() -> bool:
    """Make `True`, `False` and `None` effectively immortal if PySide6 drops references to
    them; returns whether it had to."""
    if _checked:
        return _checked[0]
    _checked.append(False)
    if sys.version_info >= (3, 12):
        return False
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(16):
        probe.ping.emit()
    if before - sys.getrefcount(True) < 16:
        return False
    import ctypes

    for value in (True, False, None):  # ob_refcnt is the object's first field in CPython
        ctypes.c_ssize_t.from_address(id(value)).value += _IMMORTAL
    _checked[0] = True
    return True
