"""An environment variable set for the length of a block, for code that reads it there.

Dagster opens its instance from DAGSTER_HOME, in this process and in worker processes
started meanwhile, so setting it for a block is how a command chooses the instance.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def environment_variable(name: str, value: str) -> Iterator[None]:
    """`name` is `value` inside the block; after it, what it was before (or unset)."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous
