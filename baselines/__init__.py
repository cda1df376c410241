"""Reference scorers (baselines) of lhcad; shared network blocks live in :mod:`baselines.nn`."""
