package model

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/hitsr/hitsr/tokenizer"
)

// Config is the model config of docs/model.md §2 (JSON in the safetensors metadata "config"):
// the tokenizer's part (its fields appear at the top level of the JSON) and the transformer's.
type Config struct {
	tokenizer.Config
	Width int     `json:"width"`
	Depth int     `json:"depth"`
	Heads int     `json:"heads"`
	MLP   int     `json:"mlp"` // MLP expansion
	Eps   float64 `json:"eps"` // LayerNorm epsilon
	Cond  Cond    `json:"cond"`
}

// Cond is how the transformer sees its condition (JSON "cond", docs/model.md §5, §10).
type Cond uint8

const (
	CondPrefix Cond = iota + 1 // "prefix" (the default): Gmax² condition tokens before the scales
	CondEmbed                  // "embed" (v2): the tile's features, space-to-depth to Gmax, added to each scale's embeddings
)

// condNames are the JSON names; index 0 is what an unknown name decodes to (Validate rejects it).
var condNames = []string{"", "prefix", "embed"}

func (v Cond) String() string {
	if v == 0 || int(v) >= len(condNames) {
		return "unknown"
	}
	return condNames[v]
}

func (v Cond) MarshalText() ([]byte, error) {
	if v.String() == "unknown" {
		return nil, fmt.Errorf("no name for cond %d", v)
	}
	return []byte(v.String()), nil
}

func (v *Cond) UnmarshalText(b []byte) error {
	*v = Cond(slices.Index(condNames[1:], string(b)) + 1)
	return nil
}

// ParseConfig decodes and validates a config JSON; "cond" defaults to "prefix" (files before it).
func ParseConfig(s string) (Config, error) {
	c := Config{Cond: CondPrefix}
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, fmt.Errorf("config: %w", err)
	}
	return c, c.Validate()
}

// Validate checks the tokenizer's part, then the transformer's ranges and constraints.
func (c Config) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	for _, r := range []struct {
		name      string
		v, lo, hi int
	}{
		{"width", c.Width, 1, 1 << 14},
		{"depth", c.Depth, 0, 256},
		{"heads", c.Heads, 1, 256},
		{"mlp", c.MLP, 1, 16},
	} {
		if r.v < r.lo || r.v > r.hi {
			return fmt.Errorf("config: %s=%d outside %d..%d", r.name, r.v, r.lo, r.hi)
		}
	}
	switch {
	case c.Width%c.Heads != 0:
		return fmt.Errorf("config: width %d not divisible by heads %d", c.Width, c.Heads)
	case !(c.Eps >= 0 && c.Eps <= 1):
		return fmt.Errorf("config: eps %g outside 0..1", c.Eps)
	case c.Cond != CondPrefix && c.Cond != CondEmbed:
		return fmt.Errorf("config: cond is none of %q", condNames[1:])
	case c.Cond == CondEmbed && !c.V2():
		return fmt.Errorf("config: cond %q is for fidelity %q only", CondEmbed, tokenizer.FidelityBackbone)
	}
	return nil
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
