"""Shared network blocks (baselines.nn): symmetry, masking, exact likelihoods, normalisation, EMA."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from baselines.nn.attention import TransformerBlock
from baselines.nn.ema import EMA
from baselines.nn.embeddings import EmbeddingMLP, FourierEmbedding, SinusoidalEmbedding
from baselines.nn.flows import conditional_flow, log_prob, sample
from baselines.nn.mlp import MLP, ResidualMLP, activation
from baselines.nn.ode import integrate_divergence, ode_log_likelihood, standard_normal_log_prob
from baselines.nn.sets import DeepSetEncoder, EPiCLayer, FSPool, masked_pool

B, N, F = 4, 7, 3
COUNTS = torch.tensor([7, 4, 1, 5])


@pytest.fixture(autouse=True)
def _seeded_one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(before)


def padded_set(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    mask = torch.arange(N)[None, :] < COUNTS[:, None]
    x = torch.randn(B, N, F, generator=gen)
    return x, mask


def permuted(x: torch.Tensor, mask: torch.Tensor, seed: int = 1):
    """Shuffle every set's slots (real and padded together), so real elements end up anywhere."""
    perm = torch.stack([torch.randperm(N, generator=torch.Generator().manual_seed(seed + b)) for b in range(B)])
    return torch.gather(x, 1, perm[..., None].expand_as(x)), torch.gather(mask, 1, perm), perm


def garbage_padding(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask[..., None], x, 1e3 * torch.randn_like(x))


def _set_blocks():
    """(name, callable(x, mask) -> output, pooled?) for every set block."""
    ds = DeepSetEncoder(F, 5, phi_hidden=(16,), latent=8, rho_hidden=(16,), pooling="sum+mean")
    epic = EPiCLayer(F, 6, hidden=16, cond_dim=2)
    g0, cond = torch.randn(B, 6), torch.randn(B, 2)
    tf = TransformerBlock(F, heads=1, ff_dim=16, head_dim=4, cond_dim=2)
    fs = FSPool(F, n_pieces=5)
    mlp = MLP(F, 4, [8])
    return [
        ("deepset", lambda x, m: ds(x, m), True),
        ("epic-global", lambda x, m: epic(x, g0, m, cond)[1], True),
        ("epic-local", lambda x, m: epic(x, g0, m, cond)[0], False),
        ("transformer", lambda x, m: tf(x, m, cond), False),
        ("fspool", lambda x, m: fs(x, m), True),
        ("masked-mlp", lambda x, m: mlp(x, m), False),
        ("max-pool", lambda x, m: masked_pool(x, m, "max"), True),
    ]


@pytest.mark.parametrize("index", range(7))
def test_set_blocks_are_permutation_symmetric_and_blind_to_padding(index):
    name, block, pooled = _set_blocks()[index]
    x, mask = padded_set()
    with torch.no_grad():
        out = block(x, mask)
        xp, mp, perm = permuted(x, mask)
        out_perm = block(xp, mp)
        out_garbage = block(garbage_padding(x, mask), mask)
    if pooled:
        torch.testing.assert_close(out_perm, out, atol=1e-5, rtol=1e-5, msg=f"{name}: not permutation invariant")
    else:
        expected = torch.gather(out, 1, perm[..., None].expand(-1, -1, out.shape[-1]))
        torch.testing.assert_close(out_perm, expected, atol=1e-5, rtol=1e-5, msg=f"{name}: not equivariant")
        assert torch.all(out[~mask] == 0), f"{name}: padded elements are not zero"
    torch.testing.assert_close(out_garbage, out, atol=1e-5, rtol=1e-5, msg=f"{name}: padding values leak")


def test_fspool_weights_relative_positions_across_set_sizes():
    pool = FSPool(1, n_pieces=1)
    with torch.no_grad():
        pool.weight.copy_(torch.tensor([[1.0, 0.0]]))  # w(r) = 1 - r: largest gets 1, smallest 0
    x = torch.tensor([[[3.0], [1.0], [2.0], [9.0]]])
    mask = torch.tensor([[True, True, True, False]])
    assert pool(x, mask).item() == pytest.approx(3 * 1 + 2 * 0.5 + 1 * 0)


