//! Configuration: validation of the inputs that name things, and resolution of credentials from
//! direct inputs or AWS Secrets Manager (the seeds' layout: one JSON secret per resource type).
//!
//! Direct inputs override secret values. A secret is fetched only when its id is given; a key
//! is required only when no direct input replaces it.

use std::path::PathBuf;

use crate::confluent::kafka::{KafkaConfig, KafkaSecurity, SecurityProtocol};
use crate::secrets::{Secret, SecretDoc, SecretsError, SecretsManager};

/// A configuration problem: bad or missing input, or a secret that does not hold what it must.
/// The binary exits 2 on these. The message names the input, or the secret id and key; never a
/// value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("input `{input}`: {reason}")]
    Input { input: &'static str, reason: String },
    #[error("input `{input}` is missing: {hint}")]
    Missing { input: &'static str, hint: String },
    #[error("secret `{secret_id}` does not exist in AWS Secrets Manager (input `{input}`)")]
    SecretNotFound {
        secret_id: String,
        input: &'static str,
    },
    #[error("secret `{secret_id}` (input `{input}`) cannot be read: {reason}")]
    SecretDenied {
        secret_id: String,
        input: &'static str,
        reason: String,
    },
    #[error("secret `{secret_id}` (input `{input}`) is not a JSON object: {reason}")]
    SecretNotJson {
        secret_id: String,
        input: &'static str,
        reason: String,
    },
    #[error("secret `{secret_id}` (input `{input}`) has no key `{key}`{hint}")]
    MissingKey {
        secret_id: String,
        input: &'static str,
        key: &'static str,
        hint: String,
    },
    #[error("secret `{secret_id}` (input `{input}`): key `{key}` {reason}")]
    BadKey {
        secret_id: String,
        input: &'static str,
        key: &'static str,
        reason: String,
    },
}

impl ConfigError {
    /// The input the error is about (for a secret: the input that names the secret).
    pub fn input_name(&self) -> &'static str {
        match self {
            ConfigError::Input { input, .. }
            | ConfigError::Missing { input, .. }
            | ConfigError::SecretNotFound { input, .. }
            | ConfigError::SecretDenied { input, .. }
            | ConfigError::SecretNotJson { input, .. }
            | ConfigError::MissingKey { input, .. }
            | ConfigError::BadKey { input, .. } => input,
        }
    }

    pub fn input(input: &'static str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Input {
            input,
            reason: reason.into(),
        }
    }
}

/// Keys of the Flink secret, as the seeds' Terraform writes them.
pub mod flink_keys {
    pub const API_KEY: &str = "flink.api.key";
    pub const API_SECRET: &str = "flink.api.secret";
    pub const CLOUD: &str = "flink.cloud";
    pub const REGION: &str = "flink.region";
    pub const ORGANIZATION_ID: &str = "organization.id";
    pub const ENVIRONMENT_ID: &str = "environment.id";
    pub const COMPUTE_POOL_ID: &str = "flink.compute.pool.id";
    pub const PRINCIPAL_ID: &str = "flink.principal.id";
}

/// Keys of the Kafka secret.
pub mod kafka_keys {
    pub const BOOTSTRAP_SERVERS: &str = "bootstrap.servers";
    pub const SASL_USERNAME: &str = "sasl.username";
    pub const SASL_PASSWORD: &str = "sasl.password";
}

/// Keys of the Schema Registry secret.
pub mod schema_registry_keys {
    pub const URL: &str = "schema.registry.url";
    pub const USER_INFO: &str = "schema.registry.basic.auth.user.info";
}

/// The inputs credentials are resolved from (all optional; empty values count as not given).
#[derive(Debug, Clone, Default)]
pub struct CredentialInputs {
    pub aws_region: Option<String>,
    pub flink_secret_id: Option<String>,
    pub kafka_secret_id: Option<String>,
    pub schema_registry_secret_id: Option<String>,

    pub flink_api_key: Option<String>,
    pub flink_api_secret: Option<Secret>,
    pub organization_id: Option<String>,
    pub environment_id: Option<String>,
    pub cloud: Option<String>,
    pub region: Option<String>,
    pub compute_pool_id: Option<String>,
    pub principal_id: Option<String>,
    pub flink_endpoint: Option<String>,

