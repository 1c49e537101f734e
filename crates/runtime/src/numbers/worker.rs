//! The carrier worker: lands address reviews that are due and renews numbers
//! whose 28-day cycle is due, catching up every missed cycle after downtime.

use tokio::task::JoinHandle;

use super::Numbers;

/// Numbers renewed per transaction batch.
const RENEWAL_BATCH: i64 = 100;

impl Numbers {
    /// One round of the worker; returns (reviews landed, cycles charged,
    /// numbers released).
    pub async fn run_once(&self) -> switchboard_store::Result<(usize, usize, usize)> {
        let landed = self.store.land_due_reviews(None).await?;
        let (mut charged, mut released) = (0, 0);
        loop {
            let pass = self.store.renew_due_numbers(RENEWAL_BATCH).await?;
            if pass.is_empty() {
                break;
            }
            charged += pass.charged;
            released += pass.released;
        }
        Ok((landed, charged, released))
    }

    /// Runs the worker every poll interval until aborted.
    pub fn spawn_worker(&self) -> JoinHandle<()> {
        let numbers = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(numbers.settings.poll_interval);
            loop {
                tick.tick().await;
                match numbers.run_once().await {
                    Ok((landed, charged, released)) if landed + charged + released > 0 => {
                        tracing::info!(landed, charged, released, "carrier worker round");
                    }
                    Ok(_) => {}
                    Err(err) => tracing::warn!(error = %err, "carrier worker round failed"),
                }
            }
        })
    }
}
