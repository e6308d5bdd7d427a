//! Deterministic deployed statement names: `<app>-<name>-<8 hex>`.
//!
//! The hash covers what a statement cannot change in place (SQL, properties, compute pool,
//! principal — the API has no update path for them), so an unchanged statement keeps its name and
//! `buildup` leaves it running, while any change yields a new name and a replacement. Random names
//! (the seed's uuid per deploy) leave a duplicate writer running after every redeploy.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// The API's limit on statement names (the OpenAPI pattern's).
pub const MAX_NAME_LEN: usize = 100;
/// The limit on the names the action makes: the statements concept page says 72, stricter than
/// the spec's 100 (§F.15), and names of `[a-z0-9-]` at most this long are valid under every
/// reading.
pub const MAX_DEPLOYED_LEN: usize = 72;
const HASH_LEN: usize = 8;

/// What a deployed statement is made of; its name is a function of this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementIdentity<'a> {
    pub app: &'a str,
    pub name: &'a str,
    pub sql: &'a str,
    pub properties: &'a BTreeMap<String, String>,
    pub compute_pool: &'a str,
    pub principal: &'a str,
}

/// `<app>-<name>-<8 hex>`, at most [`MAX_DEPLOYED_LEN`] characters of `[a-z0-9-]`.
///
/// When `<app>-<name>` is too long it is cut to fit (at a character boundary, trailing `-`
/// trimmed); the hash includes the uncut names, so two statements whose names share the cut
/// prefix still differ. Never fails for names that pass [`valid_logical_name`].
pub fn deployed_name(id: &StatementIdentity<'_>) -> String {
    let hash = identity_hash(id);
    let mut stem = format!("{}-{}", id.app, id.name);
    let room = MAX_DEPLOYED_LEN - HASH_LEN - 1;
    if stem.len() > room {
        stem.truncate(room);
        while stem.ends_with('-') {
            stem.pop();
        }
    }
    format!("{stem}-{hash}")
}

fn identity_hash(id: &StatementIdentity<'_>) -> String {
    let mut h = Sha256::new();
    // Length-prefixed fields: no two different identities hash the same bytes.
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(id.app.as_bytes());
    field(id.name.as_bytes());
    field(id.sql.trim().as_bytes());
    for (k, v) in id.properties {
        field(k.as_bytes());
        field(v.as_bytes());
    }
    field(id.compute_pool.as_bytes());
    field(id.principal.as_bytes());
    let digest = h.finalize();
    digest[..HASH_LEN / 2]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An app or logical statement name: `[a-z0-9-]`, starting and ending with a letter or digit.
pub fn valid_logical_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// The API's statement name rule (≤ 100 characters of lower-case letters, digits, `-` and `.`,
/// each dot-separated label starting and ending with a letter or digit). The one home of the
/// rule: inputs, adopted names and tracker records are all checked with it.
pub fn valid_statement_name(name: &str) -> bool {
    name.len() <= MAX_NAME_LEN && !name.is_empty() && name.split('.').all(valid_logical_name)
}

/// [`valid_statement_name`], with the message that says what the rule is.
pub fn check_statement_name(name: &str) -> Result<(), String> {
    if valid_statement_name(name) {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a valid statement name: 1 to {MAX_NAME_LEN} characters of a-z, 0-9, \
             '-' and '.', each '.'-separated part starting and ending with a letter or digit"
        ))
    }
}

/// Whether some valid statement name starts with `prefix` (a `prefix*` selector of `adopt`).
pub fn valid_statement_prefix(prefix: &str) -> bool {
    let b = prefix.as_bytes();
    !b.is_empty()
        && b.len() <= MAX_NAME_LEN
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'.'))
        && !matches!(b[0], b'-' | b'.')
        && !prefix.contains("..")
        && !prefix.contains(".-")
        && !prefix.contains("-.")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id<'a>(
        app: &'a str,
        name: &'a str,
        sql: &'a str,
        props: &'a BTreeMap<String, String>,
    ) -> StatementIdentity<'a> {
        StatementIdentity {
            app,
            name,
            sql,
            properties: props,
            compute_pool: "lfcp-1",
            principal: "sa-1",
        }
    }

    #[test]
    fn same_definition_same_name_and_any_change_a_new_one() {
        let props = BTreeMap::from([("sql.local-time-zone".to_string(), "UTC".to_string())]);
        let base = deployed_name(&id("app", "job", "SELECT 1", &props));
        assert_eq!(base, deployed_name(&id("app", "job", "SELECT 1", &props)));
        assert!(base.starts_with("app-job-"));
        assert_eq!(base.len(), "app-job-".len() + 8);
        assert!(valid_statement_name(&base));

        let other_props = BTreeMap::from([("sql.local-time-zone".to_string(), "CET".to_string())]);
        let variants = [
            deployed_name(&id("app", "job", "SELECT 2", &props)),
            deployed_name(&id("app", "job", "SELECT 1", &other_props)),
            deployed_name(&StatementIdentity {
                compute_pool: "lfcp-2",
                ..id("app", "job", "SELECT 1", &props)
            }),
            deployed_name(&StatementIdentity {
                principal: "sa-2",
                ..id("app", "job", "SELECT 1", &props)
            }),
        ];
        for v in variants {
            assert_ne!(v, base);
        }
        // Surrounding whitespace is not a change.
        assert_eq!(
            base,
            deployed_name(&id("app", "job", "\n SELECT 1 \n", &props))
        );
    }

    #[test]
    fn statement_names_and_prefixes_follow_the_apis_rule() {
        for ok in ["app-x-0123abcd", "a", "team.app-x", "a1.b2.c3"] {
            assert!(check_statement_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a_b", "-a", "a-", "a..b", "a.-b", "A", &"x".repeat(101)] {
            let e = check_statement_name(bad).unwrap_err();
            assert!(e.contains("not a valid statement name"), "{bad}: {e}");
        }
        for ok in ["a", "app-", "team.", "team.app-x-"] {
            assert!(valid_statement_prefix(ok), "{ok}");
        }
        for bad in ["", "-a", ".a", "a..", "a.-", "a-.", "A", "a*"] {
            assert!(!valid_statement_prefix(bad), "{bad}");
        }
    }

    #[test]
    fn long_names_are_shortened_predictably_and_stay_distinct() {
        let props = BTreeMap::new();
        let app = "a".repeat(60);
        let one = "b".repeat(60) + "-one";
        let two = "b".repeat(60) + "-two";
        let n1 = deployed_name(&id(&app, &one, "SELECT 1", &props));
        let n2 = deployed_name(&id(&app, &two, "SELECT 1", &props));
        assert_eq!(n1.len(), MAX_DEPLOYED_LEN);
        assert!(valid_statement_name(&n1), "{n1}");
        assert!(n1
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
        assert_ne!(n1, n2);
        assert_eq!(n1, deployed_name(&id(&app, &one, "SELECT 1", &props)));
        // A cut that lands on a '-' is trimmed, never leaving "--".
        let app = "a".repeat(MAX_DEPLOYED_LEN - 8 - 2);
        let n = deployed_name(&id(&app, "x", "SELECT 1", &props));
        assert!(!n.contains("--"), "{n}");
        assert!(n.len() <= MAX_DEPLOYED_LEN);
        assert!(valid_statement_name(&n));
    }

    #[test]
    fn logical_names_are_checked() {
        for ok in ["a", "flight-avro", "x1-2"] {
            assert!(valid_logical_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", "a b"] {
            assert!(!valid_logical_name(bad), "{bad}");
        }
    }
}
