//! An [`ObjectStore`] wrapper that counts requests: how tests prove partition pruning, and
//! how `sluice query` can report what a query cost on S3.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};

/// Request counts of a [`CountingStore`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RequestCounts {
    /// `LIST` requests (with or without delimiter).
    pub list: u64,
    /// `GET` requests (whole objects, ranges and `HEAD`s).
    pub get: u64,
    /// Write requests (`PUT`, multipart, copy, rename, delete).
    pub write: u64,
}

#[derive(Debug, Default)]
struct Counters {
    list: AtomicU64,
    get: AtomicU64,
    write: AtomicU64,
}

/// Wraps a store and counts the requests made through it.
#[derive(Clone)]
pub struct CountingStore {
    inner: Arc<dyn ObjectStore>,
    counters: Arc<Counters>,
    /// LIST prefixes, in order (for test assertions).
    listed: Arc<std::sync::Mutex<Vec<String>>>,
    /// Objects read, in order.
    read: Arc<std::sync::Mutex<Vec<String>>>,
}

impl CountingStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn ObjectStore>) -> Self {
        Self {
            inner,
            counters: Arc::default(),
            listed: Arc::default(),
            read: Arc::default(),
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> RequestCounts {
        RequestCounts {
            list: self.counters.list.load(Ordering::Relaxed),
            get: self.counters.get.load(Ordering::Relaxed),
            write: self.counters.write.load(Ordering::Relaxed),
        }
    }

    /// The prefixes listed so far.
    pub fn listed_prefixes(&self) -> Vec<String> {
        self.listed.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The distinct objects read so far, sorted.
    pub fn objects_read(&self) -> Vec<String> {
        let mut read = self.read.lock().map(|l| l.clone()).unwrap_or_default();
        read.sort();
        read.dedup();
        read
    }

    /// Sets every count back to zero.
    pub fn reset(&self) {
        self.counters.list.store(0, Ordering::Relaxed);
        self.counters.get.store(0, Ordering::Relaxed);
        self.counters.write.store(0, Ordering::Relaxed);
        if let Ok(mut l) = self.listed.lock() {
            l.clear();
        }
        if let Ok(mut r) = self.read.lock() {
            r.clear();
        }
    }

    fn list_called(&self, prefix: Option<&Path>) {
        self.counters.list.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut l) = self.listed.lock() {
            l.push(prefix.map(ToString::to_string).unwrap_or_default());
        }
    }

    fn get_called(&self, location: &Path, n: u64) {
        self.counters.get.fetch_add(n, Ordering::Relaxed);
        if let Ok(mut r) = self.read.lock() {
            r.push(location.to_string());
        }
    }

    fn write_called(&self) {
        self.counters.write.fetch_add(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountingStore")
            .field("inner", &self.inner)
            .field("counts", &self.counts())
            .finish()
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountingStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.write_called();
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.write_called();
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.get_called(location, 1);
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.get_called(location, ranges.len() as u64);
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.write_called();
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.list_called(prefix);
        self.inner.list(prefix).boxed()
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.list_called(prefix);
        self.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.list_called(prefix);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.write_called();
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.write_called();
        self.inner.rename_opts(from, to, options).await
    }
}
