//! The slow work of a session, run as tasks beside it: `call.started`, the
//! model's streamed replies, server_url tools, knowledge searches, and after
//! the call the extraction of its data. Each job reports back to the session
//! through one channel; a cancelled job is aborted, not awaited.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use switchboard_domain::extraction;
use switchboard_domain::server_url::CallStarted;
use switchboard_store::Store;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tracing::Instrument;

use super::conversation::LLM_TIMEOUT;
use super::embedded::Found;
use super::memory::CallerMemory;
use super::session::{Finished, Job, JobId, JobOutput};
use crate::appointments::tools::CallDesk;
use crate::call::server_url::ServerUrl;
use crate::knowledge::retrieval::KnowledgeSearch;
use crate::llm::{ChatMessage, LlmClient, LlmEndpoint, StreamEvent};

/// How long the model may take to fill the extraction schema.
const EXTRACTION_TIMEOUT: Duration = Duration::from_secs(30);

const EXTRACTION_INSTRUCTION: &str = "Extract the requested data from this phone call between an assistant and \
    a caller. Answer with one JSON object matching the schema; use null for anything the call did not reveal.";

/// Job results on their way back to the session.
pub(crate) type JobResults = mpsc::UnboundedSender<(JobId, JobOutput)>;

/// The language model of a call.
#[derive(Clone)]
pub(crate) struct Model {
    pub client: LlmClient,
    pub endpoint: LlmEndpoint,
}

/// What a call's jobs reach.
pub(crate) struct JobContext {
    pub store: Store,
    /// The call's org and id, for reservations of credit.
    pub org_id: String,
    pub call_id: String,
    /// The agent's server_url and the `call.started` it is sent.
    pub server: Option<(ServerUrl, CallStarted)>,
    pub model: Option<Model>,
    pub knowledge: Option<KnowledgeSearch>,
    /// The caller as memory knew them when the call started.
    pub memory: Option<CallerMemory>,
    /// The appointment tools' desk, when the agent offers them.
    pub appointments: Option<CallDesk>,
}

impl JobContext {
    /// Starts `job`; its results go to `results` tagged with `id`.
    pub(crate) fn spawn(self: &Arc<Self>, id: JobId, job: Job, results: JobResults) -> AbortHandle {
        let context = self.clone();
        // The job logs in the call's span.
        tokio::spawn(async move { context.run(id, job, results).await }.in_current_span()).abort_handle()
    }

    async fn run(&self, id: JobId, job: Job, results: JobResults) {
        let send = |output: JobOutput| results.send((id, output)).is_ok();
        match job {
            Job::CallStarted => {
                send(self.call_started().await);
            }
            Job::Model(request) => {
                let Some(model) = &self.model else {
                    send(JobOutput::ModelDone(Err("no language model".into())));
                    return;
                };
                // The reply is read on this task and each piece goes straight
                // to the session: no hop through another task per token.
                let mut finished = false;
                model
                    .client
                    .stream_each(&model.endpoint, request, LLM_TIMEOUT, |event| {
                        let output = match event {
                            Ok(StreamEvent::Token(piece)) => JobOutput::Token(piece),
                            Ok(StreamEvent::Finished(outcome)) => JobOutput::ModelDone(Ok(outcome)),
                            Err(err) => JobOutput::ModelDone(Err(err.to_string())),
                        };
                        finished |= matches!(output, JobOutput::ModelDone(_));
                        send(output) && !finished
                    })
                    .await;
                if !finished {
                    send(JobOutput::ModelDone(Err("the reply stream ended early".into())));
                }
            }
            Job::ServerTool { request, timeout } => {
                let answer = match &self.server {
                    Some((server, _)) => server.tool_call(&request, timeout).await,
                    None => Err(crate::call::server_url::ServerUrlError::Invalid("no server_url".into())),
                };
                send(JobOutput::ServerTool(answer));
            }
            Job::KnowledgeSearch(args) => {
                let result = match &self.knowledge {
                    Some(knowledge) => knowledge.tool_result(&args).await,
                    None => serde_json::json!({"error": "this agent has no knowledge base"}).to_string(),
                };
                send(JobOutput::ToolResult(result));
            }
            Job::Reserve(amount) => {
                let granted = match self.store.reserve_credit(&self.org_id, &self.call_id, amount).await {
                    Ok(granted) => granted,
                    Err(err) => {
                        // Nothing was reserved; the call ends where its credit does.
                        tracing::error!(error = %err, "could not reserve credit for the call");
                        0
                    }
                };
                send(JobOutput::Reserved(granted));
            }
            Job::Appointment { name, args } => {
                let result = match &self.appointments {
                    Some(desk) => desk.run(&name, &args).await,
                    None => serde_json::json!({"error": "this agent does not book appointments"}),
                };
                send(JobOutput::ToolResult(result.to_string()));
            }
            Job::BookingTurn(utterance) => {
                let reply = match &self.appointments {
                    Some(desk) => desk.converse(&utterance).await,
                    None => None,
                };
                send(JobOutput::Booking(reply));
            }
            Job::KnowledgeAnswer(utterance) => {
                let found = match &self.knowledge {
                    Some(knowledge) => match knowledge.best_answer(&utterance).await {
                        Some(answer) => Found::Answer(answer),
                        None => Found::Nothing { topics: knowledge.topics().await },
                    },
                    None => Found::Nothing { topics: Vec::new() },
                };
                send(JobOutput::Answer(found));
            }
        }
    }

    /// Asks the server_url for the configuration; when the answer names the
    /// caller's ids elsewhere, the caller is recognised again by them.
    async fn call_started(&self) -> JobOutput {
        let Some((server, body)) = &self.server else {
            let answer = Err(crate::call::server_url::ServerUrlError::Invalid("no server_url".into()));
            return JobOutput::Configured { answer: Box::new(answer), recognised: None };
        };
        let answer = server.call_started(body).await;
        let external_ids = answer.as_ref().ok().and_then(|c| c.memory.as_ref()).and_then(|m| m.external_ids.clone());
        let recognised = match (&self.memory, external_ids) {
            (Some(memory), Some(ids)) if !ids.is_empty() => {
                let mut memory = memory.clone();
                memory.recognise_again(&self.store, &ids).await.then(|| Box::new(memory.context))
            }
            _ => None,
        };
        JobOutput::Configured { answer: Box::new(answer), recognised }
    }

    /// The call's extracted data, when `call.started` gave a schema: the valid
    /// object, or why there is none. The model fills the schema from the
    /// transcript; without a model, the values the call collected do.
    pub(crate) async fn extract(&self, finished: &Finished) -> Option<Result<Value, String>> {
        let schema = finished.extraction.as_ref()?;
        let data = match &self.model {
            Some(model) => {
                let transcript = finished
                    .record
                    .transcript
                    .iter()
                    .map(|line| format!("{}: {}", line.role.as_str(), line.content))
                    .collect::<Vec<_>>()
                    .join("\n");
                let messages =
                    vec![ChatMessage::System(EXTRACTION_INSTRUCTION.to_owned()), ChatMessage::User(transcript)];
                model
                    .client
                    .extract_json(&model.endpoint, messages, schema, EXTRACTION_TIMEOUT)
                    .await
                    .map_err(|e| format!("extraction failed: {e}"))
            }
            None => Ok(extraction::from_collected(schema, &finished.collected)),
        };
        Some(data.and_then(|data| {
            extraction::validate(schema, &data)
                .map(|()| data)
                .map_err(|errors| format!("extracted data does not match the schema: {}", errors.join("; ")))
        }))
    }
}
