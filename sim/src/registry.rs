//! Schema Registry: Confluent's subjects API (`sr-v1-openapi.yaml`) with its real error codes.
//! CREATE TABLE registers `<table>-key` / `<table>-value` here (TopicNameStrategy); DROP TABLE
//! deletes them.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::http::{json_response, parse_json, sr_error, SR_CONTENT_TYPE};
use crate::Sim;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub name: String,
    pub subject: String,
    pub version: u32,
}

#[derive(Debug, Clone)]
struct Schema {
    schema_type: String,
    text: String,
    references: Vec<Reference>,
}

#[derive(Debug, Clone)]
struct Version {
    version: u32,
    id: u32,
    deleted: bool,
}

/// Every schema and subject the registry knows, soft-deleted ones included.
#[derive(Debug, Default)]
pub struct Registry {
    schemas: BTreeMap<u32, Schema>,
    subjects: BTreeMap<String, Vec<Version>>,
}

/// A Schema Registry error: HTTP status, Confluent `error_code`, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrError(pub u16, pub u32, pub String);

impl SrError {
    fn subject_not_found(s: &str) -> SrError {
        SrError(404, 40401, format!("Subject '{s}' not found."))
    }
    fn version_not_found(v: &str) -> SrError {
        SrError(404, 40402, format!("Version {v} not found."))
    }
}

impl Registry {
    /// Register a schema under a subject; an identical live schema returns its existing id.
    pub fn register(
        &mut self,
        subject: &str,
        schema_type: &str,
        text: &str,
        references: Vec<Reference>,
    ) -> Result<u32, SrError> {
        validate_schema(schema_type, text)?;
        for r in &references {
            let found = self
                .subjects
                .get(&r.subject)
                .and_then(|vs| vs.iter().find(|v| v.version == r.version && !v.deleted));
            if found.is_none() {
                return Err(SrError(
                    422,
                    42201,
                    format!(
                        "Invalid schema: reference '{}' to subject '{}' version {} not found",
                        r.name, r.subject, r.version
                    ),
                ));
            }
        }
        let existing = self.schemas.iter().find(|(_, s)| {
            s.schema_type == schema_type && s.text == text && s.references == references
        });
        let id = match existing {
            Some((id, _)) => *id,
            None => {
                let id = self.schemas.keys().next_back().copied().unwrap_or(100000) + 1;
                self.schemas.insert(
                    id,
                    Schema {
                        schema_type: schema_type.to_string(),
                        text: text.to_string(),
                        references,
                    },
                );
                id
            }
        };
        let versions = self.subjects.entry(subject.to_string()).or_default();
        if versions.iter().any(|v| v.id == id && !v.deleted) {
            return Ok(id);
        }
        let next = versions.iter().map(|v| v.version).max().unwrap_or(0) + 1;
        versions.push(Version {
            version: next,
            id,
            deleted: false,
        });
        Ok(id)
    }

    /// Whether `subject` is registered (not soft-deleted) with a latest schema other than this
    /// one: a table created over it would not match (the reference, §F.6).
    pub fn conflicts(&self, subject: &str, schema_type: &str, text: &str) -> bool {
        let Some(latest) = self
            .subjects
            .get(subject)
            .and_then(|vs| vs.iter().filter(|v| !v.deleted).max_by_key(|v| v.version))
        else {
            return false;
        };
        self.schemas
            .get(&latest.id)
            .is_none_or(|s| s.schema_type != schema_type || s.text != text)
    }

