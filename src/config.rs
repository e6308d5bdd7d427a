//! Configuration: resolution of credentials from direct inputs or AWS Secrets Manager (the seeds' layout: one JSON secret per resource type).
//!
//! Direct inputs override secret values. A secret is fetched only when its id is given; a key
//! is required only when no direct input replaces it.

use std::path::PathBuf;

use crate::confluent::flink::EndpointPart;
use crate::confluent::kafka::{KafkaConfig, KafkaSecurity, SecurityProtocol};
use crate::http::ExtraRoots;
use crate::input::validate_id;
use crate::input::ConfigError;
use crate::secrets::{Secret, SecretDoc, SecretsError, SecretsManager};
use crate::tracker::{KeySource, TrackerKey};

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

/// Keys of the Kafka secret, in both layouts the seeds' Terraform writes.
pub mod kafka_keys {
    pub const BOOTSTRAP_SERVERS: &str = "bootstrap.servers";
    /// `python_client`: the API key and secret as two keys.
    pub const SASL_USERNAME: &str = "sasl.username";
    pub const SASL_PASSWORD: &str = "sasl.password";
    /// `java_client`: `…PlainLoginModule required username='KEY' password='SECRET';`.
    pub const SASL_JAAS_CONFIG: &str = "sasl.jaas.config";
    /// The key the app signs its tracker with (optional; see `tracker::auth`).
    pub const TRACKER_KEY: &str = "tracker.key";
    pub const ACCEPTED_CREDENTIALS: &str =
        "`sasl.username` and `sasl.password` (the python_client \
        layout) or `sasl.jaas.config` (the java_client layout)";
}

/// Keys of the Schema Registry secret, in both layouts the seeds' Terraform writes.
pub mod schema_registry_keys {
    pub const URL: &str = "schema.registry.url";
    /// `key:secret`.
    pub const USER_INFO: &str = "schema.registry.basic.auth.user.info";
    /// `java_client`: `key:secret`, with `basic.auth.credentials.source` = `USER_INFO`.
    pub const JAVA_USER_INFO: &str = "basic.auth.user.info";
    pub const CREDENTIALS_SOURCE: &str = "basic.auth.credentials.source";
    pub const ACCEPTED_CREDENTIALS: &str = "`schema.registry.basic.auth.user.info` or \
        `basic.auth.user.info` (the java_client layout), as `key:secret`";
}

/// Where a credential came from, to name it when a service refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// Direct inputs (the secret's input named).
    Input(&'static str),
    /// A JSON secret in AWS Secrets Manager.
    Secret {
        secret_id: String,
        input: &'static str,
    },
}

impl CredentialSource {
    /// The input to name in an annotation.
    pub fn input(&self) -> &'static str {
        match self {
            CredentialSource::Input(i) => i,
            CredentialSource::Secret { input, .. } => input,
        }
    }
}

impl std::fmt::Display for CredentialSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialSource::Input(i) => write!(f, "input `{i}`"),
            CredentialSource::Secret { secret_id, input } => {
                write!(f, "secret `{secret_id}` (input `{input}`)")
            }
        }
    }
}

fn source_of(direct: bool, doc: Option<&SecretDoc>, input: &'static str) -> CredentialSource {
    match doc {
        Some(d) if !direct => CredentialSource::Secret {
            secret_id: d.secret_id().to_string(),
            input: d.input(),
        },
        _ => CredentialSource::Input(input),
    }
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
    /// `private-networking`: the default endpoint is the region's private one.
    pub private_networking: bool,
    /// `ca-bundle`: certificate authorities the HTTPS clients trust besides the system's, read
    /// (and checked) once, by [`load_ca_bundle`].
    pub ca_bundle: ExtraRoots,

    pub kafka_bootstrap_servers: Option<String>,
    pub kafka_api_key: Option<String>,
    pub kafka_api_secret: Option<Secret>,
    /// `tracker-key`, checked.
    pub tracker_key: Option<TrackerKey>,
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
    /// Where the API key came from.
    pub source: CredentialSource,
}

