//! The voice catalogue: friendly voice names mapped onto voices the server can speak.
//!
//! The built-in voices are rendered by the local espeak-ng engine; each friendly
//! name is offered in every language of `LOCAL_LANGUAGES` with an espeak-ng voice
//! and variant behind it. The seeds' example voices (`Sarah`, `jennifer`, `Aria`,
//! `Sulafat`, `Ravi`) are among them, so the seeds' own examples work as written.

use serde::Serialize;

/// One voice a client can put on an agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Voice {
    /// Stable id: `<provider>:<language>:<name>`.
    pub id: String,
    /// The name agents use in their `voice` field.
    pub name: String,
    /// BCP-47 language the voice speaks.
    pub language: String,
    /// `female` or `male`.
    pub gender: String,
    /// Which engine renders it, e.g. `espeak-ng`.
    pub provider: String,
    /// The engine's own voice name (for espeak-ng: `<voice>+<variant>`).
    #[serde(skip)]
    pub engine_voice: String,
}

/// Friendly built-in voices: name, gender, espeak-ng variant.
const LOCAL_VOICES: &[(&str, &str, &str)] = &[
    ("Sarah", "female", "f3"),
    ("jennifer", "female", "f2"),
    ("Aria", "female", "f4"),
    ("Sulafat", "female", "f5"),
    ("Emma", "female", "f1"),
    ("Ravi", "male", "m3"),
    ("James", "male", "m1"),
    ("Lucas", "male", "m2"),
];

/// Languages the local engine speaks: BCP-47 tag → espeak-ng voice.
const LOCAL_LANGUAGES: &[(&str, &str)] = &[
    ("en-US", "en-us"),
    ("en-GB", "en-gb"),
    ("en-AU", "en-gb"),
    ("en-IN", "en-gb"),
    ("nl-NL", "nl"),
    ("nl-BE", "nl"),
    ("de-DE", "de"),
    ("de-AT", "de"),
    ("de-CH", "de"),
    ("fr-FR", "fr-fr"),
    ("fr-BE", "fr-be"),
    ("es-ES", "es"),
    ("es-MX", "es-419"),
    ("it-IT", "it"),
    ("pt-PT", "pt"),
    ("pt-BR", "pt-br"),
    ("pl-PL", "pl"),
    ("sv-SE", "sv"),
    ("da-DK", "da"),
    ("nb-NO", "nb"),
    ("fi-FI", "fi"),
    ("tr-TR", "tr"),
    ("hi-IN", "hi"),
];

pub const LOCAL_PROVIDER: &str = "espeak-ng";

/// Every built-in voice, in every language the local engine speaks.
pub fn local_catalogue() -> Vec<Voice> {
    LOCAL_LANGUAGES
        .iter()
        .flat_map(|(tag, engine)| {
            LOCAL_VOICES.iter().map(move |(name, gender, variant)| Voice {
                id: format!("{LOCAL_PROVIDER}:{tag}:{}", name.to_ascii_lowercase()),
                name: (*name).to_owned(),
                language: (*tag).to_owned(),
                gender: (*gender).to_owned(),
                provider: LOCAL_PROVIDER.to_owned(),
                engine_voice: format!("{engine}+{variant}"),
            })
        })
        .collect()
}

/// Whether a catalogue voice serves a requested language: the same tag, compared
/// case-insensitively, or — for a bare language like `en` — the same primary subtag.
pub fn serves_language(voice: &Voice, language: &str) -> bool {
    if voice.language.eq_ignore_ascii_case(language) {
        return true;
    }
    !language.contains('-')
        && voice.language.split('-').next().is_some_and(|primary| primary.eq_ignore_ascii_case(language))
}

/// Finds a voice by name (case-insensitive) for a language in a catalogue.
pub fn find<'a>(catalogue: &'a [Voice], name: &str, language: &str) -> Option<&'a Voice> {
    catalogue.iter().find(|v| v.name.eq_ignore_ascii_case(name) && serves_language(v, language))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_voices_exist_in_english() {
        let catalogue = local_catalogue();
        for name in ["Sarah", "jennifer", "Aria", "Sulafat", "Ravi"] {
            assert!(find(&catalogue, name, "en-US").is_some(), "{name}");
        }
        assert!(find(&catalogue, "sarah", "en-us").is_some());
        assert!(find(&catalogue, "Sarah", "nl").is_some());
        assert!(find(&catalogue, "Sarah", "ja-JP").is_none());
        assert!(find(&catalogue, "Nobody", "en-US").is_none());
    }

    #[test]
    fn ids_are_unique() {
        let catalogue = local_catalogue();
        let mut ids: Vec<_> = catalogue.iter().map(|v| &v.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), catalogue.len());
    }
}
