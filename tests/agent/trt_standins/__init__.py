"""Stand-ins for the TensorRT backend's runtime dependencies (see each module's docstring)."""
