"""hitsr training package (PyTorch side of the H-VAR-small contract in docs/model.md)."""
