//! The proxy itself: accepts HTTP/1.1 on loopback, decides per request (fault, throttle or
//! forward), forwards to the upstream and records what happened.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use asiaq_core::ec2_limits::{Ec2Buckets, TokenBucket};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::config::{ConfigError, Fault, ProxyConfig};
use crate::protocol::{error_answer, identify, throttle_answer, ErrorAnswer, RequestInfo};
use crate::stats::{LogRecord, Outcome, RequestLog, Summary};

/// Why the proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot open the request log {path}: {source}")]
    Log {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("cannot start the proxy's runtime: {0}")]
    Runtime(std::io::Error),
}

/// A running proxy. It serves on its own thread and runtime, so tests and tools start it the
/// same way whether or not they are async; dropping it stops it (and writes the summary file
/// if one is configured).
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("endpoint", &self.endpoint())
            .field("upstream", &self.shared.config.upstream)
            .finish()
    }
}

impl Proxy {
    /// Validates the configuration, binds the listening socket and starts serving.
    pub fn start(config: ProxyConfig) -> Result<Proxy, ProxyError> {
        config.validate()?;
        let listen = |source| ProxyError::Listen {
            addr: config.listen,
            source,
        };
        let listener = std::net::TcpListener::bind(config.listen).map_err(listen)?;
        listener.set_nonblocking(true).map_err(listen)?;
        let addr = listener.local_addr().map_err(listen)?;
        let log = match &config.log {
            Some(path) => Some(RequestLog::create(path).map_err(|source| ProxyError::Log {
                path: path.clone(),
                source,
            })?),
            None => None,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("asiaq-proxy")
            .enable_all()
            .build()
            .map_err(ProxyError::Runtime)?;
        let shared = Arc::new(Shared::new(config, log));
        let (tx, rx) = oneshot::channel();
        let serving = shared.clone();
        let thread = std::thread::Builder::new()
            .name("asiaq-proxy".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(listener) {
                        Ok(listener) => serve(listener, serving, rx).await,
                        Err(e) => tracing::error!("asiaq-proxy cannot listen: {e}"),
                    }
                });
                // Connections still held open (e.g. by a slow fault) are abandoned.
                runtime.shutdown_timeout(Duration::from_millis(500));
            })
            .map_err(ProxyError::Runtime)?;
        Ok(Proxy {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`, to use as `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn config(&self) -> &ProxyConfig {
        &self.shared.config
    }

    /// Counts since start or the last [`Proxy::reset`].
    pub fn summary(&self) -> Summary {
        self.shared.state().summary.clone()
    }

    /// Zeroes the counts, refills every bucket and restarts fault counting.
    pub fn reset(&self) {
        self.shared.reset();
    }

    /// Stops serving and returns the final summary.
    pub fn shutdown(mut self) -> Summary {
        self.stop();
        self.summary()
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
            if let Some(path) = &self.shared.config.summary {
                let json = serde_json::to_string_pretty(&self.summary()).unwrap_or_default();
                if let Err(e) = std::fs::write(path, json + "\n") {
                    tracing::warn!("cannot write the summary to {}: {e}", path.display());
                }
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Shared {
    config: ProxyConfig,
    upstream: String,
    client: Client<HttpConnector, Full<Bytes>>,
    state: Mutex<State>,
    log: Option<RequestLog>,
    request_ids: AtomicU64,
}

struct State {
    started: Instant,
    ec2: Ec2Buckets,
    limits: HashMap<String, TokenBucket>,
    rule_matches: Vec<u64>,
    rng: StdRng,
    summary: Summary,
}

/// What to do with one request.
enum Decision {
    Forward,
    Throttle { bucket: String },
    Fault(Fault),
}

impl Shared {
    fn new(config: ProxyConfig, log: Option<RequestLog>) -> Self {
        let rng = match config.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let state = State {
            started: Instant::now(),
            ec2: Ec2Buckets::new(config.ec2_limit_scale),
            limits: HashMap::new(),
            rule_matches: vec![0; config.faults.len()],
            rng,
            summary: Summary::default(),
        };
        Shared {
            upstream: config.upstream.trim_end_matches('/').to_string(),
            client: Client::builder(TokioExecutor::new()).build(connector),
            config,
            state: Mutex::new(state),
            log,
            request_ids: AtomicU64::new(1),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Counters stay meaningful even if a handler panicked while holding the lock.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn reset(&self) {
        let mut state = self.state();
        state.started = Instant::now();
        state.ec2.reset();
        state.limits.clear();
        state.rule_matches.iter_mut().for_each(|n| *n = 0);
        state.summary = Summary::default();
    }

    fn latency(&self) -> Duration {
        let jitter = match self.config.jitter_ms {
            0 => 0,
            j => self.state().rng.gen_range(0..=j),
        };
        Duration::from_millis(self.config.latency_ms + jitter)
    }

    /// Faults first (so that "the N-th matching request" does not depend on throttling),
    /// then the request's bucket.
    fn decide(&self, info: &RequestInfo, now: Instant) -> Decision {
        let mut state = self.state();
        let state = &mut *state;
        let mut chosen = None;
        for (i, rule) in self.config.faults.iter().enumerate() {
            if !rule.selects(&info.service, &info.operation) {
                continue;
            }
            state.rule_matches[i] += 1;
            let draw: f64 = state.rng.gen();
            if chosen.is_none() && rule.trigger.fires(state.rule_matches[i], draw) {
                chosen = Some(rule.fault.clone());
            }
        }
        if let Some(fault) = chosen {
            return Decision::Fault(fault);
        }
        let key = info.key();
        let configured = self
            .config
            .limits
            .get(&key)
            .or_else(|| self.config.limits.get(&info.service));
        if let Some(limit) = configured {
            let bucket = state
                .limits
                .entry(key)
                .or_insert_with(|| TokenBucket::full(*limit, now));
            if !bucket.try_take(now) {
                return Decision::Throttle {
                    bucket: "limit".into(),
                };
            }
        } else if info.service == "ec2" && self.config.ec2_throttling {
            if let Some(query) = &info.query {
                if !state.ec2.bucket(query, now).try_take(now) {
                    return Decision::Throttle {
                        bucket: query.ec2_category().name().into(),
                    };
                }
            }
        }
        Decision::Forward
    }

    fn record(&self, info: &RequestInfo, record: LogRecord) {
        if let Some(log) = &self.log {
            log.write(&record);
        }
        self.state().summary.record(&info.key(), &record);
    }

    fn request_id(&self) -> String {
        let n = self.request_ids.fetch_add(1, Ordering::Relaxed);
        format!("00000000-0000-4000-8000-{n:012x}")
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut shutdown: oneshot::Receiver<()>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, shared.clone()));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!("asiaq-proxy accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.abort_all();
}

/// The error a handler returns to make hyper drop the connection without an answer.
#[derive(Debug, thiserror::Error)]
#[error("connection reset by an injected fault")]
struct InjectedReset;

async fn serve_connection(stream: tokio::net::TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    // A second descriptor of the same socket, kept so that a reset fault can set SO_LINGER
    // to zero (the close then sends RST instead of FIN) after hyper owns the stream.
    let (stream, twin) = match stream.into_std().and_then(|s| {
        let twin = s.try_clone()?;
        Ok((tokio::net::TcpStream::from_std(s)?, twin))
    }) {
        Ok(pair) => pair,
        Err(e) => {
            tracing::warn!("asiaq-proxy cannot set up a connection: {e}");
            return;
        }
    };
    let twin = Arc::new(Mutex::new(Some(twin)));
    let service = {
        let twin = twin.clone();
        service_fn(move |request| {
            let shared = shared.clone();
            let twin = twin.clone();
            async move {
                match handle(&shared, request).await {
                    Some(response) => Ok(response),
                    None => {
                        let taken = twin.lock().unwrap_or_else(|p| p.into_inner()).take();
                        if let Some(socket) = taken {
                            if let Ok(socket) = tokio::net::TcpStream::from_std(socket) {
                                let _ = socket.set_zero_linger();
                            }
                        }
                        Err(InjectedReset)
                    }
                }
            }
        })
    };
    let _ = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

type ProxyResponse = Response<Full<Bytes>>;

/// Answers one request; `None` means "reset the connection".
async fn handle(shared: &Shared, request: Request<Incoming>) -> Option<ProxyResponse> {
    let arrived = Instant::now();
    if request.uri().path().starts_with("/__proxy/") {
        return Some(control(shared, request.method(), request.uri()));
    }
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        // The client went away mid-request; nothing to answer.
        Err(_) => return None,
    };
    let info = identify(&parts.method, &parts.uri, &parts.headers, &body);
    let at_ms = ms(arrived.saturating_duration_since(shared.state().started));
    let latency = shared.latency();
    let there = latency / 2;
    tokio::time::sleep(there).await;
    let decision = shared.decide(&info, Instant::now());
    let request_id = shared.request_id();

    let mut record = LogRecord {
        at_ms,
        service: info.service.clone(),
        operation: info.operation.clone(),
        protocol: info.protocol.name().to_string(),
        status: 0,
        outcome: Outcome::Forwarded,
        latency_ms: 0.0,
        upstream_ms: None,
        fault: None,
        bucket: None,
    };
    let response = match decision {
        Decision::Forward => {
            let (response, upstream) = forward(shared, parts, body).await;
            record.upstream_ms = Some(ms(upstream));
            response
        }
        Decision::Throttle { bucket } => {
            record.outcome = Outcome::Throttled;
            record.bucket = Some(bucket);
            answer(throttle_answer(&info, &request_id))
        }
        Decision::Fault(fault) => {
            record.outcome = Outcome::Fault;
            record.fault = Some(fault.label());
            match &fault {
                Fault::Http { status, .. } => answer(error_answer(
                    &info,
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                    &fault.code(),
                    "Injected by asiaq-proxy",
                    &request_id,
                )),
                Fault::Throttle => answer(throttle_answer(&info, &request_id)),
                Fault::Reset => {
                    record.latency_ms = ms(arrived.elapsed());
                    shared.record(&info, record);
                    return None;
                }
                Fault::Slow { delay_ms } => {
                    let (response, upstream) = forward(shared, parts, body).await;
                    record.upstream_ms = Some(ms(upstream));
                    tokio::time::sleep(Duration::from_millis(*delay_ms)).await;
                    response
                }
            }
        }
    };
    tokio::time::sleep(latency - there).await;
    record.status = response.status().as_u16();
    record.latency_ms = ms(arrived.elapsed());
    shared.record(&info, record);
    Some(response)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// Connection-level headers, which belong to one hop and are not forwarded.
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "expect"
    )
}

/// Sends the request upstream with its headers unchanged (hop-by-hop ones aside) and
/// returns the answer and how long the upstream took.
async fn forward(
    shared: &Shared,
    parts: hyper::http::request::Parts,
    body: Bytes,
) -> (ProxyResponse, Duration) {
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let started = Instant::now();
    let uri: Uri = match format!("{}{path}", shared.upstream).parse() {
        Ok(uri) => uri,
        Err(e) => {
            return (
                bad_gateway(format!("bad upstream URL: {e}")),
                started.elapsed(),
            )
        }
    };
    let mut builder = Request::builder().method(parts.method).uri(uri);
    let had_length = parts.headers.contains_key(CONTENT_LENGTH);
    for (name, value) in &parts.headers {
        if !hop_by_hop(name) && name != CONTENT_LENGTH {
            builder = builder.header(name, value);
        }
    }
    // The body was buffered, so its length is known even if it arrived chunked.
    if had_length || !body.is_empty() {
        builder = builder.header(CONTENT_LENGTH, body.len());
    }
    let request = match builder.body(Full::new(body)) {
        Ok(r) => r,
        Err(e) => return (bad_gateway(e.to_string()), started.elapsed()),
    };
    let response = match shared.client.request(request).await {
        Ok(r) => r,
        Err(e) => {
            return (
                bad_gateway(format!("upstream {} unreachable: {e}", shared.upstream)),
                started.elapsed(),
            )
        }
    };
    let (parts, body) = response.into_parts();
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            return (
                bad_gateway(format!("upstream answer cut short: {e}")),
                started.elapsed(),
            )
        }
    };
    let upstream = started.elapsed();
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = parts.status;
    for (name, value) in &parts.headers {
        if !hop_by_hop(name) {
            response.headers_mut().append(name, value.clone());
        }
    }
    (response, upstream)
}

fn bad_gateway(message: String) -> ProxyResponse {
    let mut response = Response::new(Full::new(Bytes::from(message)));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}

fn answer(error: ErrorAnswer) -> ProxyResponse {
    let mut response = Response::new(Full::new(error.body));
    *response.status_mut() = error.status;
    for (name, value) in error.headers {
        response.headers_mut().insert(name, value);
    }
    response
}

/// `GET /__proxy/summary`, `POST /__proxy/reset`.
fn control(shared: &Shared, method: &Method, uri: &Uri) -> ProxyResponse {
    let json = |status: StatusCode, value: serde_json::Value| {
        let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
        *response.status_mut() = status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        response
    };
    match (method, uri.path()) {
        (&Method::GET, "/__proxy/summary") => {
            let summary = shared.state().summary.clone();
            json(
                StatusCode::OK,
                serde_json::to_value(summary).unwrap_or_default(),
            )
        }
        (&Method::POST, "/__proxy/reset") => {
            shared.reset();
            json(StatusCode::OK, serde_json::json!({"reset": true}))
        }
        _ => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": "GET /__proxy/summary or POST /__proxy/reset"}),
        ),
    }
}
