//! One running sidecar process: spawned from its virtualenv with stdin held open (it exits
//! when that closes), its `LISTENING <port>` line read, `/health` polled until ready, its
//! stderr forwarded to the log. Dropping the handle kills it.

use std::collections::VecDeque;
use std::io;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::time::{Instant, sleep, timeout_at};

use super::install::VoiceInstall;
use super::{SidecarError, sidecar_client};
use crate::outbound::OutboundClient;

/// Lines of the sidecar's stderr kept to explain a failed start.
const KEPT_STDERR_LINES: usize = 20;
/// Pause between two health probes while the sidecar comes up.
const HEALTH_POLL: Duration = Duration::from_millis(100);
/// How long a sidecar that closed its stdout is given to report its exit status.
const EXIT_GRACE: Duration = Duration::from_secs(5);
/// Time allowed for one health probe while starting.
const START_PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// Time allowed for one liveness probe of a running sidecar, which may be busy.
const LIVENESS_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How the sidecar is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SidecarOptions {
    /// Longest wait from spawning to a healthy answer (loading the models from a cold disk
    /// cache takes a few seconds).
    pub start_timeout: Duration,
    /// CPU threads each engine may use; the sidecar's own default (at most 2) when `None`.
    pub threads: Option<u16>,
    /// Port to listen on, 0 for any free one.
    pub port: u16,
}

impl Default for SidecarOptions {
    fn default() -> Self {
        Self { start_timeout: Duration::from_secs(120), threads: None, port: 0 }
    }
}

/// A running, healthy sidecar. The process is killed when this is dropped, and exits by
/// itself if this process dies (its stdin closes).
#[derive(Debug)]
pub struct Sidecar {
    child: Child,
    // Held, never written: the sidecar exits when it closes.
    _stdin: ChildStdin,
    port: u16,
    base_url: String,
    client: OutboundClient,
}

impl Sidecar {
    /// Starts the sidecar of an installed `install` on any free loopback port.
    pub async fn start(install: &VoiceInstall) -> Result<Self, SidecarError> {
        Self::start_with(install, &SidecarOptions::default()).await
    }

    /// Starts the sidecar with `options`: spawns it, waits for its `LISTENING` line and for
    /// `/health` to answer ready, all within `options.start_timeout`.
    pub async fn start_with(install: &VoiceInstall, options: &SidecarOptions) -> Result<Self, SidecarError> {
        if !install.is_installed() {
            return Err(SidecarError::Start(format!("version {} is not installed", install.version())));
        }
        let deadline = Instant::now() + options.start_timeout;
        let mut command = Command::new(install.venv_python());
        command
            .arg(install.server_script())
            .args(["--host", "127.0.0.1", "--port", &options.port.to_string()])
            .current_dir(install.dir())
            .env("HF_HUB_OFFLINE", "1")
            .env("HF_HUB_DISABLE_TELEMETRY", "1")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(threads) = options.threads {
            command.args(["--threads", &threads.to_string()]);
        }
        let mut child =
            command.spawn().map_err(|err| SidecarError::Start(format!("cannot run the virtualenv's python: {err}")))?;
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(SidecarError::Start("the process started without its pipes".into()));
        };
        let recent_stderr = Arc::new(Mutex::new(VecDeque::with_capacity(KEPT_STDERR_LINES)));
        let mut stderr_task = tokio::spawn(forward_stderr(BufReader::new(stderr).lines(), Arc::clone(&recent_stderr)));
        let explain = |what: String| {
            let tail = recent_stderr.lock().map(|lines| Vec::from(lines.clone()).join("\n")).unwrap_or_default();
            if tail.is_empty() { SidecarError::Start(what) } else { SidecarError::Start(format!("{what}: {tail}")) }
        };
        let mut stdout = BufReader::new(stdout).lines();
        let port = match timeout_at(deadline, read_port(&mut stdout)).await {
            Ok(Ok(port)) => port,
            Ok(Err(err)) => {
                // Let the exit status and the last stderr lines arrive before explaining.
                let status = match tokio::time::timeout(EXIT_GRACE, child.wait()).await {
                    Ok(Ok(status)) => format!(" ({status})"),
                    _ => String::new(),
                };
                // The reader ends with the pipe, which closes with the process; a failed join
                // only means fewer lines to show.
                let _ = tokio::time::timeout(EXIT_GRACE, &mut stderr_task).await;
                return Err(explain(format!("{err}{status}")));
            }
            Err(_) => return Err(explain("no LISTENING line in time".into())),
        };
        tokio::spawn(drain_stdout(stdout));
        let client = sidecar_client()?;
        let base_url = format!("http://127.0.0.1:{port}/v1");
        let mut sidecar = Self { child, _stdin: stdin, port, base_url, client: client.clone() };
        loop {
            if let Ok(Some(status)) = sidecar.child.try_wait() {
                return Err(explain(format!("exited before it was healthy ({status})")));
            }
            if is_ready(&client, port, START_PROBE_TIMEOUT).await {
                tracing::info!(port, pid = sidecar.pid(), "voice sidecar ready");
                return Ok(sidecar);
            }
            if Instant::now() + HEALTH_POLL > deadline {
                return Err(explain("/health did not answer ready in time".into()));
            }
            sleep(HEALTH_POLL).await;
        }
    }

    /// The API root to give an OpenAI-compatible client: `http://127.0.0.1:<port>/v1`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// A probe of this sidecar's `/health` that can run while [`Self::exited`] is awaited.
    pub(super) fn liveness(&self) -> Liveness {
        Liveness { client: self.client.clone(), port: self.port }
    }

    /// Waits until the process ends, however it ends.
    pub async fn exited(&mut self) -> io::Result<ExitStatus> {
        self.child.wait().await
    }
}

