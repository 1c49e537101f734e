//! Post-call analysis of answered calls, run after the end is committed: the
//! agent's model writes it within a time limit, the embedded rules when there
//! is no model or the model failed; it is stored with the call and reported as
//! `analysis.complete`.

use std::time::Duration;

use switchboard_domain::call::CallRecord;
use switchboard_domain::call::analysis::{self, AnalysisInput, CallAnalysis};
use switchboard_domain::time::iso;
use switchboard_store::Store;
use tracing::Instrument;

use super::jobs::Model;
use crate::llm::ChatMessage;

/// How long the model may take to analyse a call before the rules do it.
const ANALYSIS_TIMEOUT: Duration = Duration::from_secs(30);

/// Writes the analysis of an agent's calls.
pub(crate) struct Analyst {
    pub store: Store,
    pub model: Option<Model>,
    /// The agent's `success_criteria`.
    pub criteria: Option<String>,
}

impl Analyst {
    /// Analyses an ended, answered call and stores the analysis with its event.
    pub(crate) async fn analyse(&self, call: &CallRecord) -> switchboard_store::Result<CallAnalysis> {
        let booked = self.store.call_booked_appointment(&call.project_id, &call.id).await?;
        let input = AnalysisInput { call, booked, criteria: self.criteria.as_deref() };
        let at = iso(self.store.clock().now_ms());
        let analysis = match &self.model {
            None => analysis::by_rules(&input, None, at),
            Some(model) => {
                let messages = vec![
                    ChatMessage::System(analysis::MODEL_INSTRUCTION.to_owned()),
                    ChatMessage::User(analysis::model_prompt(&input)),
                ];
                let answer = model
                    .client
                    .extract_json(&model.endpoint, messages, &analysis::model_schema(), ANALYSIS_TIMEOUT)
                    .await
                    .map_err(|e| format!("the model failed: {e}"))
                    .and_then(|answer| analysis::from_model(answer, input.criteria, at.clone()));
                answer.unwrap_or_else(|problem| {
                    tracing::warn!(call_id = call.id, problem, "post-call analysis by the rules instead of the model");
                    analysis::by_rules(&input, Some(problem), at)
                })
            }
        };
        self.store.save_call_analysis(call, &analysis).await?;
        Ok(analysis)
    }

    /// Analyses a call that has just ended, in the background: nothing about
    /// the call's end waits on it. Unanswered calls get none.
    pub(crate) fn after_end(self, call: CallRecord) {
        if !analysis::analysable(&call) {
            return;
        }
        let work = async move {
            if let Err(err) = self.analyse(&call).await {
                tracing::error!(call_id = call.id, error = %err, "the call's analysis could not be stored");
            }
        };
        tokio::spawn(work.in_current_span());
    }
}
