"""Image stores: one small Repository interface, an OCI layout backend and a registry backend."""
