//! The delivery engine (in progress).
#![allow(missing_docs)]
mod config;
mod error;
mod jq;
mod prefix;
mod timefmt;
pub use config::*;
pub use error::{DeliveryError, Result};
pub use prefix::*;
#[derive(Debug, Clone, Copy)]
pub enum ErrorOutputType { ProcessingFailed }
impl ErrorOutputType { pub fn as_str(self) -> &'static str { "processing-failed" } }
