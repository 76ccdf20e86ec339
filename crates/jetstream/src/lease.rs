//! Shard ownership and progress in a NATS KV bucket (works on nats-server 2.9).
//!
//! One entry per shard, `shard.<stream>.<n>`, holds the owner, its epoch, the lease expiry, the
//! last committed stream sequence and the *intent*: the range being committed. Every change is a
//! compare-and-set on the entry's revision, so a worker that lost the lease learns it at its next
//! write and stops before creating any object for a range it did not record.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{JetStreamError, Result};

/// How many times one lease write goes again on top of an entry that is still ours but at a
/// revision it did not expect (a broker restarted without its newest writes).
const MAX_REWRITES: u32 = 4;

/// A range recorded before its objects are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Intent {
    pub(crate) first: u64,
    pub(crate) last: u64,
}

/// The value of a shard entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ShardState {
    pub(crate) owner: Option<String>,
    pub(crate) epoch: u64,
    pub(crate) expires_ms: i64,
    /// Every message of the shard with a sequence ≤ this is in a committed object.
    pub(crate) committed: u64,
    pub(crate) intent: Option<Intent>,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

/// A held shard lease.
#[derive(Debug)]
pub(crate) struct Lease {
    kv: kv::Store,
    key: String,
    stream: String,
    shard: u32,
    revision: u64,
    ttl: Duration,
    renewed_at_ms: i64,
    pub(crate) state: ShardState,
}

/// Open (or create) the lease bucket.
pub(crate) async fn bucket(js: &jetstream::Context, name: &str) -> Result<kv::Store> {
    match js.get_key_value(name).await {
        Ok(kv) => Ok(kv),
        Err(_) => {
            // `create_key_value` cannot parse nats-server 2.9's reply; create the KV stream
            // (the layout ADR-8 defines) directly, then open it as a bucket.
            let config = jetstream::stream::Config {
                name: format!("KV_{name}"),
                subjects: vec![format!("$KV.{name}.>")],
                max_messages_per_subject: 1,
                discard: jetstream::stream::DiscardPolicy::New,
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            };
            // Another worker may create it concurrently: open whatever exists afterwards.
            let created = js.create_stream(config).await;
            js.get_key_value(name).await.map_err(|e| match created {
                Err(c) => JetStreamError::nats("create lease bucket", c),
                Ok(_) => JetStreamError::nats("open lease bucket", e),
            })
        }
    }
}

pub(crate) fn shard_key(stream: &str, shard: u32) -> String {
    format!("shard.{stream}.{shard}")
}

fn encode(state: &ShardState) -> Result<Bytes> {
    serde_json::to_vec(state)
        .map(Bytes::from)
        .map_err(|_| JetStreamError::Internal {
            invariant: "shard state serializes",
        })
}

impl Lease {
    /// Take the shard if it is free or its lease expired. `Ok(None)`: someone else holds it.
    pub(crate) async fn try_acquire(
        kv: &kv::Store,
        stream: &str,
        shard: u32,
        worker: &str,
        ttl: Duration,
    ) -> Result<Option<Self>> {
        let key = shard_key(stream, shard);
        let now = now_ms();
        let entry = kv
            .entry(key.as_str())
            .await
            .map_err(|e| JetStreamError::nats("read lease", e))?;
        let (previous, revision) = match entry {
            Some(e) if e.operation == kv::Operation::Put => {
                let state: ShardState = serde_json::from_slice(&e.value)
                    .map_err(|e| JetStreamError::nats("decode lease", e))?;
                (Some(state), e.revision)
            }
            Some(e) => (None, e.revision),
            None => (None, 0),
        };
        if let Some(p) = &previous
            && p.owner.as_deref().is_some_and(|o| o != worker)
            && p.expires_ms > now
        {
            return Ok(None);
        }
        if let Some(p) = &previous
            && let Some(owner) = p.owner.as_deref()
            && owner != worker
        {
            tracing::info!(
                stream,
                shard,
                worker,
                from = owner,
                expired_ms_ago = now - p.expires_ms,
                "taking over an expired shard lease"
            );
        }
        let mut state = previous.unwrap_or_default();
        state.owner = Some(worker.to_owned());
        state.epoch += 1;
        state.expires_ms = now + ttl_ms(ttl);
        let body = encode(&state)?;
        let written = if revision == 0 {
            kv.create(key.as_str(), body).await.map_err(drop)
        } else {
            kv.update(key.as_str(), body, revision).await.map_err(drop)
        };
        match written {
            Ok(revision) => Ok(Some(Self {
                kv: kv.clone(),
                key,
                stream: stream.to_owned(),
                shard,
                revision,
                ttl,
                renewed_at_ms: now,
                state,
            })),
            // Lost the race to another worker.
            Err(()) => Ok(None),
        }
    }

