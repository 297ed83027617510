package tokenizer

import "testing"

// FuzzParseConfig checks that any JSON either fails ParseConfig with an error or yields a
// config whose derived geometry is consistent (no panic, no overflow, no division by zero).
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{"tile":16,"f":8,"segments":[[1,2],[3,4],[6,8]],"z":16,"vocab":512,"enc_ch":[32,64,64],"res_blocks":1,"phi_k":3,"fidelity":"cond","rq":"plain","width":256,"depth":4,"heads":4,"mlp":4,"eps":1e-05}`,
		`{"tile":8,"f":4,"segments":[[1,2],[4],[6,8]],"z":4,"vocab":16,"enc_ch":[4,8],"res_blocks":1,"phi_k":3,"fidelity":"cond","rq":"hit","width":16,"depth":2,"heads":2,"mlp":2,"eps":1e-05}`,
		tinyV2, `{}`, `null`, `[]`, `{"tile":-8}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseConfig(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if c.NSeg() < 1 || c.K() < c.NSeg() || len(c.SegOf()) != c.K() || len(c.Blocks()) != c.K()+min(c.TCond(), 1) {
			t.Fatalf("inconsistent counts: nseg %d, K %d", c.NSeg(), c.K())
		}
		n := c.TCond()
		for k, p := range c.Scales() {
			g := c.Grid(k)
			if p < 1 || g < p || (c.RQ == RQHit && c.Tile<<c.SegOf()[k] != g*c.F) {
				t.Fatalf("scale %d: p=%d grid=%d", k, p, g)
			}
			n += p * p
			c.LastOfSeg(k)
		}
		if c.V2() && (c.Gmax() > c.Tile || c.DecCh < 1 || c.CondCh < 1) {
			t.Fatalf("v2 config: Gmax %d, tile %d, dec_ch %d, cond_ch %d", c.Gmax(), c.Tile, c.DecCh, c.CondCh)
		}
		if !c.LastOfSeg(c.K()-1) || n != c.TCond()+c.NTokens() || (c.Cond == CondEmbed && c.Cell()*c.Gmax() != c.Tile) {
			t.Fatalf("token count %d vs %d+%d, cell %d", n, c.TCond(), c.NTokens(), c.Cell())
		}
	})
}
