//! The call journal: the writes of live calls (their events, their answers and
//! their ends) queued without waiting and committed in groups, one transaction
//! for whatever is queued, by one writer per lane. A call always writes through
//! the same lane, so its events are committed in order and its end after them;
//! a failed group is retried write by write, and a write that fails for a
//! passing reason is retried until it succeeds, never dropped.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use switchboard_domain::call::CallRecord;
use tokio::sync::{mpsc, oneshot};

use crate::calls::{answer_in, finish_in};
use crate::events::{NewEvent, insert_events};
use crate::memory::{EndOutcome, MemoryEnd, MemoryScope, record_call_end_in};
use crate::{Backend, Error, Result, Store};

/// Writes committed in one transaction at most.
const GROUP: usize = 512;
/// Memory saves of one group run at once on PostgreSQL.
const MEMORY_SAVES_AT_ONCE: usize = 8;
/// The longest pause between retries of a write the database refused.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// One write of a live call.
#[derive(Debug)]
enum Write {
    Events(Vec<NewEvent>),
    Answered {
        project_id: String,
        call_id: String,
        at: i64,
    },
    Finished {
        record: Box<CallRecord>,
        memory: Option<Box<MemoryEnd>>,
        done: oneshot::Sender<Result<()>>,
    },
    /// Answered once everything queued before it is committed.
    Flush(oneshot::Sender<()>),
}

/// A write and when it was queued, to measure how long writes wait.
#[derive(Debug)]
struct Queued {
    write: Write,
    at: Instant,
}

/// The queue of call writes; cheap to clone.
#[derive(Clone)]
pub struct CallJournal {
    lanes: Vec<mpsc::UnboundedSender<Queued>>,
}

impl CallJournal {
    /// Starts the writers: one on SQLite (it has one writer anyway), a few on
    /// PostgreSQL.
    pub fn start(store: Store) -> Self {
        let count = match store.backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => 4,
        };
        let lanes = (0..count)
            .map(|_| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(write_lane(store.clone(), rx));
                tx
            })
            .collect();
        CallJournal { lanes }
    }

    fn lane(&self, call_id: &str) -> &mpsc::UnboundedSender<Queued> {
        let mut hasher = DefaultHasher::new();
        call_id.hash(&mut hasher);
        &self.lanes[(hasher.finish() % self.lanes.len() as u64) as usize]
    }

    fn send(&self, call_id: &str, write: Write) {
        if self.lane(call_id).send(Queued { write, at: Instant::now() }).is_err() {
            tracing::error!(call_id, "the call journal has stopped; a write of the call is lost");
        }
    }

    /// Queues events of a call.
    pub fn events(&self, call_id: &str, events: Vec<NewEvent>) {
        if !events.is_empty() {
            self.send(call_id, Write::Events(events));
        }
    }

    /// Queues the answer of a ringing call (with its `call.started`).
    pub fn answered(&self, project_id: &str, call_id: &str, at: i64) {
        let write = Write::Answered { project_id: project_id.to_owned(), call_id: call_id.to_owned(), at };
        self.send(call_id, write);
    }

    /// Writes a call's end, with what it saves to its caller's memory, after
    /// everything the call queued before it.
    pub async fn finish(&self, record: CallRecord, memory: Option<MemoryEnd>) -> Result<()> {
        let (done, result) = oneshot::channel();
        let call_id = record.id.clone();
        let write = Write::Finished { record: Box::new(record), memory: memory.map(Box::new), done };
        self.send(&call_id, write);
        result.await.unwrap_or_else(|_| Err(Error::Conflict("the call journal stopped before the call's end".into())))
    }

    /// Waits until everything queued so far is committed.
    pub async fn flush(&self) {
        let mut waits = Vec::with_capacity(self.lanes.len());
        for lane in &self.lanes {
            let (tx, rx) = oneshot::channel();
            if lane.send(Queued { write: Write::Flush(tx), at: Instant::now() }).is_ok() {
                waits.push(rx);
            }
        }
        for wait in waits {
            wait.await.ok();
        }
    }
}

/// One lane's writer: takes whatever is queued and commits it as a group.
async fn write_lane(store: Store, mut rx: mpsc::UnboundedReceiver<Queued>) {
    let mut batch = Vec::with_capacity(GROUP);
    while rx.recv_many(&mut batch, GROUP).await > 0 {
        let queued: Vec<Queued> = std::mem::take(&mut batch);
        let oldest = queued.first().map(|q| q.at);
        let writes: Vec<Write> = queued.into_iter().map(|q| q.write).collect();
        match commit_group(&store, &writes).await {
            Ok(()) => {
                store.wake_outbox();
                if let Some(oldest) = oldest {
                    metrics::histogram!("switchboard_call_write_lag_seconds").record(oldest.elapsed().as_secs_f64());
                }
                metrics::histogram!("switchboard_call_write_group_size").record(writes.len() as f64);
                for write in writes {
                    settle(&store, write, Ok(()));
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, writes = writes.len(), "a group of call writes failed; writing them one by one");
                for write in writes {
                    let result = commit_alone(&store, &write).await;
                    store.wake_outbox();
                    settle(&store, write, result);
                }
            }
        }
    }
}