def test_linear_field_log_likelihood_matches_analytic_value():
    A = torch.tensor([[-0.3, 0.5, 0.1], [0.2, 0.4, -0.3], [0.1, -0.2, -0.6]], dtype=torch.float64)
    x = torch.randn(6, 3, dtype=torch.float64)
    t1 = 0.7
    field = lambda t, state: state @ A.T  # noqa: E731
    z, div = integrate_divergence(field, x, t1=t1, method="exact", rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(z, x @ torch.linalg.matrix_exp(t1 * A).T, atol=1e-7, rtol=1e-7)
    torch.testing.assert_close(div, torch.full((6,), t1 * float(A.trace()), dtype=torch.float64))
    # log p_0(x) for a standard normal at t1 = log N(e^{tA} x) + t tr A
    expected = standard_normal_log_prob(z) + t1 * A.trace()
    torch.testing.assert_close(ode_log_likelihood(field, x, t1=t1, rtol=1e-9, atol=1e-9), expected)

    # Hutchinson: unbiased, error of the probe mean within 4 sigma of the Rademacher variance
    n_probes = 200
    gen = torch.Generator().manual_seed(3)
    _, div_h = integrate_divergence(field, x, t1=t1, method="hutchinson", n_probes=n_probes, generator=gen,
                                    rtol=1e-9, atol=1e-9)
    sym = t1 * (A + A.T)
    var = 0.5 * float((sym ** 2).sum() - (sym.diagonal() ** 2).sum())  # Var(e^T tA e), Rademacher e
    tol = 4 * math.sqrt(var / n_probes)
    assert (div_h - t1 * A.trace()).abs().max() < tol
    assert not torch.allclose(div_h, div)  # a real estimate, not the exact value in disguise
    _, div_g = integrate_divergence(field, x, t1=t1, method="hutchinson", n_probes=n_probes, probe="gaussian",
                                    generator=gen, solver="bosh3", rtol=1e-7, atol=1e-7)
    assert (div_g.mean() - t1 * A.trace()).abs() < 3 * tol


def test_ode_mask_excludes_padded_particles():
    a = torch.tensor([[0.2, -0.1], [0.3, -0.5]], dtype=torch.float64)
    x = torch.randn(3, 5, 2, dtype=torch.float64)
    mask = torch.arange(5)[None, :] < torch.tensor([5, 2, 3])[:, None]
    x = torch.where(mask[..., None], x, torch.full_like(x, 7.0))
    field = lambda t, state: state @ a.T + 1.0  # noqa: E731  (padded slots would move without the mask)
    z, div = integrate_divergence(field, x, mask=mask, method="exact", rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(div, mask.sum(1).double() * float(a.trace()))
    assert torch.all(z[~mask] == 0)
    _, div_h = integrate_divergence(field, x, mask=mask, method="hutchinson", n_probes=400,
                                    generator=torch.Generator().manual_seed(0), rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(div_h, div, atol=0.2, rtol=0.0)
    lp = standard_normal_log_prob(torch.zeros(3, 5, 2), mask)
    torch.testing.assert_close(lp, -0.5 * 2 * mask.sum(1).float() * math.log(2 * math.pi))


@pytest.mark.parametrize("kind", ["maf", "nsf"])
def test_conditional_flow_density_integrates_to_one(kind):
    flow = conditional_flow(kind, features=1, context=1, transforms=2, hidden=(16,))
    opt = torch.optim.Adam(flow.parameters(), lr=1e-2)
    data = torch.cat([torch.randn(256, 1) * 0.3 - 1, torch.randn(256, 1) * 0.5 + 1.5])
    ctx = torch.rand(512, 1)
    for _ in range(30):  # train a little so the density is not the base Gaussian
        loss = -log_prob(flow, data, ctx).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    grid = torch.linspace(-12, 12, 24001)[:, None]
    with torch.no_grad():
        for c in (0.2, 0.9):
            density = log_prob(flow, grid, torch.full((len(grid), 1), c)).exp()
            assert torch.trapezoid(density[:, 0] if density.ndim > 1 else density, grid[:, 0]).item() == \
                pytest.approx(1.0, abs=5e-3)
        assert sample(flow, context=torch.rand(10, 1)).shape == (10, 1)
        assert sample(flow, 5, context=torch.rand(3, 1)).shape == (5, 3, 1)


def test_ema_averages_with_its_decay_and_swaps_back():
    model = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = EMA(model, decay=0.5)
    for value in (1.0, 2.0, 3.0):
        with torch.no_grad():
            model.weight.fill_(value)
        ema.update(model)
    assert ema.shadow["weight"].item() == pytest.approx(2.125)  # 0 -> 0.5 -> 1.25 -> 2.125
    with ema.swapped_in(model):
        assert model.weight.item() == pytest.approx(2.125)
    assert model.weight.item() == 3.0
    other = EMA(model, decay=0.9)
    other.load_state_dict(ema.state_dict())
    assert other.decay == 0.5 and other.updates == 3 and other.shadow["weight"].item() == pytest.approx(2.125)
    with pytest.raises(ValueError, match="decay"):
        EMA(model, decay=1.0)


def test_mlps_embeddings_and_activation_names():
    assert MLP(10, 3, [8, 8], layer_norm=True, dropout=0.1)(torch.randn(5, 10)).shape == (5, 3)
    res = ResidualMLP(4, 2, width=16, depth=2, cond_dim=3)
    assert res(torch.randn(5, 4), torch.randn(5, 3)).shape == (5, 2)
    with pytest.raises(ValueError, match="needs a condition"):
        res(torch.randn(5, 4))
    with pytest.raises(ValueError, match="unknown activation 'relu6'.*leaky_relu"):
        activation("relu6")
    t = torch.tensor([0.0, 0.5, 1.0])
    emb = SinusoidalEmbedding(64)(t)
    assert emb.shape == (3, 64) and not torch.allclose(emb[0], emb[1])
    gauss = FourierEmbedding.gaussian(16, seed=1)
    torch.testing.assert_close(gauss(t), FourierEmbedding.gaussian(16, seed=1)(t))
    assert FourierEmbedding.powers_of_two(4, 7)(t).shape == (3, 8)
    assert EmbeddingMLP(SinusoidalEmbedding(32), 32, out_dim=64)(t).shape == (3, 64)
