package model

import (
	"encoding/json"
	"fmt"

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
}

// ParseConfig decodes and validates a config JSON: the tokenizer's part first (its defaults too).
func ParseConfig(s string) (Config, error) {
	t, err := tokenizer.ParseConfig(s)
	c := Config{Config: t}
	if err != nil {
		return c, err
	}
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
	}
	return nil
}
