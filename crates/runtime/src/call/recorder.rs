//! Where a session's record goes: a call writes its answer, its events and
//! its end through the call journal, leaves the directory when it ends and
//! then has itself analysed; a
//! test session records nothing and only tells its tester which tools ran.

use std::future::Future;
use std::sync::Arc;

use serde_json::{Value, json};
use switchboard_domain::events::EventType;
use switchboard_store::events::NewEvent;
use switchboard_store::journal::CallJournal;
use tokio::sync::mpsc;

use super::analysis::Analyst;
use super::directory::CallDirectory;
use super::jobs::JobContext;
use super::session::Finished;

/// Keeps what a session reports.
pub(crate) trait Recorder: Send + 'static {
    /// The call was answered at `at` (epoch ms).
    fn answered(&mut self, at: i64);
    /// A webhook event of the call.
    fn emit(&mut self, event: EventType, data: Value);
    /// Hands over the events emitted since the last flush (after each input).
    fn flush(&mut self);
    /// The call is over: extraction, caller memory and the stored end.
    fn finish(self, finished: Finished, jobs: &JobContext) -> impl Future<Output = ()> + Send;
}

/// A call's record in the store.
pub(crate) struct StoredCall {
    pub journal: CallJournal,
    pub directory: Arc<dyn CallDirectory>,
    pub org_id: String,
    pub project_id: String,
    pub agent_id: String,
    pub call_id: String,
    pub pending: Vec<NewEvent>,
    /// Analyses the call once its end is stored.
    pub analyst: Analyst,
}

impl Recorder for StoredCall {
    fn answered(&mut self, at: i64) {
        self.flush();
        self.directory.answered(&self.call_id, at);
        self.journal.answered(&self.project_id, &self.call_id, at);
    }

    fn emit(&mut self, event: EventType, mut data: Value) {
        if let Value::Object(fields) = &mut data {
            fields.insert("call_id".into(), json!(self.call_id));
            fields.insert("agent_id".into(), json!(self.agent_id));
        }
        let event = NewEvent::for_call(event, &self.org_id, &self.project_id, &self.agent_id, &self.call_id, data);
        self.pending.push(event);
    }

    fn flush(&mut self) {
        self.journal.events(&self.call_id, std::mem::take(&mut self.pending));
    }

    async fn finish(mut self, finished: Finished, jobs: &JobContext) {
        // The call's concurrent-call slot is free before extraction (which may
        // wait on the model) and the final write.
        self.directory.remove(&self.call_id);
        self.flush();
        let extracted = jobs.extract(&finished).await;
        let Finished { mut record, mut learned, memory, answered, .. } = finished;
        // Only an answered call has a caller to remember.
        let memory = memory.filter(|_| answered).map(|memory| {
            if let Some(Ok(data)) = &extracted {
                learned.extracted(super::memory::extracted_variables(data));
            }
            memory.end(&self.call_id, &learned)
        });
        if let (Some(Err(problem)), Value::Object(metadata)) = (&extracted, &mut record.metadata) {
            metadata.insert("extraction_error".into(), Value::String(problem.clone()));
        }
        record.extracted_data = extracted.map(|e| e.unwrap_or_else(|_| Value::Object(Default::default())));
        let ended = record.clone();
        match self.journal.finish(record, memory).await {
            Ok(()) => self.analyst.after_end(ended),
            Err(err) => tracing::error!(call_id = self.call_id, error = %err, "the call's end could not be recorded"),
        }
    }
}

/// A tool the agent called while answering a test session.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolUse {
    pub name: String,
    pub arguments: Value,
}

/// A test session's record: nothing is stored; the tools the agent calls go
/// to the tester.
pub(crate) struct TestLog {
    pub tools: mpsc::UnboundedSender<ToolUse>,
}

impl Recorder for TestLog {
    fn answered(&mut self, _at: i64) {}

    fn emit(&mut self, event: EventType, data: Value) {
        if event == EventType::ToolInvoked {
            let name = data["tool_name"].as_str().unwrap_or_default().to_owned();
            self.tools.send(ToolUse { name, arguments: data["arguments"].clone() }).ok();
        }
    }

    fn flush(&mut self) {}

    async fn finish(self, _finished: Finished, _jobs: &JobContext) {}
}
