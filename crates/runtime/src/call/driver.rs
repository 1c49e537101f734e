//! Drives one session: feeds it its transport's events, the commands sent to
//! the call, its jobs' results and the passing of time, and carries out the
//! effects it answers with. The driver is the only async part of a call; the
//! rules are all in the session.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use switchboard_domain::server_url::TranscriptUpdated;
use switchboard_store::Clock;
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::{Instant, sleep_until};

use super::directory::Control;
use super::jobs::JobContext;
use super::recorder::Recorder;
use super::session::{CommandId, Effect, Input, JobId, Now, Session};
use super::{ControlError, TransportAction, TransportLink};
use crate::call::server_url::TranscriptFeed;

/// A session and everything around it.
pub(crate) struct Call<R> {
    pub session: Session,
    pub link: TransportLink,
    pub commands: mpsc::Receiver<Control>,
    pub jobs: Arc<JobContext>,
    pub recorder: R,
    /// Stamps what is stored with epoch ms.
    pub clock: Clock,
}

/// The driver's own bookkeeping while the call runs.
struct Running<R> {
    recorder: R,
    actions: mpsc::UnboundedSender<TransportAction>,
    jobs: Arc<JobContext>,
    results: mpsc::UnboundedSender<(JobId, super::session::JobOutput)>,
    tasks: HashMap<JobId, AbortHandle>,
    replies: HashMap<CommandId, oneshot::Sender<Result<(), ControlError>>>,
    feed: Option<TranscriptFeed>,
    call_id: String,
    agent_id: String,
}

impl<R: Recorder> Running<R> {
    fn apply(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                // A transport that is gone has ended the call; its end event decides.
                Effect::Act(action) => drop(self.actions.send(action)),
                Effect::Emit(event, data) => self.recorder.emit(event, data),
                Effect::Transcript(line) => {
                    if let Some(feed) = &self.feed {
                        feed.send(TranscriptUpdated {
                            event: "transcript.updated".into(),
                            call_id: self.call_id.clone(),
                            agent_id: self.agent_id.clone(),
                            role: line.role.as_str().into(),
                            content: line.content,
                            timestamp: line.timestamp,
                        });
                    }
                }
                Effect::Run(id, job) => {
                    let task = self.jobs.spawn(id, job, self.results.clone());
                    self.tasks.insert(id, task);
                }
                Effect::Cancel(id) => {
                    if let Some(task) = self.tasks.remove(&id) {
                        task.abort();
                    }
                }
                Effect::Reply(id, result) => {
                    if let Some(reply) = self.replies.remove(&id) {
                        reply.send(result).ok();
                    }
                }
                Effect::Answered(at) => self.recorder.answered(at),
            }
        }
        self.recorder.flush();
    }
}

/// Runs the call from ringing to its recorded end.
pub(crate) async fn drive<R: Recorder>(call: Call<R>) {
    let Call { mut session, link, mut commands, jobs, recorder, clock } = call;
    let TransportLink { mut events, actions } = link;
    let start = Instant::now();
    let now = || {
        let instant = Instant::now();
        Now { elapsed: instant - start, epoch_ms: clock.now_ms(), instant }
    };
    let (results_tx, mut results) = mpsc::unbounded_channel();
    let feed = jobs.server.as_ref().map(|(server, _)| server.transcript_feed());
    let agent_id = jobs.server.as_ref().map(|(_, started)| started.agent_id.clone()).unwrap_or_default();
    let mut running = Running {
        recorder,
        actions,
        jobs: jobs.clone(),
        results: results_tx,
        tasks: HashMap::new(),
        replies: HashMap::new(),
        feed,
        call_id: session.call_id().to_owned(),
        agent_id,
    };
    let mut next_command: CommandId = 0;
    let mut transport_open = true;
    let far = start + Duration::from_secs(86_400 * 365);
    while !session.is_over() {
        let deadline = session.next_deadline().map(|d| start + d);
        let input = tokio::select! {
            event = events.recv(), if transport_open => match event {
                Some(event) => Input::Transport(event),
                None => {
                    transport_open = false;
                    Input::TransportGone
                }
            },
            Some(control) = commands.recv() => {
                next_command += 1;
                running.replies.insert(next_command, control.reply);
                Input::Command(next_command, control.command)
            }
            Some((id, output)) = results.recv() => {
                if !matches!(output, super::session::JobOutput::Token(_)) {
                    running.tasks.remove(&id);
                }
                Input::Job(id, output)
            }
            () = sleep_until(deadline.unwrap_or(far)), if deadline.is_some() => Input::Timer,
        };
        session.handle(now(), input);
        running.apply(session.effects());
    }
    // Commands that raced the end are refused.
    commands.close();
    while let Ok(control) = commands.try_recv() {
        control.reply.send(Err(ControlError::NotInProgress)).ok();
    }
    let (effects, finished) = session.finish(now());
    running.apply(effects);
    for (_, task) in running.tasks.drain() {
        task.abort();
    }
    for (_, reply) in running.replies.drain() {
        reply.send(Err(ControlError::NotInProgress)).ok();
    }
    for turn in &finished.record.latency.turns {
        metrics::histogram!("switchboard_turn_latency_seconds").record(turn.tts_ttfb_ms as f64 / 1000.0);
    }
    running.recorder.finish(finished, &jobs).await;
}
