"""SLHA spectra of the Dark Machines electroweakino signals (chargino-neutralino and chargino pairs).

The seven electroweakino signals of chan2a/chan2b (``chaneut_chaX_neutY`` and ``chacha_chaX_neutY``)
share one simplified spectrum and differ only in two masses: a wino-like chi_1^+- and chi_2^0 at X
and a pure-bino chi_1^0 at Y, chi_1^+- -> W chi_1^0 and chi_2^0 -> Z chi_1^0 with branching
fraction 1, every other sparticle at 5 TeV (decoupled). Writing the text from one template keeps
the files identical but for those masses. The files are committed in ``benchmark/generate/data``
(package data; Pythia reads them through ``SLHA:file = @data/<name>.slha``) and a test checks that
each equals :func:`electroweakino_slha` of its masses, so an edit here cannot silently change the
events of a recipe class (the recipe fingerprint holds the file's name, not its text).

Regenerate with ``python -m benchmark.generate.dm_slha``.
"""
from __future__ import annotations

import sys
from pathlib import Path

#: signal name -> (chi_1^+- = chi_2^0 mass, chi_1^0 mass) in GeV, from the challenge's file names
ELECTROWEAKINO_SIGNALS: dict[str, tuple[float, float]] = {
    "chaneut_cha200_neut50": (200.0, 50.0),
    "chaneut_cha250_neut150": (250.0, 150.0),
    "chaneut_cha300_neut100": (300.0, 100.0),
    "chaneut_cha400_neut200": (400.0, 200.0),
    "chacha_cha300_neut140": (300.0, 140.0),
    "chacha_cha400_neut60": (400.0, 60.0),
    "chacha_cha600_neut200": (600.0, 200.0),
}
#: mass of every decoupled sparticle and heavy Higgs (GeV)
HEAVY_GEV = 5000.0
#: W and Z masses (GeV): the two-body decays need m(chi_1^+-) - m(chi_1^0) above them
M_W, M_Z = 80.4, 91.1876

_SM_INPUTS = """BLOCK MODSEL
    1    0   # general MSSM
BLOCK SMINPUTS
    1   1.27934000E+02   # alpha_em^-1(MZ)
    2   1.16637000E-05   # G_F
    3   1.18000000E-01   # alpha_s(MZ)
    4   9.11876000E+01   # MZ
    5   4.18000000E+00   # mb(mb)
    6   1.73000000E+02   # mtop
    7   1.77700000E+00   # mtau
BLOCK MINPAR
    3   1.00000000E+01   # tan(beta)
"""
_MIXING = """BLOCK NMIX
  1  1   1.00000000E+00
  2  2   1.00000000E+00
  3  3   1.00000000E+00
  4  4   1.00000000E+00
BLOCK UMIX
  1  1   1.00000000E+00
  2  2   1.00000000E+00
BLOCK VMIX
  1  1   1.00000000E+00
  2  2   1.00000000E+00
BLOCK STOPMIX
  1  1   1.00000000E+00
  2  2   1.00000000E+00
BLOCK SBOTMIX
  1  1   1.00000000E+00
  2  2   1.00000000E+00
BLOCK STAUMIX
  1  1   1.00000000E+00
  2  2   1.00000000E+00
BLOCK ALPHA
  -1.00000000E-01
BLOCK HMIX Q= 1.00000000E+03
    1   1.00000000E+03   # mu
    2   1.00000000E+01   # tan(beta)
    3   2.45000000E+02   # v
    4   2.50000000E+07   # mA^2
"""
_DECAYS = """DECAY 1000024 1.00000000E-01   # chi_1+
    1.00000000E+00   2   1000022   24   # ~chi_1+ -> chi_10 W+
DECAY 1000023 1.00000000E-01   # chi_20
    1.00000000E+00   2   1000022   23   # ~chi_20 -> chi_10 Z
DECAY 1000022 0.00000000E+00   # stable LSP
"""
_SFERMIONS = (
    (1000001, "~d_L"), (2000001, "~d_R"), (1000002, "~u_L"), (2000002, "~u_R"), (1000003, "~s_L"),
    (2000003, "~s_R"), (1000004, "~c_L"), (2000004, "~c_R"), (1000005, "~b_1"), (2000005, "~b_2"),
    (1000006, "~t_1"), (2000006, "~t_2"), (1000011, "~e_L"), (2000011, "~e_R"), (1000012, "~nu_eL"),
    (1000013, "~mu_L"), (2000013, "~mu_R"), (1000014, "~nu_muL"), (1000015, "~tau_1"), (2000015, "~tau_2"),
    (1000016, "~nu_tauL"), (1000021, "~g"),
)


