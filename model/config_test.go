package model_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/model"
	"github.com/hitsr/hitsr/tokenizer"
)

// tinyV2 is train/hitsr/config.py's TINY_V2 (the v2 golden model's config).
const tinyV2 = `{"tile":8,"f":8,"segments":[[1],[2],[3,4]],"z":4,"vocab":16,"enc_ch":[4,8,8],"res_blocks":0,"phi_k":3,` +
	`"fidelity":"backbone","rq":"hit","width":16,"depth":2,"heads":2,"mlp":2,"eps":1e-05,"dec_ch":8,"cond_ch":6,"cond":"embed"}`

// The model config decodes from and encodes to the same JSON (the tokenizer's fields at the top
// level), and checks the tokenizer's part before the transformer's.
func TestConfig(t *testing.T) {
	c, err := model.ParseConfig(tinyV2)
	if err != nil || !c.V2() || c.Width != 16 || c.Heads != 2 || c.Tile != 8 || c.CondCh != 6 {
		t.Fatalf("TINY_V2: %+v, %v", c, err)
	}
	if c.Cond != tokenizer.CondEmbed || c.TCond() != 0 || !slices.Equal(c.Blocks(), []int{1, 4, 9, 16}) || c.Cell() != 2 {
		t.Fatalf("TINY_V2 cond: %v, %d condition tokens, blocks %v, cell %d", c.Cond, c.TCond(), c.Blocks(), c.Cell())
	}
	// a file from before "cond" has condition tokens; "embed" is for model v2 only
	old, err := model.ParseConfig(strings.Replace(tinyV2, `,"cond":"embed"`, ``, 1))
	if err != nil || old.Cond != tokenizer.CondPrefix || old.TCond() != 16 || !slices.Equal(old.Blocks(), []int{16, 1, 4, 9, 16}) {
		t.Fatalf("without cond: %v, %d condition tokens, blocks %v, %v", old.Cond, old.TCond(), old.Blocks(), err)
	}
	v1 := strings.NewReplacer(`"backbone"`, `"cond"`, `"dec_ch":8,"cond_ch":6,`, ``).Replace(tinyV2)
	if _, err := model.ParseConfig(v1); err == nil || err.Error() != `config: cond "embed" is for fidelity "backbone" only` {
		t.Fatalf("v1 with cond embed: %v", err)
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
		{`"embed"`, `"Embed"`, `config: cond is none of ["prefix" "embed"]`},
		{`"embed"`, `2`, `config: json: cannot unmarshal number into Go struct field Config.cond of type tokenizer.Cond`},
	} {
		if _, err := model.ParseConfig(strings.Replace(tinyV2, tc.from, tc.to, 1)); err == nil || err.Error() != tc.want {
			t.Errorf("%s: error %v, want %q", tc.to, err, tc.want)
		}
	}
}
