//! Proof that a value of the tracker topic was written by the app: an HMAC-SHA256 over the key
//! and the value, with a key only the app's runs hold (`tracker-key`, see `docs/usage.md`).
//!
//! The tracker is a topic in a cluster other teams share; whoever may write to it can write
//! anything under any key. A value is believed only when its MAC verifies: a forged record,
//! lease or overwrite is never acted on, only reported. The MAC is the value's last member,
//! `,"mac":"hmac-sha256:<64 hex>"}`, so a signed value is still one JSON object (other apps'
//! runs, which read only a record's first fields, are not disturbed) and stripping the member
//! gives back exactly the bytes that were signed.
//!
//! A tombstone carries no value to sign: the app removes a key by writing a signed
//! [`removal`] marker first, then the tombstone. A tombstone that does not follow a marker is
//! someone else's and does not remove a value the app signed.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::Secret;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &[u8] = b",\"mac\":\"hmac-sha256:";
const HEX_LEN: usize = 64;
/// `PREFIX`, the hex digest, `"}`.
const SUFFIX_LEN: usize = PREFIX.len() + HEX_LEN + 2;

/// The keys a run signs and verifies with: the first signs, every one verifies (a rotation
/// lists the new key first and the old one after it until every record is signed again).
#[derive(Clone)]
pub struct TrackerKey {
    keys: Vec<Secret>,
    /// Where the key came from, for the log and the report (never the key itself).
    pub source: KeySource,
}

/// Where the signing key came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// The `tracker-key` input.
    Input,
    /// `tracker.key` in the Kafka secret.
    KafkaSecret,
    /// Derived from the Kafka API secret: whoever holds that secret can write as the app
    /// anyway.
    KafkaApiSecret,
    /// A cluster without credentials (a local PLAINTEXT broker): a fixed key, no protection.
    Unprotected,
}

impl std::fmt::Display for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeySource::Input => "the tracker-key input",
            KeySource::KafkaSecret => "`tracker.key` in the Kafka secret",
            KeySource::KafkaApiSecret => "derived from the Kafka API secret",
            KeySource::Unprotected => {
                "a fixed key (no Kafka credentials: anyone can sign as the app)"
            }
        })
    }
}

impl std::fmt::Debug for TrackerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackerKey")
            .field("keys", &self.keys.len())
            .field("source", &self.source)
            .finish()
    }
}

/// What a value of the topic proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified<'a> {
    /// Signed by one of the run's keys: the bytes that were signed.
    Signed(std::borrow::Cow<'a, [u8]>),
    /// It carries a MAC no key of the run verifies: forged, or signed with a key since retired.
    BadMac(std::borrow::Cow<'a, [u8]>),
    /// No MAC: written by a version before signing, or by someone else.
    Unsigned,
}

impl TrackerKey {
    /// Keys from a `tracker-key` value: one per line (or comma-separated), the first signing.
    pub fn parse(text: &Secret, source: KeySource) -> Result<TrackerKey, String> {
        let keys: Vec<Secret> = text
            .expose()
            .split([',', '\n'])
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(Secret::new)
            .collect();
        if keys.is_empty() {
            return Err("it holds no key".into());
        }
        if let Some(short) = keys.iter().position(|k| k.expose().len() < 32) {
            return Err(format!(
                "key {} is shorter than 32 characters (make one with `openssl rand -hex 32`)",
                short + 1
            ));
        }
        Ok(TrackerKey { keys, source })
    }

    /// A key derived from a secret the run holds anyway (the Kafka API secret), so a run signs
    /// without being given a key; `label` keeps it apart from the secret's own use.
    pub fn derived(secret: &Secret, source: KeySource) -> TrackerKey {
        let mut mac = HmacSha256::new_from_slice(secret.expose().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(b"ccaf-housekeeping tracker key v1");
        let key = hex(&mac.finalize().into_bytes());
        TrackerKey {
            keys: vec![Secret::new(key)],
            source,
        }
    }

    /// The key of a cluster without credentials: known to everyone, it proves nothing; said in
    /// the log by whoever uses it.
    pub fn unprotected() -> TrackerKey {
        TrackerKey {
            keys: vec![Secret::new("ccaf-housekeeping unprotected tracker key v1")],
            source: KeySource::Unprotected,
        }
    }

    fn mac(&self, key: &Secret, topic_key: &str, value: &[u8]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(key.expose().as_bytes())
            .expect("HMAC takes a key of any length");
        // The key is part of what is signed: a signed value copied under another key fails.
        mac.update(&(topic_key.len() as u64).to_be_bytes());
        mac.update(topic_key.as_bytes());
        mac.update(value);
        mac.finalize().into_bytes().into()
    }

    /// `value` (a JSON object) with its MAC as the last member.
    pub fn sign(&self, topic_key: &str, value: &[u8]) -> Vec<u8> {
        let mac = self.mac(&self.keys[0], topic_key, value);
        let body = value.strip_suffix(b"}").unwrap_or(value);
        // `{}` signs as `{"mac":…}`: no leading comma then.
        let empty = body.iter().all(u8::is_ascii_whitespace) || body == b"{";
        let mut out = Vec::with_capacity(value.len() + SUFFIX_LEN);
        out.extend_from_slice(body);
        out.extend_from_slice(if empty { &PREFIX[1..] } else { PREFIX });
        out.extend_from_slice(hex(&mac).as_bytes());
        out.extend_from_slice(b"\"}");
        out
    }

    /// Whether `signed` (a value read under `topic_key`) was signed by one of the run's keys.
    pub fn verify<'a>(&self, topic_key: &str, signed: &'a [u8]) -> Verified<'a> {
        let Some((value, digest)) = split(signed) else {
            return Verified::Unsigned;
        };
        let Some(digest) = unhex(digest) else {
            return Verified::Unsigned;
        };
        let ok = self.keys.iter().any(|k| {
            let mut mac = HmacSha256::new_from_slice(k.expose().as_bytes())
                .expect("HMAC takes a key of any length");
            mac.update(&(topic_key.len() as u64).to_be_bytes());
            mac.update(topic_key.as_bytes());
            mac.update(&value);
            // Constant time: the comparison says nothing about how much of a guess was right.
            mac.verify_slice(&digest).is_ok()
        });
        if ok {
            Verified::Signed(value)
        } else {
            Verified::BadMac(value)
        }
    }

    /// Whether the first key (the one that signs) is the only one.
    pub fn signs_with_first_only(&self) -> bool {
        self.keys.len() == 1
    }
}