/// Answers whoever waits for a write.
fn settle(store: &Store, write: Write, result: Result<()>) {
    match write {
        Write::Finished { record, done, .. } => {
            if result.is_ok() {
                store.debited(&record);
            }
            done.send(result).ok();
        }
        Write::Flush(done) => {
            done.send(()).ok();
        }
        Write::Events(_) | Write::Answered { .. } => {}
    }
}

async fn apply(tx: &mut crate::events::Tx, store: &Store, write: &Write) -> Result<()> {
    let now = store.now();
    match write {
        Write::Events(events) => {
            insert_events(tx, now, &events.iter().collect::<Vec<_>>()).await?;
            Ok(())
        }
        Write::Answered { project_id, call_id, at } => answer_in(tx, project_id, call_id, *at).await,
        Write::Finished { record, memory, .. } => {
            if let Some(memory) = memory.as_ref().filter(|_| store.backend() == Backend::Sqlite) {
                save_memory(tx, memory, &record.id, now).await;
            }
            finish_in(tx, record, now).await
        }
        Write::Flush(_) => Ok(()),
    }
}

/// Commits a group in one transaction, in queue order (event ids follow it,
/// so a call's events are sent in the order it made them); each run of queued
/// events goes in together.
async fn commit_group(store: &Store, writes: &[Write]) -> Result<()> {
    if store.backend() == Backend::Postgres {
        // Memory's row locks held for a whole group would queue the other
        // lanes behind it: on PostgreSQL each call's memory commits on its
        // own, just before the group with its end.
        let mut saves = Vec::new();
        for write in writes {
            if let Write::Finished { record, memory: Some(memory), .. } = write {
                saves.push(save_memory_alone(store, memory, &record.id));
            }
        }
        futures_util::stream::iter(saves).buffer_unordered(MEMORY_SAVES_AT_ONCE).collect::<Vec<()>>().await;
    }
    let mut tx = store.begin_write().await?;
    let mut events = Vec::new();
    for write in writes {
        if let Write::Events(queued) = write {
            events.extend(queued.iter());
            continue;
        }
        insert_events(&mut tx, store.now(), &std::mem::take(&mut events)).await?;
        apply(&mut tx, store, write).await?;
    }
    insert_events(&mut tx, store.now(), &events).await?;
    tx.commit().await?;
    Ok(())
}

/// Commits one write on its own. A refusal that retrying cannot cure (the
/// call already ended, a corrupt row) is returned; any other failure is
/// retried with a growing pause until the database takes the write.
async fn commit_alone(store: &Store, write: &Write) -> Result<()> {
    let mut pause = Duration::from_millis(50);
    loop {
        let attempt = async {
            let mut tx = store.begin_write().await?;
            apply(&mut tx, store, write).await?;
            tx.commit().await?;
            Ok(())
        };
        match attempt.await {
            Ok(()) => return Ok(()),
            Err(err @ (Error::Conflict(_) | Error::NotFound | Error::Corrupt(_))) => {
                tracing::error!(error = %err, "a call write was refused");
                return Err(err);
            }
            Err(err) => {
                tracing::error!(error = %err, retry_in_ms = pause.as_millis() as u64, "a call write failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Saves a call's memory inside its end's transaction (SQLite). Memory is
/// never worth a call's end: a save that fails is logged and leaves the rest
/// as it was.
async fn save_memory(tx: &mut crate::events::Tx, memory: &MemoryEnd, call_id: &str, now: i64) {
    let scope = MemoryScope { org_id: &memory.org_id, project_id: &memory.project_id };
    log_memory(call_id, record_call_end_in(tx, scope, &memory.request, &memory.rules, now).await);
}

/// Saves a call's memory in a transaction of its own (PostgreSQL).
async fn save_memory_alone(store: &Store, memory: &MemoryEnd, call_id: &str) {
    let scope = MemoryScope { org_id: &memory.org_id, project_id: &memory.project_id };
    log_memory(call_id, store.memory_record_call(scope, &memory.request, call_id, &memory.rules).await);
}

fn log_memory(call_id: &str, outcome: Result<EndOutcome>) {
    match outcome {
        Ok(EndOutcome::Ended(_) | EndOutcome::Replayed(_)) => {}
        Ok(other) => tracing::info!(call_id, outcome = ?other, "caller memory not saved"),
        Err(err) => tracing::warn!(call_id, error = %err, "could not save caller memory"),
    }
}
