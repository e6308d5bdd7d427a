//! What the integration tests of every package share: the test stack's environment (exported by
//! `scripts/stack env`), private simulator processes for tests that change global simulator
//! state (faults, timings), unique names, and waiting on a condition instead of sleeping.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rand::Rng;

/// The services `scripts/stack up` started, read from the variables `scripts/stack env` exports.
#[derive(Debug, Clone)]
pub struct StackEnv {
    pub kafka_bootstrap_servers: String,
    pub aws_endpoint_url: String,
    pub aws_region: String,
    pub flink_url: String,
    pub schema_registry_url: String,
    pub kafka_rest_url: String,
    pub control_url: String,
    pub org_id: String,
    pub env_id: String,
    pub env_name: String,
    pub compute_pool_id: String,
    pub principal_id: String,
    pub kafka_cluster_id: String,
    pub kafka_cluster_name: String,
    pub flink_api_key: String,
    pub flink_api_secret: String,
    pub sr_api_key: String,
    pub sr_api_secret: String,
    pub kafka_api_key: String,
    pub kafka_api_secret: String,
    /// The simulator binary the stack runs (for tests that start a private one).
    pub sim_bin: Option<PathBuf>,
    /// The Python virtualenv with the test tools (moto, confluent-sql, linters).
    pub tools_venv: Option<PathBuf>,
    /// The tansu binary the stack runs (for tests that start a broker of their own).
    pub tansu_bin: Option<PathBuf>,
    /// The simulator's HTTPS base URL, and the CA (PEM) that signed its certificate.
    pub flink_https_url: String,
    pub tls_ca: PathBuf,
    /// The CA as a PKCS12 truststore for JVM clients (password `changeit`), when a JRE made it.
    pub tls_truststore: Option<PathBuf>,
    /// The simulator's certificate chain and key, for private simulators that serve HTTPS.
    pub tls_cert: PathBuf,
    pub tls_key: PathBuf,
    /// The Table API example app's environment.
    pub tableapi_venv: Option<PathBuf>,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: the test stack is not up. Run the tests with scripts/test, \
             or `scripts/stack up && eval \"$(scripts/stack env)\"` first."
        )
    })
}

impl StackEnv {
    /// Panics with instructions when the stack's variables are missing: a test that needs the
    /// stack must fail, not skip, when it is not there.
    pub fn load() -> StackEnv {
        StackEnv {
            kafka_bootstrap_servers: var("KAFKA_BOOTSTRAP_SERVERS"),
            aws_endpoint_url: var("AWS_ENDPOINT_URL"),
            aws_region: var("AWS_REGION"),
            flink_url: var("SIM_FLINK_URL"),
            schema_registry_url: var("SIM_SCHEMA_REGISTRY_URL"),
            kafka_rest_url: var("SIM_KAFKA_REST_URL"),
            control_url: var("SIM_CONTROL_URL"),
            org_id: var("SIM_ORG_ID"),
            env_id: var("SIM_ENV_ID"),
            env_name: std::env::var("SIM_ENV_NAME").unwrap_or_default(),
            compute_pool_id: var("SIM_COMPUTE_POOL_ID"),
            principal_id: var("SIM_PRINCIPAL_ID"),
            kafka_cluster_id: var("SIM_KAFKA_CLUSTER_ID"),
            kafka_cluster_name: std::env::var("SIM_KAFKA_CLUSTER_NAME").unwrap_or_default(),
            flink_api_key: var("SIM_FLINK_API_KEY"),
            flink_api_secret: var("SIM_FLINK_API_SECRET"),
            sr_api_key: var("SIM_SR_API_KEY"),
            sr_api_secret: var("SIM_SR_API_SECRET"),
            kafka_api_key: var("SIM_KAFKA_API_KEY"),
            kafka_api_secret: var("SIM_KAFKA_API_SECRET"),
            sim_bin: std::env::var_os("CCLOUD_SIM_BIN").map(PathBuf::from),
            tools_venv: std::env::var_os("CCAF_TOOLS_VENV").map(PathBuf::from),
            tansu_bin: std::env::var_os("CCAF_TANSU_BIN").map(PathBuf::from),
            flink_https_url: var("SIM_FLINK_HTTPS_URL"),
            tls_ca: PathBuf::from(var("SIM_TLS_CA")),
            tls_truststore: std::env::var_os("SIM_TLS_TRUSTSTORE").map(PathBuf::from),
            tls_cert: PathBuf::from(var("SIM_TLS_CERT")),
            tls_key: PathBuf::from(var("SIM_TLS_KEY")),
            tableapi_venv: std::env::var_os("CCAF_TABLEAPI_VENV").map(PathBuf::from),
        }
    }
}

/// Install rustls' ring provider for this process (idempotent). Needed before building a
/// reqwest client: the workspace's reqwest is built without a default provider.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A lower-case name no other test (or earlier run against the same broker) uses.
pub fn unique(prefix: &str) -> String {
    let n: u32 = rand::rng().random();
    format!("{prefix}-{n:08x}")
}