/// The signed bytes and the hex digest of a value that ends with a MAC member.
fn split(signed: &[u8]) -> Option<(std::borrow::Cow<'_, [u8]>, &[u8])> {
    if signed.len() < SUFFIX_LEN || !signed.ends_with(b"\"}") {
        return None;
    }
    let at = signed.len() - SUFFIX_LEN;
    let digest = &signed[at + PREFIX.len()..signed.len() - 2];
    if &signed[at..at + PREFIX.len()] == PREFIX {
        let mut value = signed[..at].to_vec();
        value.push(b'}');
        return Some((value.into(), digest));
    }
    // `{"mac":…}`: the value was `{}`.
    if signed[at + 1..at + PREFIX.len()] == PREFIX[1..] && signed[..at + 1].ends_with(b"{") {
        let mut value = signed[..at + 1].to_vec();
        value.push(b'}');
        return Some((value.into(), digest));
    }
    None
}

/// The marker the app writes before a tombstone: the key it removes, signed.
pub fn removal(topic_key: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "removed": topic_key })).expect("a string serialises")
}

/// Whether a verified value is the app's removal marker of `topic_key`.
pub fn is_removal(topic_key: &str, value: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Removal<'a> {
        removed: &'a str,
    }
    serde_json::from_slice::<Removal>(value).is_ok_and(|r| r.removed == topic_key)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    text.chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> TrackerKey {
        TrackerKey::parse(&Secret::new(k), KeySource::Input).unwrap()
    }

    const A: &str = "0123456789abcdef0123456789abcdef";
    const B: &str = "fedcba9876543210fedcba9876543210";

    #[test]
    fn a_signed_value_verifies_as_the_bytes_that_were_signed() {
        let k = key(A);
        let value = br#"{"version":2,"app":"a"}"#;
        let signed = k.sign("env/s", value);
        assert!(signed.ends_with(b"\"}"));
        let parsed: serde_json::Value = serde_json::from_slice(&signed).unwrap();
        assert_eq!(parsed["app"], "a");
        assert_eq!(
            k.verify("env/s", &signed),
            Verified::Signed(value[..].into())
        );
        // `{}` too.
        let signed = k.sign("env/s", b"{}");
        assert_eq!(
            k.verify("env/s", &signed),
            Verified::Signed(b"{}"[..].into())
        );
    }

    #[test]
    fn another_key_another_topic_key_or_a_changed_value_fails() {
        let k = key(A);
        let signed = k.sign("env/s", br#"{"app":"a"}"#);
        assert!(matches!(
            key(B).verify("env/s", &signed),
            Verified::BadMac(_)
        ));
        assert!(matches!(k.verify("env/t", &signed), Verified::BadMac(_)));
        let tampered = String::from_utf8(signed.clone())
            .unwrap()
            .replace("\"a\"", "\"b\"");
        assert!(matches!(
            k.verify("env/s", tampered.as_bytes()),
            Verified::BadMac(_)
        ));
        assert_eq!(k.verify("env/s", br#"{"app":"a"}"#), Verified::Unsigned);
        assert_eq!(
            k.verify("env/s", br#"{"app":"a","mac":"hmac-sha256:zz"}"#),
            Verified::Unsigned
        );
    }

    #[test]
    fn a_rotation_verifies_with_every_key_and_signs_with_the_first() {
        let old = key(A).sign("k", b"{\"x\":1}");
        let rotated = key(&format!("{B}\n{A}"));
        assert!(matches!(rotated.verify("k", &old), Verified::Signed(_)));
        let new = rotated.sign("k", b"{\"x\":1}");
        assert!(matches!(key(B).verify("k", &new), Verified::Signed(_)));
        assert!(matches!(key(A).verify("k", &new), Verified::BadMac(_)));
    }

    #[test]
    fn a_short_or_empty_key_is_refused() {
        assert!(TrackerKey::parse(&Secret::new("short"), KeySource::Input).is_err());
        assert!(TrackerKey::parse(&Secret::new(" \n,"), KeySource::Input).is_err());
    }

    #[test]
    fn a_removal_marker_names_its_key() {
        let m = removal("env/s");
        assert!(is_removal("env/s", &m));
        assert!(!is_removal("env/t", &m));
        assert!(!is_removal("env/s", br#"{"removed":"env/s","app":"x"}"#));
    }

    #[test]
    fn a_derived_key_is_stable_and_apart_from_its_secret() {
        let s = Secret::new("kafka-api-secret");
        let a = TrackerKey::derived(&s, KeySource::KafkaApiSecret);
        let b = TrackerKey::derived(&s, KeySource::KafkaApiSecret);
        let signed = a.sign("k", b"{}");
        assert!(matches!(b.verify("k", &signed), Verified::Signed(_)));
        assert_ne!(a.keys[0].expose(), s.expose());
    }
}
