//! Configuration: the policy (what is allowed, per-type choices, limits) and
//! the daemon, relay and log sections, loaded from one TOML file.
//!
//! Every section is a struct with `deny_unknown_fields`; loading checks each
//! key on its own so that every misspelt key and bad value is reported at
//! once, naming the key, and then [`Config::validate`] checks the values
//! against each other.

mod cluster;
mod console;
mod daemon;
mod icap;
mod policy;
mod relay;
mod sandbox;
mod serve;

pub use cluster::ClusterConfig;
pub use console::ConsoleConfig;
pub use daemon::{DaemonConfig, LogConfig, LogFormat, NoticeLanguage, NoticePlacement};
pub use icap::IcapConfig;
pub use policy::{
    ArchivePolicy, AvPolicy, AvScan, BlockedMember, DamagedStreams, FlateData, FontPrograms,
    ImageCodecs, ImagePolicy, JpegRebuild, Limits, LinkAction, MailAttachments, MailCharset,
    MailPolicy, MismatchAction, OfficePolicy, OnAvFailure, OnStaleSignatures, PdfPolicy, Policy,
    TextEncoding, TextPolicy, TypesPolicy,
};
pub use relay::{OnBlockedMail, RelayConfig};
pub use sandbox::{Requirement, SandboxConfig};
pub use serve::{ApiToken, ServeConfig};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// The default configuration, compiled into the binary.
pub const EMBEDDED_TOML: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../config/mugai.toml"
));

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub policy: Policy,
    pub daemon: DaemonConfig,
    pub relay: RelayConfig,
    pub icap: IcapConfig,
    pub log: LogConfig,
    pub sandbox: SandboxConfig,
    pub console: ConsoleConfig,
    pub serve: ServeConfig,
    pub cluster: ClusterConfig,
}

/// Everything wrong with a configuration, each naming its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the configuration came from (a path, or `embedded`).
    pub source: String,
    pub errors: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: invalid configuration: {}",
            self.source,
            self.errors.join("; ")
        )
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// The embedded default configuration.
    pub fn embedded() -> Config {
        // The embedded file is checked by a unit test; failing here is a
        // build defect, not an input error.
        Config::from_toml_str(EMBEDDED_TOML, "embedded")
            .unwrap_or_else(|e| panic!("embedded configuration is invalid: {e}"))
    }

    /// Loads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            source: source.clone(),
            errors: vec![format!("cannot read: {e}")],
        })?;
        Config::from_toml_str(&text, &source)
    }

    /// Parses and validates TOML text; `source` names it in errors.
    pub fn from_toml_str(text: &str, source: &str) -> Result<Config, ConfigError> {
        let fail = |errors: Vec<String>| ConfigError {
            source: source.to_string(),
            errors,
        };
        let table: toml::Table =
            toml::from_str(text).map_err(|e| fail(vec![one_line(&e.to_string())]))?;
        let mut errors = Vec::new();
        let mut config = Config::default();
        for (section, value) in &table {
            let Some(body) = value.as_table() else {
                errors.push(format!("`{section}`: expected a [{section}] table"));
                continue;
            };
            match section.as_str() {
                "types" => config.policy.types = load_section(section, body, &mut errors),
                "limits" => config.policy.limits = load_section(section, body, &mut errors),
                "text" => config.policy.text = load_section(section, body, &mut errors),
                "pdf" => config.policy.pdf = load_section(section, body, &mut errors),
                "office" => config.policy.office = load_section(section, body, &mut errors),
                "image" => config.policy.image = load_section(section, body, &mut errors),
                "archive" => config.policy.archive = load_section(section, body, &mut errors),
                "mail" => config.policy.mail = load_section(section, body, &mut errors),
                "av" => config.policy.av = load_section(section, body, &mut errors),
                "daemon" => config.daemon = load_section(section, body, &mut errors),
                "relay" => config.relay = load_section(section, body, &mut errors),
                "icap" => config.icap = load_section(section, body, &mut errors),
                "log" => config.log = load_section(section, body, &mut errors),
                "sandbox" => config.sandbox = load_section(section, body, &mut errors),
                "console" => config.console = load_section(section, body, &mut errors),
                "serve" => config.serve = load_section(section, body, &mut errors),
                "cluster" => config.cluster = load_section(section, body, &mut errors),
                other => errors.push(format!("`{other}`: unknown section")),
            }
        }
        if errors.is_empty() {
            errors = config.validate();
        }
        if errors.is_empty() {
            Ok(config)
        } else {
            Err(fail(errors))
        }
    }

    /// Checks values against each other; returns every problem found.
    pub fn validate(&self) -> Vec<String> {
        let mut errors = self.policy.validate();
        errors.extend(self.daemon.validate());
        errors.extend(self.relay.validate());
        errors.extend(self.icap.validate());
        errors.extend(self.sandbox.validate());
        errors.extend(self.console.validate());
        errors.extend(self.serve.validate());
        errors.extend(self.cluster.validate());
        errors
    }
}

