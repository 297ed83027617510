"""Model config (docs/model.md §2). Stored as JSON in the safetensors __metadata__['config']."""
import json
from dataclasses import dataclass, field, asdict
from typing import List


@dataclass
class Config:
    tile: int = 16
    f: int = 8
    segments: List[List[int]] = field(default_factory=lambda: [[1, 2], [3, 4], [6, 8]])
    z: int = 16
    vocab: int = 512
    enc_ch: List[int] = field(default_factory=lambda: [32, 64, 64])
    res_blocks: int = 1
    phi_k: int = 3
    fidelity: str = "cond"   # "cond" | "pure" | "backbone" (v2: residual over the backbone, §10)
    rq: str = "hit"          # "hit" | "plain"
    width: int = 256
    depth: int = 4
    heads: int = 4
    mlp: int = 4
    eps: float = 1e-5
    dec_ch: int = 0          # v2 decoder width (fidelity "backbone")
    cond_ch: int = 0         # v2 condition channels (the backbone's feature channels)
    cond: str = "prefix"     # "prefix": Gmax² condition tokens before the scales | "embed" (v2): added to each
                             # scale's token embeddings from the tile's features, space-to-depth to Gmax (§10)

    # ---- derived geometry -------------------------------------------------
    def __post_init__(self):
        L = len(self.enc_ch)
        assert 2 ** L == self.f, "len(enc_ch) must be log2(f)"
        assert self.cond in ("prefix", "embed") and (self.cond == "prefix" or self.fidelity == "backbone")
        for n, seg in enumerate(self.segments):
            assert seg[-1] == self.G(n), f"last scale of segment {n} must be G_{n}={self.G(n)}"
            assert all(p <= self.G(n) for p in seg)

    def G(self, n: int) -> int:
        """Latent side of segment n (n = 0, 1, 2 for x1, x2, x4)."""
        return self.tile * (2 ** n) // self.f

    @property
    def nseg(self) -> int:
        return len(self.segments)

    @property
    def scales(self) -> List[int]:
        return [p for seg in self.segments for p in seg]

    @property
    def seg_of(self) -> List[int]:
        return [n for n, seg in enumerate(self.segments) for _ in seg]

    @property
    def K(self) -> int:
        return len(self.scales)

    @property
    def n_tokens(self) -> int:
        return sum(p * p for p in self.scales)

    @property
    def Gmax(self) -> int:
        return self.G(self.nseg - 1)

    @property
    def T_cond(self) -> int:
        return self.Gmax ** 2 if self.cond == "prefix" else 0

    @property
    def cell(self) -> int:
        """LR pixels per condition cell side ("embed": the space-to-depth factor)."""
        return self.tile // self.Gmax

    @property
    def blocks(self) -> List[int]:
        """Block sizes of the block-causal mask: [G_2^2 (prefix only), p_1^2, ..., p_K^2]."""
        return [self.T_cond] * (self.T_cond > 0) + [p * p for p in self.scales]

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @staticmethod
    def from_json(s: str) -> "Config":
        return Config(**json.loads(s))


SHIPPED = Config()
# Tiny config used for the random-init Go parity golden file.
# Model v2 (docs/model.md §10): the token path over the fidelity backbone. enc_ch is the training-only
# residual encoder; Go never runs it.
V2 = Config(tile=32, f=16, segments=[[1, 2], [3, 4], [6, 8]], z=16, vocab=256, enc_ch=[32, 48, 64, 64],
            res_blocks=0, phi_k=3, fidelity="backbone", rq="hit", width=128, depth=4, heads=4, mlp=4,
            dec_ch=64, cond_ch=48, cond="embed")
TINY_V2 = Config(tile=8, f=8, segments=[[1], [2], [3, 4]], z=4, vocab=16, enc_ch=[4, 8, 8], res_blocks=0, phi_k=3,
                 fidelity="backbone", width=16, depth=2, heads=2, mlp=2, dec_ch=8, cond_ch=6, cond="embed")
TINY = Config(tile=8, f=4, segments=[[1, 2], [4], [6, 8]], z=4, vocab=16, enc_ch=[4, 8], res_blocks=1,
              phi_k=3, width=16, depth=2, heads=2, mlp=2)
