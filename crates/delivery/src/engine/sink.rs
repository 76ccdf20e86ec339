//! Partition buffers: per destination ([`SinkId`]) a slot per evaluated prefix, each holding
//! one buffer of records until it is cut into a job.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use crate::settings::DestinationSettings;

use super::Tracker;
use super::spill::Spilled;

/// Which buffers a job came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum SinkId {
    Main,
    Error,
    Backup,
}

/// One partition's records. With spilling, the oldest part may live on disk (`spilled`);
/// `data`, `ends` (relative to `data`) and `arrivals` hold the rest.
#[derive(Debug, Default)]
pub(super) struct Buffer {
    pub(super) data: Vec<u8>,
    pub(super) ends: Vec<usize>,
    pub(super) arrivals: Vec<i64>,
    pub(super) spilled: Option<Spilled>,
    /// Every record, spilled or not.
    pub(super) records: u64,
    pub(super) opened_ms: i64,
    pub(super) oldest_arrival: i64,
    pub(super) trackers: Vec<(Arc<Tracker>, usize)>,
}

impl Buffer {
    /// Record bytes, spilled or not: what the size hint is compared with.
    pub(super) fn len(&self) -> usize {
        self.data.len() + self.spilled.as_ref().map_or(0, |s| s.bytes)
    }

    /// Memory held (not counting what is spilled).
    pub(super) fn capacity_bytes(&self) -> usize {
        self.data.capacity()
            + self.ends.capacity() * 8
            + self.arrivals.capacity() * 8
            + self.trackers.capacity() * 16
    }
}

#[derive(Debug)]
pub(super) struct Slot {
    pub(super) group: Box<str>,
    pub(super) keys_buf: String,
    pub(super) key_ranges: Vec<Range<usize>>,
    pub(super) buffer: Buffer,
    pub(super) inflight: u32,
}

#[derive(Debug)]
pub(super) struct Sink {
    pub(super) id: SinkId,
    pub(super) map: HashMap<Box<str>, u32>,
    pub(super) slots: Vec<Option<Slot>>,
    pub(super) free: Vec<u32>,
    pub(super) active: usize,
    pub(super) size_limit: usize,
    pub(super) interval_ms: i64,
    /// Keep record boundaries (conversion needs them).
    pub(super) keep_records: bool,
}

impl Sink {
    pub(super) fn new(id: SinkId, dest: &DestinationSettings, keep_records: bool) -> Self {
        Self {
            id,
            map: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            active: 0,
            size_limit: usize::try_from(dest.buffer_size_bytes).unwrap_or(usize::MAX),
            interval_ms: i64::try_from(dest.buffer_interval.as_millis()).unwrap_or(i64::MAX),
            keep_records,
        }
    }

    pub(super) fn slot_mut(&mut self, slot: u32) -> Option<&mut Slot> {
        self.slots.get_mut(slot as usize).and_then(Option::as_mut)
    }

    pub(super) fn lookup(&self, group: &str) -> Option<u32> {
        self.map.get(group).copied()
    }

    pub(super) fn open(&mut self, group: &str, keys_buf: &str, key_ranges: &[Range<usize>]) -> u32 {
        let slot = Slot {
            group: group.into(),
            keys_buf: keys_buf.to_owned(),
            key_ranges: key_ranges.to_vec(),
            buffer: Buffer::default(),
            inflight: 0,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(slot);
                id
            }
            None => {
                self.slots.push(Some(slot));
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.map.insert(group.into(), id);
        self.active += 1;
        id
    }

    pub(super) fn close_if_idle(&mut self, slot: u32) {
        let idle = self
            .slot_mut(slot)
            .is_some_and(|s| s.inflight == 0 && s.buffer.records == 0);
        if idle && let Some(s) = self.slots.get_mut(slot as usize).and_then(Option::take) {
            self.map.remove(&s.group);
            self.free.push(slot);
            self.active -= 1;
        }
    }
}

/// The buffers of the three destinations, indexed by [`SinkId`].
#[derive(Debug)]
pub(super) struct Sinks {
    pub(super) main: Sink,
    pub(super) errors: Sink,
    pub(super) backup: Sink,
}

impl Sinks {
    pub(super) fn iter(&self) -> impl Iterator<Item = &Sink> {
        self.into_iter()
    }
}

impl<'a> IntoIterator for &'a Sinks {
    type Item = &'a Sink;
    type IntoIter = std::array::IntoIter<&'a Sink, 3>;
    fn into_iter(self) -> Self::IntoIter {
        [&self.main, &self.errors, &self.backup].into_iter()
    }
}

impl std::ops::Index<SinkId> for Sinks {
    type Output = Sink;
    fn index(&self, id: SinkId) -> &Sink {
        match id {
            SinkId::Main => &self.main,
            SinkId::Error => &self.errors,
            SinkId::Backup => &self.backup,
        }
    }
}

impl std::ops::IndexMut<SinkId> for Sinks {
    fn index_mut(&mut self, id: SinkId) -> &mut Sink {
        match id {
            SinkId::Main => &mut self.main,
            SinkId::Error => &mut self.errors,
            SinkId::Backup => &mut self.backup,
        }
    }
}