impl FlinkSettings {
    /// The statements client for these settings (the one place it is built).
    pub fn client(
        &self,
        roots: &ExtraRoots,
    ) -> Result<crate::confluent::flink::FlinkClient, ConfigError> {
        crate::confluent::flink::FlinkClient::with_roots(
            crate::confluent::flink::FlinkConfig {
                endpoint: self.endpoint.clone(),
                organization_id: self.organization_id.clone(),
                environment_id: self.environment_id.clone(),
                credentials: crate::http::Credentials::new(
                    self.api_key.clone(),
                    self.api_secret.expose(),
                ),
                retry: crate::http::RetryPolicy::default(),
            },
            roots,
        )
        .map_err(|e| ConfigError::input("flink-endpoint", e.to_string()))
    }
}

/// Schema Registry settings, resolved.
#[derive(Debug, Clone)]
pub struct SchemaRegistrySettings {
    pub url: String,
    pub api_key: String,
    pub api_secret: Secret,
    /// Where the API key came from.
    pub source: CredentialSource,
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
                    let doc = manager.fetch(&id, input).await?;
                    mask_credentials(kind, &doc);
                    Some(doc)
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

    /// The certificate authorities of the `ca-bundle` input (none without it).
    pub fn extra_roots(&self) -> ExtraRoots {
        self.inputs.ca_bundle.clone()
    }

    /// Where the Kafka connection's settings come from, to name it when the cluster refuses
    /// them.
    pub fn kafka_source(&self) -> CredentialSource {
        match &self.inputs.kafka_secret_id {
            Some(id) if self.inputs.kafka_api_secret.is_none() => CredentialSource::Secret {
                secret_id: id.clone(),
                input: "kafka-secret-id",
            },
            _ if self.inputs.kafka_api_secret.is_some() => {
                CredentialSource::Input("kafka-api-secret")
            }
            _ => CredentialSource::Input("kafka-bootstrap-servers"),
        }
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
                let (api_key, api_secret) = kafka_sasl(doc, key_input, secret_input)?;
                KafkaSecurity::SaslSsl {
                    api_key,
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

    /// The key the tracker signs and verifies with: the `tracker-key` input, else the Kafka
    /// secret's `tracker.key`, else one derived from the Kafka API secret (whoever holds that
    /// secret can write as the app anyway); a cluster without credentials gets a fixed key,
    /// which protects nothing (said in the log).
    pub async fn tracker_key(&mut self) -> Result<TrackerKey, SecretsError> {
        if let Some(k) = self.inputs.tracker_key.clone() {
            return Ok(k);
        }
        let doc = self.doc(Kind::Kafka).await?;
        if let Some(d) = doc {
            if let Some(text) = d.get(kafka_keys::TRACKER_KEY)? {
                return TrackerKey::parse(&text.masked(), KeySource::KafkaSecret)
                    .map_err(|reason| d.bad_key(kafka_keys::TRACKER_KEY, &reason).into());
            }
        }
        Ok(match self.kafka().await?.security {
            KafkaSecurity::SaslSsl { api_secret, .. } => {
                TrackerKey::derived(&api_secret, KeySource::KafkaApiSecret)
            }
            KafkaSecurity::Plaintext => {
                tracing::warn!(
                    "the tracker is signed with a fixed key: a cluster without credentials \
                     cannot keep other writers out (give tracker-key)"
                );
                TrackerKey::unprotected()
            }
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
        let source = source_of(i.flink_api_secret.is_some(), doc, "flink-api-secret");
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
                    crate::confluent::flink::regional_endpoint(c, r, i.private_networking)
                        .map_err(|part| match part {
                            EndpointPart::Cloud(_) => ConfigError::input("cloud", part.to_string()),
                            EndpointPart::Region(_) => {
                                ConfigError::input("region", part.to_string())
                            }
                        })?
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
            source,
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
                Some(d) => Some(registry_user_info(d)?),
                None => None,
            },
        };
        let missing = |input: &'static str| ConfigError::Missing {
            input,
            hint: format!(
                "give {input}, or a schema-registry-secret-id whose secret has {}",
                schema_registry_keys::ACCEPTED_CREDENTIALS
            ),
        };
        let source = source_of(
            i.schema_registry_api_secret.is_some(),
            doc,
            "schema-registry-api-secret",
        );
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
            source,
        })
    }
}

