//! Layered loading: built-in defaults, then a TOML file, then `TRAWL__SECTION__KEY`
//! environment variables. Every unknown key and every bad value is reported at once.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use config::{Config, ConfigBuilder, Environment, File, FileFormat, Source, Value};

use super::Settings;

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// The configuration file could not be read or parsed.
    #[error("cannot read configuration file {path}: {source}")]
    File {
        /// The file given.
        path: String,
        /// What went wrong.
        #[source]
        source: config::ConfigError,
    },
    /// Keys or values are wrong; each entry names its key.
    #[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
    Invalid(Vec<String>),
}

/// The environment list keys: only these split on commas.
const LIST_KEYS: [&str; 2] = ["api.api_keys", "fetcher.allow_addresses"];

/// Loads settings from defaults, `file` (if any) and the given environment variables
/// (pass `std::env::vars()`), then validates them.
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Settings, SettingsError> {
    let defaults = Config::try_from(&Settings::default()).expect("defaults always serialize");
    let mut builder = Config::builder().add_source(defaults.clone());
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| SettingsError::File {
            path: path.display().to_string(),
            source: config::ConfigError::Foreign(Box::new(e)),
        })?;
        builder = builder.add_source(File::from_str(&text, FileFormat::Toml));
    }
    let env: HashMap<String, String> = env
        .into_iter()
        .filter(|(name, _)| name.starts_with("TRAWL__"))
        .collect();
    let mut environment = Environment::with_prefix("TRAWL")
        .prefix_separator("__")
        .separator("__")
        .try_parsing(true)
        .list_separator(",")
        .source(Some(env));
    for key in LIST_KEYS {
        environment = environment.with_list_parse_key(key);
    }
    let merged = builder
        .add_source(environment)
        .build()
        .map_err(|e| SettingsError::File {
            path: file
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "(environment)".into()),
            source: e,
        })?;

    let problems = key_problems(&defaults, &merged);
    if !problems.is_empty() {
        return Err(SettingsError::Invalid(problems));
    }
    let settings: Settings = merged
        .try_deserialize()
        .map_err(|e| SettingsError::Invalid(vec![e.to_string()]))?;
    let problems = settings.problems();
    if problems.is_empty() {
        Ok(settings)
    } else {
        Err(SettingsError::Invalid(problems))
    }
}

/// Names every unknown section or key, and every known key whose value does not
/// deserialize (each checked alone against the defaults, so one bad value cannot hide
/// another).
fn key_problems(defaults: &Config, merged: &Config) -> Vec<String> {
    let known = known_keys();
    let given = sections(merged);
    let mut problems = Vec::new();
    for (section, keys) in &given {
        let Some(known_keys) = known.get(section.as_str()) else {
            problems.push(format!("unknown section `{section}`"));
            continue;
        };
        let Some(keys) = keys else {
            problems.push(format!("`{section}` must be a table of keys"));
            continue;
        };
        for (key, value) in keys {
            let name = format!("{section}.{key}");
            if !known_keys.iter().any(|k| k == key) {
                problems.push(format!("unknown key `{name}`"));
            } else if let Err(e) = deserialize_with(defaults, &name, value.clone()) {
                problems.push(format!(
                    "`{name}` has an invalid value: {}",
                    strip_key_suffix(&e)
                ));
            }
        }
    }
    problems
}

/// Section → keys of [`Settings`], read off its serialized defaults (which, unlike
/// `config`'s own form, keep keys whose default is an empty list).
fn known_keys() -> BTreeMap<String, Vec<String>> {
    let serde_json::Value::Object(top) =
        serde_json::to_value(Settings::default()).expect("defaults always serialize")
    else {
        unreachable!("settings serialize to an object")
    };
    top.into_iter()
        .map(|(section, keys)| {
            let keys = keys
                .as_object()
                .map(|k| k.keys().cloned().collect())
                .unwrap_or_default();
            (section, keys)
        })
        .collect()
}

/// The configuration as section → (key → value), `None` for a section that is not a table.
type Sections = BTreeMap<String, Option<BTreeMap<String, Value>>>;

