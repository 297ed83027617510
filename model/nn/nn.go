// Package nn declares a network's weights as typed layers bound to named tensors. One function
// per layer struct declares each of its tensors by name and shape; run on a collecting Decl
// (Shapes) it lists what a weights file must hold, run on a binding one (Bind) it fills the
// struct with uploaded tensors. Every tensor field left nil by a declaration fails Bind.
package nn

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/hitsr/hitsr/ml"
)

// Conv2D is a convolution with bias: Weight [out, in, k, k], Bias [out].
type Conv2D struct{ Weight, Bias *ml.Tensor }

// Forward convolves x [N, in, H, W] with "same" zero padding at the given stride.
func (l Conv2D) Forward(c *ml.Context, x *ml.Tensor, stride int) *ml.Tensor {
	return c.Conv2D(x, l.Weight, l.Bias, stride, l.Weight.Dim(2)/2)
}

// Linear is x·Weightᵀ + Bias: Weight [out, in], Bias [out].
type Linear struct{ Weight, Bias *ml.Tensor }

// Forward applies the layer to the last dimension of x.
func (l Linear) Forward(c *ml.Context, x *ml.Tensor) *ml.Tensor { return c.Linear(x, l.Weight, l.Bias) }

// LayerNorm normalises the last dimension: Weight, Bias [n].
type LayerNorm struct{ Weight, Bias *ml.Tensor }

// Forward normalises x with epsilon eps.
func (l LayerNorm) Forward(c *ml.Context, x *ml.Tensor, eps float64) *ml.Tensor {
	return c.LayerNorm(x, l.Weight, l.Bias, float32(eps))
}

// Decl declares tensors by name and shape while layers are built. A name declared twice is a
// mistake in the declarations, not in a file, and panics.
type Decl struct {
	prefix string
	s      *declared
}

type declared struct {
	shapes map[string][]int
	have   map[string]*ml.Tensor // nil: collecting
	err    error                 // the first problem
}

func (s *declared) fail(format string, a ...any) {
	if s.err == nil {
		s.err = fmt.Errorf(format, a...)
	}
}

// Sub is d with names under prefix (a format, as fmt.Sprintf) and a dot.
func (d *Decl) Sub(format string, a ...any) *Decl {
	return &Decl{prefix: d.prefix + fmt.Sprintf(format, a...) + ".", s: d.s}
}

// Tensor declares tensor name with its shape and returns the uploaded tensor (nil when collecting).
func (d *Decl) Tensor(name string, shape ...int) *ml.Tensor {
	name = d.prefix + name
	s := d.s
	if _, dup := s.shapes[name]; dup {
		panic("nn: weight " + name + " declared twice")
	}
	s.shapes[name] = shape
	if s.have == nil {
		return nil
	}
	t := s.have[name]
	switch {
	case t == nil:
		s.fail("weight %s is missing (declared shape %v)", name, shape)
	case !slices.Equal(t.Shape(), shape):
		s.fail("weight %s has shape %v, declared %v", name, t.Shape(), shape)
	}
	return t
}

// Conv2D declares convolution name (name.weight, name.bias) from in to out channels, k×k.
func (d *Decl) Conv2D(name string, out, in, k int) Conv2D {
	return Conv2D{d.Tensor(name+".weight", out, in, k, k), d.Tensor(name+".bias", out)}
}

// Linear declares linear layer name from in to out features.
func (d *Decl) Linear(name string, out, in int) Linear {
	return Linear{d.Tensor(name+".weight", out, in), d.Tensor(name+".bias", out)}
}

// LayerNorm declares layer norm name over n features.
func (d *Decl) LayerNorm(name string, n int) LayerNorm {
	return LayerNorm{d.Tensor(name+".weight", n), d.Tensor(name+".bias", n)}
}

// Shapes runs declare on a collecting Decl: every tensor it declares, name → shape.
func Shapes(declare func(d *Decl)) map[string][]int {
	d := &Decl{s: &declared{shapes: map[string][]int{}}}
	declare(d)
	return d.s.shapes
}

// Bind runs declare on a Decl that binds the tensors of ts by name, and returns the layers it
// builds. The error names a tensor missing from ts or of another shape than declared, or a
// tensor field of the layers that no declaration bound.
func Bind[L any](ts map[string]*ml.Tensor, declare func(d *Decl) L) (L, error) {
	d := &Decl{s: &declared{shapes: map[string][]int{}, have: ts}}
	if ts == nil {
		d.s.have = map[string]*ml.Tensor{}
	}
	l := declare(d)
	if d.s.err != nil {
		return l, d.s.err
	}
	if u := Unbound(l); len(u) > 0 {
		return l, fmt.Errorf("%s declared but never bound", strings.Join(u, ", "))
	}
	return l, nil
}

var tensorType = reflect.TypeFor[*ml.Tensor]()

// Unbound lists the nil tensor fields of layers (a layer struct, a pointer to one, or a slice or
// map of them), as paths from its type's name. A nil pointer to a struct is a part the model
// does not have and is skipped.
func Unbound(layers any) []string {
	var nils []string
	v := reflect.ValueOf(layers)
	var walk func(v reflect.Value, path string)
	walk = func(v reflect.Value, path string) {
		switch {
		case v.Type() == tensorType:
			if v.IsNil() {
				nils = append(nils, path)
			}
		case v.Kind() == reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem(), path)
			}
		case v.Kind() == reflect.Struct:
			for i := range v.NumField() {
				walk(v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		case v.Kind() == reflect.Slice || v.Kind() == reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i))
			}
		case v.Kind() == reflect.Map:
			keys := v.MapKeys()
			slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
			for _, k := range keys {
				walk(v.MapIndex(k), fmt.Sprintf("%s[%v]", path, k))
			}
		}
	}
	if v.IsValid() {
		t := v.Type()
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		walk(v, t.Name())
	}
	return nils
}
