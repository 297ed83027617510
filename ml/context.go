package ml

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"weak"
)

// Context records ops for one batch of work and owns their results. Ops validate shapes when
// recorded; the first invalid op makes the Context fail: later ops return inert tensors and
// Err, Compute and the readers return that first error, naming the op and the shapes.
// A Context is not safe for concurrent use.
type Context struct {
	b       Backend
	err     error
	pending []*Node
	owned   []*Tensor // owners of context memory (see Tensor)
	spare   []spare   // memory of dead tensors, reused by later results
	flops   float64
}

// spare is backend memory for n elements of dtype that no tensor uses.
type spare struct {
	s     Storage
	dtype DType
	n     int
}

// RecycleBytes: a Compute whose results need at least this much memory reuses the memory of
// tensors that are dead (no handle left to the caller, no later op of the batch touching
// them), so its peak is set by the widest layers rather than the whole graph. Knowing what the
// caller still holds takes a garbage collection (handles are weak in the Context), hence the
// threshold; tests set 0 to reuse always.
var RecycleBytes int64 = 16 << 20

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
	own := &Tensor{shape: shape, dtype: dtype, ctx: c}
	n := &Node{Op: op, Out: own, In: c.views(in), P: p}
	own.node = n
	c.pending = append(c.pending, n)
	c.flops += nodeFlops(n)
	return c.handle(own, shape)
}

// owner is the tensor holding t's storage.
func (t *Tensor) owner() *Tensor {
	if t.base != nil {
		return t.base
	}
	return t
}

// handle returns a view of own with the given shape for the caller, registered weakly on a
// context owner so that Compute can tell whether the caller still holds it.
func (c *Context) handle(own *Tensor, shape []int) *Tensor {
	h := &Tensor{shape: shape, dtype: own.dtype, ctx: c, base: own}
	if own.ctx == c {
		own.handles = append(own.handles, weak.Make(h))
	}
	return h
}

// views gives a recorded op its own views of its context inputs, so that the graph does not
// keep the caller's handles reachable.
func (c *Context) views(in []*Tensor) []*Tensor {
	out := make([]*Tensor, len(in))
	for i, t := range in {
		out[i] = t
		if t != nil && t.ctx == c {
			out[i] = &Tensor{shape: t.shape, dtype: t.dtype, ctx: c, base: t.owner()}
		}
	}
	return out
}

// held reports whether the caller still holds a handle to the owner o (valid after a GC).
func held(o *Tensor) bool {
	for _, h := range o.handles {
		if h.Value() != nil {
			return true
		}
	}
	return false
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
	t.ctx, t.capacity = c, t.Len()
	c.owned = append(c.owned, t)
	return c.handle(t, t.shape)
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
	return c.handle(t.owner(), s)
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
	retired, err := c.plan(nodes)
	if err == nil {
		err = c.b.Execute(nodes)
	}
	for _, o := range retired {
		o.store, o.capacity = nil, 0
	}
	if err != nil {
		c.err = err
	}
	return c.err
}

// plan gives every result of the batch storage before it runs. Above RecycleBytes, memory
// moves on from dead tensors: an owner the caller holds no handle to is retired after the last
// node of the batch that reads or writes it (at once if none does), and its storage serves a
// later result of the same batch (the backends run nodes in order; Vulkan orders the reuse
// with barriers). It returns the retired owners, whose storage field is cleared once the batch
// has run.
func (c *Context) plan(nodes []*Node) (retired []*Tensor, err error) {
	var need int64
	for _, n := range nodes {
		if n.Out.store == nil && n.Out.base == nil {
			need += int64(n.Out.Bytes())
		}
	}
	var ends map[int][]*Tensor // node index → owners to retire after it
	if need >= RecycleBytes {
		runtime.GC() // clears the weak handles the caller has dropped
		last := map[*Tensor]int{}
		for i, n := range nodes {
			if o := n.Out.owner(); o.ctx == c {
				last[o] = i
			}
			for _, t := range n.In {
				if t != nil && t.owner().ctx == c {
					last[t.owner()] = i
				}
			}
		}
		ends = map[int][]*Tensor{}
		live := c.owned[:0]
		for _, o := range c.owned {
			i, used := last[o]
			switch {
			case held(o):
				live = append(live, o)
			case !used:
				c.retire(o)
				o.store, o.capacity = nil, 0
			default:
				live = append(live, o)
				ends[i] = append(ends[i], o)
			}
		}
		c.owned = live
		for _, n := range nodes {
			if o := n.Out; o.store == nil && o.base == nil && !held(o) { // produced by this batch
				ends[last[o]] = append(ends[last[o]], o)
			}
		}
	}
	for i, n := range nodes {
		if o := n.Out; o.store == nil && o.base == nil {
			if o.store, o.capacity, err = c.storage(o.dtype, o.Len()); err != nil {
				return retired, fmt.Errorf("%s: allocating %v: %w", n.Op, o, err)
			}
			c.owned = append(c.owned, o)
		}
		for _, o := range ends[i] {
			c.retire(o)
			retired = append(retired, o)
		}
	}
	if len(retired) > 0 {
		gone := map[*Tensor]bool{}
		for _, o := range retired {
			gone[o] = true
		}
		c.owned = slices.DeleteFunc(c.owned, func(o *Tensor) bool { return gone[o] })
	}
	return retired, nil
}

// retire makes o's storage spare (o keeps it until its batch has run).
func (c *Context) retire(o *Tensor) {
	c.spare = append(c.spare, spare{o.store, o.dtype, o.capacity})
}

// storage returns spare memory for n elements of dtype (the smallest that fits, at most twice
// the size) or allocates it, with its capacity.
func (c *Context) storage(dtype DType, n int) (Storage, int, error) {
	best := -1
	for i, sp := range c.spare {
		if sp.dtype == dtype && sp.n >= n && sp.n <= 2*n && (best < 0 || sp.n < c.spare[best].n) {
			best = i
		}
	}
	if best >= 0 {
		sp := c.spare[best]
		c.spare = slices.Delete(c.spare, best, best+1)
		return sp.s, sp.n, nil
	}
	s, err := c.b.Alloc(dtype, n)
	return s, n, err
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
	if t.Storage() == nil {
		return fmt.Errorf("read %v: its memory was released", t)
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
	for _, o := range c.owned {
		if o.store != nil {
			c.b.Free(o.store)
			o.store, o.capacity = nil, 0
		}
	}
	for _, sp := range c.spare {
		c.b.Free(sp.s)
	}
	c.owned, c.spare, c.pending = nil, nil, nil
	if c.err == nil {
		c.err = errors.New("context is closed")
	}
}