/// The Kafka API key and secret: the direct inputs, else the secret's `sasl.username` and
/// `sasl.password` (python_client), else its `sasl.jaas.config` (java_client).
fn kafka_sasl(
    doc: Option<&SecretDoc>,
    key_input: Option<String>,
    secret_input: Option<Secret>,
) -> Result<(String, Secret), ConfigError> {
    let needs = |input: &'static str| ConfigError::Missing {
        input,
        hint: format!(
            "SASL_SSL needs an API key and secret: give kafka-api-key and kafka-api-secret, or a \
             kafka-secret-id whose secret has {}",
            kafka_keys::ACCEPTED_CREDENTIALS
        ),
    };
    if let (Some(k), Some(s)) = (&key_input, &secret_input) {
        return Ok((k.trim().to_string(), s.clone()));
    }
    let Some(d) = doc else {
        return Err(needs(if key_input.is_none() {
            "kafka-api-key"
        } else {
            "kafka-api-secret"
        }));
    };
    if d.has(kafka_keys::SASL_USERNAME) || d.has(kafka_keys::SASL_PASSWORD) {
        // python_client: each half from its key, unless an input replaces it.
        let key = match key_input {
            Some(k) => k.trim().to_string(),
            None => d
                .require(kafka_keys::SASL_USERNAME, "or give input `kafka-api-key`")?
                .expose()
                .trim()
                .to_string(),
        };
        let secret = match secret_input {
            Some(s) => s,
            None => d.require(
                kafka_keys::SASL_PASSWORD,
                "or give input `kafka-api-secret`",
            )?,
        };
        return Ok((key, secret));
    }
    let Some(jaas) = d.get(kafka_keys::SASL_JAAS_CONFIG)? else {
        return Err(ConfigError::NoAcceptedKey {
            secret_id: d.secret_id().to_string(),
            input: d.input(),
            what: "the Kafka API key",
            accepted: kafka_keys::ACCEPTED_CREDENTIALS,
            hint: " (or give kafka-api-key and kafka-api-secret)".into(),
        });
    };
    let (key, secret) = parse_plain_jaas(jaas.expose())
        .map_err(|reason| d.bad_key(kafka_keys::SASL_JAAS_CONFIG, reason))?;
    Ok((
        key_input.map_or(key, |k| k.trim().to_string()),
        secret_input.unwrap_or_else(|| Secret::plain(secret)),
    ))
}

/// `username` and `password` of a JAAS line for SASL PLAIN:
/// `org.apache.kafka.common.security.plain.PlainLoginModule required username='KEY'
/// password='SECRET';` (single or double quotes). Errors never quote the text.
pub fn parse_plain_jaas(jaas: &str) -> Result<(String, String), &'static str> {
    let text = jaas.trim();
    let (module, rest) = text
        .split_once(char::is_whitespace)
        .ok_or("is not a JAAS login module line")?;
    if !module.ends_with("PlainLoginModule") {
        return Err("must configure the PlainLoginModule (Confluent Cloud uses SASL PLAIN)");
    }
    let rest = rest.trim_start();
    let rest = rest
        .split_once(char::is_whitespace)
        .map(|(_flag, options)| options)
        .ok_or("has no username='…' password='…' options")?;
    let mut options = std::collections::BTreeMap::new();
    let mut chars = rest.char_indices().peekable();
    loop {
        while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            chars.next();
        }
        let Some(&(start, c)) = chars.peek() else {
            break;
        };
        if c == ';' {
            break;
        }
        let mut end = start;
        while let Some(&(i, c)) = chars.peek() {
            if c == '=' {
                end = i;
                break;
            }
            if c.is_whitespace() || c == ';' {
                return Err("has an option without `=`");
            }
            chars.next();
        }
        let key = &rest[start..end];
        chars.next(); // '='
        let value = match chars.peek() {
            Some(&(i, q)) if q == '\'' || q == '"' => {
                chars.next();
                let from = i + 1;
                let mut to = None;
                for (j, c) in chars.by_ref() {
                    if c == q {
                        to = Some(j);
                        break;
                    }
                }
                &rest[from..to.ok_or("has an unterminated quoted value")?]
            }
            Some(&(i, _)) => {
                let mut to = rest.len();
                while let Some(&(j, c)) = chars.peek() {
                    if c.is_whitespace() || c == ';' {
                        to = j;
                        break;
                    }
                    chars.next();
                }
                &rest[i..to]
            }
            None => "",
        };
        options.insert(key.to_string(), value.to_string());
    }
    let get = |k: &str, missing: &'static str| {
        options
            .get(k)
            .filter(|v| !v.trim().is_empty())
            .cloned()
            .ok_or(missing)
    };
    Ok((
        get("username", "has no username='…'")?.trim().to_string(),
        get("password", "has no password='…'")?,
    ))
}

