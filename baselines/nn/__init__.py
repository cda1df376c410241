"""Shared torch building blocks of the reference scorers: each block once, so a baseline is a short
file of its own method (its network wiring, loss and score) and nothing else.

Modules, one job each:

* :mod:`baselines.nn.mlp`: activations by name, (masked) MLP, residual MLP;
* :mod:`baselines.nn.ema`: exponential moving average of weights;
* :mod:`baselines.nn.training`: the one training loop (:func:`fit_model`), :class:`TrainConfig`,
  :class:`TrainingRecord`, batched :func:`predict`, device resolution;
* :mod:`baselines.nn.sets`: masked pooling, deep-set encoder, EPiC layer and network, FSPool;
* :mod:`baselines.nn.attention`: pre-norm transformer block with masked self-attention;
* :mod:`baselines.nn.embeddings`: sinusoidal and Gaussian-Fourier time/condition embeddings;
* :mod:`baselines.nn.flows`: conditional MAF / neural-spline flows through zuko;
* :mod:`baselines.nn.ode`: batched probability-flow ODE log-likelihood through torchdiffeq;
* :mod:`baselines.nn.flow_matching`: conditional OT flow-matching loss, fixed-step midpoint/Euler
  sampler, MLP and EPiC velocity networks;
* :mod:`baselines.nn.dijet_classifier`: the permutation-invariant data-vs-synthetic classifier of
  jets and their particles (full-phase-space resonant AD).

torch is imported by these modules, never by ``baselines`` itself, so scorers without torch do not
pay for it.
"""