/// Deserialises one section. Each key is first tried alone (the section
/// structs default every field), so that every bad key is reported rather
/// than only the first.
fn load_section<T: DeserializeOwned + Default>(
    section: &str,
    body: &toml::Table,
    errors: &mut Vec<String>,
) -> T {
    let mut ok = true;
    for (key, value) in body {
        let mut single = toml::Table::new();
        single.insert(key.clone(), value.clone());
        if let Err(e) = T::deserialize(toml::Value::Table(single)) {
            ok = false;
            errors.push(format!("`{section}.{key}`: {}", one_line(e.message())));
        }
    }
    if !ok {
        return T::default();
    }
    match T::deserialize(toml::Value::Table(body.clone())) {
        Ok(v) => v,
        Err(e) => {
            errors.push(format!("`{section}`: {}", one_line(e.message())));
            T::default()
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_config_loads_and_equals_the_defaults() {
        let c = Config::from_toml_str(EMBEDDED_TOML, "embedded").unwrap();
        assert_eq!(c, Config::default());
    }

    #[test]
    fn every_bad_key_is_reported_at_once() {
        let text = r#"
[limits]
max_depht = 3
max_entries = "many"
[pdf]
uri = "explode"
[nonsense]
x = 1
"#;
        let err = Config::from_toml_str(text, "t.toml").unwrap_err();
        let all = err.to_string();
        assert!(all.contains("limits.max_depht"), "{all}");
        assert!(all.contains("limits.max_entries"), "{all}");
        assert!(all.contains("pdf.uri"), "{all}");
        assert!(all.contains("nonsense"), "{all}");
        assert_eq!(err.errors.len(), 4, "{all}");
        assert!(!all.contains('\n'));
    }

    #[test]
    fn semantic_errors_are_reported() {
        let text = "[image]\njpeg_quality = 0\n[limits]\nmax_depth = 0\n";
        let err = Config::from_toml_str(text, "t.toml").unwrap_err();
        assert_eq!(err.errors.len(), 2, "{err}");
    }

    #[test]
    fn sandbox_section_is_checked() {
        let text = "[sandbox]\nseccomp = \"required\"\nno_new_privs = \"best_effort\"\nmax_files_per_worker = 0\n";
        let err = Config::from_toml_str(text, "t.toml").unwrap_err();
        assert_eq!(err.errors.len(), 2, "{err}");
        let err = Config::from_toml_str("[sandbox]\nseccomp = \"off\"\n", "t.toml").unwrap_err();
        assert!(err.to_string().contains("sandbox.seccomp"), "{err}");
        let ok = Config::from_toml_str("[sandbox]\nlandlock = \"required\"\n", "t.toml").unwrap();
        assert_eq!(ok.sandbox.landlock, Requirement::Required);
    }

    #[test]
    fn syntax_error_is_one_line() {
        let err = Config::from_toml_str("[limits\n", "t.toml").unwrap_err();
        assert_eq!(err.errors.len(), 1);
        assert!(!err.to_string().contains('\n'));
    }
}