    pub kafka_bootstrap_servers: Option<String>,
    pub kafka_api_key: Option<String>,
    pub kafka_api_secret: Option<Secret>,
    /// `kafka-security-protocol`; `None` means the default, SASL_SSL.
    pub kafka_security_protocol: Option<SecurityProtocol>,
    /// CA bundle for SASL_SSL (not an action input: for private CAs and tests).
    pub kafka_ca_location: Option<PathBuf>,

    pub schema_registry_url: Option<String>,
    pub schema_registry_api_key: Option<String>,
    pub schema_registry_api_secret: Option<Secret>,
}

/// Flink API settings, resolved.
#[derive(Debug, Clone)]
pub struct FlinkSettings {
    /// Base URL before `/sql/v1`: the `flink-endpoint` input, else
    /// `https://flink.{region}.{cloud}.confluent.cloud`.
    pub endpoint: String,
    pub organization_id: String,
    pub environment_id: String,
    pub api_key: String,
    pub api_secret: Secret,
    pub compute_pool_id: Option<String>,
    pub principal_id: Option<String>,
    pub cloud: Option<String>,
    pub region: Option<String>,
}

/// Schema Registry settings, resolved.
#[derive(Debug, Clone)]
pub struct SchemaRegistrySettings {
    pub url: String,
    pub api_key: String,
    pub api_secret: Secret,
}

/// Resolves credentials for one run: fetches each named secret once, when first needed.
pub struct Credentials {
    inputs: CredentialInputs,
    manager: Option<SecretsManager>,
    flink: Option<Option<SecretDoc>>,
    kafka: Option<Option<SecretDoc>>,
    schema_registry: Option<Option<SecretDoc>>,
}

#[derive(Clone, Copy)]
enum Kind {
    Flink,
    Kafka,
    SchemaRegistry,
}

impl Credentials {
    pub fn new(inputs: CredentialInputs) -> Credentials {
        Credentials {
            inputs,
            manager: None,
            flink: None,
            kafka: None,
            schema_registry: None,
        }
    }

    pub fn inputs(&self) -> &CredentialInputs {
        &self.inputs
    }

    async fn doc(&mut self, kind: Kind) -> Result<Option<&SecretDoc>, SecretsError> {
        let (id, input) = match kind {
            Kind::Flink => (&self.inputs.flink_secret_id, "flink-secret-id"),
            Kind::Kafka => (&self.inputs.kafka_secret_id, "kafka-secret-id"),
            Kind::SchemaRegistry => (
                &self.inputs.schema_registry_secret_id,
                "schema-registry-secret-id",
            ),
        };
        let cached = match kind {
            Kind::Flink => self.flink.is_some(),
            Kind::Kafka => self.kafka.is_some(),
            Kind::SchemaRegistry => self.schema_registry.is_some(),
        };
        if !cached {
            let fetched = match id.clone() {
                None => None,
                Some(id) => {
                    if self.manager.is_none() {
                        self.manager =
                            Some(SecretsManager::new(self.inputs.aws_region.as_deref()).await?);
                    }
                    let manager = self.manager.as_ref().expect("set above");
                    Some(manager.fetch(&id, input).await?)
                }
            };
            match kind {
                Kind::Flink => self.flink = Some(fetched),
                Kind::Kafka => self.kafka = Some(fetched),
                Kind::SchemaRegistry => self.schema_registry = Some(fetched),
            }
        }
        Ok(match kind {
            Kind::Flink => self.flink.as_ref().and_then(|d| d.as_ref()),
            Kind::Kafka => self.kafka.as_ref().and_then(|d| d.as_ref()),
            Kind::SchemaRegistry => self.schema_registry.as_ref().and_then(|d| d.as_ref()),
        })
    }

    /// The environment id: the `environment-id` input, else the Flink secret's `environment.id`.
    pub async fn environment_id(&mut self) -> Result<String, SecretsError> {
        if let Some(env) = self.inputs.environment_id.clone() {
            return Ok(env);
        }
        let doc = self.doc(Kind::Flink).await?;
        let value = pick(
            None,
            doc,
            flink_keys::ENVIRONMENT_ID,
            "environment-id",
            "give environment-id, or a flink-secret-id whose secret has `environment.id`",
        )?;
        let env = value.expose().trim().to_string();
        validate_id(&env)
            .map_err(|reason| bad_secret_key(doc, flink_keys::ENVIRONMENT_ID, &reason))?;
        Ok(env)
    }

