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
    fidelity: str = "cond"   # "cond" | "pure"
    rq: str = "hit"          # "hit" | "plain"
    width: int = 256
    depth: int = 4
    heads: int = 4
    mlp: int = 4
    eps: float = 1e-5

    # ---- derived geometry -------------------------------------------------
    def __post_init__(self):
        L = len(self.enc_ch)
        assert 2 ** L == self.f, "len(enc_ch) must be log2(f)"
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
        return self.Gmax ** 2

    @property
    def blocks(self) -> List[int]:
        """Block sizes of the block-causal mask: [G_2^2, p_1^2, ..., p_K^2]."""
        return [self.T_cond] + [p * p for p in self.scales]

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @staticmethod
    def from_json(s: str) -> "Config":
        return Config(**json.loads(s))


SHIPPED = Config()
# Tiny config used for the random-init Go parity golden file.
TINY = Config(tile=8, f=4, segments=[[1, 2], [4], [6, 8]], z=4, vocab=16, enc_ch=[4, 8], res_blocks=1,
              phi_k=3, width=16, depth=2, heads=2, mlp=2)
