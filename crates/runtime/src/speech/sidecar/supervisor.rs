//! Keeps the sidecar running: installs it if needed, starts it, and when it dies (or stops
//! answering `/health`) starts it again after a backoff, publishing each change as a
//! [`VoiceState`].

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep};

use super::SidecarError;
use super::install::VoiceInstall;
use super::process::{Liveness, Sidecar, SidecarOptions};

/// The first pause before starting again; it doubles with each failure in a row.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How often a running sidecar is asked whether it still answers.
const PROBE_EVERY: Duration = Duration::from_secs(10);
/// Missed probes in a row after which a running sidecar counts as hung and is replaced.
const MISSED_PROBES: u32 = 3;
/// A sidecar that ran this long before dying counts as healthy: the backoff starts over.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Where the voice sidecar is, as the server's health and readiness report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoiceState {
    /// Building the virtualenv (the first start of a version; minutes, once).
    Installing,
    /// The process is starting and loading its models.
    Starting,
    /// Serving at `base_url`.
    Ready {
        /// The API root for the OpenAI-compatible clients.
        base_url: String,
        /// The process id.
        pid: u32,
    },
    /// Not running; the next attempt follows after a backoff.
    Down {
        /// Failures in a row so far.
        attempt: u32,
        /// Why the last attempt failed or the process ended.
        reason: String,
    },
}

impl VoiceState {
    /// The API root while ready.
    pub fn base_url(&self) -> Option<&str> {
        match self {
            Self::Ready { base_url, .. } => Some(base_url),
            _ => None,
        }
    }
}

/// The sidecar under supervision. Dropping it stops the supervisor and kills the process.
#[derive(Debug)]
pub struct SupervisedSidecar {
    state: watch::Receiver<VoiceState>,
    task: JoinHandle<()>,
}

impl SupervisedSidecar {
    /// Starts supervising on the current tokio runtime: install (when needed), start, and
    /// restart on exit. Install progress goes to the log; run [`VoiceInstall::ensure`] first
    /// to show it to a person.
    pub fn spawn(install: VoiceInstall, options: SidecarOptions) -> Self {
        let (sender, state) = watch::channel(VoiceState::Starting);
        let task = tokio::spawn(supervise(install, options, sender));
        Self { state, task }
    }

    /// The state now.
    pub fn state(&self) -> VoiceState {
        self.state.borrow().clone()
    }

    /// A receiver that sees every change of state.
    pub fn subscribe(&self) -> watch::Receiver<VoiceState> {
        self.state.clone()
    }

    /// Waits until the sidecar is ready and returns its API root. It may be restarted at any
    /// time after; [`Self::subscribe`] follows that.
    pub async fn ready(&self) -> Result<String, SidecarError> {
        let mut state = self.state.clone();
        let ready = state
            .wait_for(|state| state.base_url().is_some())
            .await
            .map_err(|_| SidecarError::Start("the supervisor stopped".into()))?;
        Ok(ready.base_url().unwrap_or_default().to_owned())
    }
}

impl Drop for SupervisedSidecar {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn supervise(install: VoiceInstall, options: SidecarOptions, state: watch::Sender<VoiceState>) {
    let mut attempt = 0u32;
    let mut port = options.port;
    loop {
        let reason = match run_once(&install, &options, &mut port, &state).await {
            Ok((ran_for, reason)) => {
                if ran_for >= HEALTHY_RUN {
                    attempt = 0;
                }
                reason
            }
            Err(err) => err.to_string(),
        };
        attempt = attempt.saturating_add(1);
        let pause = backoff(attempt);
        tracing::warn!(attempt, reason = %reason, pause_ms = pause.as_millis() as u64, "voice sidecar down; restarting");
        state.send_replace(VoiceState::Down { attempt, reason });
        sleep(pause).await;
    }
}

/// Installs if needed, starts, publishes `Ready`, and waits for the process to end: the
/// time it ran and why it ended. A restart tries the previous port first, so clients that
/// kept the old base URL keep working, and falls back to the configured one.
async fn run_once(
    install: &VoiceInstall,
    options: &SidecarOptions,
    port: &mut u16,
    state: &watch::Sender<VoiceState>,
) -> Result<(Duration, String), SidecarError> {
    if !install.is_installed() {
        state.send_replace(VoiceState::Installing);
        install.ensure(|line| tracing::info!(target: "switchboard::voice", "{line}")).await?;
    }
    state.send_replace(VoiceState::Starting);
    let mut sidecar = match Sidecar::start_with(install, &SidecarOptions { port: *port, ..options.clone() }).await {
        Ok(sidecar) => sidecar,
        Err(err) if *port != options.port => {
            tracing::info!(error = %err, "voice sidecar could not take its previous port");
            Sidecar::start_with(install, options).await?
        }
        Err(err) => return Err(err),
    };
    *port = sidecar.port();
    state.send_replace(VoiceState::Ready {
        base_url: sidecar.base_url().to_owned(),
        pid: sidecar.pid().unwrap_or_default(),
    });
    let started = Instant::now();
    let liveness = sidecar.liveness();
    let reason = tokio::select! {
        status = sidecar.exited() => match status {
            Ok(status) => format!("exited ({status})"),
            Err(err) => format!("lost track of the process: {err}"),
        },
        () = hung(liveness) => format!("stopped answering /health {MISSED_PROBES} times in a row"),
    };
    // Dropping the handle kills a hung process.
    drop(sidecar);
    Ok((started.elapsed(), reason))
}

/// Returns once the sidecar missed [`MISSED_PROBES`] liveness probes in a row.
async fn hung(liveness: Liveness) {
    let mut missed = 0;
    while missed < MISSED_PROBES {
        sleep(PROBE_EVERY).await;
        missed = if liveness.answers().await { 0 } else { missed + 1 };
    }
}

/// The pause before attempt `attempt` (1-based): doubling from [`FIRST_BACKOFF`] up to
/// [`MAX_BACKOFF`].
fn backoff(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    FIRST_BACKOFF.saturating_mul(1u32 << doublings).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_cap() {
        assert_eq!(backoff(1), Duration::from_millis(500));
        assert_eq!(backoff(2), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(2));
        assert_eq!(backoff(7), Duration::from_secs(30));
        assert_eq!(backoff(u32::MAX), MAX_BACKOFF);
    }

    #[test]
    fn only_ready_has_a_base_url() {
        let ready = VoiceState::Ready { base_url: "http://127.0.0.1:1/v1".into(), pid: 7 };
        assert_eq!(ready.base_url(), Some("http://127.0.0.1:1/v1"));
        assert_eq!(VoiceState::Starting.base_url(), None);
        assert_eq!(VoiceState::Down { attempt: 1, reason: "x".into() }.base_url(), None);
    }
}
