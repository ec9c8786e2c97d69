//! Registers the schemas under `<topic>-value` in any Confluent-compatible Schema Registry.

use schema_registry_converter::async_impl::schema_registry::{
    get_all_subjects, get_schema_by_id, post_schema, SrSettings,
};
use schema_registry_converter::error::SRCError;
use schema_registry_converter::schema_registry_common::{RawError, SchemaType, SuppliedSchema};

use crate::config::RegistrySettings;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("schema registry at {url} refused the schema for subject {subject}: error_code {code}: {message}")]
    Refused {
        url: String,
        subject: String,
        code: u32,
        message: String,
    },
    #[error("schema registry at {url} (SCHEMA_REGISTRY_URL) could not be used to register subject {subject}: {cause}")]
    Unavailable {
        url: String,
        subject: String,
        cause: String,
    },
    #[error("schema registry settings: {0}")]
    Settings(String),
}

#[derive(Clone)]
pub struct RegistryClient {
    settings: SrSettings,
    url: String,
}

impl RegistryClient {
    pub fn new(cfg: &RegistrySettings) -> Result<Self, RegistryError> {
        let mut builder = SrSettings::new_builder(cfg.url.clone());
        builder.set_timeout(cfg.timeout);
        if !cfg.username.is_empty() {
            builder.set_basic_authorization(&cfg.username, Some(cfg.password.expose()));
        }
        let settings = builder
            .build()
            .map_err(|e| RegistryError::Settings(e.error))?;
        Ok(Self {
            settings,
            url: cfg.url.clone(),
        })
    }

    /// Registers `schema` under `subject` (or finds it already there) and returns its id.
    pub async fn register(&self, subject: &str, schema: &str) -> Result<u32, RegistryError> {
        let supplied = SuppliedSchema::new(None, SchemaType::Avro, schema.to_owned());
        post_schema(&self.settings, subject.to_owned(), supplied)
            .await
            .map(|registered| registered.id)
            .map_err(|e| self.explain(subject, &e))
    }

    /// Whether the registry answers now: `Ok(None)` it does, `Ok(Some(cause))` not (yet);
    /// `Err` when it answers with a refusal that waiting does not cure (such as 401).
    pub async fn probe(&self) -> Result<Option<String>, RegistryError> {
        match get_all_subjects(&self.settings).await {
            Ok(_) => Ok(None),
            Err(e) => match self.explain("(listing subjects)", &e) {
                RegistryError::Unavailable { cause, .. } if !refusal(&cause) => Ok(Some(cause)),
                other => Err(other),
            },
        }
    }

    /// The schema registered with `id`, or `None` if the registry does not know it (40403).
    pub async fn schema_by_id(&self, id: u32) -> Result<Option<String>, RegistryError> {
        match get_schema_by_id(id, &self.settings).await {
            Ok(s) => Ok(Some(s.schema)),
            Err(e) => match self.explain(&format!("(schema id {id})"), &e) {
                RegistryError::Refused { code: 40403, .. } => Ok(None),
                other => Err(other),
            },
        }
    }

    fn explain(&self, subject: &str, e: &SRCError) -> RegistryError {
        let raw = std::error::Error::source(e).and_then(|s| s.downcast_ref::<RawError>());
        match raw {
            Some(raw) if raw.error_code != 0 => RegistryError::Refused {
                url: self.url.clone(),
                subject: subject.to_owned(),
                code: raw.error_code,
                message: raw.message.clone(),
            },
            _ => RegistryError::Unavailable {
                url: self.url.clone(),
                subject: subject.to_owned(),
                cause: match &e.cause {
                    Some(c) => format!("{}: {c}", e.error),
                    None => e.error.clone(),
                },
            },
        }
    }
}

/// An answer that names an authentication or authorization failure (HTTP 401/403).
fn refusal(cause: &str) -> bool {
    cause.contains("401") || cause.contains("403")
}
