package opstest

import (
	"fmt"
	"math"

	"github.com/hitsr/hitsr/ml"
)

// RefBackend is an ml.Backend that runs every node through Ref in float64, so a whole graph
// recorded on an ml.Context (chains, set_slice across Computes, views) has a reference result.
// F16 tensors hold f16-rounded values. Fresh storage is NaN, so a value the reference forgets
// to write shows up.
type RefBackend struct {
	producer map[*refBuf]*ml.Node // the last node that wrote each buffer
}

type refBuf struct {
	dtype ml.DType
	v     []float64
}

// NewRefBackend returns an empty reference backend.
func NewRefBackend() *RefBackend { return &RefBackend{producer: map[*refBuf]*ml.Node{}} }

func (*RefBackend) Name() string      { return "reference (float64)" }
func (*RefBackend) SupportsF16() bool { return true }
func (*RefBackend) Free(ml.Storage)   {}
func (*RefBackend) Close() error      { return nil }

func (*RefBackend) Alloc(dtype ml.DType, n int) (ml.Storage, error) {
	b := &refBuf{dtype: dtype, v: make([]float64, n)}
	for i := range b.v {
		b.v[i] = math.NaN()
	}
	return b, nil
}

func (*RefBackend) Write(s ml.Storage, dtype ml.DType, data any) error {
	b := s.(*refBuf)
	switch d := data.(type) {
	case []float32:
		for i, x := range d {
			b.v[i] = float64(x)
			if dtype == ml.F16 {
				b.v[i] = RoundF16(b.v[i])
			}
		}
	case []int32:
		for i, x := range d {
			b.v[i] = float64(x)
		}
	case []uint8:
		for i, x := range d {
			b.v[i] = float64(x)
		}
	default:
		return fmt.Errorf("reference: cannot write %T", data)
	}
	return nil
}

func (*RefBackend) Read(s ml.Storage, _ ml.DType, dst any) error {
	v := s.(*refBuf).v
	switch d := dst.(type) {
	case []float32:
		for i := range d {
			d[i] = float32(v[i])
		}
	case []int32:
		for i := range d {
			d[i] = int32(v[i])
		}
	case []uint8:
		for i := range d {
			d[i] = uint8(v[i])
		}
	default:
		return fmt.Errorf("reference: cannot read into %T", dst)
	}
	return nil
}

// Execute checks each node's result shape against outShape and evaluates it with Ref.
func (r *RefBackend) Execute(nodes []*ml.Node) error {
	for _, n := range nodes {
		if err := checkShape(n); err != nil {
			return fmt.Errorf("reference: %w", err)
		}
		in := make([][]float64, len(n.In))
		for i, t := range n.In {
			if t != nil {
				in[i] = r.Values(t)
			}
		}
		out := n.Out.Storage().(*refBuf)
		Ref(n, out.v, in)
		r.producer[out] = n
	}
	return nil
}

// Values returns the float64 contents of a tensor held by this backend (not a copy).
func (r *RefBackend) Values(t *ml.Tensor) []float64 { return t.Storage().(*refBuf).v }

// Producer returns the node that last wrote t's storage, or nil for an input.
func (r *RefBackend) Producer(t *ml.Tensor) *ml.Node { return r.producer[t.Storage().(*refBuf)] }
