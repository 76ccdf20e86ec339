//! redshift destination tests (see docs/destinations.md).
