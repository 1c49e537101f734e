//! Writes the pipeline's attempts in batches: whatever attempts are waiting
//! when the previous write ends go in one transaction. Sending does not wait
//! for it: a full queue is what holds the senders back. A batch that cannot
//! be written is retried; if it never can be, its jobs stay claimed until
//! their lease runs out and are sent again (delivery stays at least once).

use std::time::Duration;

use switchboard_domain::webhooks::RetryPolicy;
use switchboard_store::Store;
use switchboard_store::deliveries::{AttemptRecord, ClaimedDelivery};
use tokio::sync::mpsc;

/// Attempts written in one transaction at most.
const BATCH: usize = 256;
/// Attempts made and not yet written, at most; senders wait beyond it.
pub(super) const QUEUE: usize = BATCH * 4;
/// Tries of one batch before its jobs are left to their leases.
const TRIES: u32 = 5;

/// An attempt on its way to the database.
pub(super) type Attempt = (ClaimedDelivery, AttemptRecord);

/// Runs until every sender is dropped, writing what they send.
pub(super) async fn run(store: Store, policy: RetryPolicy, mut rx: mpsc::Receiver<Attempt>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        write(&store, &policy, &batch).await;
        batch.clear();
    }
}

async fn write(store: &Store, policy: &RetryPolicy, batch: &[Attempt]) {
    let mut pause = Duration::from_millis(50);
    for attempt in 1..=TRIES {
        match store.record_attempts(batch, policy).await {
            Ok(()) => return,
            Err(err) if attempt == TRIES => {
                tracing::warn!(error = %err, attempts = batch.len(), "could not record webhook attempts; they are sent again when their lease runs out");
            }
            Err(err) => {
                tracing::debug!(error = %err, "recording webhook attempts failed; retrying");
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
        }
    }
}
