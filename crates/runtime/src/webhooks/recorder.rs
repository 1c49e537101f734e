//! Writes the pipeline's attempts in batches: whatever attempts are waiting
//! when the previous write ends go in one transaction. A batch that cannot be
//! written is retried; if it never can be, its jobs stay claimed until their
//! lease runs out and are sent again (delivery stays at least once).

use std::sync::Arc;
use std::time::Duration;

use switchboard_domain::webhooks::RetryPolicy;
use switchboard_store::Store;
use switchboard_store::deliveries::{AttemptRecord, ClaimedDelivery};
use tokio::sync::{Notify, OwnedSemaphorePermit, mpsc};

use super::endpoints::Endpoints;

/// Attempts written in one transaction at most.
const BATCH: usize = 256;
/// Tries of one batch before its jobs are left to their leases.
const TRIES: u32 = 5;

/// An attempt on its way to the database, holding its worker slot until it
/// is written.
pub(super) struct Attempt {
    pub job: ClaimedDelivery,
    pub record: AttemptRecord,
    pub slot: OwnedSemaphorePermit,
}

/// Runs until every sender is dropped, writing what they send; then frees
/// their slots, counts them done for their endpoints and wakes the worker.
pub(super) async fn run(
    store: Store,
    policy: RetryPolicy,
    endpoints: Endpoints,
    freed: Arc<Notify>,
    mut rx: mpsc::Receiver<Attempt>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let attempts: Vec<(ClaimedDelivery, AttemptRecord)> =
            batch.iter().map(|a| (a.job.clone(), a.record.clone())).collect();
        write(&store, &policy, &attempts).await;
        for attempt in batch.drain(..) {
            endpoints.done(&attempt.job.endpoint_id);
            drop(attempt.slot);
        }
        freed.notify_one();
    }
}

async fn write(store: &Store, policy: &RetryPolicy, batch: &[(ClaimedDelivery, AttemptRecord)]) {
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
