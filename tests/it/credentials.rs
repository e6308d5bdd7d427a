//! Credentials from AWS Secrets Manager (moto's server, reached through `AWS_ENDPOINT_URL`) and
//! from direct inputs: the seeds' JSON layout, overrides, and every way a secret can be wrong.
//! Each test creates its own secrets (unique names) with the SDK.

use ccaf_housekeeping::config::{CredentialInputs, Credentials};
use ccaf_housekeeping::confluent::kafka::{KafkaSecurity, SecurityProtocol};
use ccaf_housekeeping::input::ConfigError;
use ccaf_housekeeping::secrets::{aws_sdk_config, Secret, SecretsError};
use serde_json::json;
use test_support::{random_secret, unique, StackEnv};

async fn sm() -> aws_sdk_secretsmanager::Client {
    // Fails loudly when the stack is not up (and so AWS_ENDPOINT_URL is not moto).
    let _ = StackEnv::load();
    aws_sdk_secretsmanager::Client::new(&aws_sdk_config(None).await)
}

/// Create a secret with a unique name; returns the name.
async fn create(prefix: &str, value: &str) -> String {
    let name = unique(prefix);
    sm().await
        .create_secret()
        .name(&name)
        .secret_string(value)
        .send()
        .await
        .expect("create secret in moto");
    name
}

struct Seeds {
    flink_id: String,
    kafka_id: String,
    sr_id: String,
    flink_secret: String,
    kafka_password: String,
    sr_secret: String,
}

/// The three secrets as the seeds' Terraform writes them.
async fn seeds() -> Seeds {
    let flink_secret = random_secret(64);
    let kafka_password = random_secret(64);
    let sr_secret = random_secret(64);
    let flink_id = create(
        "flink",
        &json!({
            "flink.api.key": "FLINKKEY0000001",
            "flink.api.secret": flink_secret,
            "flink.cloud": "aws",
            "flink.region": "us-east-1",
            "organization.id": "5f0c3a52-8d1e-4b7a-9c2f-1e6d4b8a7c30",
            "environment.id": "env-abc123",
            "flink.compute.pool.id": "lfcp-pool01",
            "flink.principal.id": "sa-prin01"
        })
        .to_string(),
    )
    .await;
    let kafka_id = create(
        "kafka",
        &json!({
            "bootstrap.servers": "SASL_SSL://pkc-00000.us-east-1.aws.confluent.cloud:9092",
            "sasl.username": "KAFKAKEY000001",
            "sasl.password": kafka_password
        })
        .to_string(),
    )
    .await;
    let sr_id = create(
        "sr",
        &json!({
            "schema.registry.url": "https://psrc-00000.us-east-1.aws.confluent.cloud",
            "schema.registry.basic.auth.user.info": format!("SRKEY000001:{sr_secret}")
        })
        .to_string(),
    )
    .await;
    Seeds {
        flink_id,
        kafka_id,
        sr_id,
        flink_secret,
        kafka_password,
        sr_secret,
    }
}

fn from_secrets(s: &Seeds) -> CredentialInputs {
    CredentialInputs {
        flink_secret_id: Some(s.flink_id.clone()),
        kafka_secret_id: Some(s.kafka_id.clone()),
        schema_registry_secret_id: Some(s.sr_id.clone()),
        ..Default::default()
    }
}

