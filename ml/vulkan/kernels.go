package vulkan

import (
	"fmt"
	"math"
	"reflect"
	"unsafe"
)

// kernel is one compute shader of package shaders. P is its push-constant block and S its
// specialisation constants after the workgroup width, each field named and placed as in the
// GLSL: uint → uint32, float → float32, uvec4 → [4]uint32; S holds uint32 fields in
// constant_id order from 1. TestKernelLayouts checks both against the SPIR-V and the source.
type kernel[P, S any] struct {
	name    string
	variant variant
}

// variant says which devices a kernel is written for.
type variant uint8

const (
	anyDevice variant = iota // portable: GPUs and CPU drivers alike
	cpuDriver                // CPU Vulkan drivers (lavapipe): one workgroup is one subgroup; needs Backend.sg > 0
)

// kernelLayout is a declared kernel's push-constant and specialisation types.
type kernelLayout struct {
	push, spec reflect.Type
	variant    variant
}

// kernels maps every declared kernel's name to its layout (for TestKernelLayouts).
var kernels = map[string]kernelLayout{}

// declare returns a kernel and records its layout.
func declare[P, S any](name string, v variant) kernel[P, S] {
	if _, dup := kernels[name]; dup {
		panic("vulkan: kernel " + name + " declared twice")
	}
	kernels[name] = kernelLayout{reflect.TypeFor[P](), reflect.TypeFor[S](), v}
	return kernel[P, S]{name, v}
}

// noSpec is the specialisation of kernels with none beyond the workgroup width.
type noSpec struct{}

// f16Spec selects packed-half input (pack_rows, nearest_code, gather).
type f16Spec struct{ F16 uint32 }

// mm.comp and mm_cpu.glsl: C[z] = A[z]·B[z] (+bias) with element strides.
type mmPush struct {
	M, N, K, sAi, sAk, sBk, sBj, ldc, offA, offB, offC, sAb, sBb, sCb uint32
	flags                                                             uint32 // mmBias | mmRowBias
}

const (
	mmBias    = 1 << 0 // add bias
	mmRowBias = 1 << 3 // bias per row of C (else per column)
)

type mmSpec struct{ BF16 uint32 }

// conv3_cpu.comp: direct 3×3 convolution, stride 1, pad 1.
type conv3Push struct{ C, H, W, O, flags uint32 } // flags: conv3Bias

const conv3Bias = 1 << 0

// im2col.comp
type im2colPush struct{ n, C, H, W, KH, KW, stride, pad, OW, K, Kp, ldq, Pc, p0, n0, P uint32 }

// pack_rows.comp
type packRowsPush struct{ n, K, Kp uint32 }

// norm.comp
type normPush struct {
	groups, size, plane, channels uint32
	eps                           float32
	flags                         uint32 // normGamma | normBeta
}

const (
	normGamma = 1 << 0
	normBeta  = 1 << 1
)

// unary.comp
type unaryPush struct {
	n     uint32
	scale float32
}

type unarySpec struct{ OP uint32 }

// unary.comp's OP: the activations in ml.Unary order, then scale.
const (
	unaryGELU uint32 = iota
	unarySiLU
	unaryReLU
	unaryScale
)

// binary.comp
type binaryPush struct {
	shape, as, bs [4]uint32
	n, vec        uint32
}

type binarySpec struct{ OP uint32 }

// binary.comp's OP.
const (
	binaryAdd uint32 = iota
	binarySub
	binaryMul
)

// softmax.comp
type softmaxPush struct {
	rows, cols, valid, tq, hasLimits uint32
	scale                            float32
}

// upsample.comp; MODE is the ml.Interp value.
type upsamplePush struct {
	n, H, W, OH, OW uint32
	sy, sx          float32
}

type upsampleSpec struct{ MODE uint32 }

// area_down.comp
type areaDownPush struct{ n, H, W, OH, OW uint32 }

// nearest_code.comp
type nearestCodePush struct{ m, c, v uint32 }

// gather.comp
type gatherPush struct{ n, c, v uint32 }

// argmax.comp
type argmaxPush struct{ rows, cols uint32 }

// sample_topk.comp; STAGE 0 ranks the elements, 1 draws.
type sampleTopKPush struct {
	rows, cols, k uint32
	temperature   float32
}

