//go:build tools

// Package hitsr pins the libraries later stages build on (FFmpeg 5.1 bindings, config, logging)
// so that go.mod keeps their exact versions.
package hitsr

import (
	_ "github.com/asticode/go-astiav"
	_ "github.com/spf13/viper"
	_ "github.com/vulkan-go/vulkan"
	_ "go.uber.org/zap"
)
