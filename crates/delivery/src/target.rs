//! Where a source sends its records: a delivery stream it runs itself, or one run by someone
//! else — the HTTP API's registry — that may be replaced while the source runs
//! (`UpdateDestination`, an edited `LATEST` table).

use std::sync::Arc;

use crate::Record;
use crate::error::{DeliveryError, Result};
use crate::stream::{DeliveryStream, PutReceipt};

/// A delivery stream looked up at every put.
pub trait StreamTarget: Send + Sync + std::fmt::Debug {
    /// The stream running now.
    fn current(&self) -> Result<Arc<DeliveryStream>>;
}

impl StreamTarget for Arc<DeliveryStream> {
    fn current(&self) -> Result<Arc<DeliveryStream>> {
        Ok(Arc::clone(self))
    }
}

/// How often [`put_to`] looks the stream up again while it is being replaced.
const REPLACE_POLL: std::time::Duration = std::time::Duration::from_millis(20);
/// How long [`put_to`] waits for a stream being replaced before giving up.
const REPLACE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Put `records` into the target's current stream. A stream that is shutting down because it
/// is being replaced is looked up again until its successor accepts the records (or
/// [`REPLACE_WAIT`] has passed, when the shutdown error is returned: the source is stopping).
pub async fn put_to(target: &dyn StreamTarget, records: Vec<Record>) -> Result<PutReceipt> {
    let deadline = tokio::time::Instant::now() + REPLACE_WAIT;
    loop {
        let stream = target.current()?;
        match stream.put(records.clone()).await {
            Err(DeliveryError::ShuttingDown { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(REPLACE_POLL).await;
            }
            other => return other,
        }
    }
}