    pub fn list_subjects(&self, prefix: &str, deleted: bool, deleted_only: bool) -> Vec<String> {
        self.subjects
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .filter(|(_, vs)| {
                let live = vs.iter().any(|v| !v.deleted);
                let soft = vs.iter().any(|v| v.deleted);
                if deleted_only {
                    soft && !live
                } else if deleted {
                    !vs.is_empty()
                } else {
                    live
                }
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Confluent's `deleteSubject`: soft first (40404 if already soft-deleted), then
    /// `permanent=true` (40405 if not soft-deleted first); 42206 while another schema refers to it.
    pub fn delete_subject(&mut self, subject: &str, permanent: bool) -> Result<Vec<u32>, SrError> {
        let Some(versions) = self.subjects.get(subject) else {
            return Err(SrError::subject_not_found(subject));
        };
        if versions.is_empty() {
            return Err(SrError::subject_not_found(subject));
        }
        let any_live = versions.iter().any(|v| !v.deleted);
        if permanent {
            if any_live {
                return Err(SrError(
                    404,
                    40405,
                    format!(
                        "Subject '{subject}' was not deleted first before being permanently deleted"
                    ),
                ));
            }
            let numbers = versions.iter().map(|v| v.version).collect();
            self.subjects.remove(subject);
            self.gc_schemas();
            return Ok(numbers);
        }
        if !any_live {
            return Err(SrError(
                404,
                40404,
                format!(
                    "Subject '{subject}' was soft deleted.Set permanent=true to delete permanently"
                ),
            ));
        }
        if let Some(v) = versions
            .iter()
            .find(|v| !v.deleted && self.is_referenced(subject, v.version))
        {
            return Err(SrError(
                422,
                42206,
                format!(
                    "One or more references exist to the schema {{magic=1,keytype=SCHEMA,subject={subject},version={}}}.",
                    v.version
                ),
            ));
        }
        let versions = self.subjects.get_mut(subject).expect("checked above");
        let mut numbers = Vec::new();
        for v in versions.iter_mut().filter(|v| !v.deleted) {
            v.deleted = true;
            numbers.push(v.version);
        }
        Ok(numbers)
    }

    pub fn delete_version(
        &mut self,
        subject: &str,
        version: &str,
        permanent: bool,
    ) -> Result<u32, SrError> {
        let number = self.resolve_version(subject, version, true)?;
        let referenced = self.is_referenced(subject, number);
        let versions = self
            .subjects
            .get_mut(subject)
            .ok_or_else(|| SrError::subject_not_found(subject))?;
        let idx = versions
            .iter()
            .position(|v| v.version == number)
            .ok_or_else(|| SrError::version_not_found(version))?;
        if permanent {
            if !versions[idx].deleted {
                return Err(SrError(
                    404,
                    40407,
                    format!("Subject '{subject}' Version {number} was not deleted first before being permanently deleted"),
                ));
            }
            versions.remove(idx);
            if versions.is_empty() {
                self.subjects.remove(subject);
            }
            self.gc_schemas();
            return Ok(number);
        }
        if versions[idx].deleted {
            return Err(SrError(
                404,
                40406,
                format!("Subject '{subject}' Version {number} was soft deleted.Set permanent=true to delete permanently"),
            ));
        }
        if referenced {
            return Err(SrError(
                422,
                42206,
                format!("One or more references exist to the schema {{magic=1,keytype=SCHEMA,subject={subject},version={number}}}."),
            ));
        }
        versions[idx].deleted = true;
        Ok(number)
    }

    /// Soft then permanent delete, ignoring "already gone": what DROP TABLE does to a subject.
    pub fn purge_subject(&mut self, subject: &str) -> Result<(), SrError> {
        match self.delete_subject(subject, false) {
            Ok(_) => {}
            Err(SrError(_, 40401, _)) => return Ok(()),
            Err(SrError(_, 40404, _)) => {}
            Err(e) => return Err(e),
        }
        match self.delete_subject(subject, true) {
            Ok(_) | Err(SrError(_, 40401, _)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub fn subject_count(&self) -> usize {
        self.subjects.len()
    }

    fn resolve_version(
        &self,
        subject: &str,
        version: &str,
        include_deleted: bool,
    ) -> Result<u32, SrError> {
        let versions = self
            .subjects
            .get(subject)
            .filter(|vs| vs.iter().any(|v| include_deleted || !v.deleted))
            .ok_or_else(|| SrError::subject_not_found(subject))?;
        let visible = versions.iter().filter(|v| include_deleted || !v.deleted);
        if version == "latest" || version == "-1" {
            return visible
                .map(|v| v.version)
                .max()
                .ok_or_else(|| SrError::version_not_found(version));
        }
        let n: u32 = version.parse().map_err(|_| {
            SrError(
                422,
                42202,
                format!("The specified version '{version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\""),
            )
        })?;
        let mut visible = versions.iter().filter(|v| include_deleted || !v.deleted);
        visible
            .find(|v| v.version == n)
            .map(|v| v.version)
            .ok_or_else(|| SrError::version_not_found(version))
    }

    fn version_body(&self, subject: &str, number: u32) -> Option<Value> {
        let v = self
            .subjects
            .get(subject)?
            .iter()
            .find(|v| v.version == number)?;
        let s = self.schemas.get(&v.id)?;
        let mut body = json!({
            "subject": subject,
            "version": v.version,
            "id": v.id,
            "schema": s.text,
        });
        if s.schema_type != "AVRO" {
            body["schemaType"] = json!(s.schema_type);
        }
        if !s.references.is_empty() {
            body["references"] = json!(s
                .references
                .iter()
                .map(|r| json!({"name": r.name, "subject": r.subject, "version": r.version}))
                .collect::<Vec<_>>());
        }
        Some(body)
    }

    fn is_referenced(&self, subject: &str, version: u32) -> bool {
        self.subjects
            .values()
            .flatten()
            .filter(|v| !v.deleted)
            .any(|v| {
                self.schemas.get(&v.id).is_some_and(|s| {
                    s.references
                        .iter()
                        .any(|r| r.subject == subject && r.version == version)
                })
            })
    }

    fn gc_schemas(&mut self) {
        let used: std::collections::BTreeSet<u32> =
            self.subjects.values().flatten().map(|v| v.id).collect();
        self.schemas.retain(|id, _| used.contains(id));
    }
}

fn validate_schema(schema_type: &str, text: &str) -> Result<(), SrError> {
    let invalid = |why: &str| SrError(422, 42201, format!("Invalid schema: {why}"));
    match schema_type {
        "AVRO" => {
            let v = serde_json::from_str::<Value>(text).map_err(|e| invalid(&e.to_string()))?;
            // Valid JSON is not yet a valid Avro schema: the real registry parses it and answers
            // 42201 for, e.g., a record without fields or a bare number.
            avro_shape(&v).map_err(|why| invalid(&why))
        }
        "JSON" => serde_json::from_str::<Value>(text)
            .map(|_| ())
            .map_err(|e| invalid(&e.to_string())),
        "PROTOBUF" => {
            if text.trim().is_empty() {
                Err(invalid("empty protobuf schema"))
            } else {
                Ok(())
            }
        }
        other => Err(SrError(422, 42201, format!("Invalid schema type {other}"))),
    }
}

/// The structural rules of an Avro schema (named types, records, enums, arrays, maps, fixed,
/// unions); names of previously defined types are accepted as they are.
fn avro_shape(v: &Value) -> Result<(), String> {
    match v {
        Value::String(_) => Ok(()),
        Value::Array(branches) => branches.iter().try_for_each(avro_shape),
        Value::Object(o) => {
            let ty = o.get("type").ok_or("a schema object needs a \"type\"")?;
            let named = |what: &str| match o.get("name") {
                Some(Value::String(n)) if !n.is_empty() => Ok(()),
                _ => Err(format!("{what} needs a \"name\"")),
            };
            match ty.as_str() {
                Some("record") | Some("error") => {
                    named("a record")?;
                    let fields = o
                        .get("fields")
                        .and_then(Value::as_array)
                        .ok_or("a record needs an array of \"fields\"")?;
                    fields
                        .iter()
                        .try_for_each(|f| match (f.get("name"), f.get("type")) {
                            (Some(Value::String(_)), Some(t)) => avro_shape(t),
                            _ => Err("every field needs a \"name\" and a \"type\"".to_string()),
                        })
                }
                Some("enum") => {
                    named("an enum")?;
                    match o.get("symbols") {
                        Some(Value::Array(_)) => Ok(()),
                        _ => Err("an enum needs \"symbols\"".into()),
                    }
                }
                Some("array") => avro_shape(o.get("items").ok_or("an array needs \"items\"")?),
                Some("map") => avro_shape(o.get("values").ok_or("a map needs \"values\"")?),
                Some("fixed") => {
                    named("a fixed")?;
                    match o.get("size") {
                        Some(Value::Number(_)) => Ok(()),
                        _ => Err("a fixed needs a \"size\"".into()),
                    }
                }
                Some(_) => Ok(()),
                None => avro_shape(ty),
            }
        }
        other => Err(format!("{other} is not a schema")),
    }
}

// ---- HTTP ----

pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/", get(root))
        .route("/subjects", get(list_subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route(
            "/subjects/{subject}/versions",
            get(list_versions).post(register),
        )
        .route(
            "/subjects/{subject}/versions/{version}",
            get(get_version).delete(delete_version),
        )
        .route("/schemas/ids/{id}", get(get_schema_by_id))
}

fn ok(body: &Value) -> Response {
    json_response(StatusCode::OK, SR_CONTENT_TYPE, body)
}

fn err(e: SrError) -> Response {
    sr_error(
        StatusCode::from_u16(e.0).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        e.1,
        &e.2,
    )
}

async fn root() -> Response {
    ok(&json!({}))
}

/// A boolean query parameter read as the real registry (JAX-RS, `Boolean.parseBoolean`) reads
/// it: `true` in any case is true, anything else false. Python's `requests` sends `True`.
fn java_bool<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let text = String::deserialize(d)?;
    Ok(text.eq_ignore_ascii_case("true"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListQuery {
    subject_prefix: Option<String>,
    #[serde(default, deserialize_with = "java_bool")]
    deleted: bool,
    #[serde(default, deserialize_with = "java_bool")]
    deleted_only: bool,
    offset: Option<usize>,
    limit: Option<i64>,
}

async fn list_subjects(State(sim): State<Arc<Sim>>, Query(q): Query<ListQuery>) -> Response {
    // `:*:` is the all-contexts wildcard and the API's default.
    let prefix = match q.subject_prefix.as_deref() {
        None | Some(":*:") => "",
        Some(p) => p,
    };
    let all = sim
        .registry()
        .list_subjects(prefix, q.deleted, q.deleted_only);
    let offset = q.offset.unwrap_or(0);
    let page: Vec<String> = match q.limit {
        Some(l) if l >= 0 => all.into_iter().skip(offset).take(l as usize).collect(),
        _ => all.into_iter().skip(offset).collect(),
    };
    ok(&json!(page))
}

#[derive(Deserialize)]
struct DeleteQuery {
    #[serde(default, deserialize_with = "java_bool")]
    permanent: bool,
}

async fn delete_subject(
    State(sim): State<Arc<Sim>>,
    Path(subject): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> Response {
    match sim.registry().delete_subject(&subject, q.permanent) {
        Ok(versions) => ok(&json!(versions)),
        Err(e) => err(e),
    }
}

#[derive(Deserialize)]
struct VersionsQuery {
    #[serde(default, deserialize_with = "java_bool")]
    deleted: bool,
}

async fn list_versions(
    State(sim): State<Arc<Sim>>,
    Path(subject): Path<String>,
    Query(q): Query<VersionsQuery>,
) -> Response {
    let reg = sim.registry();
    let versions: Vec<u32> = reg
        .subjects
        .get(&subject)
        .map(|vs| {
            vs.iter()
                .filter(|v| q.deleted || !v.deleted)
                .map(|v| v.version)
                .collect()
        })
        .unwrap_or_default();
    if versions.is_empty() {
        return err(SrError::subject_not_found(&subject));
    }
    ok(&json!(versions))
}

async fn get_version(
    State(sim): State<Arc<Sim>>,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Query<VersionsQuery>,
) -> Response {
    let reg = sim.registry();
    match reg.resolve_version(&subject, &version, q.deleted) {
        Ok(n) => match reg.version_body(&subject, n) {
            Some(b) => ok(&b),
            None => err(SrError::version_not_found(&version)),
        },
        Err(e) => err(e),
    }
}

async fn delete_version(
    State(sim): State<Arc<Sim>>,
    Path((subject, version)): Path<(String, String)>,
    Query(q): Query<DeleteQuery>,
) -> Response {
    match sim
        .registry()
        .delete_version(&subject, &version, q.permanent)
    {
        Ok(n) => ok(&json!(n)),
        Err(e) => err(e),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterBody {
    schema: String,
    schema_type: Option<String>,
    #[serde(default)]
    references: Option<Vec<RefBody>>,
}

#[derive(Deserialize)]
struct RefBody {
    name: String,
    subject: String,
    version: u32,
}

fn parse_register(body: &Bytes) -> Result<(String, String, Vec<Reference>), SrError> {
    let v = parse_json(body).map_err(|e| SrError(400, 400, e))?;
    let b: RegisterBody = serde_json::from_value(v)
        .map_err(|e| SrError(422, 42201, format!("Invalid schema: {e}")))?;
    let refs = b
        .references
        .unwrap_or_default()
        .into_iter()
        .map(|r| Reference {
            name: r.name,
            subject: r.subject,
            version: r.version,
        })
        .collect();
    Ok((
        b.schema_type.unwrap_or_else(|| "AVRO".into()),
        b.schema,
        refs,
    ))
}

async fn register(
    State(sim): State<Arc<Sim>>,
    Path(subject): Path<String>,
    body: Bytes,
) -> Response {
    let (ty, text, refs) = match parse_register(&body) {
        Ok(x) => x,
        Err(e) => return err(e),
    };
    match sim.registry().register(&subject, &ty, &text, refs) {
        Ok(id) => ok(&json!({ "id": id })),
        Err(e) => err(e),
    }
}

/// `POST /subjects/{subject}`: is this schema registered under the subject?
async fn lookup(State(sim): State<Arc<Sim>>, Path(subject): Path<String>, body: Bytes) -> Response {
    let (ty, text, refs) = match parse_register(&body) {
        Ok(x) => x,
        Err(e) => return err(e),
    };
    let reg = sim.registry();
    let Some(versions) = reg
        .subjects
        .get(&subject)
        .filter(|vs| vs.iter().any(|v| !v.deleted))
    else {
        return err(SrError::subject_not_found(&subject));
    };
    let hit = versions.iter().filter(|v| !v.deleted).find(|v| {
        reg.schemas
            .get(&v.id)
            .is_some_and(|s| s.schema_type == ty && s.text == text && s.references == refs)
    });
    match hit.and_then(|v| reg.version_body(&subject, v.version)) {
        Some(b) => ok(&b),
        None => err(SrError(404, 40403, "Schema not found".into())),
    }
}

async fn get_schema_by_id(State(sim): State<Arc<Sim>>, Path(id): Path<u32>) -> Response {
    let reg = sim.registry();
    match reg.schemas.get(&id) {
        Some(s) => {
            let mut b = json!({ "schema": s.text });
            if s.schema_type != "AVRO" {
                b["schemaType"] = json!(s.schema_type);
            }
            ok(&b)
        }
        None => err(SrError(404, 40403, "Schema not found".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S1: &str = r#"{"type":"record","name":"a","fields":[]}"#;
    const S2: &str = r#"{"type":"record","name":"b","fields":[]}"#;

    #[test]
    fn delete_is_soft_then_permanent_with_real_codes() {
        let mut r = Registry::default();
        r.register("t-value", "AVRO", S1, vec![]).unwrap();
        assert_eq!(r.delete_subject("t-value", true).unwrap_err().1, 40405);
        assert_eq!(r.delete_subject("t-value", false).unwrap(), vec![1]);
        assert_eq!(r.delete_subject("t-value", false).unwrap_err().1, 40404);
        assert_eq!(r.list_subjects("", false, false), Vec::<String>::new());
        assert_eq!(r.list_subjects("", true, false), vec!["t-value"]);
        assert_eq!(r.delete_subject("t-value", true).unwrap(), vec![1]);
        assert_eq!(r.delete_subject("t-value", false).unwrap_err().1, 40401);
        assert_eq!(r.delete_subject("t-value", true).unwrap_err().1, 40401);
    }

    #[test]
    fn referenced_subject_cannot_be_deleted() {
        let mut r = Registry::default();
        r.register("base", "AVRO", S1, vec![]).unwrap();
        let reference = Reference {
            name: "a".into(),
            subject: "base".into(),
            version: 1,
        };
        r.register("user", "AVRO", S2, vec![reference]).unwrap();
        assert_eq!(r.delete_subject("base", false).unwrap_err().1, 42206);
        r.purge_subject("user").unwrap();
        r.purge_subject("base").unwrap();
        assert_eq!(r.subject_count(), 0);
    }

    #[test]
    fn same_schema_keeps_its_id_and_version() {
        let mut r = Registry::default();
        let a = r.register("x", "AVRO", S1, vec![]).unwrap();
        let b = r.register("x", "AVRO", S1, vec![]).unwrap();
        let c = r.register("y", "AVRO", S1, vec![]).unwrap();
        assert_eq!((a, a), (b, c));
        let d = r.register("x", "AVRO", S2, vec![]).unwrap();
        assert_ne!(a, d);
        assert_eq!(r.resolve_version("x", "latest", false).unwrap(), 2);
        assert_eq!(
            r.register("x", "AVRO", "{not json", vec![]).unwrap_err().1,
            42201
        );
    }
}
