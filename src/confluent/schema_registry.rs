//! Schema Registry: list subjects and delete them (soft, then permanently), idempotently.

use url::Url;

use crate::http::limit::{Api, ApiUsage, Concurrency};
use crate::http::{
    parse_base_url, ApiError, Credentials, ExtraRoots, HttpClient, HttpRequest, RetryPolicy,
};

const SR_MEDIA_TYPES: &str = "application/vnd.schemaregistry.v1+json, application/json";

/// Error codes of Confluent's Schema Registry (`Errors.java`).
const SUBJECT_NOT_FOUND: i64 = 40401;
const SUBJECT_SOFT_DELETED: i64 = 40404;
const SUBJECT_NOT_SOFT_DELETED: i64 = 40405;
const REFERENCE_EXISTS: i64 = 42206;

/// Rounds of soft → permanent delete when versions reappear in between (someone registered a
/// schema while we were deleting).
const MAX_DELETE_ROUNDS: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum SchemaRegistryError {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Another schema references a version of the subject (42206): delete the referencing
    /// subjects first.
    #[error("subject '{subject}' is referenced by another schema and cannot be deleted; delete the subjects that reference it first ({detail})")]
    SubjectReferenced { subject: String, detail: String },
}

/// What [`SchemaRegistryClient::delete_subject`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// The subject is permanently deleted; these were its versions.
    Deleted(Vec<u32>),
    /// There was no such subject (never existed, or already permanently deleted).
    AlreadyGone,
}

/// A Schema Registry client (one registry, one API key).
#[derive(Debug, Clone)]
pub struct SchemaRegistryClient {
    http: HttpClient,
    base: Url,
}

impl SchemaRegistryClient {
    /// `base_url`: the registry's endpoint, e.g. `https://psrc-00000.us-east-1.aws.confluent.cloud`.
    pub fn new(
        base_url: &str,
        credentials: &Credentials,
        retry: RetryPolicy,
    ) -> Result<SchemaRegistryClient, SchemaRegistryError> {
        SchemaRegistryClient::with_roots(base_url, credentials, retry, &ExtraRoots::default())
    }

    /// A client that also trusts `roots` (input `ca-bundle`).
    pub fn with_roots(
        base_url: &str,
        credentials: &Credentials,
        retry: RetryPolicy,
        roots: &ExtraRoots,
    ) -> Result<SchemaRegistryClient, SchemaRegistryError> {
        Ok(SchemaRegistryClient {
            http: HttpClient::with_roots(Api::SchemaRegistry, credentials, retry, roots)?,
            base: parse_base_url(base_url)?,
        })
    }

    /// The same client with its requests under `concurrency` (shared by later clones).
    pub fn with_concurrency(mut self, concurrency: Concurrency) -> SchemaRegistryClient {
        self.http = self.http.with_concurrency(concurrency);
        self
    }

    /// What the registry was asked so far.
    pub fn usage(&self) -> ApiUsage {
        self.http.usage()
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut u = self.base.clone();
        if let Ok(mut segs) = u.path_segments_mut() {
            // Subject names may hold any character: each is one percent-encoded segment.
            segs.pop_if_empty().extend(segments);
        }
        u
    }

    async fn send(&self, req: HttpRequest) -> Result<crate::http::HttpResponse, ApiError> {
        self.http.execute(req.accept(SR_MEDIA_TYPES)).await
    }

    /// Live subjects (soft-deleted ones excluded), those starting with `prefix` when given.
    pub async fn list_subjects(
        &self,
        prefix: Option<&str>,
    ) -> Result<Vec<String>, SchemaRegistryError> {
        let mut url = self.url(&["subjects"]);
        if let Some(p) = prefix {
            url.query_pairs_mut().append_pair("subjectPrefix", p);
        }
        let resp = self.send(HttpRequest::get(url)).await?;
        if !resp.is_success() {
            return Err(resp.into_error().into());
        }
        Ok(resp.json()?)
    }

    /// Whether the subject has a live (not soft-deleted) version.
    pub async fn subject_exists(&self, subject: &str) -> Result<bool, SchemaRegistryError> {
        let resp = self
            .send(HttpRequest::get(
                self.url(&["subjects", subject, "versions"]),
            ))
            .await?;
        if resp.is_success() {
            return Ok(!resp.json::<Vec<u32>>()?.is_empty());
        }
        if resp.status().as_u16() == 404 && resp.error_code() == Some(SUBJECT_NOT_FOUND) {
            return Ok(false);
        }
        Err(resp.into_error().into())
    }

    /// Delete the subject for good: a soft delete, then `permanent=true`. Idempotent: a subject
    /// already soft-deleted (40404) goes straight to the permanent delete, and one that does not
    /// exist (40401) is [`DeleteOutcome::AlreadyGone`]. A subject another schema references
    /// (42206) is [`SchemaRegistryError::SubjectReferenced`], and nothing is deleted.
    pub async fn delete_subject(
        &self,
        subject: &str,
    ) -> Result<DeleteOutcome, SchemaRegistryError> {
        let soft_url = self.url(&["subjects", subject]);
        let mut hard_url = soft_url.clone();
        hard_url.query_pairs_mut().append_pair("permanent", "true");
        let mut last_error = None;
        for round in 1..=MAX_DELETE_ROUNDS {
            let soft = self.send(HttpRequest::delete(soft_url.clone())).await?;
            let soft_versions = if soft.is_success() {
                Some(soft.json::<Vec<u32>>()?)
            } else {
                match soft.error_code() {
                    Some(SUBJECT_NOT_FOUND) => return Ok(DeleteOutcome::AlreadyGone),
                    Some(SUBJECT_SOFT_DELETED) => None,
                    Some(REFERENCE_EXISTS) => return Err(referenced(subject, soft.into_error())),
                    _ => return Err(soft.into_error().into()),
                }
            };
            let hard = self.send(HttpRequest::delete(hard_url.clone())).await?;
            if hard.is_success() {
                tracing::debug!(subject, "deleted permanently");
                return Ok(DeleteOutcome::Deleted(hard.json()?));
            }
            match hard.error_code() {
                // Someone else finished the job between our two calls.
                Some(SUBJECT_NOT_FOUND) => {
                    return Ok(match soft_versions {
                        Some(v) => DeleteOutcome::Deleted(v),
                        None => DeleteOutcome::AlreadyGone,
                    })
                }
                Some(REFERENCE_EXISTS) => return Err(referenced(subject, hard.into_error())),
                // A version was registered again in between: start over.
                Some(SUBJECT_NOT_SOFT_DELETED) => {
                    tracing::debug!(subject, round, "live versions reappeared; deleting again");
                    last_error = Some(hard.into_error());
                }
                _ => return Err(hard.into_error().into()),
            }
        }
        Err(last_error
            .map(SchemaRegistryError::from)
            .unwrap_or_else(|| {
                ApiError::Setup(format!("deleting subject '{subject}' did not finish")).into()
            }))
    }
}

fn referenced(subject: &str, e: ApiError) -> SchemaRegistryError {
    let detail = match e {
        ApiError::Status { detail, .. } => detail,
        other => other.to_string(),
    };
    SchemaRegistryError::SubjectReferenced {
        subject: subject.to_string(),
        detail,
    }
}
