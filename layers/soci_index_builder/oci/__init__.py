"""OCI data model: media types, descriptors and manifests, canonical JSON, references."""
