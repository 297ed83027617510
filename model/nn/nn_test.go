package nn_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/ml/cpu"
	"github.com/hitsr/hitsr/model/nn"
)

// net is a small layer struct: a conv, blocks under a prefix, a parameter and an optional part.
type net struct {
	In     nn.Conv2D
	Blocks []block
	Scale  *ml.Tensor
	Extra  *block // nil: absent
}

type block struct {
	Norm nn.LayerNorm
	Proj nn.Linear
}

func declareNet(d *nn.Decl) net {
	n := net{In: d.Conv2D("in", 4, 3, 3), Scale: d.Tensor("scale", 2, 4)}
	for i := range 2 {
		b := d.Sub("blocks.%d", i)
		n.Blocks = append(n.Blocks, block{Norm: b.LayerNorm("norm", 4), Proj: b.Linear("proj", 8, 4)})
	}
	return n
}

var netShapes = map[string][]int{
	"in.weight": {4, 3, 3, 3}, "in.bias": {4}, "scale": {2, 4},
	"blocks.0.norm.weight": {4}, "blocks.0.norm.bias": {4}, "blocks.0.proj.weight": {8, 4}, "blocks.0.proj.bias": {8},
	"blocks.1.norm.weight": {4}, "blocks.1.norm.bias": {4}, "blocks.1.proj.weight": {8, 4}, "blocks.1.proj.bias": {8},
}

// upload makes a zero tensor of each shape.
func upload(t *testing.T, b ml.Backend, shapes map[string][]int) map[string]*ml.Tensor {
	ts := map[string]*ml.Tensor{}
	for name, s := range shapes {
		n := 1
		for _, d := range s {
			n *= d
		}
		x, err := ml.NewTensor(b, ml.F32, s, make([]float32, n))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ml.Free(b, x) })
		ts[name] = x
	}
	return ts
}

func TestShapes(t *testing.T) {
	if got := nn.Shapes(func(d *nn.Decl) { declareNet(d) }); !reflect.DeepEqual(got, netShapes) {
		t.Errorf("declared %v,\nwant %v", got, netShapes)
	}
}

// Bind fills every field with the tensor of its name, and names what is missing, of another
// shape, or never bound.
func TestBind(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	ts := upload(t, b, netShapes)
	n, err := nn.Bind(ts, declareNet)
	if err != nil {
		t.Fatal(err)
	}
	if n.In.Weight != ts["in.weight"] || n.Blocks[1].Proj.Bias != ts["blocks.1.proj.bias"] || n.Scale != ts["scale"] || n.Extra != nil {
		t.Errorf("bound %+v", n)
	}
	if u := nn.Unbound(n); len(u) != 0 {
		t.Errorf("unbound %v", u)
	}

	missing := upload(t, b, netShapes)
	delete(missing, "blocks.1.norm.bias")
	wrong := upload(t, b, netShapes)
	wrong["blocks.0.proj.weight"] = upload(t, b, map[string][]int{"w": {4, 8}})["w"]
	for _, tc := range []struct {
		ts      map[string]*ml.Tensor
		declare func(d *nn.Decl) net
		want    string
	}{
		{missing, declareNet, "weight blocks.1.norm.bias is missing (declared shape [4])"},
		{wrong, declareNet, "weight blocks.0.proj.weight has shape [4 8], declared [8 4]"},
		{nil, declareNet, "weight in.weight is missing"},
		{ts, func(d *nn.Decl) net {
			n := declareNet(d)
			n.Blocks[1].Proj.Bias = nil // a field its declaration forgot
			n.Extra = &block{Norm: n.Blocks[0].Norm}
			return n
		}, "net.Blocks[1].Proj.Bias, net.Extra.Proj.Weight, net.Extra.Proj.Bias declared but never bound"},
	} {
		if _, err := nn.Bind(tc.ts, tc.declare); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

func TestDeclaredTwice(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "weight blocks.0.norm.weight declared twice") {
			t.Errorf("recovered %v", r)
		}
	}()
	nn.Shapes(func(d *nn.Decl) {
		declareNet(d)
		d.Sub("blocks.0").LayerNorm("norm", 4)
	})
}

func TestUnboundMap(t *testing.T) {
	heads := map[int]nn.Conv2D{4: {}, 2: {Weight: &ml.Tensor{}, Bias: &ml.Tensor{}}}
	if got := nn.Unbound(heads); !reflect.DeepEqual(got, []string{"[4].Weight", "[4].Bias"}) {
		t.Errorf("unbound %q", got)
	}
}