    /// The environment id if it is known without error (for filtering), else `None`.
    pub async fn environment_id_opt(&mut self) -> Result<Option<String>, SecretsError> {
        if self.inputs.environment_id.is_some() || self.inputs.flink_secret_id.is_some() {
            Ok(Some(self.environment_id().await?))
        } else {
            Ok(None)
        }
    }

    pub async fn kafka(&mut self) -> Result<KafkaConfig, SecretsError> {
        let protocol = self
            .inputs
            .kafka_security_protocol
            .unwrap_or(SecurityProtocol::SaslSsl);
        let bootstrap_input = self.inputs.kafka_bootstrap_servers.clone();
        let key_input = self.inputs.kafka_api_key.clone();
        let secret_input = self.inputs.kafka_api_secret.clone();
        let ca_location = self.inputs.kafka_ca_location.clone();
        let doc = self.doc(Kind::Kafka).await?;
        let bootstrap_servers = pick(
            bootstrap_input.map(Secret::plain),
            doc,
            kafka_keys::BOOTSTRAP_SERVERS,
            "kafka-bootstrap-servers",
            "give kafka-bootstrap-servers, or a kafka-secret-id whose secret has `bootstrap.servers`",
        )?
        .expose()
        .trim()
        .to_string();
        let security = match protocol {
            SecurityProtocol::Plaintext => KafkaSecurity::Plaintext,
            SecurityProtocol::SaslSsl => {
                let api_key = pick(
                    key_input.map(Secret::plain),
                    doc,
                    kafka_keys::SASL_USERNAME,
                    "kafka-api-key",
                    "SASL_SSL needs an API key: give kafka-api-key, or a kafka-secret-id whose secret has `sasl.username`",
                )?;
                let api_secret = pick(
                    secret_input,
                    doc,
                    kafka_keys::SASL_PASSWORD,
                    "kafka-api-secret",
                    "SASL_SSL needs an API secret: give kafka-api-secret, or a kafka-secret-id whose secret has `sasl.password`",
                )?;
                KafkaSecurity::SaslSsl {
                    api_key: api_key.expose().trim().to_string(),
                    api_secret,
                    ca_location,
                }
            }
        };
        Ok(KafkaConfig {
            bootstrap_servers,
            security,
        })
    }

