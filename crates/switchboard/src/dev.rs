//! `serve --dev`: a ready development org whose keys are kept in the data
//! folder, so every start prints a key that works.

use std::path::Path;

use anyhow::Context;
use switchboard_domain::keys;
use switchboard_store::Store;

use crate::admin::{BootstrapOutput, bootstrap};

const FILE_NAME: &str = "dev-credentials.json";

/// The dev org's credentials: reused while its project key still works,
/// otherwise a new org is bootstrapped and its keys saved (mode 0600).
pub async fn credentials(store: &Store, data_dir: &Path, starting_credits: f64) -> anyhow::Result<BootstrapOutput> {
    let path = data_dir.join(FILE_NAME);
    if let Ok(raw) = std::fs::read_to_string(&path)
        && let Ok(saved) = serde_json::from_str::<BootstrapOutput>(&raw)
        && store.key_by_hash(&keys::hash(&saved.project_key)).await.is_ok()
    {
        return Ok(saved);
    }
    let created = bootstrap(store, "Development", starting_credits).await?;
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    std::fs::write(&path, serde_json::to_string_pretty(&created)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    restrict(&path)?;
    Ok(created)
}

#[cfg(unix)]
fn restrict(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

#[cfg(not(unix))]
fn restrict(_: &Path) -> anyhow::Result<()> {
    Ok(())
}
