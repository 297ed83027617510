// Package vulkan is the ml.Backend on Vulkan compute (package vk) running the kernels of
// package shaders. Execute records every node of a batch into one command buffer and submits
// it once; vk inserts the barriers between dependent dispatches.
//
// Storage: F32 and I32 are 4-byte words, F16 tensors are packed halves (two per word) and U8
// tensors packed bytes (four per word) on every device: kernels read sub-word elements by
// shifting and kernels writing them own whole words, so no 16-bit storage feature is needed.
package vulkan

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/hitsr/hitsr/ml"
	"github.com/hitsr/hitsr/shaders"
	"github.com/hitsr/hitsr/vk"
	"github.com/x448/float16"
)

// Backend runs ml graphs on one Vulkan device. Use from one goroutine at a time.
type Backend struct {
	dev   *vk.Device
	info  vk.DeviceInfo
	name  string
	lx    uint32 // workgroup width of the elementwise kernels
	sg    uint32 // subgroup width of the CPU-driver GEMM (0: use the generic GEMM)
	dummy *vk.Buffer
	pipes map[pipeKey]*vk.Pipeline

	mu     sync.Mutex
	closed bool
}

type pipeKey struct {
	name string
	spec [maxSpec]uint32 // the workgroup width, then the kernel's constants
}

// maxSpec bounds a kernel's specialisation constants, the workgroup width included.
const maxSpec = 4

// storage is a tensor's device memory.
type storage struct {
	buf   *vk.Buffer
	dtype ml.DType
	n     int
}

// Options tunes a Backend.
type Options struct {
	// Portable uses the kernels written for GPUs even on CPU drivers, which otherwise get
	// subgroup kernels tuned for them (*_cpu); tests use it to cover the GPU path on lavapipe.
	Portable bool
}

// New opens the device named by spec (see vk.SelectDevice: "auto" skips CPU drivers,
// "vulkan:N" forces device N, anything else matches a device name).
func New(spec string) (*Backend, error) { return NewWithOptions(spec, Options{}) }

// NewWithOptions is New with options.
func NewWithOptions(spec string, opt Options) (*Backend, error) {
	info, err := vk.SelectDevice(spec)
	if err != nil {
		return nil, err
	}
	dev, err := vk.Open(info.Index)
	if err != nil {
		return nil, err
	}
	b := &Backend{dev: dev, info: info, pipes: map[pipeKey]*vk.Pipeline{},
		name: fmt.Sprintf("vulkan:%d (%s)", info.Index, info.Name)}
	b.lx = min(64, max(info.MaxWorkgroupInvocations, 1))
	if s := uint32(info.SubgroupSize); info.Type == vk.DeviceCPU && info.Int64 && (s == 4 || s == 8 || s == 16) && !opt.Portable {
		b.sg = s
	} else if opt.Portable {
		b.name += " portable kernels"
	}
	if b.dummy, err = dev.Alloc(16); err != nil {
		dev.Close()
		return nil, err
	}
	return b, nil
}

func (b *Backend) Name() string { return b.name }

// SupportsF16 is true: F16 tensors are stored as packed halves on every device.
func (b *Backend) SupportsF16() bool { return true }

func byteSize(dtype ml.DType, n int) int64 { return int64(n) * int64(dtype.Size()) }

// allocPad extra bytes end every buffer, so that kernels reading whole 16- or 32-byte chunks
// may run past a tensor's last element (they discard what lies beyond).
const allocPad = 32

func (b *Backend) Alloc(dtype ml.DType, n int) (ml.Storage, error) {
	if n <= 0 {
		return nil, fmt.Errorf("vulkan: alloc of %d %s elements", n, dtype)
	}
	buf, err := b.dev.Alloc(byteSize(dtype, n) + allocPad)
	if err != nil {
		return nil, err
	}
	return &storage{buf: buf, dtype: dtype, n: n}, nil
}

func (b *Backend) Free(s ml.Storage) {
	if st, ok := s.(*storage); ok && st != nil && st.buf != nil {
		b.dev.Free(st.buf)
		st.buf = nil
	}
}