/// A random secret of `len` characters, like Confluent Cloud's API secrets.
pub fn random_secret(len: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// Poll `probe` until it returns `Some`, or panic naming `what` after `timeout`.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(10);
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// A tansu broker of the test's own (in-memory storage, PLAINTEXT on a free loopback port),
/// logging every request it serves at debug level to a file. Killed when dropped.
pub struct PrivateBroker {
    child: Child,
    pub bootstrap_servers: String,
    log: PathBuf,
    _dir: TempDir,
}

impl PrivateBroker {
    pub fn spawn(tansu: &Path, cluster_id: &str) -> PrivateBroker {
        let dir = TempDir::new("tansu");
        let log = dir.0.join("tansu.log");
        // A free port: tansu needs to know the port it advertises before it listens.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let out = std::fs::File::create(&log).expect("tansu log");
        let mut child = Command::new(tansu)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "debug")
            .args(["broker", "--cluster-id", cluster_id])
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", tansu.display()));
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("tansu exited before it listened: {status}");
            }
            assert!(
                Instant::now() < deadline,
                "tansu did not listen within 30 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        PrivateBroker {
            child,
            bootstrap_servers: format!("127.0.0.1:{port}"),
            log,
            _dir: dir,
        }
    }

    /// The Kafka requests the broker has decoded so far, by message name
    /// (`FetchRequest`, `FindCoordinatorRequest`, …), in order, from its debug log.
    pub fn requests(&self) -> Vec<String> {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let plain = strip_ansi(&log);
        let needle = "message_name=\"";
        plain
            .match_indices(needle)
            .filter_map(|(i, _)| {
                let rest = &plain[i + needle.len()..];
                rest.split('"').next().map(str::to_string)
            })
            .filter(|name| name.ends_with("Request"))
            .collect()
    }
}

/// `text` without terminal colour sequences (`ESC [ … m`).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Options for a private simulator; defaults are fresh random credentials and the awkward
/// cloud with short timings: every behaviour of Confluent Cloud the simulator models is on
/// (`docs/simulator.md`), only faster. A test that needs a kinder world sets it here, and says
/// why.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub pending_ms: u64,
    pub stopping_ms: u64,
    pub deleting_ms: u64,
    pub health_check_ms: u64,
    /// A deleted statement lingers in the list this long.
    pub list_lag_ms: u64,
    /// A new statement is missing from the list this long.
    pub list_new_lag_ms: u64,
    /// The list shows changes this late.
    pub list_phase_lag_ms: u64,
    /// A stop or resume starts this long after it was accepted.
    pub update_lag_ms: u64,
    /// A name stays taken this long after its statement is gone.
    pub name_hold_ms: u64,
    /// A table created again this soon after its drop fails.
    pub recreate_window_ms: u64,
    /// Terminal statements are purged after this long.
    pub purge_after_ms: u64,
    /// A new table's columns are missing from `INFORMATION_SCHEMA.COLUMNS` this long.
    pub catalog_lag_ms: u64,
    /// The environment's and the cluster's display names (`None`: generated ones).
    pub env_name: Option<String>,
    pub kafka_cluster_name: Option<String>,
    pub default_partitions: u32,
    /// The Kafka cluster id the simulator says its tables live in (`None`: a random one). A
    /// simulator in front of the stack's broker should say the broker's own id.
    pub kafka_cluster_id: Option<String>,
    /// Also serve HTTPS, with this certificate chain and key (PEM).
    pub tls: Option<(PathBuf, PathBuf)>,
    pub extra_args: Vec<String>,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            pending_ms: 100,
            stopping_ms: 100,
            deleting_ms: 150,
            health_check_ms: 100,
            list_lag_ms: 500,
            list_new_lag_ms: 200,
            list_phase_lag_ms: 150,
            update_lag_ms: 100,
            name_hold_ms: 300,
            recreate_window_ms: 800,
            purge_after_ms: 60_000,
            catalog_lag_ms: 200,
            env_name: None,
            kafka_cluster_name: None,
            default_partitions: 1,
            kafka_cluster_id: None,
            tls: None,
            extra_args: Vec::new(),
        }
    }
}

/// A simulator process of the test's own, on a free loopback port, against the stack's broker.
/// Killed when dropped.
pub struct PrivateSim {
    child: Child,
    pub url: String,
    /// The HTTPS base URL, when started with TLS.
    pub https_url: Option<String>,
    pub org_id: String,
    pub env_id: String,
    pub env_name: String,
    pub kafka_cluster_id: String,
    pub kafka_cluster_name: String,
    pub compute_pool_id: String,
    pub principal_id: String,
    pub flink_api_key: String,
    pub flink_api_secret: String,
    pub sr_api_key: String,
    pub sr_api_secret: String,
    pub kafka_api_key: String,
    pub kafka_api_secret: String,
    _dir: TempDir,
}