#[tokio::test]
async fn everything_resolves_from_the_seeds_secrets() {
    let s = seeds().await;
    let mut c = Credentials::new(from_secrets(&s));

    assert_eq!(c.environment_id().await.unwrap(), "env-abc123");

    let f = c.flink().await.unwrap();
    assert_eq!(f.endpoint, "https://flink.us-east-1.aws.confluent.cloud");
    assert_eq!(f.organization_id, "5f0c3a52-8d1e-4b7a-9c2f-1e6d4b8a7c30");
    assert_eq!(f.environment_id, "env-abc123");
    assert_eq!(f.api_key, "FLINKKEY0000001");
    assert_eq!(f.api_secret.expose(), s.flink_secret);
    assert_eq!(f.compute_pool_id.as_deref(), Some("lfcp-pool01"));
    assert_eq!(f.principal_id.as_deref(), Some("sa-prin01"));

    let k = c.kafka().await.unwrap();
    assert_eq!(
        k.bootstrap_servers,
        "SASL_SSL://pkc-00000.us-east-1.aws.confluent.cloud:9092"
    );
    match &k.security {
        KafkaSecurity::SaslSsl {
            api_key,
            api_secret,
            ..
        } => {
            assert_eq!(api_key, "KAFKAKEY000001");
            assert_eq!(api_secret.expose(), s.kafka_password);
        }
        other => panic!("expected SASL_SSL, got {other:?}"),
    }

    let sr = c.schema_registry().await.unwrap();
    assert_eq!(sr.url, "https://psrc-00000.us-east-1.aws.confluent.cloud");
    assert_eq!(sr.api_key, "SRKEY000001");
    assert_eq!(sr.api_secret.expose(), s.sr_secret);

    // Debug output of everything resolved shows no secret.
    let shown = format!("{f:?} {k:?} {sr:?}");
    for secret in [&s.flink_secret, &s.kafka_password, &s.sr_secret] {
        assert!(!shown.contains(secret.as_str()), "{shown}");
    }
}

#[tokio::test]
async fn direct_inputs_override_secret_values() {
    let s = seeds().await;
    let mut inputs = from_secrets(&s);
    inputs.environment_id = Some("env-direct".into());
    inputs.flink_api_key = Some("DIRECTFLINK".into());
    inputs.flink_api_secret = Some(Secret::new("direct-flink-secret"));
    inputs.flink_endpoint = Some("http://127.0.0.1:9/".into());
    inputs.compute_pool_id = Some("lfcp-direct".into());
    inputs.kafka_bootstrap_servers = Some("127.0.0.1:9092".into());
    inputs.kafka_api_secret = Some(Secret::new("direct-kafka-secret"));
    inputs.schema_registry_api_key = Some("DIRECTSR".into());
    let mut c = Credentials::new(inputs);

    assert_eq!(c.environment_id().await.unwrap(), "env-direct");
    let f = c.flink().await.unwrap();
    assert_eq!(f.environment_id, "env-direct");
    assert_eq!(f.api_key, "DIRECTFLINK");
    assert_eq!(f.api_secret.expose(), "direct-flink-secret");
    assert_eq!(f.endpoint, "http://127.0.0.1:9");
    assert_eq!(f.compute_pool_id.as_deref(), Some("lfcp-direct"));
    // Not overridden: from the secret.
    assert_eq!(f.principal_id.as_deref(), Some("sa-prin01"));
    assert_eq!(f.organization_id, "5f0c3a52-8d1e-4b7a-9c2f-1e6d4b8a7c30");

    let k = c.kafka().await.unwrap();
    assert_eq!(k.bootstrap_servers, "127.0.0.1:9092");
    let KafkaSecurity::SaslSsl {
        api_key,
        api_secret,
        ..
    } = &k.security
    else {
        panic!("expected SASL_SSL");
    };
    assert_eq!(api_key, "KAFKAKEY000001");
    assert_eq!(api_secret.expose(), "direct-kafka-secret");

    // Half of user.info overridden: the other half still comes from the secret.
    let sr = c.schema_registry().await.unwrap();
    assert_eq!(sr.api_key, "DIRECTSR");
    assert_eq!(sr.api_secret.expose(), s.sr_secret);
}

