//! Response and request helpers shared by the three APIs, each of which has its own error shape:
//! Flink `{"errors":[…]}` (JSON:API style), Schema Registry and Kafka REST `{"error_code","message"}`.

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{json, Value};

pub const SR_CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// A JSON response with the given content type.
pub fn json_response(status: StatusCode, content_type: &'static str, body: &Value) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

pub fn flink_json(status: StatusCode, body: &Value) -> Response {
    json_response(status, "application/json", body)
}

/// A Flink API error in the spec's `Failure` shape.
pub fn flink_error(status: StatusCode, code: &str, title: &str, detail: &str) -> Response {
    flink_error_with_source(status, code, title, detail, None)
}

pub fn flink_error_with_source(
    status: StatusCode,
    code: &str,
    title: &str,
    detail: &str,
    pointer: Option<&str>,
) -> Response {
    let source = match pointer {
        Some(p) => json!({ "pointer": p }),
        None => json!({}),
    };
    let body = json!({
        "errors": [{
            "id": uuid::Uuid::new_v4().to_string(),
            "status": status.as_u16().to_string(),
            "code": code,
            "title": title,
            "detail": detail,
            "source": source,
        }]
    });
    flink_json(status, &body)
}

/// The 404 body the real service returns for a statement that does not exist.
pub fn flink_statement_not_found(name: &str) -> Response {
    let body = json!({
        "errors": [{
            "status": "404",
            "detail": format!("Statement resource={name} does not exist"),
            "source": {},
        }]
    });
    flink_json(StatusCode::NOT_FOUND, &body)
}

pub fn flink_bad_request(detail: &str, pointer: Option<&str>) -> Response {
    flink_error_with_source(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        "Bad Request",
        detail,
        pointer,
    )
}

pub fn sr_error(status: StatusCode, error_code: u32, message: &str) -> Response {
    json_response(
        status,
        SR_CONTENT_TYPE,
        &json!({ "error_code": error_code, "message": message }),
    )
}

pub fn kafka_error(status: StatusCode, error_code: u32, message: &str) -> Response {
    json_response(
        status,
        "application/json",
        &json!({ "error_code": error_code, "message": message }),
    )
}

/// Parse a request body as JSON whatever its Content-Type (real clients omit it).
pub fn parse_json(body: &Bytes) -> Result<Value, String> {
    if body.is_empty() {
        return Err("request body is empty".to_string());
    }
    serde_json::from_slice(body).map_err(|e| format!("request body is not valid JSON: {e}"))
}

/// The (user, password) of an HTTP Basic `Authorization` header, if there is a well-formed one.
pub fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

/// Compare without an early exit, so a wrong secret's timing says nothing about the right one.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Where a name comes in a list: by a hash of it (FNV-1a), then the name. Stable, but not
/// alphabetical: the real services' order is undocumented, so no client may rely on it.
pub fn list_key(name: &str) -> (u64, &str) {
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (hash, name)
}
