package tokenizer

import (
	"encoding/json"
	"fmt"
)

// Config is the model config of docs/model.md §2 (JSON in the safetensors metadata "config").
type Config struct {
	Tile      int     `json:"tile"`
	F         int     `json:"f"`
	Segments  [][]int `json:"segments"`
	Z         int     `json:"z"`
	Vocab     int     `json:"vocab"`
	EncCh     []int   `json:"enc_ch"`
	ResBlocks int     `json:"res_blocks"`
	PhiK      int     `json:"phi_k"`
	Fidelity  string  `json:"fidelity"` // "cond" | "pure" | "backbone" (model v2, docs/model.md §10)
	RQ        string  `json:"rq"`       // "hit" | "plain"
	Width     int     `json:"width"`
	Depth     int     `json:"depth"`
	Heads     int     `json:"heads"`
	MLP       int     `json:"mlp"`
	Eps       float64 `json:"eps"`
	DecCh     int     `json:"dec_ch"`  // v2 decoder width D (fidelity "backbone" only)
	CondCh    int     `json:"cond_ch"` // v2 condition channels: the backbone's ch (fidelity "backbone" only)
}

// V2 reports a model v2 token path: residuals over the fidelity backbone (docs/model.md §10).
func (c Config) V2() bool { return c.Fidelity == "backbone" }

// ParseConfig decodes and validates a config JSON.
func ParseConfig(s string) (Config, error) {
	var c Config
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	return c, c.Validate()
}

// Validate checks every field's range, then the geometry constraints of model.md §1-§2. Ranges
// come first so that no arithmetic on a hostile config can overflow or divide by zero.
func (c Config) Validate() error {
	chLo := 0 // dec_ch, cond_ch: set for model v2 only
	if c.V2() {
		chLo = 1
	} else if c.DecCh != 0 || c.CondCh != 0 {
		return fmt.Errorf("config: dec_ch, cond_ch are for fidelity \"backbone\" only, not %q", c.Fidelity)
	}
	for _, r := range []struct {
		name      string
		v, lo, hi int
	}{
		{"tile", c.Tile, 1, 1024},
		{"f", c.F, 2, 256},
		{"len(enc_ch)", len(c.EncCh), 1, 8},
		{"len(segments)", len(c.Segments), 1, 4},
		{"z", c.Z, 1, 1 << 12},
		{"vocab", c.Vocab, 1, 1 << 20},
		{"res_blocks", c.ResBlocks, 0, 16},
		{"phi_k", c.PhiK, 1, 31},
		{"width", c.Width, 1, 1 << 14},
		{"depth", c.Depth, 0, 256},
		{"heads", c.Heads, 1, 256},
		{"mlp", c.MLP, 1, 16},
		{"dec_ch", c.DecCh, chLo, 1 << 12},
		{"cond_ch", c.CondCh, chLo, 1 << 12},
	} {
		if r.v < r.lo || r.v > r.hi {
			return fmt.Errorf("config: %s=%d outside %d..%d", r.name, r.v, r.lo, r.hi)
		}
	}
	for l, ch := range c.EncCh {
		if ch < 1 || ch > 1<<12 {
			return fmt.Errorf("config: enc_ch[%d]=%d outside 1..%d", l, ch, 1<<12)
		}
	}
	L := len(c.EncCh)
	switch {
	case 1<<L != c.F:
		return fmt.Errorf("config: len(enc_ch)=%d must be log2(f=%d)", L, c.F)
	case c.Tile%c.F != 0:
		return fmt.Errorf("config: tile %d not a multiple of f %d", c.Tile, c.F)
	case c.Fidelity != "cond" && c.Fidelity != "pure" && !c.V2():
		return fmt.Errorf("config: fidelity %q", c.Fidelity)
	case c.RQ != "hit" && c.RQ != "plain":
		return fmt.Errorf("config: rq %q", c.RQ)
	case c.PhiK%2 != 1:
		return fmt.Errorf("config: phi_k %d must be odd", c.PhiK)
	case c.Width%c.Heads != 0:
		return fmt.Errorf("config: width %d not divisible by heads %d", c.Width, c.Heads)
	case !(c.Eps >= 0 && c.Eps <= 1):
		return fmt.Errorf("config: eps %g outside 0..1", c.Eps)
	}
	k := 0
	for n, seg := range c.Segments {
		if k += len(seg); k > maxScales {
			return fmt.Errorf("config: more than %d token scales", maxScales)
		}
		if len(seg) == 0 || seg[len(seg)-1] != c.G(n) {
			return fmt.Errorf("config: last scale of segment %d must be G_%d=%d", n, n, c.G(n))
		}
		for _, p := range seg {
			if p < 1 || p > c.G(n) {
				return fmt.Errorf("config: scale %d outside 1..%d in segment %d", p, c.G(n), n)
			}
		}
	}
	if c.V2() && c.Gmax() > c.Tile { // the condition area-pools a tile's features to Gmax
		return fmt.Errorf("config: Gmax %d exceeds tile %d (fidelity \"backbone\")", c.Gmax(), c.Tile)
	}
	return nil
}

// maxScales bounds K, the number of token scales.
const maxScales = 64

// G is the latent side of segment n.
func (c Config) G(n int) int { return c.Tile << n / c.F }

// NSeg is the number of segments (output scales).
func (c Config) NSeg() int { return len(c.Segments) }

// Gmax is the latent side of the last segment.
func (c Config) Gmax() int { return c.G(c.NSeg() - 1) }

// Scales lists p_1..p_K.
func (c Config) Scales() []int {
	var s []int
	for _, seg := range c.Segments {
		s = append(s, seg...)
	}
	return s
}

// SegOf lists the segment of each scale.
func (c Config) SegOf() []int {
	var s []int
	for n, seg := range c.Segments {
		for range seg {
			s = append(s, n)
		}
	}
	return s
}

// K is the number of token scales.
func (c Config) K() int { return len(c.Scales()) }

// NTokens is Σ p².
func (c Config) NTokens() int {
	n := 0
	for _, p := range c.Scales() {
		n += p * p
	}
	return n
}

// TCond is the number of condition tokens (Gmax²).
func (c Config) TCond() int { return c.Gmax() * c.Gmax() }

// Blocks are the block-causal mask blocks [Gmax², p_1², …, p_K²].
func (c Config) Blocks() []int {
	b := []int{c.TCond()}
	for _, p := range c.Scales() {
		b = append(b, p*p)
	}
	return b
}

// Grid is the side of f̂ while scale k is added (G_seg(k), or Gmax for rq plain).
func (c Config) Grid(k int) int {
	if c.RQ == "plain" {
		return c.Gmax()
	}
	return c.G(c.SegOf()[k])
}

// LastOfSeg reports whether scale k ends its segment.
func (c Config) LastOfSeg(k int) bool {
	s := c.SegOf()
	return k == len(s)-1 || s[k+1] != s[k]
}
