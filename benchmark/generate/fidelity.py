"""Look-alike fidelity: how far a generated dataset is from the real one, variable by variable.

Every offline result stands on the generated look-alikes, so their distance from the real data is a
number to know and publish. :func:`fidelity_report` takes both sides through the *same* code --
the real raw events through the project's converter (:func:`benchmark.sources.lhco.cluster_rows`:
FastJet anti-kT, N-subjettiness), the look-alike through the generator (the same clustering and
N-subjettiness functions) -- and compares per class and per variable:

* medians and the 10 / 25 / 75 / 90 % quantiles of look-alike and real;
* the two-sample Kolmogorov-Smirnov statistic ``KS``;
* its statistical floor ``c(0.05) sqrt((n + m) / (n m))`` with c(0.05) = 1.358: the KS value two
  samples of these sizes drawn from one distribution exceed only 5 % of the time. A KS below the
  floor is "indistinguishable with these statistics".

Variables (:func:`variables`): for dijet datasets (LHCO) per event -- leading / subleading jet pT,
mjj, the heavier and the lighter jet's mass and tau21 / tau32, the leading and subleading jet's
constituent multiplicity and |Delta eta| of the two jets; for single-jet datasets per jet -- pT, mass,
multiplicity, tau21, tau32.

Real data come from a raw LHCO event file (e.g. the organisers' ``events_anomalydetection_tiny.h5``)
or from a folder of canonical ``<class>.h5`` files (what ``lhcad fetch`` writes). The report is a
Markdown table, a JSON file with every number and one PNG per (class, variable) group.
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: Kolmogorov-Smirnov critical coefficient at 5 % (two-sided, asymptotic)
KS_C_ALPHA = 1.358
QUANTILES = (0.10, 0.25, 0.50, 0.75, 0.90)

#: variable -> axis label (dijet datasets)
DIJET_VARIABLES: dict[str, str] = {
    "j1_pt": "leading-jet $p_T$ [GeV]",
    "j2_pt": "subleading-jet $p_T$ [GeV]",
    "mjj": "$m_{jj}$ [GeV]",
    "m_heavy": "heavier-jet mass [GeV]",
    "m_light": "lighter-jet mass [GeV]",
    "tau21_heavy": r"heavier-jet $\tau_{21}$",
    "tau21_light": r"lighter-jet $\tau_{21}$",
    "tau32_heavy": r"heavier-jet $\tau_{32}$",
    "tau32_light": r"lighter-jet $\tau_{32}$",
    "n_j1": "leading-jet constituents",
    "n_j2": "subleading-jet constituents",
    "delta_eta": r"$|\Delta\eta_{jj}|$",
}
#: variable -> axis label (single-jet datasets)
JET_VARIABLES: dict[str, str] = {
    "jet_pt": "jet $p_T$ [GeV]",
    "jet_mass": "jet mass [GeV]",
    "multiplicity": "constituents per jet",
    "tau21": r"$\tau_{21}$",
    "tau32": r"$\tau_{32}$",
}


@dataclass(frozen=True)
class FidelityRow:
    """One (class, variable) comparison of look-alike and real."""

    dataset: str
    cls: str
    variable: str
    n_generated: int
    n_real: int
    generated_quantiles: tuple[float, ...]
    real_quantiles: tuple[float, ...]
    ks: float
    ks_floor: float

    @property
    def generated_median(self) -> float:
        return self.generated_quantiles[QUANTILES.index(0.50)]

    @property
    def real_median(self) -> float:
        return self.real_quantiles[QUANTILES.index(0.50)]

    @property
    def within_floor(self) -> bool:
        return self.ks <= self.ks_floor

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(generated_quantiles=list(self.generated_quantiles), real_quantiles=list(self.real_quantiles))
        out.update(generated_median=self.generated_median, real_median=self.real_median,
                   within_floor=self.within_floor, quantile_levels=list(QUANTILES))
        return out


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest distance of the two empirical CDFs."""
    a = np.sort(np.asarray(a, dtype=np.float64))
    b = np.sort(np.asarray(b, dtype=np.float64))
    if not len(a) or not len(b):
        return math.nan
    grid = np.concatenate([a, b])
    cdf_a = np.searchsorted(a, grid, side="right") / len(a)
    cdf_b = np.searchsorted(b, grid, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def ks_floor(n: int, m: int, c_alpha: float = KS_C_ALPHA) -> float:
    """KS value exceeded with 5 % probability by two samples of sizes n, m from one distribution."""
    if n <= 0 or m <= 0:
        return math.nan
    return c_alpha * math.sqrt((n + m) / (n * m))


def _tau_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """tau_{N+1}/tau_N, 0 where tau_N is 0 (single-constituent jets), as the converters do."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def dijet_variables(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-event variables of dijet arrays (``jets`` (N, 2, 4), ``jet_nsubjettiness``, mask, mjj)."""
    jets = np.asarray(arrays["jets"], dtype=np.float64)
    taus = np.asarray(arrays["jet_nsubjettiness"], dtype=np.float64)
    mass = jets[..., 3]
    heavy = np.argmax(mass, axis=1)
    light = 1 - heavy
    rows = np.arange(len(jets))
    t21 = _tau_ratio(taus[..., 1], taus[..., 0])
    t32 = _tau_ratio(taus[..., 2], taus[..., 1])
    out = {
        "j1_pt": jets[:, 0, 0], "j2_pt": jets[:, 1, 0], "mjj": np.asarray(arrays["mjj"], dtype=np.float64),
        "m_heavy": mass[rows, heavy], "m_light": mass[rows, light],
        "tau21_heavy": t21[rows, heavy], "tau21_light": t21[rows, light],
        "tau32_heavy": t32[rows, heavy], "tau32_light": t32[rows, light],
        "delta_eta": np.abs(jets[:, 0, 1] - jets[:, 1, 1]),
    }
    if "constituents_mask" in arrays:
        n = np.asarray(arrays["constituents_mask"]).sum(axis=-1).astype(np.float64)
        out["n_j1"], out["n_j2"] = n[:, 0], n[:, 1]
    # events with fewer than two jets (zero-padded second jet) have no dijet variables
    keep = jets[:, 1, 0] > 0
    return {k: v[keep] for k, v in out.items()}


def jet_variables(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Per-jet variables of single-jet (or any) arrays, every existing jet pooled."""
    from benchmark.features.nsubjettiness import nsubjettiness, tau_ratios

    const, mask, jets = arrays["constituents"], arrays["constituents_mask"], arrays["jets"]
    n, j, p, _ = const.shape
    keep = (jets[..., 0] > 0).reshape(-1)
    if "jet_nsubjettiness" in arrays:
        taus = np.asarray(arrays["jet_nsubjettiness"]).reshape(n * j, 3)
    else:
        taus = nsubjettiness(const.reshape(n * j, p, 4), mask.reshape(n * j, p), n_max=3, beta=1.0, R=1.0)
    t21, t32 = tau_ratios(taus)
    return {"jet_pt": jets[..., 0].reshape(-1)[keep], "jet_mass": jets[..., 3].reshape(-1)[keep],
            "multiplicity": mask.reshape(n * j, p).sum(axis=1)[keep].astype(np.float64),
            "tau21": t21[keep], "tau32": t32[keep]}


def variables(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Dijet variables when the arrays hold two jets per row and mjj, else per-jet variables."""
    jets = arrays["jets"]
    if "mjj" in arrays and jets.ndim == 3 and jets.shape[1] == 2 and "jet_nsubjettiness" in arrays:
        return dijet_variables(arrays)
    return jet_variables(arrays)


def compare(dataset: str, cls: str, generated: Mapping[str, np.ndarray],
            real: Mapping[str, np.ndarray]) -> list[FidelityRow]:
    """One row per variable present on both sides."""
    rows = []
    for name in generated:
        if name not in real:
            continue
        g = np.asarray(generated[name], dtype=np.float64)
        r = np.asarray(real[name], dtype=np.float64)
        g, r = g[np.isfinite(g)], r[np.isfinite(r)]
        if not len(g) or not len(r):
            continue
        rows.append(FidelityRow(
            dataset, cls, name, len(g), len(r),
            tuple(float(x) for x in np.quantile(g, QUANTILES)),
            tuple(float(x) for x in np.quantile(r, QUANTILES)),
            ks_statistic(g, r), ks_floor(len(g), len(r))))
    return rows


# -- real-data readers ------------------------------------------------------------------------------
def real_lhco_raw(path: Path, chunk_size: int = 5_000) -> dict[str, dict[str, np.ndarray]]:
    """Class -> arrays of a raw LHCO event file, clustered by the LHCO converter itself."""
    from benchmark.sources import lhco

    reader = lhco.RawEvents(Path(path))
    pieces: dict[str, list[dict[str, np.ndarray]]] = {}
    for start in range(0, reader.n_rows, chunk_size):
        rows = reader.read(start, min(start + chunk_size, reader.n_rows))
        arrays, _ = lhco.cluster_rows(Path(path), rows, start)
        if reader.labelled:
            split = lhco._split(arrays, lhco._labels(Path(path), rows, start), lhco.LABEL_CLASSES)
        else:
            split = {"data": arrays}
        for cls, arr in split.items():
            pieces.setdefault(cls, []).append(arr)
    return {cls: {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} for cls, parts in pieces.items()}


def read_class_files(folder: Path, classes: list[str] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Class -> arrays of the canonical ``<class>.h5`` files in ``folder``."""
    from benchmark.events import EventSet

    out = {}
    for path in sorted(Path(folder).glob("*.h5")):
        if classes is not None and path.stem not in classes:
            continue
        es = EventSet.load(path)
        out[path.stem] = {name: es[name] for name in es.names}
    return out


def read_real(dataset: str, source: Path) -> dict[str, dict[str, np.ndarray]]:
    """Real arrays per class from a raw file (LHCO) or a folder of converted class files."""
    source = Path(source)
    if source.is_dir():
        found = read_class_files(source)
        if not found:
            raise FileNotFoundError(f"{source}: no <class>.h5 files of dataset {dataset!r}")
        return found
    if not source.exists():
        raise FileNotFoundError(f"real samples {source} do not exist")
    if dataset == "lhco":
        return real_lhco_raw(source)
    raise ValueError(f"{source}: a raw file is only understood for lhco; for {dataset!r} pass the folder of "
                     "converted class files (lhcad fetch writes them)")


# -- report -----------------------------------------------------------------------------------------
def _load_pair(dataset: str, generated_dir: Path, real_source: Path
               ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, np.ndarray]], list[str]]:
    """(look-alike arrays, real arrays, classes present on both sides)."""
    real = read_real(dataset, real_source)
    gen = read_class_files(Path(generated_dir), list(real))
    common = [c for c in real if c in gen]
    if not common:
        raise ValueError(f"no class in common between the look-alike {sorted(gen) or '(none)'} in "
                         f"{generated_dir} and the real {sorted(real)} from {real_source}")
    return gen, real, common


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 10 else f"{x:.0f}"


def markdown_table(rows: list[FidelityRow]) -> str:
    """The table the README quotes: medians, 10-90 % quantiles, KS and its floor."""
    i10, i90 = QUANTILES.index(0.10), QUANTILES.index(0.90)
    lines = ["| class | variable | look-alike median [10 %, 90 %] | real median [10 %, 90 %] | KS | KS floor (5 %) |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        g, q = r.generated_quantiles, r.real_quantiles
        mark = "" if r.within_floor else " *"
        lines.append(f"| {r.cls} | {r.variable} | {_fmt(r.generated_median)} [{_fmt(g[i10])}, {_fmt(g[i90])}] "
                     f"| {_fmt(r.real_median)} [{_fmt(q[i10])}, {_fmt(q[i90])}] | {r.ks:.3f}{mark} | {r.ks_floor:.3f} |")
    return "\n".join(lines) + "\n\n`*`: KS above the 5 % statistical floor of the two sample sizes.\n"


def _plot(dataset: str, cls: str, gen: Mapping[str, np.ndarray], real: Mapping[str, np.ndarray],
          rows: list[FidelityRow], labels: Mapping[str, str], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.variable for r in rows]
    ncol = 4
    nrow = max(1, math.ceil(len(names) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.4 * ncol, 2.8 * nrow), squeeze=False)
    for ax, r in zip(axes.ravel(), rows):
        g, d = gen[r.variable], real[r.variable]
        both = np.concatenate([g, d])
        lo, hi = np.quantile(both, [0.005, 0.995])
        bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 31)
        ax.hist(np.clip(g, lo, hi), bins=bins, density=True, histtype="step", lw=1.4, label=f"look-alike ({len(g)})")
        ax.hist(np.clip(d, lo, hi), bins=bins, density=True, histtype="step", lw=1.4, color="k", label=f"real ({len(d)})")
        ax.set_xlabel(labels.get(r.variable, r.variable), fontsize=8)
        ax.set_title(f"KS {r.ks:.3f} (floor {r.ks_floor:.3f})", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    axes[0, 0].legend(frameon=False, fontsize=7)
    fig.suptitle(f"{dataset} {cls}: look-alike vs real", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def fidelity_report(dataset: str, generated_dir: Path, real_source: Path, out_dir: Path) -> dict[str, Any]:
    """Write ``<dataset>_fidelity.md``, ``.json`` and one PNG per class to ``out_dir``; return the JSON."""
    from benchmark.store import write_json

    gen, real, common = _load_pair(dataset, generated_dir, real_source)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: list[FidelityRow] = []
    plots = []
    for cls in common:
        gv, rv = variables(gen[cls]), variables(real[cls])
        labels = DIJET_VARIABLES if "mjj" in gv else JET_VARIABLES
        cls_rows = compare(dataset, cls, gv, rv)
        rows.extend(cls_rows)
        plots.append(str(_plot(dataset, cls, gv, rv, cls_rows, labels, out_dir / f"{dataset}_fidelity_{cls}.png")))
    table = markdown_table(rows)
    md = out_dir / f"{dataset}_fidelity.md"
    tmp = md.with_suffix(".md.tmp")
    tmp.write_text(f"# {dataset}: look-alike ({generated_dir}) vs real ({Path(real_source).name})\n\n{table}")
    tmp.replace(md)
    report = {"dataset": dataset, "generated": str(generated_dir), "real": str(real_source),
              "ks_c_alpha": KS_C_ALPHA, "rows": [r.as_dict() for r in rows], "plots": plots, "table": str(md)}
    write_json(out_dir / f"{dataset}_fidelity.json", report)
    return report


__all__ = ["FidelityRow", "ks_statistic", "ks_floor", "variables", "dijet_variables", "jet_variables",
           "compare", "read_real", "real_lhco_raw", "fidelity_report", "markdown_table"]
