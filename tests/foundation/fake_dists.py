"""Write installed-looking plugin distributions into a folder for ``importlib.metadata``.

Each distribution is a real package plus a ``.dist-info`` folder with ``METADATA`` and
``entry_points.txt``, so the host finds it through the ``chatnio`` entry-point group exactly as
it finds a pip-installed plugin once the folder is on ``sys.path``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

__all__ = ["write_plugin_dist"]


def write_plugin_dist(
    root: Path,
    *,
    dist_name: str,
    module: str,
    source: str,
    entry_name: str | None = None,
    version: str = "1.0.0",
    requires: tuple[str, ...] = (),
) -> None:
    """Create package ``module`` with ``source`` and its dist-info under ``root``."""
    package = root / module
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(textwrap.dedent(source), encoding="utf-8")

    normalized = dist_name.replace("-", "_")
    info = root / f"{normalized}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    lines = ["Metadata-Version: 2.1", f"Name: {dist_name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {requirement}" for requirement in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        f"[chatnio]\n{entry_name or module} = {module}\n", encoding="utf-8"
    )
    (info / "RECORD").write_text("", encoding="utf-8")
