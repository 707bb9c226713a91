//! The API document against the server's behaviour: each operation `/openapi.json`
//! lists is called the ways the edge answers for it (a path id that does not parse, no
//! body, no token, a banned account's token, past its rate limit), and every answer
//! must be one the document lists for it, with the error body. The routes are the
//! document's own, so a new route is checked without being named here.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with, TestApp};

/// An operation of the document.
struct Operation {
    method: Method,
    path: String,
    spec: Value,
}

impl Operation {
    fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    fn documents(&self, status: StatusCode) -> Option<&Value> {
        self.spec["responses"].get(status.as_str())
    }

    fn has_path_id(&self) -> bool {
        self.path.contains('{')
    }

    fn is_authenticated(&self) -> bool {
        self.spec["security"].as_array().is_some_and(|s| !s.is_empty())
    }

    fn body_required(&self) -> bool {
        self.spec["requestBody"]["required"] == json!(true)
    }

    /// The path with each parameter replaced by `value`.
    fn url_with(&self, value: &str) -> String {
        let mut url = String::new();
        let mut rest = self.path.as_str();
        while let Some(start) = rest.find('{') {
            let end = rest[start..].find('}').expect("a closed parameter") + start;
            url.push_str(&rest[..start]);
            url.push_str(value);
            rest = &rest[end + 1..];
        }
        url.push_str(rest);
        url
    }
}

async fn document(app: &TestApp) -> (Value, Vec<Operation>) {
    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, spec) in item.as_object().expect("a path item") {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).expect("a method");
            operations.push(Operation { method, path: path.clone(), spec: spec.clone() });
        }
    }
    assert!(operations.len() > 20, "the document lists the API's operations");
    (doc, operations)
}