#[tokio::test]
async fn a_key_replaced_by_an_input_need_not_be_in_the_secret() {
    let id = create(
        "kafka-partial",
        &json!({"bootstrap.servers": "127.0.0.1:9092", "sasl.username": "K"}).to_string(),
    )
    .await;
    let mut c = Credentials::new(CredentialInputs {
        kafka_secret_id: Some(id.clone()),
        kafka_api_secret: Some(Secret::new("given")),
        ..Default::default()
    });
    assert!(c.kafka().await.is_ok());

    // Without the input, the missing key is named, with the secret.
    let mut c = Credentials::new(CredentialInputs {
        kafka_secret_id: Some(id.clone()),
        ..Default::default()
    });
    let err = config_error(c.kafka().await.unwrap_err());
    assert!(
        matches!(&err, ConfigError::MissingKey { secret_id, key: "sasl.password", .. } if *secret_id == id),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&id) && msg.contains("sasl.password") && msg.contains("kafka-api-secret"),
        "{msg}"
    );

    // PLAINTEXT needs no key or secret at all.
    let mut c = Credentials::new(CredentialInputs {
        kafka_secret_id: Some(id),
        kafka_security_protocol: Some(SecurityProtocol::Plaintext),
        ..Default::default()
    });
    assert!(matches!(
        c.kafka().await.unwrap().security,
        KafkaSecurity::Plaintext
    ));
}

fn config_error(e: SecretsError) -> ConfigError {
    match e {
        SecretsError::Config(c) => c,
        SecretsError::Unavailable(u) => panic!("expected a configuration error, got {u}"),
    }
}

#[tokio::test]
async fn a_missing_secret_is_a_configuration_error_naming_it() {
    let _ = StackEnv::load();
    let id = unique("does-not-exist");
    let mut c = Credentials::new(CredentialInputs {
        flink_secret_id: Some(id.clone()),
        ..Default::default()
    });
    let err = config_error(c.flink().await.unwrap_err());
    assert!(
        matches!(&err, ConfigError::SecretNotFound { secret_id, input: "flink-secret-id" } if *secret_id == id),
        "{err:?}"
    );
    assert!(err.to_string().contains(&id));
}

#[tokio::test]
async fn a_secret_that_is_not_a_json_object_is_refused_without_quoting_it() {
    let leak = random_secret(40);
    for (value, expect) in [
        (format!("{leak} is not JSON"), "invalid JSON"),
        (format!("[\"{leak}\"]"), "an array"),
        (format!("\"{leak}\""), "a string"),
        (format!("{{\"sasl.password\": \"{leak}\""), "invalid JSON"),
    ] {
        let id = create("not-json", &value).await;
        let mut c = Credentials::new(CredentialInputs {
            kafka_secret_id: Some(id.clone()),
            ..Default::default()
        });
        let err = config_error(c.kafka().await.unwrap_err());
        let msg = err.to_string();
        assert!(
            matches!(&err, ConfigError::SecretNotJson { secret_id, .. } if *secret_id == id),
            "{err:?}"
        );
        assert!(msg.contains(expect), "{value}: {msg}");
        assert!(!msg.contains(&leak), "the message quotes the secret: {msg}");
        assert!(!format!("{err:?}").contains(&leak));
    }
}

#[tokio::test]
async fn a_binary_secret_is_refused() {
    let _ = StackEnv::load();
    let name = unique("binary");
    sm().await
        .create_secret()
        .name(&name)
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(vec![
            0u8, 1, 2,
        ]))
        .send()
        .await
        .unwrap();
    let mut c = Credentials::new(CredentialInputs {
        kafka_secret_id: Some(name.clone()),
        ..Default::default()
    });
    let err = config_error(c.kafka().await.unwrap_err());
    assert!(matches!(err, ConfigError::SecretNotJson { .. }), "{err:?}");
}

#[tokio::test]
async fn malformed_user_info_is_named_and_never_shown() {
    let leak = random_secret(40);
    for info in [leak.clone(), format!(":{leak}"), format!("{leak}:")] {
        let id = create(
            "sr-bad",
            &json!({
                "schema.registry.url": "https://psrc-1.example",
                "schema.registry.basic.auth.user.info": info
            })
            .to_string(),
        )
        .await;
        let mut c = Credentials::new(CredentialInputs {
            schema_registry_secret_id: Some(id.clone()),
            ..Default::default()
        });
        let err = config_error(c.schema_registry().await.unwrap_err());
        assert!(
            matches!(&err, ConfigError::BadKey { secret_id, key: "schema.registry.basic.auth.user.info", .. } if *secret_id == id),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("key:secret"), "{msg}");
        assert!(!msg.contains(&leak), "{msg}");
    }
}

