//! Operator commands (`switchboard admin …`): bootstrap and list orgs, set an
//! org's tier, credits, voice rate and monthly caller-memory quota. Output is
//! JSON for scripts.

use anyhow::{Context, bail};
use serde::Serialize;
use switchboard_domain::memory::quota::month_of;
use switchboard_domain::money::{from_eur, to_eur};
use switchboard_domain::tier::Tier;
use switchboard_domain::time::iso;
use switchboard_store::Store;
use switchboard_store::orgs::{Bootstrap, OrgRow};

/// What `admin bootstrap --json` prints.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct BootstrapOutput {
    pub org_id: String,
    pub project_id: String,
    pub org_key: String,
    pub project_key: String,
}

impl From<Bootstrap> for BootstrapOutput {
    fn from(b: Bootstrap) -> Self {
        BootstrapOutput { org_id: b.org.id, project_id: b.project.id, org_key: b.org_key, project_key: b.project_key }
    }
}

/// What the org-changing commands print, and `list-orgs` for each org.
#[derive(Debug, Serialize)]
pub struct OrgOutput {
    pub org_id: String,
    pub name: String,
    pub tier: String,
    pub balance: f64,
    pub rate_per_minute: f64,
    pub is_paused: bool,
    pub created_at: String,
}

impl From<OrgRow> for OrgOutput {
    fn from(o: OrgRow) -> Self {
        OrgOutput {
            created_at: iso(o.created_at),
            tier: o.tier.as_str().into(),
            balance: to_eur(o.balance),
            rate_per_minute: to_eur(o.rate_per_minute()),
            is_paused: o.is_paused(),
            org_id: o.id,
            name: o.name,
        }
    }
}

fn eur(amount: f64, what: &str) -> anyhow::Result<i64> {
    from_eur(amount).with_context(|| format!("{what} must be a finite amount of EUR"))
}

pub async fn bootstrap(store: &Store, org_name: &str, starting_credits: f64) -> anyhow::Result<BootstrapOutput> {
    if org_name.trim().is_empty() {
        bail!("--org-name must not be empty");
    }
    let credits = eur(starting_credits, "billing.starting_credits")?;
    Ok(store.bootstrap_org(org_name.trim(), credits).await?.into())
}

/// Every org of this database, oldest first.
pub async fn list_orgs(store: &Store) -> anyhow::Result<Vec<OrgOutput>> {
    Ok(store.all_orgs().await?.into_iter().map(OrgOutput::from).collect())
}

fn org_not_found(org_id: &str) -> impl FnOnce(switchboard_store::Error) -> anyhow::Error + '_ {
    move |err| match err {
        switchboard_store::Error::NotFound => anyhow::anyhow!("no org with id {org_id}"),
        other => other.into(),
    }
}

pub async fn set_tier(store: &Store, org_id: &str, tier: &str) -> anyhow::Result<OrgOutput> {
    let Some(tier) = Tier::parse(tier) else { bail!("--tier must be payg, starter, growth or enterprise") };
    Ok(store.set_org_tier(org_id, tier).await.map_err(org_not_found(org_id))?.into())
}

pub async fn add_credits(store: &Store, org_id: &str, amount: f64) -> anyhow::Result<OrgOutput> {
    let amount = eur(amount, "--amount")?;
    Ok(store.add_org_credits(org_id, amount).await.map_err(org_not_found(org_id))?.into())
}

pub async fn set_rate(store: &Store, org_id: &str, rate: f64) -> anyhow::Result<OrgOutput> {
    let rate = eur(rate, "--rate-per-minute")?;
    if rate < 0 {
        bail!("--rate-per-minute must not be negative");
    }
    Ok(store.set_org_rate(org_id, rate).await.map_err(org_not_found(org_id))?.into())
}

/// What `admin set-memory-quota` prints.
#[derive(Debug, Serialize)]
pub struct MemoryQuotaOutput {
    pub org_id: String,
    /// `null` when unlimited.
    pub calls_per_month: Option<i64>,
    /// The current quota period, `YYYY-MM` (UTC).
    pub month: String,
    pub used: i64,
    /// `null` when unlimited.
    pub remaining: Option<i64>,
}

/// `--calls`: a whole number of calls; 0 or `unlimited` means no limit.
fn memory_quota_calls(calls: &str) -> anyhow::Result<Option<i64>> {
    if calls.trim().eq_ignore_ascii_case("unlimited") {
        return Ok(None);
    }
    match calls.trim().parse::<i64>() {
        Ok(0) => Ok(None),
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => bail!("--calls must be a whole number of calls, 0, or unlimited"),
    }
}

pub async fn set_memory_quota(store: &Store, org_id: &str, calls: &str) -> anyhow::Result<MemoryQuotaOutput> {
    let calls_per_month = memory_quota_calls(calls)?;
    let status = store.set_memory_quota(org_id, calls_per_month).await.map_err(org_not_found(org_id))?;
    Ok(MemoryQuotaOutput {
        org_id: org_id.to_owned(),
        calls_per_month: status.calls_per_month,
        month: month_of(store.clock().now_ms()),
        used: status.used,
        remaining: status.remaining(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_quota_calls_parse() {
        assert_eq!(memory_quota_calls("1000").ok(), Some(Some(1000)));
        assert_eq!(memory_quota_calls("0").ok(), Some(None));
        assert_eq!(memory_quota_calls("Unlimited").ok(), Some(None));
        for bad in ["-1", "lots", "", "1.5"] {
            assert!(memory_quota_calls(bad).is_err(), "{bad}");
        }
    }
}