/// Calls `op` at `url` with no body; the status and the error body, if any.
async fn call(app: &TestApp, op: &Operation, url: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut request = app.client.request(op.method.clone(), app.url(url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// `status` is among `op`'s documented answers; for an error, with the error body.
fn assert_documented(op: &Operation, status: StatusCode, body: &Value, why: &str) {
    let documented = op.documents(status);
    assert!(documented.is_some(), "{} answers {status} ({why}: {body}) but does not document it", op.name());
    if status.is_client_error() || status.is_server_error() {
        assert_eq!(
            documented.unwrap()["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorBody",
            "{}: {status} should reference the error body",
            op.name()
        );
        assert!(
            body["code"].is_string() && body["detail"].is_string(),
            "{}: {status} body {body}",
            op.name()
        );
    }
}

#[tokio::test]
async fn every_error_answer_in_the_document_references_the_error_body() {
    let app = spawn_app().await;
    let (doc, operations) = document(&app).await;
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    for op in &operations {
        for (status, response) in op.spec["responses"].as_object().unwrap() {
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{} {status}",
                    op.name()
                );
            }
        }
    }
}

#[tokio::test]
async fn the_answers_of_the_edge_are_documented_for_every_operation() {
    let app = spawn_app().await;
    let (_, operations) = document(&app).await;
    let admin = app.admin("schema_admin").await;
    let banned = app.signup("schema_banned").await;
    let ban = app
        .post_json(
            &format!("/admin/users/{}/ban", banned.id),
            json!({ "days": 1, "reason": "schema test" }),
            Some(&admin.access),
        )
        .await;
    assert_eq!(ban.status(), StatusCode::OK);

    for op in &operations {
        // A path id that is not a number: 400 whoever asks (the administrator passes
        // every access check before the path is read).
        if op.has_path_id() {
            let (status, body) = call(&app, op, &op.url_with("not-a-number"), Some(&admin.access)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{} with a bad path id: {body}", op.name());
            assert_documented(op, status, &body, "a path id that is not a number");
        }

        // No body: 400 where the document says a body is required.
        if op.spec.get("requestBody").is_some() && op.body_required() {
            let (status, body) = call(&app, op, &op.url_with("1"), Some(&admin.access)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{} without its required body: {body}", op.name());
            assert_documented(op, status, &body, "no body");
        } else if op.spec.get("requestBody").is_some() {
            // An optional body: the call works without one (on a session of its own,
            // as it may end it).
            let session = app.signup(&format!("schema_nobody_{}", op.path.len())).await;
            let (status, body) = call(&app, op, &op.url_with("1"), Some(&session.access)).await;
            assert!(
                status.is_success(),
                "{} documents its body as optional, yet answers {status}: {body}",
                op.name()
            );
            assert_documented(op, status, &body, "no body");
        }

        // No token: 401 exactly where the document asks for one.
        let (status, body) = call(&app, op, &op.url_with("1"), None).await;
        if op.is_authenticated() {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{} without a token: {body}", op.name());
        } else {
            assert_ne!(
                status,
                StatusCode::UNAUTHORIZED,
                "{} needs a token it does not document: {body}",
                op.name()
            );
        }
        assert_documented(op, status, &body, "no token");

        // A banned account's token: 403 `banned` on every route that checks the token,
        // and documented as such.
        let (status, body) = call(&app, op, &op.url_with("1"), Some(&banned.access)).await;
        if op.is_authenticated() {
            assert_eq!(
                (status, body["code"].as_str()),
                (StatusCode::FORBIDDEN, Some("banned")),
                "{}",
                op.name()
            );
        }
        assert_documented(op, status, &body, "a banned account's token");
        if body["code"] == "banned" {
            let description = op.documents(status).unwrap()["description"].as_str().unwrap_or_default();
            assert!(
                description.contains("`banned`"),
                "{}: 403 should say `banned`: {description}",
                op.name()
            );
        }
    }

    // The routes without a token that check bans: signing in and refreshing.
    let login = app.login_raw("schema_banned", crate::helpers::PASSWORD).await;
    let login_op = operations.iter().find(|op| op.path == "/auth/login").expect("login is documented");
    let status = login.status();
    assert_documented(login_op, status, &login.json().await.unwrap(), "a banned account signing in");
    assert_eq!(status, StatusCode::FORBIDDEN);
    let refresh = app.refresh_raw(&banned.refresh).await;
    let refresh_op = operations.iter().find(|op| op.path == "/auth/refresh").expect("refresh is documented");
    let status = refresh.status();
    assert_documented(refresh_op, status, &refresh.json().await.unwrap(), "a banned account refreshing");
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn exactly_the_rate_limited_operations_document_429() {
    // One request an hour in every class: the second call of a limited route (or the
    // first, when its class is spent already) is refused.
    let app = spawn_app_with(&[
        "--rate-login=1/h",
        "--rate-signup=1/h",
        "--rate-search=1/h",
        "--rate-avatar=1/h",
        "--rate-default=1/h",
    ])
    .await;
    let doc: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let mut limited = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, spec) in item.as_object().unwrap() {
            let op = Operation {
                method: Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                path: path.clone(),
                spec: spec.clone(),
            };
            let mut refused = false;
            for _ in 0..2 {
                let (status, body) = call(&app, &op, &op.url_with("1"), None).await;
                assert_documented(&op, status, &body, "anonymous, under tight rate limits");
                refused |= status == StatusCode::TOO_MANY_REQUESTS;
            }
            assert_eq!(
                refused,
                op.documents(StatusCode::TOO_MANY_REQUESTS).is_some(),
                "{}: answered 429 ({refused}) and documents 429 ({}) should agree",
                op.name(),
                !refused
            );
            limited += usize::from(refused);
        }
    }
    assert!(limited > 20, "the API's routes are rate limited ({limited})");
}

#[tokio::test]
async fn logout_documents_its_body_as_optional() {
    let app = spawn_app().await;
    let (_, operations) = document(&app).await;
    let logout = operations.iter().find(|op| op.path == "/auth/logout").expect("logout is documented");
    assert!(logout.spec["requestBody"].is_object(), "the body is described");
    assert!(!logout.body_required(), "the body is optional: {}", logout.spec["requestBody"]);
    let session = app.signup("schema_logout").await;
    let (status, body) = call(&app, logout, "/auth/logout", Some(&session.access)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}
