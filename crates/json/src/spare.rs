//! String bytes lent to Arrow and taken back for a later batch.
//!
//! A string column's bytes are the decoder's largest buffers: 8,192 rows of 300-byte text are
//! 2.4 MB. Freed, a block that size goes straight back to the OS under `sluice serve`'s 1 MiB
//! mmap threshold (`sluice_convert::bound_allocator_retention`), so the next batch's buffer is a
//! fresh mapping, faulted in one 4 KiB page at a time. Instead a column lends each finished
//! batch's bytes to Arrow through a custom allocation: when the last holder of the batch drops
//! it (the writer, on whatever thread), the bytes come back to the column, emptied, and the next
//! batch to start fills them again. A column keeps at most [`SPARES`] of them; anything beyond
//! is freed, and so is everything once the decoder is gone.

use std::ptr::NonNull;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use arrow_buffer::Buffer;

/// Returned buffers a column keeps: one is what a decoder that hands each batch to a writer
/// before decoding the next needs, and more would be memory held for nothing.
const SPARES: usize = 1;

type Shelf = Mutex<Vec<Vec<u8>>>;

/// One column's returned byte buffers.
#[derive(Debug, Default)]
pub(crate) struct Spares {
    shelf: Arc<Shelf>,
}

impl Spares {
    /// An empty buffer that holds at least `capacity` bytes: a returned one if there is one.
    pub(crate) fn take(&self, capacity: usize) -> Vec<u8> {
        let spare = self
            .shelf
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match spare {
            Some(mut bytes) => {
                bytes.reserve(capacity);
                bytes
            }
            None => Vec::with_capacity(capacity),
        }
    }

    /// `bytes` as an Arrow buffer; the allocation comes back to this column when Arrow is done.
    pub(crate) fn lend(&self, bytes: Vec<u8>) -> Buffer {
        if bytes.capacity() == 0 {
            return Buffer::from_vec(bytes);
        }
        let len = bytes.len();
        let ptr = NonNull::from(bytes.as_slice()).cast::<u8>();
        let owner = Arc::new(Lent {
            bytes,
            home: Arc::downgrade(&self.shelf),
        });
        // SAFETY: `ptr` is the start of `len` initialised bytes of `owner.bytes`' heap block,
        // which does not move when the `Vec` itself is moved into `owner`, and which `owner`
        // never touches until Arrow drops the last reference to it.
        unsafe { Buffer::from_custom_allocation(ptr, len, owner) }
    }

    /// Buffers waiting on the shelf (for tests).
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.shelf
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// A column's bytes while Arrow holds them.
struct Lent {
    bytes: Vec<u8>,
    home: Weak<Shelf>,
}

impl Drop for Lent {
    fn drop(&mut self) {
        let Some(shelf) = self.home.upgrade() else {
            return;
        };
        let mut bytes = std::mem::take(&mut self.bytes);
        bytes.clear();
        let mut shelf = shelf.lock().unwrap_or_else(PoisonError::into_inner);
        if shelf.len() < SPARES {
            shelf.push(bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lent_bytes_read_back_and_return_when_arrow_drops_them() {
        let spares = Spares::default();
        let mut bytes = spares.take(16);
        bytes.extend_from_slice(b"hello, world");
        let block = bytes.as_ptr();
        let buffer = spares.lend(bytes);
        assert_eq!(buffer.as_slice(), b"hello, world");
        let clone = buffer.slice(7);
        drop(buffer);
        assert_eq!(spares.waiting(), 0, "a slice still holds the bytes");
        assert_eq!(clone.as_slice(), b"world");
        drop(clone);
        assert_eq!(spares.waiting(), 1);
        let again = spares.take(4);
        assert!(again.is_empty());
        assert_eq!(again.as_ptr(), block, "the same allocation comes back");
        assert!(again.capacity() >= 16);
    }

    #[test]
    fn a_column_keeps_at_most_its_spares_and_nothing_after_it_is_gone() {
        let spares = Spares::default();
        let lent: Vec<Buffer> = (0..SPARES + 2)
            .map(|i| spares.lend(vec![i as u8; 1024]))
            .collect();
        drop(lent);
        assert_eq!(spares.waiting(), SPARES);
        let late = spares.lend(vec![7; 8]);
        drop(spares);
        assert_eq!(late.as_slice(), &[7; 8], "the bytes outlive the column");
        drop(late);
    }

    #[test]
    fn a_short_spare_grows_to_what_is_asked() {
        let spares = Spares::default();
        drop(spares.lend(vec![1; 8]));
        assert!(spares.take(4096).capacity() >= 4096);
    }
}