/// The Schema Registry `key:secret`: `schema.registry.basic.auth.user.info`, or the java_client
/// layout's `basic.auth.user.info` (whose `basic.auth.credentials.source`, when given, must be
/// `USER_INFO`).
fn registry_user_info(d: &SecretDoc) -> Result<(String, Secret), ConfigError> {
    if let Some(info) = d.get(schema_registry_keys::USER_INFO)? {
        return split_user_info(d, schema_registry_keys::USER_INFO, &info);
    }
    if let Some(info) = d.get(schema_registry_keys::JAVA_USER_INFO)? {
        if let Some(src) = d.get(schema_registry_keys::CREDENTIALS_SOURCE)? {
            if !src.expose().trim().eq_ignore_ascii_case("USER_INFO") {
                return Err(d.bad_key(
                    schema_registry_keys::CREDENTIALS_SOURCE,
                    "must be USER_INFO (an API key and secret in basic.auth.user.info)",
                ));
            }
        }
        return split_user_info(d, schema_registry_keys::JAVA_USER_INFO, &info);
    }
    Err(ConfigError::NoAcceptedKey {
        secret_id: d.secret_id().to_string(),
        input: d.input(),
        what: "the Schema Registry API key",
        accepted: schema_registry_keys::ACCEPTED_CREDENTIALS,
        hint: " (or give schema-registry-api-key and schema-registry-api-secret)".into(),
    })
}

/// The largest `ca-bundle` read (bytes): a bundle of every public CA is about 250 KB.
pub const MAX_CA_BUNDLE_BYTES: u64 = 1024 * 1024;

/// The certificates of a `ca-bundle` file, `named` relative to `workspace`. Like the manifest, it
/// must be a regular file of at most [`MAX_CA_BUNDLE_BYTES`] inside the workspace
/// ([`crate::manifest::read_workspace_file`]): an input from a pull request's workflow must not
/// make the action read a device, a FIFO or a huge file. A file that cannot be read or holds no
/// certificate is bad input.
pub fn load_ca_bundle(
    workspace: &std::path::Path,
    named: Option<&std::path::Path>,
) -> Result<ExtraRoots, ConfigError> {
    let Some(named) = named else {
        return Ok(ExtraRoots::default());
    };
    let pem = crate::manifest::read_workspace_file(
        workspace,
        &workspace.join(named),
        named,
        MAX_CA_BUNDLE_BYTES,
    )
    .map_err(|e| {
        let why = match std::error::Error::source(&e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        };
        ConfigError::input("ca-bundle", why)
    })?;
    ExtraRoots::from_pem(pem.as_bytes())
        .map_err(|why| ConfigError::input("ca-bundle", format!("'{}' {why}", named.display())))
}

