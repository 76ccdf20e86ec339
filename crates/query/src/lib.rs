//! SQL over landed data (in progress).
