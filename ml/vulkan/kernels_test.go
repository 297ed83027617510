package vulkan

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hitsr/hitsr/shaders"
)

// spirvLayout is what a SPIR-V module says of its push constants and specialisation.
type spirvLayout struct {
	offsets, sizes []int // of the push-constant block's members, in bytes
	specIDs        []int // sorted
}

// size is the push-constant block's size in bytes (0 without one).
func (l spirvLayout) size() int {
	if len(l.offsets) == 0 {
		return 0
	}
	return l.offsets[len(l.offsets)-1] + l.sizes[len(l.sizes)-1]
}

// SPIR-V opcodes, decorations and storage classes used by parseSPIRV.
const (
	opTypeInt        = 21
	opTypeFloat      = 22
	opTypeVector     = 23
	opTypeStruct     = 30
	opTypePointer    = 32
	opVariable       = 59
	opDecorate       = 71
	opMemberDecorate = 72

	decorationSpecID = 1
	decorationBlock  = 2
	decorationOffset = 35

	storagePushConstant = 9
)

// parseSPIRV finds the push-constant block (the Block-decorated struct of the variable in
// PushConstant storage) with its member offsets and sizes, and the SpecId decorations.
func parseSPIRV(code []byte) (spirvLayout, error) {
	if len(code) < 20 || len(code)%4 != 0 || binary.LittleEndian.Uint32(code) != 0x07230203 {
		return spirvLayout{}, fmt.Errorf("not a little-endian SPIR-V module")
	}
	w := make([]uint32, len(code)/4)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(code[4*i:])
	}
	scalar := map[uint32]int{}       // type id → bytes (ints, floats, vectors)
	members := map[uint32][]uint32{} // struct id → member type ids
	offsets := map[uint32]map[uint32]int{}
	block := map[uint32]bool{}
	pointee := map[uint32]uint32{} // PushConstant pointer type id → pointee
	var vars []uint32              // pointer types of PushConstant variables
	var l spirvLayout
	for i := 5; i < len(w); {
		n, op := int(w[i]>>16), w[i]&0xffff
		if n == 0 || i+n > len(w) {
			return l, fmt.Errorf("truncated instruction at word %d", i)
		}
		a := w[i+1 : i+n]
		switch {
		case op == opTypeInt || op == opTypeFloat:
			scalar[a[0]] = int(a[1]) / 8
		case op == opTypeVector:
			scalar[a[0]] = scalar[a[1]] * int(a[2])
		case op == opTypeStruct:
			members[a[0]] = slices.Clone(a[1:])
		case op == opTypePointer && a[1] == storagePushConstant:
			pointee[a[0]] = a[2]
		case op == opVariable && a[2] == storagePushConstant:
			vars = append(vars, a[0])
		case op == opDecorate && a[1] == decorationSpecID:
			l.specIDs = append(l.specIDs, int(a[2]))
		case op == opDecorate && a[1] == decorationBlock:
			block[a[0]] = true
		case op == opMemberDecorate && a[2] == decorationOffset:
			if offsets[a[0]] == nil {
				offsets[a[0]] = map[uint32]int{}
			}
			offsets[a[0]][a[1]] = int(a[3])
		}
		i += n
	}
	slices.Sort(l.specIDs)
	if len(vars) > 1 {
		return l, fmt.Errorf("%d push-constant variables", len(vars))
	}
	if len(vars) == 0 {
		return l, nil
	}
	st := pointee[vars[0]]
	if !block[st] {
		return l, fmt.Errorf("push-constant type %d is not a Block struct", st)
	}
	for m, t := range members[st] {
		off, ok := offsets[st][uint32(m)]
		if !ok || scalar[t] == 0 {
			return l, fmt.Errorf("push-constant member %d: no offset or not a scalar/vector", m)
		}
		l.offsets, l.sizes = append(l.offsets, off), append(l.sizes, scalar[t])
	}
	return l, nil
}

// goField is a push or spec struct's field, nested structs flattened.
type goField struct {
	name         string
	offset, size int
}

func flatten(t reflect.Type, base int) []goField {
	var out []goField
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Type.Kind() == reflect.Struct {
			out = append(out, flatten(f.Type, base+int(f.Offset))...)
			continue
		}
		out = append(out, goField{f.Name, base + int(f.Offset), int(f.Type.Size())})
	}
	return out
}

