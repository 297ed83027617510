// Package models embeds the default model weights, so a built binary needs no files beside it.
package models

import "embed"

//go:embed hitsr-tiny.safetensors
var files embed.FS

// Name is the default model's file name in this directory (the one file embedded above, so the
// name is written only there); Default is its contents.
var Name, Default = func() (string, []byte) {
	e, _ := files.ReadDir(".") // exactly one entry: go:embed fails the build if the file is missing
	b, _ := files.ReadFile(e[0].Name())
	return e[0].Name(), b
}()
