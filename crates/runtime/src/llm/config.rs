//! Which language model a call uses: the agent's `llm` settings, then the
//! project's, then the org's, then the server's, field by field. A key is only
//! ever sent to the base URL configured beside it, so an agent pointing at its
//! own URL never receives an operator's key.

use std::collections::HashMap;

use switchboard_domain::agent::LlmConfig;

use crate::llm::LlmEndpoint;

/// One level's model settings (server, org or project), from configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LlmTarget {
    pub base_url: Option<String>,
    pub model: Option<String>,
    pub api_key: Option<String>,
}

/// The model settings of every level the operator configured.
#[derive(Debug, Clone, Default)]
pub struct LlmSettings {
    pub server: LlmTarget,
    /// By org id.
    pub orgs: HashMap<String, LlmTarget>,
    /// By project id.
    pub projects: HashMap<String, LlmTarget>,
}

/// The model used when no level names one.
pub const FALLBACK_MODEL: &str = "gpt-4o-mini";

impl LlmSettings {
    /// The endpoint of a call, or `None` when no level names a base URL (the
    /// embedded brain runs).
    pub fn resolve(&self, org_id: &str, project_id: &str, agent: Option<&LlmConfig>) -> Option<LlmEndpoint> {
        let agent_level =
            agent.map(|a| LlmTarget { base_url: a.base_url.clone(), model: a.model.clone(), api_key: None });
        let levels: Vec<&LlmTarget> =
            [agent_level.as_ref(), self.projects.get(project_id), self.orgs.get(org_id), Some(&self.server)]
                .into_iter()
                .flatten()
                .collect();
        let with_url = levels.iter().find(|l| l.base_url.is_some())?;
        let model = levels.iter().find_map(|l| l.model.clone()).unwrap_or_else(|| FALLBACK_MODEL.to_owned());
        Some(LlmEndpoint { base_url: with_url.base_url.clone()?, api_key: with_url.api_key.clone(), model })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(url: Option<&str>, model: Option<&str>, key: Option<&str>) -> LlmTarget {
        LlmTarget { base_url: url.map(Into::into), model: model.map(Into::into), api_key: key.map(Into::into) }
    }

    fn settings() -> LlmSettings {
        LlmSettings {
            server: target(Some("https://server.example/v1"), Some("server-model"), Some("server-key")),
            orgs: HashMap::from([("org_a".into(), target(Some("https://org.example/v1"), None, Some("org-key")))]),
            projects: HashMap::from([("proj_a".into(), target(None, Some("project-model"), None))]),
        }
    }

    #[test]
    fn levels_apply_field_by_field() {
        let s = settings();
        let e = s.resolve("org_a", "proj_a", None).unwrap();
        assert_eq!((e.base_url.as_str(), e.model.as_str()), ("https://org.example/v1", "project-model"));
        assert_eq!(e.api_key.as_deref(), Some("org-key"));
        let e = s.resolve("org_b", "proj_b", None).unwrap();
        assert_eq!((e.model.as_str(), e.api_key.as_deref()), ("server-model", Some("server-key")));
        let agent = LlmConfig { model: Some("agent-model".into()), ..LlmConfig::default() };
        assert_eq!(s.resolve("org_b", "proj_b", Some(&agent)).unwrap().model, "agent-model");
    }

    #[test]
    fn keys_never_follow_an_agents_own_url() {
        let agent = LlmConfig { base_url: Some("https://attacker.example/v1".into()), ..LlmConfig::default() };
        let e = settings().resolve("org_a", "proj_a", Some(&agent)).unwrap();
        assert_eq!(e.base_url, "https://attacker.example/v1");
        assert_eq!(e.api_key, None);
    }

    #[test]
    fn no_url_anywhere_means_the_embedded_brain() {
        let s = LlmSettings { server: target(None, Some("m"), Some("k")), ..LlmSettings::default() };
        assert!(s.resolve("org", "proj", None).is_none());
        assert_eq!(s.resolve("org", "proj", Some(&LlmConfig::default())), None);
    }
}
