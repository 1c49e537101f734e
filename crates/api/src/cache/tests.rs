//! The cache against a real store on a temporary SQLite file: copies are served
//! without the database, announced changes drop them, unannounced ones do not.

use std::time::Duration;

use switchboard_domain::agent::AgentSettings;
use switchboard_domain::keys::{self, KeyScope};
use switchboard_store::{Clock, Store};

use super::ReadCache;

async fn store(dir: &tempfile::TempDir) -> Store {
    let url = format!("sqlite://{}", dir.path().join("cache.db").display());
    let store = Store::connect(&url, Clock::system()).await.expect("open");
    store.migrate().await.expect("migrate");
    store
}

#[tokio::test]
async fn keys_are_served_from_the_cache_until_a_revocation_is_announced() {
    let dir = tempfile::tempdir().expect("dir");
    let (server, other_process) = (store(&dir).await, store(&dir).await);
    let cache = ReadCache::new(Duration::from_secs(600), &server);
    let boot = server.bootstrap_org("Acme", 100_000_000).await.expect("org");
    let (project_key, project_raw) =
        server.create_project_key(&boot.org.id, &boot.project.id, "k", KeyScope::Full).await.expect("key");
    let hash = keys::hash(&project_raw);
    let (key, org) = cache.key(&server, &hash).await.expect("live key");
    assert_eq!((key.id.as_str(), org.id.as_str()), (project_key.id.as_str(), boot.org.id.as_str()));

    // Written where this cache hears nothing: the copy is still served.
    other_process.revoke_key(&boot.org.id, Some(&boot.project.id), &project_key.id).await.expect("revoke");
    other_process.add_org_credits(&boot.org.id, -100_000_000).await.expect("drain");
    let (_, org) = cache.key(&server, &hash).await.expect("served from the cache");
    assert!(!org.is_paused());

    // Through the server's store: the org copy goes, then every key copy.
    server.set_org_tier(&boot.org.id, switchboard_domain::tier::Tier::Payg).await.expect("tier");
    let (_, org) = cache.key(&server, &hash).await.expect("key still cached");
    assert!(org.is_paused(), "the org was reloaded");
    let (other_key, _) = server.create_org_key(&boot.org.id, "other", KeyScope::Full).await.expect("key");
    server.revoke_key(&boot.org.id, None, &other_key.id).await.expect("revoke another key");
    assert!(matches!(cache.key(&server, &hash).await, Err(switchboard_store::Error::NotFound)));
}

#[tokio::test]
async fn agents_are_served_to_their_own_project_only_and_dropped_when_the_org_writes() {
    let dir = tempfile::tempdir().expect("dir");
    let (server, other_process) = (store(&dir).await, store(&dir).await);
    let cache = ReadCache::new(Duration::from_secs(600), &server);
    let boot = server.bootstrap_org("Acme", 100_000_000).await.expect("org");
    let settings = AgentSettings::named("Ava");
    let agent = server.create_agent(&boot.org.id, &boot.project.id, &settings, None).await.expect("agent");
    assert_eq!(cache.agent(&server, &boot.project.id, &agent.id).await.expect("agent").row.settings.name, "Ava");
    let other = server.create_project(&boot.org.id, "Other", None).await.expect("project");
    assert!(matches!(cache.agent(&server, &other.id, &agent.id).await, Err(switchboard_store::Error::NotFound)));

    other_process.delete_agent(&boot.project.id, &agent.id).await.expect("delete elsewhere");
    assert!(cache.agent(&server, &boot.project.id, &agent.id).await.is_ok(), "served from the cache");
    cache.org_wrote(&boot.org.id);
    assert!(matches!(cache.agent(&server, &boot.project.id, &agent.id).await, Err(switchboard_store::Error::NotFound)));
}

#[tokio::test]
async fn a_zero_ttl_reads_the_store_every_time() {
    let dir = tempfile::tempdir().expect("dir");
    let (server, other_process) = (store(&dir).await, store(&dir).await);
    let cache = ReadCache::new(Duration::ZERO, &server);
    let boot = server.bootstrap_org("Acme", 100_000_000).await.expect("org");
    let hash = keys::hash(&boot.project_key);
    cache.key(&server, &hash).await.expect("live key");
    other_process.delete_project(&boot.org.id, &boot.project.id).await.expect("delete elsewhere");
    assert!(matches!(cache.key(&server, &hash).await, Err(switchboard_store::Error::NotFound)));
}