func asStorage(s ml.Storage) (*storage, error) {
	st, ok := s.(*storage)
	if !ok || st == nil || st.buf == nil {
		return nil, fmt.Errorf("vulkan: storage %T is not a live vulkan buffer", s)
	}
	return st, nil
}

// Write uploads data ([]float32 for F32/F16, []int32 for I32, []uint8 for U8).
func (b *Backend) Write(s ml.Storage, dtype ml.DType, data any) error {
	st, err := asStorage(s)
	if err != nil {
		return err
	}
	var raw []byte
	n := 0
	switch d := data.(type) {
	case []float32:
		n = len(d)
		switch dtype {
		case ml.F32:
			raw = unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(d))), 4*len(d))
		case ml.F16:
			raw = make([]byte, 2*len(d))
			for i, v := range d {
				binary.LittleEndian.PutUint16(raw[2*i:], uint16(float16.Fromfloat32(v)))
			}
		default:
			return fmt.Errorf("vulkan: write []float32 to a %s tensor", dtype)
		}
	case []int32:
		if dtype != ml.I32 {
			return fmt.Errorf("vulkan: write []int32 to a %s tensor", dtype)
		}
		n, raw = len(d), unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(d))), 4*len(d))
	case []uint8:
		if dtype != ml.U8 {
			return fmt.Errorf("vulkan: write []uint8 to a %s tensor", dtype)
		}
		n, raw = len(d), d
	default:
		return fmt.Errorf("vulkan: cannot write %T", data)
	}
	if n > st.n || dtype != st.dtype {
		return fmt.Errorf("vulkan: write of %d %s values to %d %s elements", n, dtype, st.n, st.dtype)
	}
	if !littleEndian {
		return errors.New("vulkan: big-endian hosts are not supported")
	}
	return b.dev.Upload(st.buf, 0, raw)
}

// Read downloads s into dst, typed as for Write.
func (b *Backend) Read(s ml.Storage, dtype ml.DType, dst any) error {
	st, err := asStorage(s)
	if err != nil {
		return err
	}
	if dtype != st.dtype {
		return fmt.Errorf("vulkan: read %s from a %s tensor", dtype, st.dtype)
	}
	switch d := dst.(type) {
	case []float32:
		if len(d) > st.n {
			break
		}
		switch dtype {
		case ml.F32:
			return b.dev.Download(st.buf, 0, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(d))), 4*len(d)))
		case ml.F16:
			raw := make([]byte, 2*len(d))
			if err := b.dev.Download(st.buf, 0, raw); err != nil {
				return err
			}
			for i := range d {
				d[i] = float16.Frombits(binary.LittleEndian.Uint16(raw[2*i:])).Float32()
			}
			return nil
		}
	case []int32:
		if dtype == ml.I32 && len(d) <= st.n {
			return b.dev.Download(st.buf, 0, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(d))), 4*len(d)))
		}
	case []uint8:
		if dtype == ml.U8 && len(d) <= st.n {
			return b.dev.Download(st.buf, 0, d)
		}
	}
	return fmt.Errorf("vulkan: cannot read %d-element %s tensor into %T", st.n, dtype, dst)
}

var littleEndian = func() bool { x := uint16(1); return *(*byte)(unsafe.Pointer(&x)) == 1 }()

func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	return b.dev.Close()
}

// Execute records all nodes into one command sequence and submits it once.
func (b *Backend) Execute(nodes []*ml.Node) (err error) {
	if b.closed {
		return errors.New("vulkan: backend is closed")
	}
	seq, err := b.dev.Begin()
	if err != nil {
		return err
	}
	r := &rec{b: b, seq: seq}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("vulkan: internal error: %v", p)
			seq.Abort()
		}
		for _, s := range r.scratch {
			b.dev.Free(s)
		}
	}()
	for _, n := range nodes {
		if err := r.node(n); err != nil {
			seq.Abort()
			return fmt.Errorf("%s %v: %w", n.Op, n.Out, err)
		}
	}
	return seq.Submit()
}

