//! Secrets: AWS Secrets Manager lookups of the seeds' JSON secrets (one secret per resource
//! type, see `docs/configuration.md`), each value wrapped as a [`Secret`] the moment it is
//! parsed.
//!
//! Nothing here logs a secret's value, and no error carries one: errors name the secret id and
//! the key.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager::error::SdkError;
use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

use crate::input::ConfigError;
pub use crate::secret::{mask_with, Secret};

/// A failure to reach AWS Secrets Manager (network, throttling, a service error): the operation
/// failed, the configuration may be fine (exit 1).
#[derive(Debug, thiserror::Error)]
#[error("reading secret `{secret_id}` from AWS Secrets Manager failed: {reason}")]
pub struct SecretsUnavailable {
    pub secret_id: String,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Unavailable(#[from] SecretsUnavailable),
}

/// One value of a JSON secret. Strings are wrapped as [`Secret`] the moment they are parsed
/// (never printed), but masked in the log only once they are read as a credential: ids, regions
/// and URLs of the same secret stay readable. Other JSON types are kept only as the name of
/// their type, for the error message.
enum SecretValue {
    Str(Secret),
    Other(&'static str),
}

/// A parsed JSON secret: the keys of one secret of the seeds' layout.
pub struct SecretDoc {
    secret_id: String,
    /// The input that named the secret (`kafka-secret-id`, …), for error messages.
    input: &'static str,
    values: BTreeMap<String, SecretValue>,
}

impl fmt::Debug for SecretDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretDoc")
            .field("secret_id", &self.secret_id)
            .field("input", &self.input)
            .field("keys", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SecretDoc {
    /// Parse a secret's string. Not JSON, or JSON but not an object → [`ConfigError::SecretNotJson`]
    /// (the parser's message is reduced to a position: it could quote the value).
    pub fn parse(
        secret_id: &str,
        input: &'static str,
        text: Secret,
    ) -> Result<SecretDoc, ConfigError> {
        let not_json = |reason: String| ConfigError::SecretNotJson {
            secret_id: secret_id.to_string(),
            input,
            reason,
        };
        let value: serde_json::Value = serde_json::from_str(text.expose()).map_err(|e| {
            not_json(format!(
                "invalid JSON at line {} column {}",
                e.line(),
                e.column()
            ))
        })?;
        let serde_json::Value::Object(map) = value else {
            return Err(not_json(format!("the value is {}", json_type(&value))));
        };
        let values = map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => SecretValue::Str(Secret::plain(s)),
                    other => SecretValue::Other(json_type(&other)),
                };
                (k, v)
            })
            .collect();
        Ok(SecretDoc {
            secret_id: secret_id.to_string(),
            input,
            values,
        })
    }

    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    pub fn input(&self) -> &'static str {
        self.input
    }

    pub fn has(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// The string value of `key`, or `None` when the secret has no such key. A key of another
    /// JSON type, or an empty string, is an error. Not masked: call [`Secret::masked`] on a
    /// credential.
    pub fn get(&self, key: &'static str) -> Result<Option<Secret>, ConfigError> {
        match self.values.get(key) {
            None => Ok(None),
            Some(SecretValue::Str(s)) if s.expose().trim().is_empty() => {
                Err(self.bad_key(key, "is empty"))
            }
            Some(SecretValue::Str(s)) => Ok(Some(s.clone())),
            Some(SecretValue::Other(kind)) => {
                Err(self.bad_key(key, &format!("must be a string, not {kind}")))
            }
        }
    }

    /// Like [`SecretDoc::get`], but a missing key is an error; `hint` says which input would
    /// replace it.
    pub fn require(&self, key: &'static str, hint: &str) -> Result<Secret, ConfigError> {
        self.get(key)?.ok_or_else(|| ConfigError::MissingKey {
            secret_id: self.secret_id.clone(),
            input: self.input,
            key,
            hint: if hint.is_empty() {
                String::new()
            } else {
                format!(" ({hint})")
            },
        })
    }

    pub fn bad_key(&self, key: &'static str, reason: &str) -> ConfigError {
        ConfigError::BadKey {
            secret_id: self.secret_id.clone(),
            input: self.input,
            key,
            reason: reason.to_string(),
        }
    }
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// Install the process-wide rustls crypto provider (ring). Idempotent; every HTTPS client of the
/// crate needs it before it is built.
pub fn install_crypto_provider() {
    crate::http::install_crypto_provider();
}

/// An AWS Secrets Manager client: region from the `aws-region` input or the usual AWS
/// environment, credentials from the default chain, endpoint from `AWS_ENDPOINT_URL` (tests point
/// it at moto).
#[derive(Clone)]
pub struct SecretsManager {
    client: aws_sdk_secretsmanager::Client,
}

impl fmt::Debug for SecretsManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretsManager")
    }
}