    pub async fn flink(&mut self) -> Result<FlinkSettings, SecretsError> {
        let i = self.inputs.clone();
        let doc = self.doc(Kind::Flink).await?;
        let via = |key: &str| format!("a flink-secret-id whose secret has `{key}`");
        let api_key = pick(
            i.flink_api_key.map(Secret::plain),
            doc,
            flink_keys::API_KEY,
            "flink-api-key",
            &format!("give flink-api-key, or {}", via(flink_keys::API_KEY)),
        )?;
        let api_secret = pick(
            i.flink_api_secret,
            doc,
            flink_keys::API_SECRET,
            "flink-api-secret",
            &format!("give flink-api-secret, or {}", via(flink_keys::API_SECRET)),
        )?;
        let organization_id = pick(
            i.organization_id.map(Secret::plain),
            doc,
            flink_keys::ORGANIZATION_ID,
            "organization-id",
            &format!(
                "give organization-id, or {}",
                via(flink_keys::ORGANIZATION_ID)
            ),
        )?;
        let environment_id = pick(
            i.environment_id.map(Secret::plain),
            doc,
            flink_keys::ENVIRONMENT_ID,
            "environment-id",
            &format!(
                "give environment-id, or {}",
                via(flink_keys::ENVIRONMENT_ID)
            ),
        )?;
        let opt =
            |direct: Option<String>, key: &'static str| -> Result<Option<String>, ConfigError> {
                match direct {
                    Some(v) => Ok(Some(v)),
                    None => match doc {
                        Some(d) => Ok(d.get(key)?.map(|s| s.expose().trim().to_string())),
                        None => Ok(None),
                    },
                }
            };
        let cloud = opt(i.cloud, flink_keys::CLOUD)?;
        let region = opt(i.region, flink_keys::REGION)?;
        let compute_pool_id = opt(i.compute_pool_id, flink_keys::COMPUTE_POOL_ID)?;
        let principal_id = opt(i.principal_id, flink_keys::PRINCIPAL_ID)?;
        let endpoint = match i.flink_endpoint {
            Some(e) => e,
            None => match (&region, &cloud) {
                (Some(r), Some(c)) => {
                    validate_dns_label(r).map_err(|reason| ConfigError::input("region", reason))?;
                    validate_dns_label(c).map_err(|reason| ConfigError::input("cloud", reason))?;
                    format!(
                        "https://flink.{}.{}.confluent.cloud",
                        r.to_ascii_lowercase(),
                        c.to_ascii_lowercase()
                    )
                }
                (None, _) => {
                    return Err(ConfigError::Missing {
                        input: "region",
                        hint: "the Flink endpoint needs region and cloud: give them (or a flink-secret-id with `flink.region` and `flink.cloud`), or flink-endpoint".into(),
                    }
                    .into())
                }
                (_, None) => {
                    return Err(ConfigError::Missing {
                        input: "cloud",
                        hint: "the Flink endpoint needs region and cloud: give them (or a flink-secret-id with `flink.region` and `flink.cloud`), or flink-endpoint".into(),
                    }
                    .into())
                }
            },
        };
        validate_url(&endpoint).map_err(|reason| ConfigError::input("flink-endpoint", reason))?;
        let environment_id = environment_id.expose().trim().to_string();
        validate_id(&environment_id)
            .map_err(|reason| bad_secret_key(doc, flink_keys::ENVIRONMENT_ID, &reason))?;
        Ok(FlinkSettings {
            endpoint: endpoint.trim_end_matches('/').to_string(),
            organization_id: organization_id.expose().trim().to_string(),
            environment_id,
            api_key: api_key.expose().trim().to_string(),
            api_secret,
            compute_pool_id,
            principal_id,
            cloud,
            region,
        })
    }

    pub async fn schema_registry(&mut self) -> Result<SchemaRegistrySettings, SecretsError> {
        let i = self.inputs.clone();
        let doc = self.doc(Kind::SchemaRegistry).await?;
        let url = pick(
            i.schema_registry_url.clone().map(Secret::plain),
            doc,
            schema_registry_keys::URL,
            "schema-registry-url",
            "give schema-registry-url, or a schema-registry-secret-id whose secret has `schema.registry.url`",
        )?
        .expose()
        .trim()
        .to_string();
        if i.schema_registry_url.is_some() {
            validate_url(&url).map_err(|r| ConfigError::input("schema-registry-url", r))?;
        } else {
            validate_url(&url).map_err(|r| bad_secret_key(doc, schema_registry_keys::URL, &r))?;
        }
        // `key:secret` in one value; split only when a direct input does not replace a half.
        let user_info = match (&i.schema_registry_api_key, &i.schema_registry_api_secret) {
            (Some(_), Some(_)) => None,
            _ => match doc {
                Some(d) => match d.get(schema_registry_keys::USER_INFO)? {
                    Some(info) => Some(split_user_info(d, &info)?),
                    None => None,
                },
                None => None,
            },
        };
        let missing = |input: &'static str| ConfigError::Missing {
            input,
            hint: format!(
                "give {input}, or a schema-registry-secret-id whose secret has `{}` (`key:secret`)",
                schema_registry_keys::USER_INFO
            ),
        };
        let api_key = match (i.schema_registry_api_key, &user_info) {
            (Some(k), _) => k,
            (None, Some((k, _))) => k.clone(),
            (None, None) => return Err(missing("schema-registry-api-key").into()),
        };
        let api_secret = match (i.schema_registry_api_secret, user_info) {
            (Some(s), _) => s,
            (None, Some((_, s))) => s,
            (None, None) => return Err(missing("schema-registry-api-secret").into()),
        };
        Ok(SchemaRegistrySettings {
            url: url.trim_end_matches('/').to_string(),
            api_key,
            api_secret,
        })
    }
}

/// The direct input if given, else the secret's key; neither → `Missing` naming the input, or
/// `MissingKey` naming the secret and key when a secret was given.
fn pick(
    direct: Option<Secret>,
    doc: Option<&SecretDoc>,
    key: &'static str,
    input: &'static str,
    hint: &str,
) -> Result<Secret, ConfigError> {
    if let Some(v) = direct {
        return Ok(v);
    }
    match doc {
        Some(d) => d.require(key, &format!("or give input `{input}`")),
        None => Err(ConfigError::Missing {
            input,
            hint: hint.to_string(),
        }),
    }
}