    async fn write(&mut self, next: ShardState) -> Result<()> {
        let body = encode(&next)?;
        let lost = || JetStreamError::LeaseLost {
            stream: self.stream.clone(),
            shard: self.shard,
        };
        let mut backoff = Duration::from_millis(50);
        let deadline = tokio::time::Instant::now() + self.ttl / 2;
        // Writes on top of an entry that is still ours at another revision. Bounded by count,
        // not time: the revision check fences out any other worker however late it is.
        let mut rewrites = 0u32;
        loop {
            match self
                .kv
                .update(self.key.as_str(), body.clone(), self.revision)
                .await
            {
                Ok(revision) => {
                    self.revision = revision;
                    self.state = next;
                    return Ok(());
                }
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                    match self.read_back().await {
                        // The entry could not be read (the server is going away or coming
                        // back): try the write again while the lease lasts.
                        Err(()) if tokio::time::Instant::now() < deadline => {
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(Duration::from_millis(500));
                        }
                        // Our own earlier attempt landed with its reply lost (the server went
                        // away mid-request): the entry is exactly what we wrote.
                        Ok(Some((revision, state))) if state == next => {
                            self.revision = revision;
                            self.state = next;
                            return Ok(());
                        }
                        // The entry is still ours — same owner, same epoch; taking a shard bumps
                        // the epoch — at another revision than we last saw: a server killed and
                        // restarted can come back without its newest writes (JetStream syncs
                        // to disk on an interval). Write again on top of what it holds: what we
                        // write is our newest state, and the revision check still fences out
                        // any worker that takes the shard meanwhile.
                        Ok(Some((revision, state)))
                            if state.owner == self.state.owner
                                && state.epoch == self.state.epoch
                                && rewrites < MAX_REWRITES =>
                        {
                            rewrites += 1;
                            tracing::warn!(
                                shard = self.shard,
                                expected = self.revision,
                                found = revision,
                                "lease entry at another revision but still ours; writing again"
                            );
                            self.revision = revision;
                        }
                        _ => return Err(lost()),
                    }
                }
                // The server is unreachable: the write may or may not have landed. Retry
                // within half the lease's TTL (the lease is still ours until it expires).
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(JetStreamError::nats("write lease", e));
                }
                Err(e) => {
                    tracing::debug!(shard = self.shard, error = %e, "lease write failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_millis(500));
                }
            }
        }
    }

    /// The entry as the server holds it now (`None` when there is none, or it is not a shard
    /// state); `Err` when the server could not be asked.
    async fn read_back(&self) -> std::result::Result<Option<(u64, ShardState)>, ()> {
        let Some(entry) = self.kv.entry(self.key.as_str()).await.map_err(drop)? else {
            return Ok(None);
        };
        if entry.operation != kv::Operation::Put {
            return Ok(None);
        }
        Ok(serde_json::from_slice(&entry.value)
            .ok()
            .map(|state| (entry.revision, state)))
    }

    fn renewed(&self, now: i64) -> ShardState {
        ShardState {
            expires_ms: now + ttl_ms(self.ttl),
            ..self.state.clone()
        }
    }

    /// Renew if a third of the TTL has passed.
    pub(crate) async fn renew_if_due(&mut self) -> Result<()> {
        let now = now_ms();
        if now - self.renewed_at_ms >= ttl_ms(self.ttl) / 3 {
            let next = self.renewed(now);
            self.write(next).await?;
            self.renewed_at_ms = now;
        }
        Ok(())
    }

    /// Renew now (also proves the lease is still ours).
    pub(crate) async fn renew(&mut self) -> Result<()> {
        let now = now_ms();
        let next = self.renewed(now);
        self.write(next).await?;
        self.renewed_at_ms = now;
        Ok(())
    }

    /// Record the range about to be written (fences out a previous owner).
    pub(crate) async fn begin(&mut self, intent: Intent) -> Result<()> {
        let now = now_ms();
        let next = ShardState {
            intent: Some(intent),
            ..self.renewed(now)
        };
        self.write(next).await?;
        self.renewed_at_ms = now;
        Ok(())
    }

    /// The range's objects exist: move progress past it.
    pub(crate) async fn commit(&mut self, last: u64) -> Result<()> {
        let now = now_ms();
        let next = ShardState {
            committed: last,
            intent: None,
            ..self.renewed(now)
        };
        self.write(next).await?;
        self.renewed_at_ms = now;
        Ok(())
    }

    /// Give the shard up (graceful stop or rebalancing).
    pub(crate) async fn release(mut self) -> Result<()> {
        let next = ShardState {
            owner: None,
            expires_ms: 0,
            ..self.state.clone()
        };
        self.write(next).await
    }

    pub(crate) fn shard(&self) -> u32 {
        self.shard
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lease over a fresh bucket on the NATS server at `NATS_URL` (default 127.0.0.1:4222);
    /// the bucket is deleted with [`drop_bucket`].
    async fn fresh_lease(tag: &str) -> (jetstream::Context, String, kv::Store, Lease) {
        let url = std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into());
        let client = async_nats::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("NATS at {url} (scripts/test starts one): {e}"));
        let js = jetstream::new(client);
        let name = format!("lease_{tag}_{}_{}", std::process::id(), now_ms());
        let kv = bucket(&js, &name).await.expect("bucket");
        let lease = Lease::try_acquire(&kv, "s", 0, "w0", Duration::from_secs(10))
            .await
            .expect("acquire")
            .expect("free shard");
        (js, name, kv, lease)
    }

    async fn drop_bucket(js: &jetstream::Context, name: &str) {
        js.delete_key_value(name)
            .await
            .expect("delete the test bucket");
    }

    /// What a broker restart that lost the newest writes looks like: the entry holds an older
    /// state of ours at a revision we never saw.
    async fn roll_back(kv: &kv::Store, lease: &Lease, state: &ShardState) {
        kv.put(lease.key.as_str(), encode(state).expect("encode"))
            .await
            .expect("put");
    }

    #[tokio::test]
    async fn a_lease_the_server_rolled_back_is_still_ours() {
        let (js, name, kv, mut lease) = fresh_lease("rollback").await;
        let old = lease.state.clone();
        lease.commit(10).await.expect("commit");
        roll_back(&kv, &lease, &old).await;
        lease
            .commit(20)
            .await
            .expect("the entry is still ours: written again");
        let (_, state) = lease
            .read_back()
            .await
            .expect("the server answers")
            .expect("entry");
        assert_eq!(state.committed, 20);
        assert_eq!(state.owner.as_deref(), Some("w0"));
        assert_eq!(state.epoch, old.epoch);
        drop_bucket(&js, &name).await;
    }

    #[tokio::test]
    async fn a_lease_taken_by_a_newer_epoch_is_lost() {
        let (js, name, kv, mut lease) = fresh_lease("taken").await;
        let taken = ShardState {
            owner: Some("w1".into()),
            epoch: lease.state.epoch + 1,
            ..lease.state.clone()
        };
        roll_back(&kv, &lease, &taken).await;
        let err = lease.commit(5).await.expect_err("another owner's epoch");
        assert!(matches!(err, JetStreamError::LeaseLost { .. }), "{err:?}");
        let (_, state) = lease
            .read_back()
            .await
            .expect("the server answers")
            .expect("entry");
        assert_eq!(state, taken, "the newer owner's entry is untouched");
        drop_bucket(&js, &name).await;
    }
}
