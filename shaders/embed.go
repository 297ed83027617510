// Package shaders holds the SPIR-V compute kernels of the Vulkan backend (ml/vulkan),
// compiled from the GLSL next to this file by build.sh (make shaders; glslc, deterministic).
//
// Conventions: storage buffers at set 0, bindings 0..n-1 in the order listed; push constants
// are 32-bit words (uvec4 members first: std430 aligns them to 16 bytes); specialization
// constant 0 is the workgroup width (local_size_x_id = 0, see common.glsl); large 1-D grids
// fold into y. ml/vulkan/kernels.go declares each kernel's push constants and specialization
// as Go structs, checked against these modules by its tests. F16 tensors are packed halves and U8 tensors packed bytes in uint words:
// kernels read them by shifting, and kernels writing them own whole words.
//
//	kernel          bindings                   spec 1     notes
//	mm              A, B, bias, C              BF16       generic strided GEMM, 4×4 per invocation
//	mm_cpu_tT_hH_wW A, B, bias, C              -          CPU-driver GEMM (TB, f16 B, B chunk width)
//	conv3_cpu       x, w[O][C][12], bias, y    -          CPU-driver direct 3×3 conv, stride 1, pad 1
//	im2col          x, col                     -          for other convolutions (+ GEMM)
//	pack_rows       src, dst                   F16        f32/f16 rows -> zero-padded f32 rows
//	norm            x, gamma, beta, y          -          group / layer norm, one group each
//	unary           x, y                       OP         GELU (erf), SiLU, ReLU, scale
//	binary          a, b, y                    OP         add / sub / mul, rank-4 broadcast
//	softmax         x, y, limits               -          rows; attention masking and scale
//	upsample        x, y                       MODE       nearest / bilinear / bicubic
//	area_down       x, y                       -          adaptive average pooling
//	nearest_code    x, codebook, idx           F16        VQ argmin
//	gather          table, ids, y              F16        embedding rows, zeros out of range
//	argmax          x, idx                     -          last axis, lowest index on ties
//	sample_topk     x, u, idx                  -          last axis, top-k inverse-CDF draw
//	pixel_shuffle   x, y                       -
//	copy            src, dst                   ES         strided rank-4 region copy (layout ops)
//	cast            src, dst                   TOH        f32 <-> f16, round to nearest even
//	yuv2rgb         frame, rgb                 -          yuv420p -> planar RGB
//	rgb2yuv         rgb, frame                 -          planar RGB -> yuv420p
package shaders

import (
	"embed"
	"fmt"
	"io/fs"
	"strings"
)

//go:embed *.spv
var files embed.FS

// SPIRV returns the compiled kernel name (file name without .spv).
func SPIRV(name string) ([]byte, error) {
	b, err := files.ReadFile(name + ".spv")
	if err != nil {
		return nil, fmt.Errorf("shaders: no kernel %q", name)
	}
	return b, nil
}

// Names lists every compiled kernel.
func Names() []string {
	paths, _ := fs.Glob(files, "*.spv")
	for i, p := range paths {
		paths[i] = strings.TrimSuffix(p, ".spv")
	}
	return paths
}
