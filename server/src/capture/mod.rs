//! Capture adapters.