// glslNames reads a kernel's source: the push-constant block's member names and the names of
// its specialisation constants by constant_id.
func glslNames(src string) (push []string, spec map[int]string) {
	src = regexp.MustCompile(`//[^\n]*`).ReplaceAllString(src, "")
	if m := regexp.MustCompile(`(?s)layout\s*\(\s*push_constant\s*\)\s*uniform\s+\w+\s*\{(.*?)\}`).FindStringSubmatch(src); m != nil {
		for _, decl := range strings.Split(m[1], ";") {
			fs := strings.Fields(strings.ReplaceAll(decl, ",", " "))
			if len(fs) > 1 {
				push = append(push, fs[1:]...) // after the type
			}
		}
	}
	spec = map[int]string{}
	for _, m := range regexp.MustCompile(`constant_id\s*=\s*(\d+)\s*\)\s*const\s+\w+\s+(\w+)`).FindAllStringSubmatch(src, -1) {
		id, _ := strconv.Atoi(m[1])
		spec[id] = m[2]
	}
	return push, spec
}

// kernelSource is the GLSL a kernel is built from: name.comp, or for a build variant of a
// .glsl file (mm_cpu_t0_h1_w8) that file.
func kernelSource(t *testing.T, name string) string {
	dir := filepath.Join("..", "..", "shaders")
	b, err := os.ReadFile(filepath.Join(dir, name+".comp"))
	if err != nil {
		libs, _ := filepath.Glob(filepath.Join(dir, "*.glsl"))
		for _, lib := range libs {
			if base := strings.TrimSuffix(filepath.Base(lib), ".glsl"); strings.HasPrefix(name, base+"_") {
				b, err = os.ReadFile(lib)
			}
		}
	}
	if err != nil {
		t.Fatalf("%s: no source: %v", name, err)
	}
	return string(b)
}

// TestKernelLayouts checks every declared kernel's push-constant struct against its SPIR-V
// block (member count, offsets, sizes, total size) and the member names of its GLSL source,
// and its specialisation struct against the module's SpecIds (0, the workgroup width, then one
// per field) and the source's constant names; and that every compiled kernel is declared.
func TestKernelLayouts(t *testing.T) {
	for _, name := range shaders.Names() {
		if _, ok := kernels[name]; !ok {
			t.Errorf("shaders/%s.spv has no kernel declaration in kernels.go", name)
		}
	}
	for name, k := range kernels {
		code, err := shaders.SPIRV(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		l, err := parseSPIRV(code)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		pushNames, specNames := glslNames(kernelSource(t, name))
		fields := flatten(k.push, 0)
		if len(fields) != len(l.offsets) || int(k.push.Size()) != l.size() {
			t.Errorf("%s: %s has %d fields in %d bytes, the SPIR-V push constants %d members in %d bytes",
				name, k.push.Name(), len(fields), k.push.Size(), len(l.offsets), l.size())
			continue
		}
		for i, f := range fields {
			if f.offset != l.offsets[i] || f.size != l.sizes[i] {
				t.Errorf("%s: %s.%s at byte %d (%d bytes), SPIR-V member %d at %d (%d bytes)",
					name, k.push.Name(), f.name, f.offset, f.size, i, l.offsets[i], l.sizes[i])
			}
			if glsl := at(pushNames, i); f.name != glsl {
				t.Errorf("%s: %s field %d is %s, the GLSL block's member %d is %q", name, k.push.Name(), i, f.name, i, glsl)
			}
		}
		spec := flatten(k.spec, 0)
		if want := len(spec) + 1; !slices.Equal(l.specIDs, seq(want)) {
			t.Errorf("%s: SPIR-V SpecIds %v, want %v (the width, then %s's fields)", name, l.specIDs, seq(want), k.spec.Name())
		}
		for i, f := range spec {
			if f.size != 4 || specNames[i+1] != f.name {
				t.Errorf("%s: %s field %d is %s (%d bytes), the GLSL constant_id %d is %q (uint)", name, k.spec.Name(), i, f.name, f.size, i+1, specNames[i+1])
			}
		}
		if len(specNames) != len(spec) {
			t.Errorf("%s: the GLSL declares constant_ids %v, %s has %d fields", name, specNames, k.spec.Name(), len(spec))
		}
	}
}

// at is s[i], or "" past its end.
func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// seq is 0..n−1.
func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}
