//! The engine: one run of `plan`, `teardown`, `buildup`, `rebuild` or `adopt` against the
//! Confluent clients and the tracker — take the lease, snapshot, plan, execute, report.
//!
//! Safety rule 2 lives in [`execute`]: every step writes its intent to the tracker before it acts
//! and its outcome after, so a run killed anywhere leaves a record of what was in flight, and the
//! next run converges from there.

pub mod adopt;
pub mod execute;
pub mod names;
pub mod records;
pub mod snapshot;
mod trust;

use std::time::{Duration, Instant};

use chrono::Utc;

use crate::cancel::{Cancel, Signal};
use crate::command::Command;
use crate::confluent::flink::{FlinkClient, FlinkError};
use crate::confluent::kafka::{KafkaAdmin, KafkaError};
use crate::confluent::schema_registry::SchemaRegistryClient;
use crate::confluent::watch::StatementWatch;
use crate::http::limit::{ApiUsage, Concurrency};
use crate::input::ConfigError;
use crate::manifest::Manifest;
use crate::ownership::ClusterScope;
use crate::plan::{self, protect, Goal, Options, Plan};
use crate::report::{Outcome, RunReport, Spent, StepReport, REPORT_VERSION};
use crate::tracker::{
    Lease, LeaseRequest, Provenance, Record, Tracker, TrackerError, RECORD_VERSION,
};

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Tracker(#[from] TrackerError),
    #[error(transparent)]
    Flink(#[from] FlinkError),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    SchemaRegistry(#[from] crate::confluent::schema_registry::SchemaRegistryError),
    /// A signal cancelled the run before it changed anything.
    #[error("cancelled by {0} before anything was changed")]
    Cancelled(Signal),
    /// Bad input found once the snapshot shows it (the app's SQL changes a protected table),
    /// before anything was changed: exit 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// A statement the run would submit or adopt changes a protected table: bad input of `protect`.
pub(crate) fn protect_refused(v: protect::Violation) -> EngineError {
    EngineError::Config(ConfigError::input("protect", v.to_string()))
}

/// Where statements go when the app names no pool or principal: the credentials' defaults.
#[derive(Debug, Clone, Default)]
pub(crate) struct Defaults {
    pub compute_pool: Option<String>,
    pub principal: Option<String>,
    pub catalog: Option<String>,
    pub database: Option<String>,
}

/// What one run is asked to do, with everything it needs that the inputs and the environment
/// say: built by `cli` before any request is made.
#[derive(Debug)]
pub struct RunSpec {
    pub app: String,
    pub request: Request,
    /// The app's definitions (`None`: the tracker's definitions are what it wants).
    pub manifest: Option<Manifest>,
    pub options: Options,
    /// How long one statement or table may take to settle.
    pub timeout: Duration,
    /// `auto`: every step may start once its dependencies are done, and each API's limiter
    /// decides how many requests go at once; a number pins both.
    pub concurrency: Concurrency,
    /// The `catalog` and `database` inputs: the defaults of the app's statements.
    pub catalog: Option<String>,
    pub database: Option<String>,
    /// Database display name → Kafka cluster id (`database-clusters`).
    pub database_clusters: std::collections::BTreeMap<String, String>,
    pub lease: LeaseSpec,
    /// Who and what started the run, for the tracker's records.
    pub provenance: Provenance,
}

/// The run's lease: who asks for it and how long it waits and lives.
#[derive(Debug, Clone)]
pub struct LeaseSpec {
    /// Unique per process: two jobs of one workflow run share the GitHub run id.
    pub run_id: String,
    pub holder: String,
    /// How long to wait for another run's lease before giving up (exit 3).
    pub wait: Duration,
    /// The lease's time to live without renewal (`None`: the tracker's default).
    pub ttl: Option<Duration>,
}

/// The clients a run talks through.
pub struct Clients {
    pub flink: FlinkClient,
    /// Serves every wait for a statement of the app: one list per tick for all of them.
    pub watch: StatementWatch,
    pub kafka: KafkaAdmin,
    /// Without Schema Registry credentials, subjects are neither checked nor deleted directly.
    pub registry: Option<SchemaRegistryClient>,
    pub tracker: Tracker,
}

/// Where the run works, as the credentials and the pre-flight checks found it.
pub struct Site {
    pub environment_id: String,
    /// Where tables can be checked: the Kafka cluster of the run's Kafka connection.
    pub cluster: ClusterScope,
    /// The names the run knows its environment and clusters by before it asks the catalog
    /// (`identity::Names`: ids, `database-clusters`).
    pub names: crate::identity::Names,
    /// The credentials' compute pool and principal: where statements go when the app names none.
    pub compute_pool: Option<String>,
    pub principal: Option<String>,
}

/// Everything one run works with: its clients, where it works, what it is asked.
pub struct Engine {
    flink: FlinkClient,
    watch: StatementWatch,
    kafka: KafkaAdmin,
    registry: Option<SchemaRegistryClient>,
    tracker: Tracker,
    cluster: ClusterScope,
    names: crate::identity::Names,
    app: String,
    environment_id: String,
    defaults: Defaults,
    provenance: Provenance,
    timeout: Duration,
    concurrency: Concurrency,
    lease: LeaseSpec,
    request: Request,
    manifest: Option<Manifest>,
    options: Options,
    /// Set by SIGINT / SIGTERM: no step starts after it, waits end after its grace.
    cancel: Cancel,
}

impl Engine {
    pub fn new(clients: Clients, site: Site, spec: RunSpec, cancel: Cancel) -> Engine {
        Engine {
            flink: clients.flink,
            watch: clients.watch,
            kafka: clients.kafka,
            registry: clients.registry,
            tracker: clients.tracker,
            cluster: site.cluster,
            names: site.names,
            environment_id: site.environment_id,
            defaults: Defaults {
                compute_pool: site.compute_pool,
                principal: site.principal,
                catalog: spec.catalog,
                database: spec.database,
            },
            app: spec.app,
            provenance: spec.provenance,
            timeout: spec.timeout,
            concurrency: spec.concurrency,
            lease: spec.lease,
            request: spec.request,
            manifest: spec.manifest,
            options: spec.options,
            cancel,
        }
    }
}

/// What to do.
#[derive(Debug, Clone)]
pub enum Request {
    /// Plan for `goal` and report the plan; change nothing (`plan`, and dry runs).
    Plan(Goal),
    /// Converge the app to `goal`.
    Run(Goal),
    /// Record live statements (names or `prefix*`) as the app's.
    Adopt(adopt::Selection),
}

impl Request {
    /// The command the report names.
    pub fn command(&self) -> Command {
        match self {
            Request::Plan(_) => Command::Plan,
            Request::Run(goal) => Command::from(*goal),
            Request::Adopt(_) => Command::Adopt,
        }
    }

    /// What a plan was made for, when the request only plans.
    pub fn plan_for(&self) -> Option<Goal> {
        match self {
            Request::Plan(goal) => Some(*goal),
            Request::Run(_) | Request::Adopt(_) => None,
        }
    }
}

impl Engine {
    /// One run. `progress` is told about every step as it starts and as it finishes (for the
    /// live display).
    pub async fn run(
        &self,
        progress: crate::report::Progress<'_>,
    ) -> Result<RunReport, EngineError> {
        let (request, manifest, opts) = (&self.request, self.manifest.as_ref(), &self.options);
        let started_at = Utc::now();
        let clock = Instant::now();
        let mut report = RunReport {
            version: REPORT_VERSION,
            command: request.command(),
            plan_for: request.plan_for(),
            app: self.app.clone(),
            environment_id: self.environment_id.clone(),
            dry_run: request.plan_for().is_some(),
            started_at,
            duration_ms: 0,
            outcome: Outcome::NothingToDo,
            cancelled_by: None,
            steps: Vec::new(),
            notes: Vec::new(),
            apis: Vec::new(),
            spent: None,
            untrusted: Vec::new(),
            untracked: Vec::new(),
        };
        match request {
            Request::Plan(goal) => {
                let snapshot::Snapshot {
                    plan: snap, trust, ..
                } = self
                    .unless_cancelled(snapshot::take(self, manifest, &opts.protect))
                    .await?;
                report.notes.extend(trust.notes());
                report.untrusted = trust.untrusted;
                report.untracked = trust.untracked;
                protect::check(*goal, &snap, &opts.protect).map_err(protect_refused)?;
                tracing::debug!(
                    tracked = snap.tracked.len(),
                    live = snap.live.len(),
                    "snapshot taken"
                );
                let p = plan::plan(*goal, &snap, opts);
                tracing::debug!(steps = p.steps.len(), "planned");
                report.steps = execute::planned(&p);
                report.outcome = if p.is_noop() {
                    Outcome::NothingToDo
                } else {
                    Outcome::Planned
                };
                report.notes.extend(p.notes);
            }
            Request::Run(goal) => {
                let lease = self.take_lease().await?;
                let result = caught(self.run_locked(*goal, manifest, opts, &lease, progress)).await;
                release_lease(lease, &mut report.notes).await;
                let (p, run, trust) = match result {
                    Ok(result) => result?,
                    Err(panic) => return Ok(self.panicked(report, &panic, clock)),
                };
                report.notes.extend(trust.notes());
                report.notes.extend(p.notes.iter().cloned());
                report.outcome = match (&run.lease_lost, self.cancel.requested()) {
                    (Some(why), _) => {
                        report.notes.push(format!(
                            "the run lost its lease ({why}): it changed nothing after that; \
                             the steps say what was done and what was not"
                        ));
                        Outcome::LeaseLost
                    }
                    (None, Some(signal)) => {
                        report.notes.push(format!(
                            "cancelled by {signal}: no step started after it, and the steps in \
                             flight finished or recorded where they stood; run it again to \
                             finish"
                        ));
                        report.cancelled_by = Some(signal);
                        Outcome::Cancelled
                    }
                    // Something of the app's the tracker lost: the run could not do all of
                    // its job.
                    (None, None) if !trust.untracked.is_empty() => Outcome::Failed,
                    (None, None) => outcome_of(&p, &run.steps),
                };
                report.untrusted = trust.untrusted;
                report.untracked = trust.untracked;
                report.steps = run.steps;
            }
            Request::Adopt(selection) => {
                let lease = self.take_lease().await?;
                let result = caught(adopt::adopt(
                    self,
                    selection,
                    &opts.protect,
                    &lease,
                    progress,
                ))
                .await;
                release_lease(lease, &mut report.notes).await;
                report.steps = match result {
                    Ok(result) => result?,
                    Err(panic) => return Ok(self.panicked(report, &panic, clock)),
                };
                report.cancelled_by = self.cancel.requested();
                report.outcome = if report.cancelled_by.is_some() {
                    Outcome::Cancelled
                } else if report.steps.is_empty() {
                    Outcome::NothingToDo
                } else if report.steps.iter().any(|s| s.error.is_some()) {
                    Outcome::Failed
                } else {
                    Outcome::Succeeded
                };
            }
        }
        report.duration_ms = clock.elapsed().as_millis() as u64;
        report.apis = self.api_usage();
        report.spent = Some(self.spent());
        Ok(report)
    }

    /// The report of a run a panic cut short after it took the lease (released since): failed,
    /// with the panic's message; the steps it had done are in the tracker's records, not here.
    fn panicked(&self, mut report: RunReport, panic: &str, clock: Instant) -> RunReport {
        tracing::error!(panic = %panic, "the run stopped on an internal error; its lease is released");
        report.notes.push(format!(
            "the run stopped on an internal error (a panic: {panic}); its lease was released, and \
             the tracker's records say what was done: run it again to converge"
        ));
        report.outcome = Outcome::Failed;
        report.duration_ms = clock.elapsed().as_millis() as u64;
        report.apis = self.api_usage();
        report.spent = Some(self.spent());
        report
    }

    /// Where the run's time went so far, besides its requests.
    pub fn spent(&self) -> Spent {
        Spent {
            watch: self.watch.stats(),
            tracker: self.tracker.write_stats(),
        }
    }

    /// What each API was asked so far in this run (the pre-flight checks included).
    pub fn api_usage(&self) -> Vec<ApiUsage> {
        let mut out = vec![self.flink.usage()];
        out.extend(self.registry.as_ref().map(SchemaRegistryClient::usage));
        out.push(self.kafka.usage());
        out
    }

    /// `work` (a read), unless a signal cancels the run first.
    async fn unless_cancelled<T, E: Into<EngineError>>(
        &self,
        work: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, EngineError> {
        tokio::select! {
            r = work => r.map_err(Into::into),
            signal = self.cancel.until_requested() => Err(EngineError::Cancelled(signal)),
        }
    }

    async fn take_lease(&self) -> Result<Lease, EngineError> {
        let mut req = LeaseRequest::new(
            &self.environment_id,
            &self.app,
            &self.lease.run_id,
            &self.lease.holder,
        );
        req.wait = self.lease.wait;
        if let Some(ttl) = self.lease.ttl {
            req.ttl = ttl;
        }
        self.tracker
            .acquire_lease_unless(&req, self.cancel.until_requested())
            .await?
            .map_err(EngineError::Cancelled)
    }

    async fn run_locked(
        &self,
        goal: Goal,
        manifest: Option<&Manifest>,
        opts: &Options,
        lease: &Lease,
        progress: crate::report::Progress<'_>,
    ) -> Result<(Plan, execute::Execution, trust::Trust), EngineError> {
        let snapshot::Snapshot {
            plan: snap,
            mut records,
            trust,
        } = snapshot::take(self, manifest, &opts.protect).await?;
        // Before the first change: SQL the run would submit never changes a protected table.
        protect::check(goal, &snap, &opts.protect).map_err(protect_refused)?;
        if !trust.taken_over.is_empty() {
            // Written again, signed: from now on the record proves itself.
            lease.check()?;
            let mut signed: Vec<Record> = trust.taken_over.clone();
            signed.iter_mut().for_each(|r| self.stamp(r));
            self.tracker.put_all(&signed).await?;
            for r in signed {
                records.insert(r.statement_name.clone(), r);
            }
        }
        let p = plan::plan(goal, &snap, opts);
        tracing::info!(goal = %goal, app = %self.app, steps = p.steps.len(), "planned");
        let run = execute::execute(self, &p, &records, lease, progress).await;
        Ok((p, run, trust))
    }

    /// Mark a record as written by this run, now, in this build's format (unknown fields kept).
    pub(crate) fn stamp(&self, r: &mut Record) {
        r.version = r.version.max(RECORD_VERSION);
        r.provenance = Provenance {
            at: Utc::now(),
            extra: r.provenance.extra.clone(),
            ..self.provenance.clone()
        };
    }
}

/// `work` with a panic in it caught, as the panic's message: a bug in a step must still let the
/// run release its lease and write its report (the release profile unwinds for this). The
/// steps run on this task (the scheduler polls them), so their panics unwind through here.
/// Unwind safety is asserted: after a panic only the lease (released) and the API counters
/// (whose locks shrug off poisoning) are used.
async fn caught<T>(work: impl std::future::Future<Output = T>) -> Result<T, String> {
    use futures::FutureExt;
    std::panic::AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .map_err(|payload| {
            payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic without a message".to_string())
        })
}

/// Release the run's lease whatever the run did; a release that fails is a note of the report
/// (the lease then expires by its ttl), not a failure of work that was done.
async fn release_lease(lease: Lease, notes: &mut Vec<String>) {
    if let Err(e) = lease.release().await {
        notes.push(format!("releasing the lease failed: {e}"));
    }
}

fn outcome_of(p: &Plan, steps: &[StepReport]) -> Outcome {
    use crate::report::Status;
    if steps
        .iter()
        .any(|s| matches!(s.status, Status::Failed | Status::Blocked | Status::Refused))
    {
        Outcome::Failed
    } else if p.is_noop() {
        Outcome::NothingToDo
    } else {
        Outcome::Succeeded
    }
}
