package models_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/hitsr/hitsr/ml/cpu"
	"github.com/hitsr/hitsr/model"
	"github.com/hitsr/hitsr/models"
)

// TestDefault checks that the embedded default model is the file in this directory and parses
// as weights.
func TestDefault(t *testing.T) {
	disk, err := os.ReadFile(models.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(disk) == 0 || !bytes.Equal(disk, models.Default()) {
		t.Fatalf("embedded %s (%d bytes) differs from the file (%d bytes)", models.Name, len(models.Default()), len(disk))
	}
	b := cpu.New()
	defer b.Close()
	w, err := model.LoadBytes(models.Name, models.Default(), b)
	if err != nil {
		t.Fatal(err)
	}
	w.Free()
}