/// The AWS SDK configuration every AWS client of the crate uses: the default chains (region,
/// credentials, `AWS_ENDPOINT_URL`), rustls on ring, a bounded operation time.
pub async fn aws_sdk_config(region: Option<&str>) -> aws_config::SdkConfig {
    install_crypto_provider();
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_timeout(AWS_OPERATION_TIMEOUT)
                .build(),
        );
    if let Some(region) = region {
        loader = loader.region(aws_config::Region::new(region.to_string()));
    }
    loader.load().await
}

/// How long one Secrets Manager call may take, retries included.
const AWS_OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

impl SecretsManager {
    /// `region`: the `aws-region` input; `None` falls back to `AWS_REGION` / the profile.
    pub async fn new(region: Option<&str>) -> Result<SecretsManager, ConfigError> {
        let config = aws_sdk_config(region).await;
        if config.region().is_none() {
            return Err(ConfigError::Missing {
                input: "aws-region",
                hint: "a secret id was given but no AWS region: give aws-region or set AWS_REGION"
                    .to_string(),
            });
        }
        Ok(SecretsManager {
            client: aws_sdk_secretsmanager::Client::new(&config),
        })
    }

    /// Fetch and parse one JSON secret. `input` names the input that gave `secret_id`.
    pub async fn fetch(
        &self,
        secret_id: &str,
        input: &'static str,
    ) -> Result<SecretDoc, SecretsError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| classify_aws_error(secret_id, input, e))?;
        let Some(text) = out.secret_string else {
            return Err(ConfigError::SecretNotJson {
                secret_id: secret_id.to_string(),
                input,
                reason: "it has no string value (binary secrets are not supported)".to_string(),
            }
            .into());
        };
        // Never printed whole; its credentials are masked as they are read (`SecretDoc`).
        let text = Secret::plain(text);
        tracing::debug!(secret_id, input, "read secret");
        Ok(SecretDoc::parse(secret_id, input, text)?)
    }
}

fn classify_aws_error(
    secret_id: &str,
    input: &'static str,
    e: SdkError<GetSecretValueError>,
) -> SecretsError {
    if let SdkError::ServiceError(ctx) = &e {
        let err = ctx.err();
        if err.is_resource_not_found_exception() {
            return ConfigError::SecretNotFound {
                secret_id: secret_id.to_string(),
                input,
            }
            .into();
        }
        let code = aws_sdk_secretsmanager::error::ProvideErrorMetadata::code(err).unwrap_or("");
        if matches!(
            code,
            "AccessDeniedException" | "AccessDenied" | "UnrecognizedClientException"
        ) || err.is_decryption_failure()
            || err.is_invalid_request_exception()
            || err.is_invalid_parameter_exception()
        {
            return ConfigError::SecretDenied {
                secret_id: secret_id.to_string(),
                input,
                reason: describe_aws_error(&e),
            }
            .into();
        }
    }
    SecretsUnavailable {
        secret_id: secret_id.to_string(),
        reason: describe_aws_error(&e),
    }
    .into()
}

/// The error's code and message (service errors) or its chain (transport errors). Secrets
/// Manager's messages name the secret id, never a value.
fn describe_aws_error(e: &SdkError<GetSecretValueError>) -> String {
    match e {
        SdkError::ServiceError(ctx) => {
            let err = ctx.err();
            let meta = aws_sdk_secretsmanager::error::ProvideErrorMetadata::meta(err);
            match (meta.code(), meta.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_string(),
                _ => err.to_string(),
            }
        }
        other => aws_sdk_secretsmanager::error::DisplayErrorContext(other).to_string(),
    }
}
