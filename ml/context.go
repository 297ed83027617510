package ml

import (
	"errors"
	"fmt"
)

// Context records ops for one batch of work and owns their results. Ops validate shapes when
// recorded; the first invalid op makes the Context fail: later ops return inert tensors and
// Err, Compute and the readers return that first error, naming the op and the shapes.
// A Context is not safe for concurrent use.
type Context struct {
	b       Backend
	err     error
	pending []*Node
	owned   []Storage
	flops   float64
}

// Flops is the arithmetic (multiply-add = 2) of the matmuls, convolutions and attention
// recorded so far: the work behind achieved-GFLOP/s figures.
func (c *Context) Flops() float64 { return c.flops }

// nodeFlops counts a node's multiply-adds ×2 (other ops are memory-bound and not counted).
func nodeFlops(n *Node) float64 {
	out := float64(n.Out.Len())
	switch n.Op {
	case OpMatMul:
		a := n.In[0]
		k := a.Dim(-1)
		if n.P.TransA {
			k = a.Dim(-2)
		}
		return 2 * out * float64(k)
	case OpConv2D:
		w := n.In[1]
		return 2 * out * float64(w.Dim(1)*w.Dim(2)*w.Dim(3))
	case OpAttention:
		return 4 * out * float64(n.P.KVLen) // q·kᵀ and p·v
	}
	return 0
}

// NewContext starts an empty context on b.
func NewContext(b Backend) *Context { return &Context{b: b} }

// Backend is the backend this context runs on.
func (c *Context) Backend() Backend { return c.b }

// Err is the first error recorded, if any.
func (c *Context) Err() error { return c.err }

// Pending is the number of ops recorded since the last Compute.
func (c *Context) Pending() int { return len(c.pending) }

func (c *Context) fail(op string, format string, args ...any) *Tensor {
	if c.err == nil {
		c.err = fmt.Errorf("%s: %s", op, fmt.Sprintf(format, args...))
	}
	return &Tensor{ctx: c}
}

// ok reports whether the inputs are usable; it fails the context for a missing (nil), foreign or
// released tensor.
func (c *Context) ok(op string, ts ...*Tensor) bool {
	for _, t := range ts {
		if t == nil && c.err == nil {
			c.fail(op, "nil input tensor (inputs %s)", shapeStr(ts...))
		}
	}
	return c.opt(op, ts...)
}

// opt is ok for optional inputs, which may be nil.
func (c *Context) opt(op string, ts ...*Tensor) bool {
	if c.err != nil {
		return false
	}
	for _, t := range ts {
		switch {
		case t == nil:
		case t.ctx != nil && t.ctx != c:
			c.fail(op, "tensor %v belongs to another context", t)
		case t.shape == nil:
			c.fail(op, "input tensor is invalid")
		case t.ctx == nil && t.Storage() == nil:
			c.fail(op, "tensor %v was freed", t)
		}
	}
	return c.err == nil
}

// record adds a node producing a new tensor of the given dtype and shape.
func (c *Context) record(op Op, p Params, dtype DType, shape []int, in ...*Tensor) *Tensor {
	if err := checkShape(shape); err != nil {
		return c.fail(op.String(), "result %v: %v (inputs %s)", shape, err, shapeStr(in...))
	}
	out := &Tensor{shape: shape, dtype: dtype, ctx: c}
	n := &Node{Op: op, Out: out, In: in, P: p}
	out.node = n
	c.pending = append(c.pending, n)
	c.flops += nodeFlops(n)
	return out
}

// Input allocates a context tensor and uploads data to it now (see NewTensor for data types).
func (c *Context) Input(dtype DType, shape []int, data any) *Tensor {
	if c.err != nil {
		return &Tensor{ctx: c}
	}
	t, err := NewTensor(c.b, dtype, shape, data)
	if err != nil {
		return c.fail("input", "%v", err)
	}
	t.ctx = c
	c.owned = append(c.owned, t.store)
	return t
}

// Reshape views t with a new shape of the same size; one dimension may be -1 (inferred).
func (c *Context) Reshape(t *Tensor, shape ...int) *Tensor {
	if !c.ok("reshape", t) {
		return &Tensor{ctx: c}
	}
	s := append([]int(nil), shape...)
	infer, known := -1, 1
	for i, d := range s {
		if d == -1 && infer < 0 {
			infer = i
		} else {
			known *= d
		}
	}
	if infer >= 0 && known > 0 && t.Len()%known == 0 {
		s[infer] = t.Len() / known
	}
	if checkShape(s) != nil || numel(s) != t.Len() {
		return c.fail("reshape", "cannot view %v as %v", t, shape)
	}
	base := t
	if t.base != nil {
		base = t.base
	}
	return &Tensor{shape: s, dtype: t.dtype, ctx: c, base: base}
}

// Compute runs every op recorded since the last Compute, as one batch on the backend.
func (c *Context) Compute() error {
	if c.err != nil {
		return c.err
	}
	if len(c.pending) == 0 {
		return nil
	}
	nodes := c.pending
	c.pending = nil
	for _, n := range nodes {
		if n.Out.store != nil || n.Out.base != nil {
			continue // set_slice writes into its destination
		}
		s, err := c.b.Alloc(n.Out.dtype, n.Out.Len())
		if err != nil {
			c.err = fmt.Errorf("%s: allocating %v: %w", n.Op, n.Out, err)
			return c.err
		}
		n.Out.store = s
		c.owned = append(c.owned, s)
	}
	if err := c.b.Execute(nodes); err != nil {
		c.err = err
	}
	return c.err
}

// Read computes pending ops if needed and downloads t into dst ([]float32 for F32/F16,
// []int32 for I32, []uint8 for U8) of exactly t.Len() elements.
func (c *Context) Read(t *Tensor, dst any) error {
	if !c.opt("read", t) {
		return c.err
	}
	if t == nil {
		return errors.New("read: nil tensor")
	}
	if err := c.Compute(); err != nil {
		return err
	}
	if err := checkData(t, dst); err != nil {
		return fmt.Errorf("read %v: %w", t, err)
	}
	return c.b.Read(t.Storage(), t.dtype, dst)
}

// Floats returns the values of an F32 or F16 tensor.
func (c *Context) Floats(t *Tensor) ([]float32, error) {
	if t == nil || t.shape == nil {
		return nil, c.Read(t, nil)
	}
	out := make([]float32, t.Len())
	return out, c.Read(t, out)
}

// Int32s returns the values of an I32 tensor.
func (c *Context) Int32s(t *Tensor) ([]int32, error) {
	if t == nil || t.shape == nil {
		return nil, c.Read(t, nil)
	}
	out := make([]int32, t.Len())
	return out, c.Read(t, out)
}

// Uint8s returns the values of a U8 tensor.
func (c *Context) Uint8s(t *Tensor) ([]uint8, error) {
	if t == nil || t.shape == nil {
		return nil, c.Read(t, nil)
	}
	out := make([]uint8, t.Len())
	return out, c.Read(t, out)
}

// Close releases every tensor the context owns. The context can not be used afterwards.
func (c *Context) Close() {
	for _, s := range c.owned {
		c.b.Free(s)
	}
	c.owned, c.pending = nil, nil
	if c.err == nil {
		c.err = errors.New("context is closed")
	}
}