fn sections(config: &Config) -> Sections {
    let top: HashMap<String, Value> = config.collect().unwrap_or_default().into_iter().collect();
    top.into_iter()
        .map(|(name, value)| {
            (
                name,
                value.into_table().ok().map(|t| t.into_iter().collect()),
            )
        })
        .collect()
}

fn deserialize_with(defaults: &Config, key: &str, value: Value) -> Result<(), String> {
    let builder: ConfigBuilder<_> = Config::builder()
        .add_source(defaults.clone())
        .set_override(key, value)
        .map_err(|e| e.to_string())?;
    let config = builder.build().map_err(|e| e.to_string())?;
    config
        .try_deserialize::<Settings>()
        .map(drop)
        .map_err(|e| e.to_string())
}

/// `config` appends " for key `x.y`"; the caller names the key already.
fn strip_key_suffix(message: &str) -> &str {
    message.split(" for key `").next().unwrap_or(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn environment_overrides_defaults() {
        let settings = load(
            None,
            env(&[
                ("TRAWL__FETCHER__ACTORS", "3"),
                ("TRAWL__FETCHER__TIMEOUT_MS", "2s"),
                ("TRAWL__FETCHER__USER_AGENT", "a,b"),
                ("TRAWL__FETCHER__ALLOW_ADDRESSES", "127.0.0.1,10.0.0.0/8"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.fetcher.actors, 3);
        assert_eq!(settings.fetcher.timeout_ms, 2000);
        assert_eq!(settings.fetcher.user_agent, "a,b");
        assert_eq!(
            settings.fetcher.allow_addresses,
            ["127.0.0.1", "10.0.0.0/8"]
        );
        assert!(settings.to_toml().contains("actors = 3"));
    }

    #[test]
    fn file_then_environment() {
        let dir = std::env::temp_dir().join(format!("trawl-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.toml");
        std::fs::write(
            &path,
            "[fetcher]\nactors = 5\nconcurrency = 7\nmax_body_bytes = \"1MiB\"\n",
        )
        .unwrap();
        let settings = load(Some(&path), env(&[("TRAWL__FETCHER__ACTORS", "4")])).unwrap();
        assert_eq!(
            (settings.fetcher.actors, settings.fetcher.concurrency),
            (4, 7)
        );
        assert_eq!(settings.fetcher.max_body_bytes, 1024 * 1024);
    }

    #[test]
    fn default_toml_documents_every_key_with_its_default() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/default.toml");
        let settings = load(Some(&path), Vec::new()).unwrap();
        assert_eq!(settings, Settings::default());
        let file: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
        for (section, keys) in known_keys() {
            let table = file[&section]
                .as_table()
                .unwrap_or_else(|| panic!("[{section}] missing"));
            for key in keys {
                assert!(
                    table.contains_key(&key),
                    "{section}.{key} is not in configs/default.toml"
                );
            }
        }
    }

    #[test]
    fn docker_toml_needs_an_api_key_and_works_with_one() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/docker.toml");
        let err = load(Some(&path), Vec::new()).unwrap_err().to_string();
        assert!(err.contains("api.api_keys is empty"), "{err}");
        let settings = load(Some(&path), env(&[("TRAWL__API__API_KEYS", "k1,k2")])).unwrap();
        assert_eq!(settings.api.keys(), ["k1", "k2"]);
        assert_eq!(
            settings.store.sqlite_path().unwrap(),
            Path::new("/data/trawl.db")
        );
    }

    #[test]
    fn every_bad_key_is_named_at_once() {
        let err = load(
            None,
            env(&[
                ("TRAWL__FETCHER__ACTORZ", "3"),
                ("TRAWL__FETCHER__CONCURRENCY", "many"),
                ("TRAWL__API__MAX_BODY_BYTES", "huge"),
                ("TRAWL__NOPE__X", "1"),
            ]),
        )
        .unwrap_err()
        .to_string();
        for needle in [
            "fetcher.actorz",
            "fetcher.concurrency",
            "api.max_body_bytes",
            "nope",
        ] {
            assert!(err.contains(needle), "{needle} missing from: {err}");
        }
    }
}
