"""Module boundaries: the reporting side never reaches into the runner; baselines share one nn package."""
from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REPORTING = ["benchmark/leaderboard.py", "benchmark/bundles.py", "benchmark/evaluate.py", "benchmark/judge.py",
             "benchmark/results.py", "benchmark/metrics.py", "benchmark/stats.py", "benchmark/site/__init__.py"]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at top level or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_reporting_side_does_not_import_the_runner_or_executors():
    for rel in REPORTING:
        bad = {m for m in imported_modules(REPO / rel) if m.startswith(("benchmark.runner", "benchmark.executors"))}
        assert not bad, f"{rel} imports {sorted(bad)}"


def _defines_scorer(module: str) -> bool:
    path = REPO / (module.replace(".", "/") + ".py")
    return path.exists() and "ScorerInfo(" in path.read_text()


def test_baselines_share_blocks_not_each_other():
    """Shared code lives in baselines/nn (networks, the training loop) or a shared helper module;
    no baseline imports another baseline's scorer module, so a method is one file of its own."""
    for path in (REPO / "baselines").glob("*.py"):
        scorer_imports = {m for m in imported_modules(path) if m.startswith("baselines.") and _defines_scorer(m)}
        assert not scorer_imports, f"{path.name} imports scorer modules {sorted(scorer_imports)}"
    nn = REPO / "baselines" / "nn"
    if nn.exists():
        for path in nn.rglob("*.py"):
            assert not any(_defines_scorer(m) for m in imported_modules(path)), f"{path} imports a baseline"
