//! An in-process Schema Registry speaking the Confluent REST subset clients use: register, look up
//! by subject or id, versions, subjects, config and compatibility, with Confluent's error codes.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::Schema;
use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

#[derive(Default)]
struct Store {
    /// Schema text by id - 1.
    schemas: Vec<String>,
    /// Schema ids by subject, one per version.
    subjects: BTreeMap<String, Vec<u32>>,
    /// `BACKWARD` (Confluent's default) or `NONE`.
    compatibility: String,
}

type Shared = Arc<Mutex<Store>>;

/// A running registry; it stops when dropped.
pub struct Registry {
    pub url: String,
    store: Shared,
    _runtime: tokio::runtime::Runtime,
}

impl Registry {
    pub fn start() -> Self {
        Self::start_with_auth(None)
    }

    /// With `Some((user, password))`, every request needs that HTTP basic auth (else 401).
    pub fn start_with_auth(auth: Option<(&str, &str)>) -> Self {
        let store: Shared = Arc::new(Mutex::new(Store {
            compatibility: "BACKWARD".into(),
            ..Store::default()
        }));
        let expected = auth.map(|(u, p)| format!("Basic {}", base64(&format!("{u}:{p}"))));
        let app = Router::new()
            .route("/subjects", get(list_subjects))
            .route("/subjects/{subject}", post(lookup))
            .route(
                "/subjects/{subject}/versions",
                get(list_versions).post(register),
            )
            .route("/subjects/{subject}/versions/{version}", get(get_version))
            .route("/schemas/ids/{id}", get(by_id))
            .route("/config", get(get_config).put(put_config))
            .route(
                "/compatibility/subjects/{subject}/versions/latest",
                post(check),
            )
            .with_state(store.clone())
            .layer(middleware::from_fn(move |req: Request, next: Next| {
                let expected = expected.clone();
                async move {
                    let given = req
                        .headers()
                        .get(header::AUTHORIZATION)
                        .and_then(|v| v.to_str().ok());
                    match expected {
                        Some(e) if given != Some(e.as_str()) => {
                            error(StatusCode::UNAUTHORIZED, 401, "Unauthorized")
                        }
                        _ => next.run(req).await,
                    }
                }
            }));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            url: format!("http://{addr}"),
            store,
            _runtime: runtime,
        }
    }

    pub fn subjects(&self) -> Vec<String> {
        self.store
            .lock()
            .unwrap()
            .subjects
            .keys()
            .cloned()
            .collect()
    }

    /// The id of the latest version under `subject`.
    pub fn latest_id(&self, subject: &str) -> Option<u32> {
        self.store
            .lock()
            .unwrap()
            .subjects
            .get(subject)?
            .last()
            .copied()
    }

    /// Registers directly, bypassing HTTP (to prepare a registry's state).
    pub fn preload(&self, subject: &str, schema: &str) -> u32 {
        let mut s = self.store.lock().unwrap();
        let id = intern(&mut s, schema);
        s.subjects.entry(subject.into()).or_default().push(id);
        id
    }
}

fn error(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        Json(json!({"error_code": code, "message": message})),
    )
        .into_response()
}

fn intern(s: &mut Store, schema: &str) -> u32 {
    let wanted = canonical(schema);
    if let Some(i) = s.schemas.iter().position(|x| canonical(x) == wanted) {
        return i as u32 + 1;
    }
    s.schemas.push(schema.to_owned());
    s.schemas.len() as u32
}

fn canonical(schema: &str) -> String {
    Schema::parse_str(schema).map_or_else(|_| schema.to_owned(), |s| s.canonical_form())
}

/// Confluent's 42201 "invalid schema" answer.
struct InvalidSchema(String);

impl IntoResponse for InvalidSchema {
    fn into_response(self) -> Response {
        error(StatusCode::UNPROCESSABLE_ENTITY, 42201, &self.0)
    }
}

fn schema_of(body: &Value) -> Result<(String, Schema), InvalidSchema> {
    let text = body["schema"].as_str().unwrap_or_default().to_owned();
    match body["schemaType"].as_str() {
        None | Some("AVRO") => {}
        Some(other) => return Err(InvalidSchema(format!("Unsupported schema type {other}"))),
    }
    match Schema::parse_str(&text) {
        Ok(parsed) => Ok((text, parsed)),
        Err(e) => Err(InvalidSchema(format!("Invalid schema: {e}"))),
    }
}

/// Confluent BACKWARD: the new schema must read data written with the latest one.
fn incompatibility(s: &Store, subject: &str, new: &Schema) -> Option<String> {
    if s.compatibility == "NONE" {
        return None;
    }
    let latest = *s.subjects.get(subject)?.last()?;
    let old = Schema::parse_str(&s.schemas[latest as usize - 1]).ok()?;
    SchemaCompatibility::can_read(&old, new)
        .err()
        .map(|e| e.to_string())
}