/// Reads stdout until the `LISTENING <port>` line; anything before it goes to the log.
async fn read_port(stdout: &mut Lines<BufReader<ChildStdout>>) -> Result<u16, String> {
    loop {
        match stdout.next_line().await {
            Ok(Some(line)) => match parse_listening(&line) {
                Some(port) => return Ok(port),
                None => tracing::info!(target: "switchboard::voice", "{line}"),
            },
            Ok(None) => return Err("exited before listening".into()),
            Err(err) => return Err(format!("reading its stdout: {err}")),
        }
    }
}

/// The port of a `LISTENING <port>` line.
fn parse_listening(line: &str) -> Option<u16> {
    line.trim().strip_prefix("LISTENING ")?.trim().parse().ok().filter(|port| *port != 0)
}

async fn drain_stdout(mut stdout: Lines<BufReader<ChildStdout>>) {
    while let Ok(Some(line)) = stdout.next_line().await {
        tracing::info!(target: "switchboard::voice", "{line}");
    }
}

/// Logs each stderr line and keeps the last few to explain a failed start.
async fn forward_stderr(
    mut stderr: Lines<BufReader<tokio::process::ChildStderr>>,
    recent: Arc<Mutex<VecDeque<String>>>,
) {
    while let Ok(Some(line)) = stderr.next_line().await {
        tracing::info!(target: "switchboard::voice", "{line}");
        if let Ok(mut recent) = recent.lock() {
            if recent.len() == KEPT_STDERR_LINES {
                recent.pop_front();
            }
            recent.push_back(line);
        }
    }
}

/// Asks a running sidecar whether it still answers.
#[derive(Debug, Clone)]
pub(super) struct Liveness {
    client: OutboundClient,
    port: u16,
}

impl Liveness {
    /// Whether `/health` answered ready in time.
    pub(super) async fn answers(&self) -> bool {
        is_ready(&self.client, self.port, LIVENESS_PROBE_TIMEOUT).await
    }
}

/// Whether `GET /health` answers 200 with `"status": "ready"` within `timeout`.
async fn is_ready(client: &OutboundClient, port: u16, timeout: Duration) -> bool {
    let url = format!("http://127.0.0.1:{port}/health");
    match client.get(&url, &[], timeout).await {
        Ok(response) if response.is_success() => is_ready_body(&response.body),
        _ => false,
    }
}

fn is_ready_body(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body).is_ok_and(|health| health["status"] == "ready")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listening_lines_parse() {
        assert_eq!(parse_listening("LISTENING 43207"), Some(43207));
        assert_eq!(parse_listening("LISTENING 43207\r"), Some(43207));
        assert_eq!(parse_listening("LISTENING 0"), None);
        assert_eq!(parse_listening("LISTENING"), None);
        assert_eq!(parse_listening("listening 80"), None);
        assert_eq!(parse_listening("voice: loading"), None);
    }

    #[test]
    fn health_bodies_parse() {
        assert!(is_ready_body(br#"{"status":"ready","stt":{}}"#));
        assert!(!is_ready_body(br#"{"status":"loading"}"#));
        assert!(!is_ready_body(b"ready"));
    }

    #[tokio::test]
    async fn an_uninstalled_version_does_not_start() {
        let root = tempfile::tempdir().unwrap();
        let err = Sidecar::start(&VoiceInstall::new(root.path())).await.unwrap_err();
        assert!(err.to_string().contains("is not installed"), "{err}");
    }
}
