//! `ccloud-sim`: Confluent Cloud on loopback, for the project's tests and demo.
//!
//! One process, one port, path-routed: Flink statements (`/sql/v1`), Schema Registry
//! (`/subjects`, `/schemas`), Kafka REST v3 (`/kafka/v3`) and, when enabled, the control endpoint
//! (`/_sim`). Topics live in a real Kafka-protocol broker; statements, subjects and faults live in
//! memory. See `docs/simulator.md` for what is modelled and where each behaviour comes from.

mod broker;
mod config;
mod control;
mod flink;
mod http;
mod kafka_rest;
mod registry;
mod tls;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use std::io::Write as _;

use anyhow::Context as _;
use axum::http::StatusCode;
use clap::Parser;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use broker::Broker;
use config::Config;
use control::Control;
use flink::model::StatementRec;
use registry::Registry;

/// Everything the simulator knows, shared by the handlers and the phase engine.
pub struct Sim {
    pub cfg: Config,
    pub broker: Broker,
    pub control: Control,
    statements: Mutex<BTreeMap<String, StatementRec>>,
    /// Deleted statements the list still shows, until when (see `Timings::list_lag_ms`).
    ghosts: Mutex<Vec<(StatementRec, Instant)>>,
    /// Names of statements gone moments ago, taken until when (`Timings::name_hold_ms`).
    held_names: Mutex<BTreeMap<String, Instant>>,
    /// Topics of tables gone moments ago (dropped, or deleted under the catalog), and when: a
    /// table created again within `Timings::recreate_window_ms` fails.
    dropped: Mutex<BTreeMap<String, Instant>>,
    registry: Mutex<Registry>,
    /// What the catalog knows of each table (by topic) its DDL declared; `INFORMATION_SCHEMA`
    /// describes the rest of the cluster's topics by inference.
    tables: Mutex<BTreeMap<String, flink::info_schema::TableDef>>,
    /// Materialized tables, by name (their topic's).
    materialized: Mutex<BTreeMap<String, flink::materialized::MtRec>>,
    /// Catalog entries of dropped materialized tables that linger, until when
    /// (`Timings::mt_catalog_linger_ms`).
    mt_lingering: Mutex<BTreeMap<String, (flink::info_schema::TableDef, Instant)>>,
    port: OnceLock<u16>,
}

impl Sim {
    // Locks are held only for in-memory work, never across an await; a poisoned lock (a handler
    // panicked mid-update) still holds usable state, so it is taken over rather than propagated.
    pub fn statements(&self) -> MutexGuard<'_, BTreeMap<String, StatementRec>> {
        self.statements.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The statement is gone: GET answers 404 from now on, the list may still show it, and its
    /// name stays taken for a while.
    pub fn remove_statement(&self, name: &str) {
        let Some(mut rec) = self.statements().remove(name) else {
            return;
        };
        let timings = self.control.timings();
        let now = Instant::now();
        let hold = Duration::from_millis(timings.name_hold_ms);
        {
            let mut held = self.held_names();
            held.retain(|_, until| *until > now);
            if !hold.is_zero() {
                held.insert(name.to_string(), now + hold);
            }
        }
        let lag = Duration::from_millis(timings.list_lag_ms);
        let mut ghosts = self.ghosts();
        ghosts.retain(|(g, until)| *until > now && g.name != name);
        if !lag.is_zero() {
            // The list goes on showing the statement as it last was.
            rec.history.clear();
            ghosts.push((rec, now + lag));
        }
    }

    /// Whether a statement gone moments ago still holds `name`.
    pub fn name_held(&self, name: &str) -> bool {
        self.held_names()
            .get(name)
            .is_some_and(|until| *until > Instant::now())
    }

    fn held_names(&self) -> MutexGuard<'_, BTreeMap<String, Instant>> {
        self.held_names.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A table's topic went (DROP TABLE, a topic delete, or noticed missing under the catalog).
    pub fn table_gone(&self, topic: &str) {
        self.tables().remove(topic);
        let mut dropped = self.dropped.lock().unwrap_or_else(|p| p.into_inner());
        let window = Duration::from_millis(self.control.timings().recreate_window_ms);
        let now = Instant::now();
        dropped.retain(|_, at| now.duration_since(*at) < window);
        dropped.insert(topic.to_string(), now);
    }

    /// Whether the table whose topic is `topic` went less than the recreate window ago.
    pub fn recently_dropped(&self, topic: &str) -> bool {
        let window = Duration::from_millis(self.control.timings().recreate_window_ms);
        self.dropped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(topic)
            .is_some_and(|at| at.elapsed() < window)
    }

    /// The deleted statements the list still shows.
    pub fn ghosts(&self) -> MutexGuard<'_, Vec<(StatementRec, Instant)>> {
        self.ghosts.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn tables(&self) -> MutexGuard<'_, BTreeMap<String, flink::info_schema::TableDef>> {
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn materialized(&self) -> MutexGuard<'_, BTreeMap<String, flink::materialized::MtRec>> {
        self.materialized.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lingering(
        &self,
    ) -> MutexGuard<'_, BTreeMap<String, (flink::info_schema::TableDef, Instant)>> {
        self.mt_lingering.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A dropped materialized table's catalog entry stays until `until`.
    pub fn mt_linger(&self, name: &str, def: flink::info_schema::TableDef, until: Instant) {
        let mut l = self.lingering();
        let now = Instant::now();
        l.retain(|_, (_, u)| *u > now);
        l.insert(name.to_string(), (def, until));
    }