async fn register(
    State(st): State<Shared>,
    Path(subject): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let (text, parsed) = match schema_of(&body) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let mut s = st.lock().unwrap();
    let canonical_new = parsed.canonical_form();
    if let Some(ids) = s.subjects.get(&subject) {
        if let Some(id) = ids
            .iter()
            .find(|id| canonical(&s.schemas[**id as usize - 1]) == canonical_new)
        {
            return Json(json!({"id": id})).into_response();
        }
    }
    if let Some(why) = incompatibility(&s, &subject, &parsed) {
        let msg = format!("Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{why}]");
        return error(StatusCode::CONFLICT, 409, &msg);
    }
    let id = intern(&mut s, &text);
    s.subjects.entry(subject).or_default().push(id);
    Json(json!({"id": id})).into_response()
}

async fn lookup(
    State(st): State<Shared>,
    Path(subject): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let (_, parsed) = match schema_of(&body) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let s = st.lock().unwrap();
    let Some(ids) = s.subjects.get(&subject) else {
        return error(
            StatusCode::NOT_FOUND,
            40401,
            &format!("Subject '{subject}' not found."),
        );
    };
    let wanted = parsed.canonical_form();
    match ids.iter().position(|id| canonical(&s.schemas[*id as usize - 1]) == wanted) {
        Some(v) => Json(json!({"subject": subject, "id": ids[v], "version": v + 1, "schema": s.schemas[ids[v] as usize - 1]})).into_response(),
        None => error(StatusCode::NOT_FOUND, 40403, "Schema not found"),
    }
}

async fn list_subjects(State(st): State<Shared>) -> Json<Vec<String>> {
    Json(st.lock().unwrap().subjects.keys().cloned().collect())
}

async fn list_versions(State(st): State<Shared>, Path(subject): Path<String>) -> Response {
    match st.lock().unwrap().subjects.get(&subject) {
        Some(ids) => Json((1..=ids.len()).collect::<Vec<_>>()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            40401,
            &format!("Subject '{subject}' not found."),
        ),
    }
}

async fn get_version(
    State(st): State<Shared>,
    Path((subject, version)): Path<(String, String)>,
) -> Response {
    let s = st.lock().unwrap();
    let Some(ids) = s.subjects.get(&subject) else {
        return error(
            StatusCode::NOT_FOUND,
            40401,
            &format!("Subject '{subject}' not found."),
        );
    };
    let index = match version.as_str() {
        "latest" | "-1" => Some(ids.len() - 1),
        v => v
            .parse::<usize>()
            .ok()
            .filter(|v| (1..=ids.len()).contains(v))
            .map(|v| v - 1),
    };
    match index {
        Some(i) => Json(json!({"subject": subject, "version": i + 1, "id": ids[i], "schema": s.schemas[ids[i] as usize - 1]})).into_response(),
        None => error(StatusCode::NOT_FOUND, 40402, &format!("Version {version} not found.")),
    }
}

async fn by_id(State(st): State<Shared>, Path(id): Path<u32>) -> Response {
    let s = st.lock().unwrap();
    match s.schemas.get((id as usize).wrapping_sub(1)) {
        Some(text) => Json(json!({"schema": text})).into_response(),
        None => error(StatusCode::NOT_FOUND, 40403, "Schema not found"),
    }
}

async fn get_config(State(st): State<Shared>) -> Json<Value> {
    Json(json!({"compatibilityLevel": st.lock().unwrap().compatibility}))
}

async fn put_config(State(st): State<Shared>, Json(body): Json<Value>) -> Response {
    match body["compatibility"].as_str() {
        Some(level @ ("BACKWARD" | "NONE")) => {
            st.lock().unwrap().compatibility = level.to_owned();
            Json(json!({"compatibility": level})).into_response()
        }
        _ => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            42203,
            "Invalid compatibility level. Valid values here: BACKWARD, NONE",
        ),
    }
}

async fn check(
    State(st): State<Shared>,
    Path(subject): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let (_, parsed) = match schema_of(&body) {
        Ok(x) => x,
        Err(r) => return r.into_response(),
    };
    let s = st.lock().unwrap();
    if !s.subjects.contains_key(&subject) {
        return error(
            StatusCode::NOT_FOUND,
            40401,
            &format!("Subject '{subject}' not found."),
        );
    }
    Json(json!({"is_compatible": incompatibility(&s, &subject, &parsed).is_none()})).into_response()
}

fn base64(input: &str) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = input.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &x)| acc | u32::from(x) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
