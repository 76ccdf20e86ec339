//! opensearch destination tests (see docs/destinations.md).
