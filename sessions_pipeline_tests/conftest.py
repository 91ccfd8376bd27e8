"""Shared fixtures: a demo root (built once per test session, then copied per test), and
an ephemeral Dagster instance."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from sessions_pipeline.entry_points.demo import build_demo_root
from sessions_pipeline_tests.levelup_files import DEMO_NOW


@pytest.fixture(scope="session")
def demo_root_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A v4 demo root at DEMO_NOW, seed 7; never modify it, use `demo_root`."""
    root = tmp_path_factory.mktemp("demo_template")
    build_demo_root(root, now=DEMO_NOW, layout="v4")
    return root


@pytest.fixture
def demo_root(demo_root_template: Path, tmp_path: Path) -> Path:
    """A private copy of the demo root, which the test may change freely."""
    root = tmp_path / "root"
    shutil.copytree(demo_root_template, root)
    return root


@pytest.fixture(scope="session")
def demo_v6_root_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same matches as `demo_root_template` (DEMO_NOW, seed 7) in LevelUp's v6 layout:
    together they are a v4 root and that root migrated to v6. Never modify it, use
    `demo_v6_root`."""
    root = tmp_path_factory.mktemp("demo_v6_template")
    build_demo_root(root, now=DEMO_NOW, layout="v6")
    return root


@pytest.fixture
def demo_v6_root(demo_v6_root_template: Path, tmp_path: Path) -> Path:
    """A private copy of the v6 demo root, which the test may change freely."""
    root = tmp_path / "v6_root"
    shutil.copytree(demo_v6_root_template, root)
    return root


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    """An ephemeral Dagster instance, as sensor ticks and in-process runs need one."""
    with dg.DagsterInstance.ephemeral() as instance:
        yield instance
