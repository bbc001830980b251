//! RFC 7807 problem details: every error the API answers is an
//! `application/problem+json` body with a `type` of
//! `urn:mugai:problem:KIND`, a `title`, the `status` and a `detail`.

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

/// The media type of problem bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// One problem, ready to answer.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    /// The last part of the `type` URN, e.g. `blocked`.
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    /// Further members (RFC 7807 extension members).
    pub extra: Map<String, Value>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Problem {
        Problem {
            status,
            kind,
            title,
            detail: detail.into(),
            extra: Map::new(),
            headers: Vec::new(),
        }
    }

    /// Adds an extension member.
    pub fn with(mut self, key: &str, value: Value) -> Problem {
        self.extra.insert(key.to_string(), value);
        self
    }

    /// Adds a response header.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Problem {
        self.headers.push((name, value));
        self
    }

    pub fn type_uri(&self) -> String {
        format!("urn:mugai:problem:{}", self.kind)
    }

    /// The body as a JSON object.
    pub fn body(&self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), self.type_uri().into());
        m.insert("title".into(), self.title.into());
        m.insert("status".into(), self.status.as_u16().into());
        m.insert("detail".into(), self.detail.clone().into());
        for (k, v) in &self.extra {
            m.insert(k.clone(), v.clone());
        }
        Value::Object(m)
    }

    pub fn unauthorized(detail: &str, token_given: bool) -> Problem {
        let challenge = if token_given {
            "Bearer realm=\"mugai\", error=\"invalid_token\""
        } else {
            "Bearer realm=\"mugai\""
        };
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            detail,
        )
        .header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        )
    }

    pub fn bad_request(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad request",
            detail,
        )
    }

    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn too_large(limit: u64) -> Problem {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Request body too large",
            format!("the body is larger than the limit of {limit} bytes; nothing was passed on"),
        )
        .with("limit", limit.into())
    }

    pub fn internal(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            detail,
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = self.body().to_string();
        let mut r = (self.status, body).into_response();
        let h = r.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        for (k, v) in self.headers {
            h.insert(k, v);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_the_rfc_7807_members() {
        let p = Problem::too_large(10).with("x", 1.into());
        let b = p.body();
        assert_eq!(b["type"], "urn:mugai:problem:too-large");
        assert_eq!(b["status"], 413);
        assert_eq!(b["limit"], 10);
        assert_eq!(b["x"], 1);
        assert!(b["title"].is_string() && b["detail"].is_string());
        let r = Problem::unauthorized("no token", false).into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"mugai\""
        );
    }
}
