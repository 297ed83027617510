package pipeline

import (
	"os"
	"testing"
)

// TestMain captures FFmpeg's log as programs do: tests stay quiet and errors carry its message.
func TestMain(m *testing.M) {
	CaptureFFmpegLog()
	os.Exit(m.Run())
}