def _mass_line(pid: int, mass: float, name: str) -> str:
    return f"{pid:>10d}  {mass: .8E}   # {name}"


def electroweakino_slha(name: str, m_chargino: float, m_lsp: float) -> str:
    """SLHA1 text of the simplified wino-chargino/neutralino_2 + bino-LSP spectrum for signal ``name``."""
    if m_chargino - m_lsp <= M_Z:
        raise ValueError(f"{name}: m(chi_1^+-) - m(chi_1^0) = {m_chargino - m_lsp:g} GeV leaves chi_2^0 -> Z chi_1^0 "
                         f"off shell (needs > {M_Z} GeV); this template has two-body decays only")
    header = (
        f"# SUSY spectrum for the Dark Machines look-alike signal {name} (lhcad).\n"
        f"# Wino-like chi_1^+- and chi_2^0 at {m_chargino:g} GeV, a pure-bino chi_1^0 at {m_lsp:g} GeV; "
        "chi_1^+- -> W+- chi_1^0\n"
        "# and chi_2^0 -> Z chi_1^0 (100 %, two-body, both bosons on shell); "
        f"every other sparticle at {HEAVY_GEV:g} GeV.\n"
        "# Mixing matrices are diagonal (NMIX order bino, wino, higgsinos: chi_2^0 is the neutral wino).\n"
        "# Written by hand for Pythia 8 (SLHA1 conventions).\n"
    )
    masses = [_mass_line(25, 125.0, "h0"), _mass_line(35, HEAVY_GEV, "H0"), _mass_line(36, HEAVY_GEV, "A0"),
              _mass_line(37, HEAVY_GEV, "H+")]
    masses += [_mass_line(pid, HEAVY_GEV, label) for pid, label in _SFERMIONS]
    masses += [_mass_line(1000022, m_lsp, "~chi_10"), _mass_line(1000023, m_chargino, "~chi_20"),
               _mass_line(1000025, -HEAVY_GEV, "~chi_30"), _mass_line(1000035, HEAVY_GEV, "~chi_40"),
               _mass_line(1000024, m_chargino, "~chi_1+"), _mass_line(1000037, HEAVY_GEV, "~chi_2+")]
    return header + _SM_INPUTS + "BLOCK MASS\n" + "\n".join(masses) + "\n" + _MIXING + _DECAYS


def expected_files() -> dict[str, str]:
    """File name in ``benchmark/generate/data`` -> the text it must hold."""
    return {f"{name}.slha": electroweakino_slha(name, *m) for name, m in ELECTROWEAKINO_SIGNALS.items()}


def write_files(data_dir: Path | None = None) -> list[Path]:
    from benchmark.generate.pythia import DATA_DIR

    out = Path(data_dir) if data_dir is not None else DATA_DIR
    paths = []
    for fname, text in expected_files().items():
        (out / fname).write_text(text)
        paths.append(out / fname)
    return paths


if __name__ == "__main__":
    for p in write_files(Path(sys.argv[1]) if len(sys.argv) > 1 else None):
        print(p)


__all__ = ["ELECTROWEAKINO_SIGNALS", "electroweakino_slha", "expected_files", "write_files"]
