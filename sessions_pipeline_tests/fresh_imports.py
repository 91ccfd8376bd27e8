"""What an import loads, seen from a fresh interpreter (this one has loaded everything)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Collection


def libraries_loaded_by(module: str, libraries: Collection[str]) -> list[str]:
    """Which of these top-level packages `import module` loads, in a new process."""
    code = (
        f"import sys, {module}; "
        f"print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}} & {set(libraries)!r})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.split()
