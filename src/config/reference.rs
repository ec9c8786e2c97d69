//! The configuration reference (`docs/configuration.md`), generated from the settings table
//! and the embedded defaults, so the documentation cannot drift from the code.

use super::fields::{Field, FIELDS};
use super::DEFAULT_TOML;

/// The embedded default of the setting at dotted `key`, as a user would write it.
fn default_of(defaults: &toml::Table, key: &str) -> String {
    let mut parts = key.split('.');
    let mut value = parts.next().and_then(|p| defaults.get(p));
    for part in parts {
        value = value.and_then(|v| v.get(part));
    }
    match value {
        Some(toml::Value::String(s)) if s.is_empty() => String::new(),
        Some(toml::Value::String(s)) => format!("`{s}`"),
        Some(toml::Value::Float(f)) if f.fract() == 0.0 => format!("`{f:.0}`"),
        Some(v) => format!("`{v}`"),
        None => String::new(),
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn row(f: &Field, defaults: &toml::Table) -> String {
    let flag = match f.flag {
        "" => String::new(),
        flag => format!("`{flag}`"),
    };
    let secret = match f.secret {
        true => " Secret: never printed.",
        false => "",
    };
    format!(
        "| `{}` | {flag} | `{}` | {} | {}{secret} | {} |\n",
        f.env,
        f.key,
        default_of(defaults, f.key),
        cell(f.doc),
        cell(f.valid),
    )
}

/// The whole of `docs/configuration.md`.
pub fn markdown() -> String {
    let defaults: toml::Table = DEFAULT_TOML.parse().expect("the embedded defaults parse");
    let head = "| environment | flag | TOML key | default | meaning | valid |\n|---|---|---|---|---|---|\n";
    let mut out = String::from(
        "# Configuration reference\n\n\
         <!-- Generated from src/config/fields.rs and config/default.toml by\n\
         `RETAILGEN_WRITE_DOCS=1 cargo test --test it configuration_reference`; a test fails when\n\
         this file and the code disagree. -->\n\n\
         Layers, later wins: the embedded [`config/default.toml`](../config/default.toml), a TOML file\n\
         (`--config FILE` or `RETAILGEN_CONFIG`), environment variables, command-line flags. Every\n\
         value is checked at start-up; an invalid one exits with code 2 and a message naming the\n\
         setting and what is valid. `RUST_LOG` sets the log level (default `info`).\n\n\
         ## retailgen run (and migrate, seed, verify)\n\n",
    );
    out.push_str(head);
    let (simulator, main): (Vec<&Field>, Vec<&Field>) =
        FIELDS.iter().partition(|f| f.key.starts_with("simulator."));
    for f in main {
        out.push_str(&row(f, &defaults));
    }
    out.push_str(
        "| `KAFKA_PROPERTY_<NAME>` | | `kafka.properties` | | any librdkafka property, e.g. \
         `KAFKA_PROPERTY_SSL_CA_LOCATION` sets `ssl.ca.location`; in TOML: `[kafka.properties]`. \
         Values of properties named like passwords/secrets are never printed | a librdkafka value |\n",
    );
    out.push_str(
        "\n## retailgen pos-simulator\n\n\
         It also reads `KAFKA_*`, `SCHEMA_REGISTRY_*` and `PG_DSN` above.\n\n",
    );
    out.push_str(head);
    for f in simulator {
        out.push_str(&row(f, &defaults));
    }
    out
}