type sampleTopKSpec struct{ STAGE uint32 }

// pixel_shuffle.comp
type pixelShufflePush struct{ n, C, OH, OW, r uint32 }

// copy.comp
type copyPush struct {
	shape, dshape, dstart, sstride [4]uint32
	n, wbase, soff                 uint32
}

type copySpec struct{ ES uint32 }

// cast.comp; TOH 1 converts f32 to f16, 0 f16 to f32.
type castPush struct{ n uint32 }

type castSpec struct{ TOH uint32 }

// colorCoef are the colour-conversion coefficients of yuv2rgb.comp and rgb2yuv.comp.
type colorCoef struct{ kr, kb, yOff, yScale, cScale float32 }

type yuv2rgbPush struct {
	w, h uint32
	colorCoef
}

type rgb2yuvPush struct {
	w, h, words uint32
	colorCoef
}

var (
	mmKernel           = declare[mmPush, mmSpec]("mm", anyDevice)
	mmCPUKernels       = declareMMCPU()
	conv3CPUKernel     = declare[conv3Push, noSpec]("conv3_cpu", cpuDriver)
	im2colKernel       = declare[im2colPush, noSpec]("im2col", anyDevice)
	packRowsKernel     = declare[packRowsPush, f16Spec]("pack_rows", anyDevice)
	normKernel         = declare[normPush, noSpec]("norm", anyDevice)
	unaryKernel        = declare[unaryPush, unarySpec]("unary", anyDevice)
	binaryKernel       = declare[binaryPush, binarySpec]("binary", anyDevice)
	softmaxKernel      = declare[softmaxPush, noSpec]("softmax", anyDevice)
	upsampleKernel     = declare[upsamplePush, upsampleSpec]("upsample", anyDevice)
	areaDownKernel     = declare[areaDownPush, noSpec]("area_down", anyDevice)
	nearestCodeKernel  = declare[nearestCodePush, f16Spec]("nearest_code", anyDevice)
	gatherKernel       = declare[gatherPush, f16Spec]("gather", anyDevice)
	argmaxKernel       = declare[argmaxPush, noSpec]("argmax", anyDevice)
	sampleTopKKernel   = declare[sampleTopKPush, sampleTopKSpec]("sample_topk", anyDevice)
	pixelShuffleKernel = declare[pixelShufflePush, noSpec]("pixel_shuffle", anyDevice)
	copyKernel         = declare[copyPush, copySpec]("copy", anyDevice)
	castKernel         = declare[castPush, castSpec]("cast", anyDevice)
	yuv2rgbKernel      = declare[yuv2rgbPush, noSpec]("yuv2rgb", anyDevice)
	rgb2yuvKernel      = declare[rgb2yuvPush, noSpec]("rgb2yuv", anyDevice)
)

// mmCPUVariants are the CPU-driver GEMM's builds (shaders/build.sh), indexed by B's layout
// (0: [K, N], 1: [N, K]), packed-half B (0/1) and B's chunk width (0: 4, 1: 8).
type mmCPUVariants [2][2][2]kernel[mmPush, noSpec]

func declareMMCPU() (v mmCPUVariants) {
	for tb := range 2 {
		for h := range 2 {
			for w, bw := range []int{4, 8} {
				v[tb][h][w] = declare[mmPush, noSpec](fmt.Sprintf("mm_cpu_t%d_h%d_w%d", tb, h, bw), cpuDriver)
			}
		}
	}
	return v
}

// u32 is a push constant from a size or offset; one beyond uint32 is a bug in the caller, and
// the panic fails Execute with an error.
func u32(x int) uint32 {
	if x < 0 || x > math.MaxUint32 {
		panic(fmt.Sprintf("push constant %d out of range", x))
	}
	return uint32(x)
}

// specWords is a spec struct's memory as its uint32 fields.
func specWords[T any](v *T) []uint32 {
	return unsafe.Slice((*uint32)(unsafe.Pointer(v)), unsafe.Sizeof(*v)/4)
}

// bytesOf is a push struct's memory (host order: the backend refuses big-endian hosts).
func bytesOf[T any](v *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(v)), unsafe.Sizeof(*v))
}