/// Mask the credentials a secret of `kind` holds the moment it is read (whether or not this run
/// uses them), and nothing else: its ids, region and URLs stay readable in the log.
fn mask_credentials(kind: Kind, d: &SecretDoc) {
    let value = |key: &'static str| d.get(key).ok().flatten();
    let secret_half = |info: Secret| {
        info.expose()
            .split_once(':')
            .map(|(_, s)| Secret::plain(s).masked())
    };
    match kind {
        Kind::Flink => {
            value(flink_keys::API_SECRET).map(Secret::masked);
        }
        Kind::Kafka => {
            value(kafka_keys::SASL_PASSWORD).map(Secret::masked);
            if let Some(jaas) = value(kafka_keys::SASL_JAAS_CONFIG) {
                if let Ok((_, password)) = parse_plain_jaas(jaas.expose()) {
                    Secret::plain(password).masked();
                }
            }
        }
        Kind::SchemaRegistry => {
            for key in [
                schema_registry_keys::USER_INFO,
                schema_registry_keys::JAVA_USER_INFO,
            ] {
                value(key).and_then(secret_half);
            }
        }
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

fn split_user_info(
    doc: &SecretDoc,
    key: &'static str,
    info: &Secret,
) -> Result<(String, Secret), ConfigError> {
    match info.expose().split_once(':') {
        Some((k, s)) if !k.trim().is_empty() && !s.is_empty() => {
            Ok((k.trim().to_string(), Secret::plain(s)))
        }
        _ => Err(doc.bad_key(
            key,
            "must be `key:secret` (an API key, a colon, the secret)",
        )),
    }
}

/// An endpoint the credentials are sent to: the HTTP client's rule, checked as input.
fn validate_url(s: &str) -> Result<(), String> {
    crate::http::check_endpoint(s).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn a_ca_bundle_is_a_small_regular_file_inside_the_workspace() {
        let root = std::env::temp_dir().join(format!("ca-bundle-{}", rand::random::<u64>()));
        let (workspace, elsewhere) = (root.join("ws"), root.join("elsewhere"));
        std::fs::create_dir_all(workspace.join("certs")).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("ca.pem"), "not checked: never read").unwrap();
        std::fs::write(
            workspace.join("big.pem"),
            "-".repeat(MAX_CA_BUNDLE_BYTES as usize + 1),
        )
        .unwrap();
        std::fs::write(workspace.join("text.pem"), "hello").unwrap();
        std::os::unix::fs::symlink(elsewhere.join("ca.pem"), workspace.join("link.pem")).unwrap();
        let outside = elsewhere.join("ca.pem");
        for (named, says) in [
            (outside.as_path(), "outside the workspace"),
            (Path::new("../elsewhere/ca.pem"), "outside the workspace"),
            (Path::new("link.pem"), "outside the workspace"),
            (
                Path::new("big.pem"),
                "larger than the limit of 1048576 bytes",
            ),
            (Path::new("certs"), "a directory, not a regular file"),
            (Path::new("missing.pem"), "cannot be read"),
            (Path::new("text.pem"), "holds no certificate"),
        ] {
            let e = load_ca_bundle(&workspace, Some(named)).unwrap_err();
            assert_eq!(e.input_name(), "ca-bundle", "{named:?}: {e}");
            assert!(e.to_string().contains(says), "{named:?}: {e}");
        }
        assert!(load_ca_bundle(&workspace, None).unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn user_info_needs_a_colon_and_both_halves() {
        let doc = SecretDoc::parse(
            "sr",
            "schema-registry-secret-id",
            Secret::new(r#"{"a":"KEY:se:cret","b":"nocolon","c":":x"}"#),
        )
        .unwrap();
        let key = schema_registry_keys::USER_INFO;
        let (k, s) = split_user_info(&doc, key, &Secret::new("KEY:se:cret")).unwrap();
        assert_eq!(k, "KEY");
        assert_eq!(s.expose(), "se:cret");
        let err = split_user_info(&doc, key, &Secret::new("nocolon"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("schema.registry.basic.auth.user.info"),
            "{err}"
        );
        assert!(!err.contains("nocolon"), "{err}");
        assert!(split_user_info(&doc, key, &Secret::new(":x")).is_err());
    }

    #[test]
    fn plain_jaas_lines_give_the_key_and_secret_in_either_quotes() {
        for (line, password) in [
            ("org.apache.kafka.common.security.plain.PlainLoginModule required username='KEY1' password='s3cr\"et';", "s3cr\"et"),
            ("org.apache.kafka.common.security.plain.PlainLoginModule required username=\"KEY1\" password=\"s3cr'et\";", "s3cr'et"),
            ("  org.apache.kafka.common.security.plain.PlainLoginModule   required\n  password='pw'   username='KEY1'  ;  ", "pw"),
            ("org.apache.kafka.common.security.plain.PlainLoginModule required username=KEY1 password=pw;", "pw"),
        ] {
            let (k, p) = parse_plain_jaas(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!((k.as_str(), p.as_str()), ("KEY1", password), "{line}");
        }
        let (_, p) = parse_plain_jaas(
            "org.apache.kafka.common.security.plain.PlainLoginModule required username='K' password='a b=c;d';",
        )
        .unwrap();
        assert_eq!(p, "a b=c;d");
        for (line, why) in [
            ("org.apache.kafka.common.security.scram.ScramLoginModule required username='K' password='P';", "PlainLoginModule"),
            ("org.apache.kafka.common.security.plain.PlainLoginModule required username='K';", "password"),
            ("org.apache.kafka.common.security.plain.PlainLoginModule required password='P';", "username"),
            ("org.apache.kafka.common.security.plain.PlainLoginModule required username='K' password='P", "unterminated"),
            ("PlainLoginModule", "not a JAAS"),
        ] {
            let e = parse_plain_jaas(line).unwrap_err();
            assert!(e.contains(why), "{line}: {e}");
            assert!(!e.contains("'P'") && !e.contains("P;"), "{e}");
        }
    }
}