fn bad_secret_key(doc: Option<&SecretDoc>, key: &'static str, reason: &str) -> ConfigError {
    match doc {
        Some(d) => d.bad_key(key, reason),
        None => ConfigError::input("environment-id", reason.to_string()),
    }
}

fn split_user_info(doc: &SecretDoc, info: &Secret) -> Result<(String, Secret), ConfigError> {
    match info.expose().split_once(':') {
        Some((k, s)) if !k.trim().is_empty() && !s.is_empty() => {
            Ok((k.trim().to_string(), Secret::new(s)))
        }
        _ => Err(doc.bad_key(
            schema_registry_keys::USER_INFO,
            "must be `key:secret` (an API key, a colon, the secret)",
        )),
    }
}

/// An id that goes into tracker keys and URLs: letters, digits, `-`, `_`, `.`.
pub fn validate_id(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("is empty".into());
    }
    if s.len() > 255 {
        return Err("is longer than 255 characters".into());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "contains '{c}': only letters, digits, '-', '_' and '.' are allowed"
        ));
    }
    Ok(())
}

/// The app's scope name: `[a-z0-9-]`, 1–63 characters, not starting or ending with `-`.
pub fn validate_app(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 63 {
        return Err(format!("'{s}' must be 1 to 63 characters"));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(format!("'{s}' may contain only a-z, 0-9 and '-'"));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err(format!("'{s}' must not start or end with '-'"));
    }
    Ok(())
}

/// A Flink statement name as the API accepts it: `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, ≤ 100.
pub fn validate_statement_name(s: &str) -> Result<(), String> {
    let ok_chars = s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if s.is_empty() || s.len() > 100 || !ok_chars || s.starts_with('-') || s.ends_with('-') {
        return Err(format!(
            "'{s}' is not a valid statement name: 1 to 100 characters of a-z, 0-9 and '-', not starting or ending with '-'"
        ));
    }
    Ok(())
}

/// A Kafka topic name: 1–249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_topic(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("is empty".into());
    }
    if s.len() > 249 {
        return Err(format!("'{s}' is longer than 249 characters"));
    }
    if s == "." || s == ".." {
        return Err(format!("'{s}' is not a valid topic name"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "'{s}' contains '{c}': a topic name has only letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

fn validate_dns_label(s: &str) -> Result<(), String> {
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!(
            "'{s}' is not a valid cloud region or provider name"
        ));
    }
    Ok(())
}

fn validate_url(s: &str) -> Result<(), String> {
    match url::Url::parse(s) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
        Ok(_) => Err("must be an http(s) URL with a host".into()),
        Err(e) => Err(format!("is not a URL: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(validate_app("flight-consolidator").is_ok());
        assert!(validate_app("Flight").is_err());
        assert!(validate_app("-x").is_err());
        assert!(validate_statement_name("app-x-0123abcd").is_ok());
        assert!(validate_statement_name("a_b").is_err());
        assert!(validate_topic("ccaf-housekeeping-tracker").is_ok());
        assert!(validate_topic("").is_err());
        assert!(validate_topic("a/b").is_err());
        assert!(validate_id("env-abc123").is_ok());
        assert!(validate_id("env/x").is_err());
    }

    #[test]
    fn user_info_needs_a_colon_and_both_halves() {
        let doc = SecretDoc::parse(
            "sr",
            "schema-registry-secret-id",
            Secret::new(r#"{"a":"KEY:se:cret","b":"nocolon","c":":x"}"#),
        )
        .unwrap();
        let (k, s) = split_user_info(&doc, &Secret::new("KEY:se:cret")).unwrap();
        assert_eq!(k, "KEY");
        assert_eq!(s.expose(), "se:cret");
        let err = split_user_info(&doc, &Secret::new("nocolon"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("schema.registry.basic.auth.user.info"),
            "{err}"
        );
        assert!(!err.contains("nocolon"), "{err}");
        assert!(split_user_info(&doc, &Secret::new(":x")).is_err());
    }
}
