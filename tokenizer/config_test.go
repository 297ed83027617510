package tokenizer

import (
	"encoding/json"
	"strings"
	"testing"
)

// tinyV2 is train/hitsr/config.py's TINY_V2 (the v2 golden model's config).
const tinyV2 = `{"tile":8,"f":8,"segments":[[1],[2],[3,4]],"z":4,"vocab":16,"enc_ch":[4,8,8],"res_blocks":0,"phi_k":3,` +
	`"fidelity":"backbone","rq":"hit","width":16,"depth":2,"heads":2,"mlp":2,"eps":1e-05,"dec_ch":8,"cond_ch":6,"cond":"embed"}`

// Model v2 configs need dec_ch and cond_ch in range; v1 configs must leave them unset.
func TestConfigV2(t *testing.T) {
	c, err := ParseConfig(tinyV2)
	if err != nil || !c.V2() || c.DecCh != 8 || c.CondCh != 6 {
		t.Fatalf("TINY_V2: %+v, %v", c, err)
	}
	v1 := strings.NewReplacer(`"backbone"`, `"cond"`, `"dec_ch":8,"cond_ch":6,"cond":"embed"`, `"dec_ch":0,"cond_ch":0`).Replace(tinyV2)
	if c, err := ParseConfig(v1); err != nil || c.V2() {
		t.Fatalf("v1 with zero dec_ch/cond_ch: %+v, %v", c, err)
	}
	for _, tc := range []struct{ from, to, want string }{
		{`"dec_ch":8`, `"dec_ch":0`, "dec_ch=0 outside 1..4096"},
		{`"cond_ch":6`, `"cond_ch":0`, "cond_ch=0 outside 1..4096"},
		{`"cond_ch":6`, `"cond_ch":-3`, "cond_ch=-3 outside 1..4096"},
		{`"dec_ch":8`, `"dec_ch":5000`, "dec_ch=5000 outside 1..4096"},
		{`"dec_ch":8,"cond_ch":6,`, ``, "dec_ch=0 outside"}, // a v2 file without the fields
		{`"backbone"`, `"cond"`, `dec_ch, cond_ch are for fidelity "backbone" only, not "cond"`},
		{`"backbone"`, `"Backbone"`, `dec_ch, cond_ch are for fidelity "backbone" only`},
		// f 2: G = 4, 8, 16 > tile 8, so a tile's features cannot be pooled to Gmax
		{`"f":8,"segments":[[1],[2],[3,4]],"z":4,"vocab":16,"enc_ch":[4,8,8]`,
			`"f":2,"segments":[[4],[8],[16]],"z":4,"vocab":16,"enc_ch":[4]`, "Gmax 16 exceeds tile 8"},
	} {
		s := strings.Replace(tinyV2, tc.from, tc.to, 1)
		if s == tinyV2 {
			t.Fatalf("%q not in the config", tc.from)
		}
		s = strings.Replace(s, `,}`, `}`, 1)
		if _, err := ParseConfig(s); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s → %s: error %v, want %q", tc.from, tc.to, err, tc.want)
		}
	}
}

// Fidelity and rq decode from their JSON names once, encode back to them, and an unknown name
// fails validation naming the field and the names it may take.
func TestEnumNames(t *testing.T) {
	for _, s := range []string{`{"fidelity":"cond","rq":"hit"}`, `{"fidelity":"pure","rq":"plain"}`, `{"fidelity":"backbone","rq":"hit"}`} {
		var c Config
		if err := json.Unmarshal([]byte(s), &c); err != nil || c.Fidelity == 0 || c.RQ == 0 {
			t.Fatalf("%s: %+v, %v", s, c, err)
		}
		b, err := json.Marshal(struct {
			F Fidelity `json:"fidelity"`
			R RQ       `json:"rq"`
		}{c.Fidelity, c.RQ})
		if err != nil || string(b) != s {
			t.Errorf("%s → %+v → %s, %v", s, c, b, err)
		}
	}
	if c, err := ParseConfig(tinyV2); err != nil || c.Fidelity != FidelityBackbone || c.RQ != RQHit {
		t.Fatalf("TINY_V2: %v %v, %v", c.Fidelity, c.RQ, err)
	}
	for from, want := range map[string]string{
		`"fidelity":"backbone","rq":"hit","width":16,"depth":2,"heads":2,"mlp":2,"eps":1e-05,"dec_ch":8,"cond_ch":6`: `config: fidelity is none of ["cond" "pure" "backbone"]`,
		`"rq":"hit"`: `config: rq is none of ["hit" "plain"]`,
	} {
		to := strings.NewReplacer(`"backbone"`, `"residual"`, `"hit"`, `"HIT"`, `,"dec_ch":8,"cond_ch":6`, ``).Replace(from)
		if _, err := ParseConfig(strings.Replace(tinyV2, from, to, 1)); err == nil || err.Error() != want {
			t.Errorf("%s: error %v, want %q", to, err, want)
		}
	}
	if _, err := json.Marshal(Fidelity(0)); err == nil {
		t.Error("the zero Fidelity has a JSON name")
	}
}
