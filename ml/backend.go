package ml

// Backend runs recorded ops on one device. Every backend is tested against the float64
// reference of package ml/opstest (Ref), written from the op contracts on Context.
type Backend interface {
	// Name identifies the backend and device, e.g. "cpu" or "vulkan:0 (llvmpipe)".
	Name() string
	// SupportsF16 reports native fp16 storage. Backends without it still accept F16 tensors.
	SupportsF16() bool
	// Alloc returns storage for n elements of dtype. Contents are undefined.
	Alloc(dtype DType, n int) (Storage, error)
	Free(s Storage)
	// Write uploads data ([]float32 for F32/F16, []int32 for I32, []uint8 for U8) to s.
	Write(s Storage, dtype DType, data any) error
	// Read downloads s into dst, a slice typed as for Write.
	Read(s Storage, dtype DType, dst any) error
	// Execute runs nodes in order. Every node's output and inputs already have storage.
	Execute(nodes []*Node) error
	Close() error
}

// Op identifies an operation. The constructors on Context document each one's semantics.
type Op uint8

const (
	OpMatMul Op = iota
	OpConv2D
	OpGroupNorm
	OpLayerNorm
	OpUnary
	OpSoftmax
	OpAttention
	OpAdd
	OpSub
	OpMul
	OpScale
	OpUpsample
	OpAreaDown
	OpNearestCode
	OpGather
	OpArgmax
	OpPixelShuffle
	OpConcat
	OpSlice
	OpSetSlice
	OpPermute
	OpCast
	OpYUVToRGB
	OpRGBToYUV
	OpSampleTopK
	NumOps // the number of ops; a new op goes above it, its name in opNames
)

// opNames are the ops' names in Op order. The assertion below makes a missing or extra name
// fail to compile; ml/opstest checks that every op has a case on every backend.
var opNames = [...]string{"matmul", "conv2d", "group_norm", "layer_norm", "unary", "softmax",
	"attention", "add", "sub", "mul", "scale", "upsample", "area_down", "nearest_code", "gather",
	"argmax", "pixel_shuffle", "concat", "slice", "set_slice", "permute", "cast", "yuv420p_to_rgb",
	"rgb_to_yuv420p", "sample_topk"}

var _ [NumOps]string = opNames

func (o Op) String() string { return opNames[o] }

// Unary selects an elementwise activation.
type Unary uint8

const (
	GELU     Unary = iota // x·Φ(x) with the exact erf form (PyTorch nn.GELU default)
	SiLU                  // x·σ(x)
	ReLU                  // max(x, 0)
	NumUnary              // the number of activations
)

// Interp is an upsampling filter. All follow PyTorch F.interpolate with align_corners=False.
type Interp uint8

const (
	Nearest  Interp = iota // src = floor(float32(dst)·float32(in/out)), as PyTorch
	Bilinear               // half-pixel centres, edge clamped
	Bicubic                // Keys a = −0.75, half-pixel centres, edge clamped taps
)

// Matrix is a YCbCr colour matrix.
type Matrix uint8

const (
	BT601 Matrix = iota
	BT709
)

// ColorSpec describes a YUV frame: matrix and range (limited: Y 16–235, C 16–240; full: 0–255).
type ColorSpec struct {
	Matrix    Matrix
	FullRange bool
}

// Params holds every op's scalar parameters; each op reads only its own fields.
type Params struct {
	TransA, TransB bool         // matmul
	Stride, Pad    int          // conv2d
	Groups         int          // group_norm
	Eps            float32      // group_norm, layer_norm
	Scale          float32      // scale, attention (logit scale)
	Unary          Unary        // unary
	Mode           Interp       // upsample
	Dim, Start     int          // concat, slice, set_slice: axis and start index
	Perm           [MaxRank]int // permute: output axis i is input axis Perm[i]
	KVLen          int          // attention: number of key/value positions in use
	R              int          // pixel_shuffle factor
	Color          ColorSpec    // yuv conversions
	W, H           int          // yuv420p_to_rgb frame size
	TopK           int          // sample_topk: candidates kept
	Temperature    float32      // sample_topk: divides the logits
}

// Node is one recorded op: Out = Op(In...; P). Optional inputs are nil.
type Node struct {
	Op  Op
	Out *Tensor
	In  []*Tensor
	P   Params
}