impl PrivateSim {
    /// The simulator's process id (a benchmark reads its CPU time).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn spawn(bin: &Path, kafka_bootstrap_servers: &str, opts: SimOptions) -> PrivateSim {
        let dir = TempDir::new("ccloud-sim");
        let port_file = dir.0.join("port");
        let tls_port_file = dir.0.join("tls-port");
        let tag: u32 = rand::rng().random();
        let short = tag & 0xff_ffff;
        let ids = [
            ("--org-id", format!("{tag:08x}-0000-4000-8000-000000000000")),
            ("--env-id", format!("env-{short:06x}")),
            (
                "--env-name",
                opts.env_name
                    .clone()
                    .unwrap_or_else(|| format!("test-env-{tag:08x}")),
            ),
            (
                "--kafka-cluster-id",
                opts.kafka_cluster_id
                    .clone()
                    .unwrap_or_else(|| format!("lkc-{short:06x}")),
            ),
            (
                "--kafka-cluster-name",
                opts.kafka_cluster_name
                    .clone()
                    .unwrap_or_else(|| format!("test-cluster-{tag:08x}")),
            ),
            ("--compute-pool-id", format!("lfcp-{short:06x}")),
            ("--principal-id", format!("sa-{short:06x}")),
            ("--flink-api-key", format!("FLINK{tag:08X}")),
            ("--flink-api-secret", random_secret(64)),
            ("--sr-api-key", format!("SR{tag:08X}")),
            ("--sr-api-secret", random_secret(64)),
            ("--kafka-api-key", format!("KAFKA{tag:08X}")),
            ("--kafka-api-secret", random_secret(64)),
        ];
        let mut cmd = Command::new(bin);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("SIM_LOG", "warn")
            .args(["--listen", "127.0.0.1:0", "--control"])
            .arg("--port-file")
            .arg(&port_file)
            .args(["--kafka-bootstrap-servers", kafka_bootstrap_servers])
            .args(["--pending-ms", &opts.pending_ms.to_string()])
            .args(["--stopping-ms", &opts.stopping_ms.to_string()])
            .args(["--deleting-ms", &opts.deleting_ms.to_string()])
            .args(["--health-check-ms", &opts.health_check_ms.to_string()])
            .args(["--list-lag-ms", &opts.list_lag_ms.to_string()])
            .args(["--list-new-lag-ms", &opts.list_new_lag_ms.to_string()])
            .args(["--list-phase-lag-ms", &opts.list_phase_lag_ms.to_string()])
            .args(["--update-lag-ms", &opts.update_lag_ms.to_string()])
            .args(["--name-hold-ms", &opts.name_hold_ms.to_string()])
            .args(["--recreate-window-ms", &opts.recreate_window_ms.to_string()])
            .args(["--purge-after-ms", &opts.purge_after_ms.to_string()])
            .args(["--catalog-lag-ms", &opts.catalog_lag_ms.to_string()])
            .args(["--default-partitions", &opts.default_partitions.to_string()])
            .args(&opts.extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (flag, value) in &ids {
            cmd.args([flag, value.as_str()]);
        }
        if let Some((cert, key)) = &opts.tls {
            cmd.arg("--tls-cert")
                .arg(cert)
                .arg("--tls-key")
                .arg(key)
                .arg("--tls-port-file")
                .arg(&tls_port_file);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                if let Ok(p) = text.trim().parse::<u16>() {
                    break p;
                }
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("ccloud-sim exited before it listened: {status}");
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                panic!("ccloud-sim did not write its port file within 30 s");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let [org_id, env_id, env_name, kafka_cluster_id, kafka_cluster_name, compute_pool_id, principal_id, flink_api_key, flink_api_secret, sr_api_key, sr_api_secret, kafka_api_key, kafka_api_secret] =
            ids.map(|(_, v)| v);
        // The HTTPS port is written before the HTTP one.
        let https_url = opts.tls.as_ref().map(|_| {
            let text = std::fs::read_to_string(&tls_port_file).expect("the HTTPS port file");
            format!("https://127.0.0.1:{}", text.trim())
        });
        PrivateSim {
            child,
            url: format!("http://127.0.0.1:{port}"),
            https_url,
            org_id,
            env_id,
            env_name,
            kafka_cluster_id,
            kafka_cluster_name,
            compute_pool_id,
            principal_id,
            flink_api_key,
            flink_api_secret,
            sr_api_key,
            sr_api_secret,
            kafka_api_key,
            kafka_api_secret,
            _dir: dir,
        }
    }

    /// `…/sql/v1/organizations/{org}/environments/{env}/statements`
    pub fn statements_url(&self) -> String {
        format!(
            "{}/sql/v1/organizations/{}/environments/{}/statements",
            self.url, self.org_id, self.env_id
        )
    }

    pub fn control_url(&self) -> String {
        format!("{}/_sim", self.url)
    }
}

impl Drop for PrivateSim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let n: u64 = rand::rng().random();
        let path = std::env::temp_dir().join(format!("{prefix}-{n:016x}"));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
