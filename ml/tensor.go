// Package ml is hitsr's compute core: tensors, an op graph recorded into a Context, and the
// Backend interface that CPU and Vulkan implement. Models are written once against Context;
// a Context records ops and Compute runs everything recorded so far in one batch (one Vulkan
// submit), like ggml graphs or ollama's ml.Context.
package ml

import (
	"fmt"
	"strings"
	"weak"
)

// DType is a tensor element type.
type DType uint8

const (
	F32 DType = iota // float32
	F16              // IEEE half; storage only, arithmetic is float32
	I32              // int32 (token ids, indices, attention limits)
	U8               // bytes (video frame planes)
)

// Size is the element size in bytes.
func (d DType) Size() int {
	switch d {
	case F16:
		return 2
	case U8:
		return 1
	}
	return 4
}

func (d DType) String() string {
	return [...]string{"f32", "f16", "i32", "u8"}[d]
}

// MaxRank is the largest tensor rank the ops accept.
const MaxRank = 4

// Storage is a backend's handle to a tensor's memory.
type Storage interface{}

// Tensor is a contiguous row-major array. A tensor is either persistent (weights, created with
// NewTensor and released with Free) or belongs to a Context (inputs and op results). Op results
// hold data only after the Context's Compute; a context tensor's memory is reused once the
// caller holds no handle to it and no recorded op reads it, else released when the Context
// is closed.
//
// Context tensors handed to the caller are views of an owner the Context keeps (base), and
// recorded ops reference owners through views of their own, so whether the caller still holds
// a handle is a question of reachability (see Context.Compute).
type Tensor struct {
	shape []int
	dtype DType
	ctx   *Context // nil for persistent tensors
	base  *Tensor  // set for views; they share the base's storage
	store Storage
	node  *Node // owner: the op producing this tensor, nil for inputs

	// Owners of context storage only:
	capacity int                    // elements the store holds (≥ Len: reused memory may be larger)
	handles  []weak.Pointer[Tensor] // the views given to the caller
}

// Shape returns the dimensions (a copy).
func (t *Tensor) Shape() []int { return append([]int(nil), t.shape...) }

// Dim returns dimension i; negative i counts from the end. The shapeless result of an op in a
// failed context has every dimension 1, so that code sizing later ops from it runs on to the
// context's error (Err, Compute) instead of panicking.
func (t *Tensor) Dim(i int) int {
	if t.shape == nil && t.ctx != nil && t.ctx.err != nil {
		return 1
	}
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Rank is the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// DType is the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Len is the number of elements.
func (t *Tensor) Len() int { return numel(t.shape) }

// Bytes is the storage size in bytes.
func (t *Tensor) Bytes() int { return t.Len() * t.dtype.Size() }

// Storage is the backend memory holding this tensor (nil before allocation).
func (t *Tensor) Storage() Storage {
	if t.base != nil {
		return t.base.Storage()
	}
	return t.store
}

func (t *Tensor) String() string { return fmt.Sprintf("%s%v", t.dtype, t.shape) }

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func shapeStr(ts ...*Tensor) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		if t == nil {
			parts[i] = "nil"
		} else {
			parts[i] = t.String()
		}
	}
	return strings.Join(parts, ", ")
}

// checkShape validates dimensions for a new tensor.
func checkShape(shape []int) error {
	if len(shape) == 0 || len(shape) > MaxRank {
		return fmt.Errorf("rank %d not in 1..%d", len(shape), MaxRank)
	}
	n := 1
	for _, d := range shape {
		if d <= 0 {
			return fmt.Errorf("shape %v has a non-positive dimension", shape)
		}
		if n > (1<<31-1)/d {
			return fmt.Errorf("shape %v exceeds 2^31 elements", shape)
		}
		n *= d
	}
	return nil
}

// NewTensor allocates a persistent tensor on b and uploads data, which is []float32 for F32 and
// F16 (converted with round-to-nearest-even), []int32 for I32 or []uint8 for U8. Free releases it.
func NewTensor(b Backend, dtype DType, shape []int, data any) (*Tensor, error) {
	if err := checkShape(shape); err != nil {
		return nil, fmt.Errorf("new tensor: %w", err)
	}
	t := &Tensor{shape: append([]int(nil), shape...), dtype: dtype}
	if err := checkData(t, data); err != nil {
		return nil, fmt.Errorf("new tensor: %w", err)
	}
	s, err := b.Alloc(dtype, t.Len())
	if err != nil {
		return nil, err
	}
	t.store = s
	if err := b.Write(s, dtype, data); err != nil {
		b.Free(s)
		return nil, err
	}
	return t, nil
}

// Free releases a persistent tensor's memory.
func Free(b Backend, t *Tensor) {
	if t != nil && t.ctx == nil && t.base == nil && t.store != nil {
		b.Free(t.store)
		t.store = nil
	}
}

func checkData(t *Tensor, data any) error {
	n := -1
	ok := false
	switch d := data.(type) {
	case []float32:
		n, ok = len(d), t.dtype == F32 || t.dtype == F16
	case []int32:
		n, ok = len(d), t.dtype == I32
	case []uint8:
		n, ok = len(d), t.dtype == U8
	}
	if !ok {
		return fmt.Errorf("%T data for a %s tensor", data, t.dtype)
	}
	if n != t.Len() {
		return fmt.Errorf("%d values for shape %v (%d elements)", n, t.shape, t.Len())
	}
	return nil
}