// pipeline returns the cached pipeline of a kernel with nbuf bindings, pushSize bytes of push
// constants and the specialisation spec (the workgroup width first).
func (b *Backend) pipeline(name string, nbuf, pushSize int, spec []uint32) (*vk.Pipeline, error) {
	if len(spec) > maxSpec {
		return nil, fmt.Errorf("%s: %d specialisation constants, at most %d", name, len(spec), maxSpec)
	}
	k := pipeKey{name: name}
	copy(k.spec[:], spec)
	if p := b.pipes[k]; p != nil {
		return p, nil
	}
	code, err := shaders.SPIRV(name)
	if err != nil {
		return nil, err
	}
	p, err := b.dev.Pipeline(name, code, nbuf, pushSize, spec)
	if err != nil {
		return nil, err
	}
	b.pipes[k] = p
	return p, nil
}

// rec records one Execute's dispatches.
type rec struct {
	b       *Backend
	seq     *vk.Seq
	scratch []*vk.Buffer
}

// arg is one binding of a dispatch.
type arg struct {
	buf   *vk.Buffer
	write bool
}

func in(t *ml.Tensor) (arg, error) {
	if t == nil {
		return arg{}, nil
	}
	st, err := asStorage(t.Storage())
	if err != nil {
		return arg{}, err
	}
	return arg{buf: st.buf}, nil
}

func out(t *ml.Tensor) (arg, error) {
	a, err := in(t)
	a.write = true
	return a, err
}

// alloc returns a scratch buffer freed after the submit.
func (r *rec) alloc(bytes int64) (*vk.Buffer, error) {
	buf, err := r.b.dev.Alloc(max(bytes, 4) + allocPad)
	if err != nil {
		return nil, err
	}
	r.scratch = append(r.scratch, buf)
	return buf, nil
}

// dispatch records kernel k with its specialisation, bindings, push constants and a
// workgroup grid.
func dispatch[P, S any](r *rec, k kernel[P, S], spec S, args []arg, push P, groups [3]uint32) error {
	lx := r.b.lx
	if k.variant == cpuDriver {
		if r.b.sg == 0 {
			return fmt.Errorf("%s: a CPU-driver kernel on a device without its subgroups", k.name)
		}
		lx = r.b.sg // one workgroup is one subgroup
	}
	pc := bytesOf(&push)
	p, err := r.b.pipeline(k.name, len(args), len(pc), append([]uint32{lx}, specWords(&spec)...))
	if err != nil {
		return err
	}
	bufs := make([]*vk.Buffer, len(args))
	writes := make([]bool, len(args))
	for i, a := range args {
		bufs[i], writes[i] = a.buf, a.write
		if a.buf == nil {
			bufs[i] = r.b.dummy
		}
	}
	return r.seq.Dispatch(p, bufs, writes, pc, groups)
}

// grid1 is a grid of n invocations of width lx, folded into y beyond the x limit.
func (r *rec) grid1(n int, z int) ([3]uint32, error) {
	lim := r.b.info.MaxWorkgroupCount
	wg := (int64(n) + int64(r.b.lx) - 1) / int64(r.b.lx)
	if wg == 0 {
		return [3]uint32{}, nil
	}
	x := min(wg, int64(lim[0]))
	y := (wg + x - 1) / x
	if y > int64(lim[1]) || int64(z) > int64(lim[2]) {
		return [3]uint32{}, fmt.Errorf("grid of %d×%d workgroups exceeds the device limits %v", wg, z, lim)
	}
	return [3]uint32{uint32(x), uint32(y), uint32(z)}, nil
}

// run1 dispatches n invocations of k in one dimension.
func run1[P, S any](r *rec, k kernel[P, S], spec S, args []arg, push P, n int) error {
	g, err := r.grid1(n, 1)
	if err != nil {
		return err
	}
	return dispatch(r, k, spec, args, push, g)
}