#[tokio::test]
async fn a_key_of_the_wrong_type_or_empty_is_named() {
    let id = create(
        "flink-types",
        &json!({
            "flink.api.key": "K",
            "flink.api.secret": 12345,
            "flink.cloud": "aws",
            "flink.region": "us-east-1",
            "organization.id": "org",
            "environment.id": ""
        })
        .to_string(),
    )
    .await;
    let mut c = Credentials::new(CredentialInputs {
        flink_secret_id: Some(id.clone()),
        ..Default::default()
    });
    let err = config_error(c.flink().await.unwrap_err());
    assert!(
        matches!(
            &err,
            ConfigError::BadKey {
                key: "flink.api.secret",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("must be a string, not a number"),
        "{err}"
    );
    assert!(!err.to_string().contains("12345"));

    let err = config_error(c.environment_id().await.unwrap_err());
    assert!(
        matches!(
            &err,
            ConfigError::BadKey {
                key: "environment.id",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn without_secret_or_input_the_input_is_named() {
    let mut c = Credentials::new(CredentialInputs::default());
    let err = config_error(c.kafka().await.unwrap_err());
    assert!(
        matches!(
            err,
            ConfigError::Missing {
                input: "kafka-bootstrap-servers",
                ..
            }
        ),
        "{err:?}"
    );
    let mut c = Credentials::new(CredentialInputs {
        kafka_bootstrap_servers: Some("127.0.0.1:9092".into()),
        ..Default::default()
    });
    let err = config_error(c.kafka().await.unwrap_err());
    assert!(
        matches!(
            err,
            ConfigError::Missing {
                input: "kafka-api-key",
                ..
            }
        ),
        "{err:?}"
    );
    let err = config_error(c.environment_id().await.unwrap_err());
    assert!(
        matches!(
            err,
            ConfigError::Missing {
                input: "environment-id",
                ..
            }
        ),
        "{err:?}"
    );
    let err = config_error(c.flink().await.unwrap_err());
    assert!(
        matches!(
            err,
            ConfigError::Missing {
                input: "flink-api-key",
                ..
            }
        ),
        "{err:?}"
    );
    let err = config_error(c.schema_registry().await.unwrap_err());
    assert!(
        matches!(
            err,
            ConfigError::Missing {
                input: "schema-registry-url",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_java_client_layouts_resolve_like_the_python_client_ones() {
    let password = random_secret(64);
    let sr_secret = random_secret(64);
    for quote in ['\'', '"'] {
        let jaas = format!(
            "org.apache.kafka.common.security.plain.PlainLoginModule required username={quote}KAFKAKEYJAVA01{quote} password={quote}{password}{quote};"
        );
        let kafka_id = create(
            "kafka-java",
            &json!({
                "bootstrap.servers": "pkc-00000.us-east-1.aws.confluent.cloud:9092",
                "sasl.jaas.config": jaas,
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": "PLAIN"
            })
            .to_string(),
        )
        .await;
        let mut c = Credentials::new(CredentialInputs {
            kafka_secret_id: Some(kafka_id),
            ..Default::default()
        });
        let KafkaSecurity::SaslSsl {
            api_key,
            api_secret,
            ..
        } = c.kafka().await.unwrap().security
        else {
            panic!("expected SASL_SSL");
        };
        assert_eq!(api_key, "KAFKAKEYJAVA01");
        assert_eq!(api_secret.expose(), password);
    }
    let sr_id = create(
        "sr-java",
        &json!({
            "schema.registry.url": "https://psrc-00000.us-east-1.aws.confluent.cloud",
            "basic.auth.credentials.source": "USER_INFO",
            "basic.auth.user.info": format!("SRKEYJAVA01:{sr_secret}")
        })
        .to_string(),
    )
    .await;
    let mut c = Credentials::new(CredentialInputs {
        schema_registry_secret_id: Some(sr_id),
        ..Default::default()
    });
    let sr = c.schema_registry().await.unwrap();
    assert_eq!(sr.api_key, "SRKEYJAVA01");
    assert_eq!(sr.api_secret.expose(), sr_secret);
}

#[tokio::test]
async fn a_secret_with_none_of_the_accepted_keys_names_every_spelling() {
    let kafka_id = create(
        "kafka-none",
        &json!({"bootstrap.servers": "127.0.0.1:9092", "username": "K", "password": "P"})
            .to_string(),
    )
    .await;
    let mut c = Credentials::new(CredentialInputs {
        kafka_secret_id: Some(kafka_id.clone()),
        ..Default::default()
    });
    let err = config_error(c.kafka().await.unwrap_err());
    assert!(matches!(err, ConfigError::NoAcceptedKey { .. }), "{err:?}");
    let msg = err.to_string();
    for spelling in [
        "sasl.username",
        "sasl.password",
        "sasl.jaas.config",
        &kafka_id,
    ] {
        assert!(msg.contains(spelling), "{spelling} in {msg}");
    }
    let sr_id = create(
        "sr-none",
        &json!({"schema.registry.url": "https://psrc-1.example", "user.info": "K:S"}).to_string(),
    )
    .await;
    let mut c = Credentials::new(CredentialInputs {
        schema_registry_secret_id: Some(sr_id),
        ..Default::default()
    });
    let msg = config_error(c.schema_registry().await.unwrap_err()).to_string();
    for spelling in [
        "schema.registry.basic.auth.user.info",
        "basic.auth.user.info",
    ] {
        assert!(msg.contains(spelling), "{spelling} in {msg}");
    }

    // A java_client secret that is not SASL PLAIN, or not USER_INFO, is named, never shown.
    let leak = random_secret(30);
    let scram = create(
        "kafka-scram",
        &json!({
            "bootstrap.servers": "127.0.0.1:9092",
            "sasl.jaas.config": format!("org.apache.kafka.common.security.scram.ScramLoginModule required username='K' password='{leak}';")
        })
        .to_string(),
    )
    .await;
    let mut c = Credentials::new(CredentialInputs {
        kafka_secret_id: Some(scram),
        ..Default::default()
    });
    let msg = config_error(c.kafka().await.unwrap_err()).to_string();
    assert!(
        msg.contains("sasl.jaas.config") && msg.contains("PlainLoginModule"),
        "{msg}"
    );
    assert!(!msg.contains(&leak), "{msg}");
    let sr_source = create(
        "sr-source",
        &json!({
            "schema.registry.url": "https://psrc-1.example",
            "basic.auth.credentials.source": "SASL_INHERIT",
            "basic.auth.user.info": format!("K:{leak}")
        })
        .to_string(),
    )
    .await;
    let mut c = Credentials::new(CredentialInputs {
        schema_registry_secret_id: Some(sr_source),
        ..Default::default()
    });
    let msg = config_error(c.schema_registry().await.unwrap_err()).to_string();
    assert!(msg.contains("basic.auth.credentials.source"), "{msg}");
    assert!(!msg.contains(&leak), "{msg}");
}

#[tokio::test]
async fn private_networking_picks_the_private_regional_endpoint() {
    let s = seeds().await;
    let mut inputs = from_secrets(&s);
    inputs.private_networking = true;
    let f = Credentials::new(inputs.clone()).flink().await.unwrap();
    assert_eq!(
        f.endpoint,
        "https://flink.us-east-1.aws.private.confluent.cloud"
    );
    // An explicit endpoint still wins.
    inputs.flink_endpoint = Some("https://flink.pr1jy6.us-east-2.aws.confluent.cloud".into());
    let f = Credentials::new(inputs).flink().await.unwrap();
    assert_eq!(
        f.endpoint,
        "https://flink.pr1jy6.us-east-2.aws.confluent.cloud"
    );
}
