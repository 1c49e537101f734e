//! The events a live call emits while it runs (transcript, speech, DTMF,
//! tools, transfers), written to the outbox in batches by a task beside the
//! session so the conversation never waits on the database.

use serde_json::{Value, json};
use switchboard_domain::events::EventType;
use switchboard_store::Store;
use switchboard_store::events::NewEvent;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Who a call's events are about.
#[derive(Debug, Clone)]
pub struct CallIds {
    pub org_id: String,
    pub project_id: String,
    pub agent_id: String,
    pub call_id: String,
}

/// Emits one call's events. [`EventSink::close`] waits until all are written.
pub struct EventSink {
    ids: CallIds,
    tx: Option<mpsc::UnboundedSender<NewEvent>>,
    writer: Option<JoinHandle<()>>,
}

/// Events written per transaction at most.
const BATCH: usize = 64;

impl EventSink {
    pub fn start(store: Store, ids: CallIds) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<NewEvent>();
        let call_id = ids.call_id.clone();
        let writer = tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                if let Err(err) = store.emit_events(&batch).await {
                    tracing::error!(call_id, error = %err, lost = batch.len(), "could not record call events");
                }
                batch.clear();
            }
        });
        EventSink { ids, tx: Some(tx), writer: Some(writer) }
    }

    /// Emits `event` with `data`; `call_id` and `agent_id` are added to it.
    pub fn emit(&self, event: EventType, mut data: Value) {
        if let Value::Object(fields) = &mut data {
            fields.insert("call_id".into(), json!(self.ids.call_id));
            fields.insert("agent_id".into(), json!(self.ids.agent_id));
        }
        let ids = &self.ids;
        let event = NewEvent::for_call(event, &ids.org_id, &ids.project_id, &ids.agent_id, &ids.call_id, data);
        if let Some(tx) = &self.tx {
            tx.send(event).ok();
        }
    }

    /// Waits until every event emitted so far is written.
    pub async fn close(&mut self) {
        self.tx.take();
        if let Some(writer) = self.writer.take() {
            writer.await.ok();
        }
    }
}
