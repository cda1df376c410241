"""lhcad: benchmark suite and leaderboard harness for anomaly detection in collider physics."""
from __future__ import annotations

__version__ = "0.1.0"
