package tokenizer

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Config is the tokenizer's part of the model config (model.Config, docs/model.md §2): the
// geometry of tiles and token scales, the autoencoder, the quantizer and the decoder.
type Config struct {
	Tile      int      `json:"tile"`
	F         int      `json:"f"`
	Segments  [][]int  `json:"segments"`
	Z         int      `json:"z"`
	Vocab     int      `json:"vocab"`
	EncCh     []int    `json:"enc_ch"`
	ResBlocks int      `json:"res_blocks"`
	PhiK      int      `json:"phi_k"`
	Fidelity  Fidelity `json:"fidelity"`
	RQ        RQ       `json:"rq"`
	DecCh     int      `json:"dec_ch"`  // v2 decoder width D (fidelity "backbone" only)
	CondCh    int      `json:"cond_ch"` // v2 condition channels: the backbone's ch (fidelity "backbone" only)
	Cond      Cond     `json:"cond"`    // how the transformer sees its condition (absent: "prefix")
}

// Fidelity is how the decoder relates to the LR input (JSON "fidelity", docs/model.md §2).
type Fidelity uint8

const (
	FidelityCond     Fidelity = iota + 1 // "cond": a residual over bicubic, seeing the condition latent
	FidelityPure                         // "pure": the paper's decoder D(f̂)
	FidelityBackbone                     // "backbone": model v2, residuals over the fidelity backbone (§10)
)

// RQ is the residual quantization (JSON "rq", docs/model.md §2, §4).
type RQ uint8

const (
	RQHit   RQ = iota + 1 // "hit": nested segments
	RQPlain               // "plain": VAR residual quantization at full resolution
)

// Cond is how the transformer sees its condition (JSON "cond", docs/model.md §5, §10).
type Cond uint8

const (
	CondPrefix Cond = iota + 1 // "prefix" (also when absent): Gmax² condition tokens before the scales
	CondEmbed                  // "embed" (v2): the tile's features, space-to-depth to Gmax, added to each scale's embeddings
)

// The JSON names; index 0 is the zero value, which an unknown name decodes to and Validate rejects.
var (
	fidelityNames = []string{"", "cond", "pure", "backbone"}
	rqNames       = []string{"", "hit", "plain"}
	condNames     = []string{"", "prefix", "embed"}
)

func (f Fidelity) String() string               { return enumName(fidelityNames, f) }
func (f Fidelity) MarshalText() ([]byte, error) { return enumText(fidelityNames, f) }
func (r RQ) String() string                     { return enumName(rqNames, r) }
func (r RQ) MarshalText() ([]byte, error)       { return enumText(rqNames, r) }
func (v Cond) String() string                   { return enumName(condNames, v) }
func (v Cond) MarshalText() ([]byte, error)     { return enumText(condNames, v) }

func (f *Fidelity) UnmarshalText(b []byte) error {
	*f = parseEnum[Fidelity](fidelityNames, b)
	return nil
}

func (r *RQ) UnmarshalText(b []byte) error {
	*r = parseEnum[RQ](rqNames, b)
	return nil
}

func (v *Cond) UnmarshalText(b []byte) error {
	*v = parseEnum[Cond](condNames, b)
	return nil
}

// valid reports a known value of an enum with these names.
func valid[E ~uint8](names []string, v E) bool { return v > 0 && int(v) < len(names) }

func enumName[E ~uint8](names []string, v E) string {
	if !valid(names, v) {
		return "unknown"
	}
	return names[v]
}

func enumText[E ~uint8](names []string, v E) ([]byte, error) {
	if !valid(names, v) {
		return nil, fmt.Errorf("no name for value %d (want one of %q)", v, names[1:])
	}
	return []byte(names[v]), nil
}

// parseEnum is the value named b, 0 (invalid) for an unknown name: the decode goes on, so that
// Validate reports the config's problems in their order.
func parseEnum[E ~uint8](names []string, b []byte) E {
	i := slices.Index(names[1:], string(b))
	return E(i + 1) // −1 (unknown) → 0
}

// V2 reports a model v2 token path: residuals over the fidelity backbone (docs/model.md §10).
func (c Config) V2() bool { return c.Fidelity == FidelityBackbone }

// ParseConfig decodes and validates the tokenizer's part of a config JSON (other fields are
// ignored); "cond" defaults to "prefix" (the files from before it).
func ParseConfig(s string) (Config, error) {
	c := Config{Cond: CondPrefix}
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
		return fmt.Errorf("config: dec_ch, cond_ch are for fidelity %q only, not %q", FidelityBackbone, c.Fidelity)
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
	case !valid(fidelityNames, c.Fidelity):
		return fmt.Errorf("config: fidelity is none of %q", fidelityNames[1:])
	case !valid(rqNames, c.RQ):
		return fmt.Errorf("config: rq is none of %q", rqNames[1:])
	case !valid(condNames, c.Cond):
		return fmt.Errorf("config: cond is none of %q", condNames[1:])
	case c.Cond == CondEmbed && !c.V2():
		return fmt.Errorf("config: cond %q is for fidelity %q only", CondEmbed, FidelityBackbone)
	case c.PhiK%2 != 1:
		return fmt.Errorf("config: phi_k %d must be odd", c.PhiK)
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

// Cell is the side in LR pixels of a condition cell (tile / Gmax, exact: both are f's power of two
// apart, Gmax ≤ tile for v2): cond "embed"'s space-to-depth factor.
func (c Config) Cell() int { return c.Tile / c.Gmax() }

// TCond is the number of condition tokens: Gmax² for cond "prefix", none for "embed".
func (c Config) TCond() int {
	if c.Cond == CondEmbed {
		return 0
	}
	return c.Gmax() * c.Gmax()
}

// Blocks are the block-causal mask blocks [Gmax² (prefix only), p_1², …, p_K²].
func (c Config) Blocks() []int {
	var b []int
	if n := c.TCond(); n > 0 {
		b = append(b, n)
	}
	for _, p := range c.Scales() {
		b = append(b, p*p)
	}
	return b
}

// Grid is the side of f̂ while scale k is added (G_seg(k), or Gmax for rq plain).
func (c Config) Grid(k int) int {
	if c.RQ == RQPlain {
		return c.Gmax()
	}
	return c.G(c.SegOf()[k])
}

// LastOfSeg reports whether scale k ends its segment.
func (c Config) LastOfSeg(k int) bool {
	s := c.SegOf()
	return k == len(s)-1 || s[k+1] != s[k]
}
