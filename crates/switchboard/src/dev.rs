//! `serve --dev`: a ready development org whose keys are kept in the data
//! folder, so every start prints a key that works.

use std::path::Path;

use anyhow::Context;
use switchboard_domain::keys::{self, KeyScope};
use switchboard_store::Store;

use crate::admin::{BootstrapOutput, bootstrap};

const FILE_NAME: &str = "dev-credentials.json";

/// The name of the dev org and of the keys minted for it.
const NAME: &str = "Development";

/// The dev org's credentials: reused while its project key still works,
/// otherwise a new org is bootstrapped and its keys saved (mode 0600).
/// `serve --dev` prints them; `admin dev-keys` prints them too.
pub async fn credentials(store: &Store, data_dir: &Path, starting_credits: f64) -> anyhow::Result<BootstrapOutput> {
    if let Some(saved) = saved(store, data_dir).await {
        return Ok(saved);
    }
    let created = bootstrap(store, NAME, starting_credits).await?;
    save(data_dir, &created)?;
    Ok(created)
}

/// New keys for the dev org (`admin dev-keys --rotate`): the saved ones are
/// revoked, so a key that leaked stops working at once.
pub async fn rotate(store: &Store, data_dir: &Path, starting_credits: f64) -> anyhow::Result<BootstrapOutput> {
    let old = credentials(store, data_dir, starting_credits).await?;
    let (_, project_key) = store.create_project_key(&old.org_id, &old.project_id, NAME, KeyScope::Full).await?;
    let (_, org_key) = store.create_org_key(&old.org_id, NAME, KeyScope::Full).await?;
    let rotated =
        BootstrapOutput { project_key, org_key, org_id: old.org_id.clone(), project_id: old.project_id.clone() };
    save(data_dir, &rotated)?;
    for (raw, project) in [(&old.project_key, Some(old.project_id.as_str())), (&old.org_key, None)] {
        if let Ok(owner) = store.key_by_hash(&keys::hash(raw)).await {
            store.revoke_key(&owner.key.org_id, project, &owner.key.id).await?;
        }
    }
    Ok(rotated)
}

/// The saved credentials, while their project key still works.
async fn saved(store: &Store, data_dir: &Path) -> Option<BootstrapOutput> {
    let raw = std::fs::read_to_string(data_dir.join(FILE_NAME)).ok()?;
    let saved = serde_json::from_str::<BootstrapOutput>(&raw).ok()?;
    store.key_by_hash(&keys::hash(&saved.project_key)).await.ok().map(|_| saved)
}

fn save(data_dir: &Path, credentials: &BootstrapOutput) -> anyhow::Result<()> {
    let path = data_dir.join(FILE_NAME);
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    std::fs::write(&path, serde_json::to_string_pretty(credentials)?)
        .with_context(|| format!("cannot write {}", path.display()))?;
    restrict(&path)
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
