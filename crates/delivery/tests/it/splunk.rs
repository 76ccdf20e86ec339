//! splunk destination tests (see docs/destinations.md).
