// Package models embeds the default model weights, so a built binary needs no files beside it.
package models

import "embed"

//go:embed hitsr-tiny.safetensors
var files embed.FS

// Name is the default model's file name in this directory: the one file embedded above, so the
// name is written only there.
var Name = func() string {
	e, _ := files.ReadDir(".") // exactly one entry: go:embed fails the build if the file is missing
	return e[0].Name()
}()

// Default returns the default model's contents (a copy, released once the caller drops it).
func Default() []byte {
	b, _ := files.ReadFile(Name)
	return b
}
