package model

import (
	"encoding/binary"
	"math"
	"os"

	"github.com/nlpodyssey/safetensors"
	"github.com/x448/float16"
)

// WriteFile writes host tensors as safetensors (floats as F32, or F16 if f16; ints as I32).
func WriteFile(path string, meta map[string]string, ts map[string]*Host, f16 bool) error {
	views := map[string]safetensors.TensorView{}
	le := binary.LittleEndian
	for name, h := range ts {
		var b []byte
		dt := safetensors.I32
		switch {
		case h.I != nil:
			for _, v := range h.I {
				b = le.AppendUint32(b, uint32(v))
			}
		case f16:
			dt = safetensors.F16
			for _, v := range h.F {
				b = le.AppendUint16(b, float16.Fromfloat32(v).Bits())
			}
		default:
			dt = safetensors.F32
			for _, v := range h.F {
				b = le.AppendUint32(b, math.Float32bits(v))
			}
		}
		shape := make([]uint64, len(h.Shape))
		for i, d := range h.Shape {
			shape[i] = uint64(d)
		}
		v, err := safetensors.NewTensorView(dt, shape, b)
		if err != nil {
			return err
		}
		views[name] = v
	}
	buf, err := safetensors.Serialize(views, meta)
	if err != nil {
		return err
	}
	return os.WriteFile(path, buf, 0o644)
}