    /// Whether a dropped materialized table's catalog entry still holds `name`.
    pub fn mt_lingering(&self, name: &str) -> bool {
        self.lingering()
            .get(name)
            .is_some_and(|(_, until)| *until > Instant::now())
    }

    /// The catalog entries that linger now.
    pub fn lingering_tables(&self) -> Vec<(String, flink::info_schema::TableDef)> {
        let now = Instant::now();
        self.lingering()
            .iter()
            .filter(|(_, (_, until))| *until > now)
            .map(|(n, (d, _))| (n.clone(), d.clone()))
            .collect()
    }

    pub fn port(&self) -> u16 {
        self.port.get().copied().unwrap_or(0)
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    /// Forget statements, subjects, faults and the request log (topics stay in the broker).
    pub fn reset(&self) {
        self.statements().clear();
        self.ghosts().clear();
        self.held_names().clear();
        self.dropped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        *self.registry() = Registry::default();
        self.tables().clear();
        self.materialized().clear();
        self.lingering().clear();
        self.control.reset();
    }

    pub fn state_summary(&self) -> Value {
        let st = self.statements();
        let mut phases: BTreeMap<&str, usize> = BTreeMap::new();
        for r in st.values() {
            *phases.entry(r.phase.as_str()).or_default() += 1;
        }
        json!({
            "statements": st.len(),
            "phases": phases,
            "subjects": self.registry().subject_count(),
            "materialized_tables": self.materialized().len(),
        })
    }
}

fn app(sim: Arc<Sim>) -> axum::Router {
    let mut router = flink::router()
        .merge(registry::router())
        .merge(kafka_rest::router());
    if sim.cfg.control {
        router = router.merge(control::router());
    }
    router
        .fallback(|| async {
            http::flink_error(
                StatusCode::NOT_FOUND,
                "not_found",
                "Not Found",
                "no such API path",
            )
        })
        .layer(axum::middleware::from_fn_with_state(
            sim.clone(),
            control::front_door,
        ))
        .with_state(sim)
}

/// Write a port number to `path`: write, then rename, so a reader never sees half a file.
fn write_port(path: &std::path::Path, port: u16) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, port.to_string()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

/// Requests that came over HTTPS say so to the handlers, which build `self` and `next` links
/// with the scheme the client used.
async fn mark_https(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    req.headers_mut().insert(
        tls::SCHEME_HEADER,
        axum::http::HeaderValue::from_static("https"),
    );
    next.run(req).await
}

/// A client cannot claim HTTPS over plain HTTP.
async fn unmark(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    req.headers_mut().remove(tls::SCHEME_HEADER);
    next.run(req).await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SIM_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cfg = Config::parse();
    if !cfg.listen.ip().is_loopback() {
        anyhow::bail!("--listen must be a loopback address, got {}", cfg.listen);
    }
    let broker =
        Broker::connect(&cfg.kafka_bootstrap_servers).context("connecting to the Kafka broker")?;
    let listener = TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("binding {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let tls_listener = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(cert), Some(key)) => {
            if !cfg.tls_listen.ip().is_loopback() {
                anyhow::bail!(
                    "--tls-listen must be a loopback address, got {}",
                    cfg.tls_listen
                );
            }
            let config = tls::server_config(cert, key)?;
            Some(
                tls::TlsListener::bind(cfg.tls_listen, config)
                    .await
                    .with_context(|| format!("binding {}", cfg.tls_listen))?,
            )
        }
        _ => None,
    };
    let sim = Arc::new(Sim {
        control: Control::new(cfg.timings.clone(), cfg.behaviour.clone()),
        cfg,
        broker,
        statements: Mutex::new(BTreeMap::new()),
        ghosts: Mutex::new(Vec::new()),
        held_names: Mutex::new(BTreeMap::new()),
        dropped: Mutex::new(BTreeMap::new()),
        registry: Mutex::new(Registry::default()),
        tables: Mutex::new(BTreeMap::new()),
        materialized: Mutex::new(BTreeMap::new()),
        mt_lingering: Mutex::new(BTreeMap::new()),
        port: OnceLock::new(),
    });
    let _ = sim.port.set(addr.port());

    let engine = tokio::spawn(flink::engine::run(sim.clone()));
    let https = match tls_listener {
        Some(l) => {
            let tls_addr = axum::serve::Listener::local_addr(&l)?;
            if let Some(path) = &sim.cfg.tls_port_file {
                write_port(path, tls_addr.port())?;
            }
            tracing::info!(addr = %tls_addr, "listening over HTTPS");
            let _ = writeln!(
                std::io::stdout(),
                "ccloud-sim listening on https://{tls_addr}"
            );
            let app = app(sim.clone()).layer(axum::middleware::from_fn(mark_https));
            Some(tokio::spawn(async move {
                axum::serve(l, app)
                    .with_graceful_shutdown(shutdown_signal())
                    .await
            }))
        }
        None => None,
    };
    if let Some(path) = &sim.cfg.port_file {
        write_port(path, addr.port())?;
    }
    // The readiness line; a closed stdout must not stop the server.
    let _ = writeln!(std::io::stdout(), "ccloud-sim listening on http://{addr}");
    tracing::info!(%addr, control = sim.cfg.control, "listening");

    axum::serve(listener, app(sim).layer(axum::middleware::from_fn(unmark)))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("serving")?;
    if let Some(h) = https {
        h.abort();
    }
    engine.abort();
    tracing::info!("stopped");
    Ok(())
}
