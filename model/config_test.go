package model_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/model"
)

// tinyV2 is train/hitsr/config.py's TINY_V2 (the v2 golden model's config).
const tinyV2 = `{"tile":8,"f":4,"segments":[[1,2],[4],[6,8]],"z":4,"vocab":16,"enc_ch":[4,8],"res_blocks":0,"phi_k":3,` +
	`"fidelity":"backbone","rq":"hit","width":16,"depth":2,"heads":2,"mlp":2,"eps":1e-05,"dec_ch":8,"cond_ch":6}`

// The model config decodes from and encodes to the same JSON (the tokenizer's fields at the top
// level), and checks the tokenizer's part before the transformer's.
func TestConfig(t *testing.T) {
	c, err := model.ParseConfig(tinyV2)
	if err != nil || !c.V2() || c.Width != 16 || c.Heads != 2 || c.Tile != 8 || c.CondCh != 6 {
		t.Fatalf("TINY_V2: %+v, %v", c, err)
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var got, want map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(tinyV2), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("re-encoded as %s", b)
	}
	for _, tc := range []struct{ from, to, want string }{
		{`"width":16`, `"width":15`, "config: width 15 not divisible by heads 2"},
		{`"heads":2`, `"heads":0`, "config: heads=0 outside 1..256"},
		{`"eps":1e-05`, `"eps":2`, "config: eps 2 outside 0..1"},
		{`"mlp":2`, `"mlp":17`, "config: mlp=17 outside 1..16"},
		{`"cond_ch":6`, `"cond_ch":0`, "config: cond_ch=0 outside 1..4096"}, // the tokenizer's part
		{`"backbone"`, `"Backbone"`, `config: dec_ch, cond_ch are for fidelity "backbone" only, not "unknown"`},
	} {
		if _, err := model.ParseConfig(strings.Replace(tinyV2, tc.from, tc.to, 1)); err == nil || err.Error() != tc.want {
			t.Errorf("%s: error %v, want %q", tc.to, err, tc.want)
		}
	}
}
