"""Losses: tokenizer pixel + gradient L1, transformer CE + DPO (docs/model.md §6)."""
import torch
import torch.nn.functional as F


def grad_l1(a, b, sq=False):
    """L1 (or, sq=True, squared) error of horizontal + vertical finite differences."""
    dxa, dya = a[..., :, 1:] - a[..., :, :-1], a[..., 1:, :] - a[..., :-1, :]
    dxb, dyb = b[..., :, 1:] - b[..., :, :-1], b[..., 1:, :] - b[..., :-1, :]
    if sq:
        return (dxa - dxb).pow(2).mean() + (dya - dyb).pow(2).mean()
    return (dxa - dxb).abs().mean() + (dya - dyb).abs().mean()


def token_logp(logits, idx):
    """Per-token log-likelihood [B, N] of idx [B, N] under logits [B, N, V]."""
    return logits.log_softmax(-1).gather(-1, idx.unsqueeze(-1)).squeeze(-1)


def ce_loss(logits, idx):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), idx.reshape(-1))


def dpo_loss(ell_w, ell_l, beta=0.2):
    """-log sigma(beta * (l_w - l_l)); ell_* are per-sample mean token log-likelihoods [B]."""
    return -F.logsigmoid(beta * (ell_w - ell_l)).mean()


def dpo_ref_loss(lw, ll, ref_w, ref_l, beta=0.2):
    """DPO against a frozen reference (model v2): −log σ(β·[(ℓθ(w) − ℓref(w)) − (ℓθ(l) − ℓref(l))]);
    ℓ are per-sample summed token log-likelihoods [B]. At θ = ref it is log 2 whatever the data."""
    return -F.logsigmoid(beta * ((lw - ref_w) - (ll - ref_l))).mean()
