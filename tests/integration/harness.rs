//! The test environment: one local MariaDB cluster (primary + 2 replicas, GTID
//! replication) and one rwproxy process (the real binary) per test binary, started on
//! first use on free ports in a temp dir and stopped when the test process exits. Tests
//! isolate themselves by schema.

// Shared by two test binaries (`integration`, `replication`); each uses part of it.
#![allow(dead_code)]

use mysql_async::prelude::*;
use rwproxy::cluster::{Cluster, ClusterSpec};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The shared environment.
pub struct Env {
    /// The cluster.
    pub cluster: Cluster,
    /// Port the proxy listens on.
    pub proxy_port: u16,
    /// Its SQL admin port.
    pub admin_port: u16,
    /// Its HTTP port (metrics, health, API).
    pub http_port: u16,
    /// Kept so the directory lives as long as the process.
    _dir: tempfile::TempDir,
}

static ENV: OnceLock<Env> = OnceLock::new();
static PROXY: Mutex<Option<Child>> = Mutex::new(None);

/// Password of the `hashed` test user, configured in the proxy only as its `*HEX` hash.
pub const HASHED_PASSWORD: &str = "h4shed-pw";

/// A TCP port on 127.0.0.1 free now, for a listener bound later. It is drawn below the
/// kernel's ephemeral range: a port the kernel hands out (`bind :0`) can be taken, before
/// its user binds it, by one of the many outgoing connections of tests running alongside
/// (seen in CI: the admin port "already in use").
pub fn free_port() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    (0..1000)
        .map(|_| fastrand::u16(10_000..low.max(20_000)))
        .find(|&p| TcpListener::bind(("127.0.0.1", p)).is_ok())
        .expect("no free port below the ephemeral range")
}

extern "C" fn stop_everything() {
    if let Ok(mut p) = PROXY.lock() {
        if let Some(child) = p.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
    if let Some(env) = ENV.get() {
        let mut c = Cluster::open(&env.cluster.dir).ok();
        if let Some(c) = c.as_mut() {
            let _ = c.down();
        }
        // The TempDir lives in a static, which is never dropped: remove it here.
        let _ = std::fs::remove_dir_all(env._dir.path());
    }
}

fn mariadbd_present() {
    let found = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .chain(["/usr/sbin".into()])
                .any(|d| d.join("mariadbd").exists())
        })
        .unwrap_or(false);
    assert!(
        found,
        "mariadbd not found: the integration tests need a real MariaDB. Install it with \
         `apt-get install -y mariadb-server mariadb-client sysbench`"
    );
}

/// The environment, started on first call.
pub fn env() -> &'static Env {
    ENV.get_or_init(|| {
        // Started on a thread of its own: tests call this from inside their runtimes.
        std::thread::spawn(start_env)
            .join()
            .unwrap_or_else(|_| panic!("test environment failed to start"))
    })
}

fn start_env() -> Env {
    {
        mariadbd_present();
        // A runtime of its own: the cluster outlives any one test's runtime.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::Builder::new()
            .prefix("rwproxy-it-")
            .tempdir()
            .expect("tempdir");
        let mut spec = ClusterSpec::new(dir.path().join("cluster"));
        spec.max_allowed_packet = Some(128 * 1024 * 1024);
        let mut cluster = rt.block_on(Cluster::up(&spec)).expect("cluster up");
        setup_users(&cluster);
        // The users reach the replicas by replication: tests may log in there at once.
        rt.block_on(cluster.wait_caught_up(Duration::from_secs(60)))
            .expect("replicas catch up with the test users");
        // Per-table row counters on every server: how tests see where reads ran.
        for n in &cluster.nodes {
            node_sql(&cluster, &n.name, "SET GLOBAL userstat = 1");
        }
        let proxy_port = free_port();
        let (admin_port, http_port) = (free_port(), free_port());
        let config_path = dir.path().join("rwproxy.toml");
        // The servers run with max_allowed_packet = 128M; so does the proxy, so clients
        // that read @@max_allowed_packet get what it says.
        let config = proxy_config(&cluster, proxy_port, admin_port, http_port).replacen(
            "[proxy]\n",
            "[proxy]\nmax_allowed_packet = 134217728\n",
            1,
        );
        std::fs::write(&config_path, config).expect("write config");
        // From here on the atexit hook stops everything (statics are never dropped).
        cluster.stop_on_drop(false);
        unsafe { libc::atexit(stop_everything) };
        start_proxy(&config_path, proxy_port, dir.path());
        Env {
            cluster,
            proxy_port,
            admin_port,
            http_port,
            _dir: dir,
        }
    }
}

/// The test proxy's config: the cluster's sample, the extra test users, and the admin
/// interfaces on their own free ports (parallel proxies never collide on 6032/6080).
fn proxy_config(cluster: &Cluster, port: u16, admin_port: u16, http_port: u16) -> String {
    let hash = {
        use sha1::{Digest, Sha1};
        let s1 = Sha1::digest(HASHED_PASSWORD.as_bytes());
        let s2 = Sha1::digest(s1);
        s2.iter().map(|b| format!("{b:02X}")).collect::<String>()
    };
    let base = cluster.sample_config(&format!("127.0.0.1:{port}"));
    format!(
        "{base}\n[[users]]\nname = \"hashed\"\npassword = \"*{hash}\"\n\n\
         [[users]]\nname = \"other\"\npassword = \"other\"\n\n\
         [[users]]\nname = \"edu\"\npassword = \"ed-pw\"\n\n\
         [admin]\nlisten = \"127.0.0.1:{admin_port}\"\nhttp = \"127.0.0.1:{http_port}\"\n"
    )
}

/// Extra accounts the tests log in as, created on the primary as the OS user (unix_socket
/// authentication over the node's socket) so they replicate everywhere.
fn setup_users(cluster: &Cluster) {
    // Plugins are not replicated: load ed25519 everywhere before a user needs it.
    for n in &cluster.nodes {
        node_sql(cluster, &n.name, "INSTALL SONAME 'auth_ed25519'");
    }
    let grants = rwproxy::cluster::APP_PRIVILEGES;
    let sql = format!(
        "CREATE USER IF NOT EXISTS 'hashed'@'%' IDENTIFIED BY '{HASHED_PASSWORD}'; \
         GRANT {grants} ON *.* TO 'hashed'@'%'; \
         CREATE USER IF NOT EXISTS 'other'@'%' IDENTIFIED BY 'other'; \
         GRANT {grants} ON *.* TO 'other'@'%'; \
         CREATE USER IF NOT EXISTS 'edu'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('ed-pw'); \
         GRANT {grants} ON *.* TO 'edu'@'%';"
    );
    admin_sql(cluster, &sql);
}

/// Runs SQL on the primary as its administrator, through the `mariadb` client.
pub fn admin_sql(cluster: &Cluster, sql: &str) -> String {
    node_sql(cluster, &cluster.primary().name, sql)
}

/// Runs SQL on node `name` as its administrator, through the `mariadb` client.
pub fn node_sql(cluster: &Cluster, name: &str, sql: &str) -> String {
    let socket = cluster.dir.join(format!("{name}.sock"));
    let out = Command::new("mariadb")
        .arg(format!("--socket={}", socket.display()))
        .args(["-N", "-B", "-e", sql])
        .output()
        .expect("run the mariadb client (apt-get install -y mariadb-client)");
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn start_proxy(config: &std::path::Path, port: u16, dir: &std::path::Path) {
    let log = std::fs::File::create(dir.join("rwproxy.log")).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_rwproxy"))
        .args(["--log-level", "warn", "run", "--config"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start rwproxy");
    *PROXY.lock().expect("proxy lock") = Some(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "rwproxy did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Process id of the proxy binary `env()` started.
pub fn proxy_pid() -> u32 {
    env();
    PROXY
        .lock()
        .expect("proxy lock")
        .as_ref()
        .map(Child::id)
        .expect("proxy running")
}

/// Connection options through the proxy.
pub fn proxy_opts(user: &str, password: &str, db: Option<&str>) -> mysql_async::Opts {
    let e = env();
    mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(e.proxy_port)
        .user(Some(user))
        .pass(Some(password))
        .db_name(db)
        .prefer_socket(false)
        .into()
}

/// Connection options for user `app` to a proxy (or server) on `port`, in schema `db`.
pub fn opts(port: u16, db: &str) -> mysql_async::Opts {
    mysql_async::OptsBuilder::from_opts(direct_opts("app", "app", Some(db)))
        .tcp_port(port)
        .into()
}

/// `n` point reads of table `r` (ids 1..=100) through `port`, on one connection.
pub async fn reads(port: u16, db: &str, n: usize) {
    let mut c = mysql_async::Conn::new(opts(port, db)).await.unwrap();
    for i in 0..n {
        let _: Option<i64> = c
            .query_first(format!("SELECT v FROM r WHERE id = {}", i % 100 + 1))
            .await
            .unwrap();
    }
    c.disconnect().await.unwrap();
}

/// Connection options straight to the primary.
pub fn direct_opts(user: &str, password: &str, db: Option<&str>) -> mysql_async::Opts {
    let e = env();
    mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(e.cluster.primary().port)
        .user(Some(user))
        .pass(Some(password))
        .db_name(db)
        .prefer_socket(false)
        .into()
}

/// Rows read from `schema.table` on each server (primary first), from MariaDB's
/// per-table statistics: where reads really ran, as the servers saw it.
pub fn rows_read(schema: &str, table: &str) -> Vec<u64> {
    let e = env();
    let sql = format!(
        "SELECT COALESCE(SUM(ROWS_READ), 0) FROM information_schema.TABLE_STATISTICS \
         WHERE TABLE_SCHEMA = '{schema}' AND TABLE_NAME = '{table}'"
    );
    e.cluster
        .nodes
        .iter()
        .map(|n| {
            node_sql(&e.cluster, &n.name, &sql)
                .trim()
                .parse()
                .unwrap_or(0)
        })
        .collect()
}

/// Waits until every replica has applied everything the primary wrote.
pub async fn caught_up() {
    env()
        .cluster
        .wait_caught_up(Duration::from_secs(30))
        .await
        .expect("replicas catch up");
}

/// Creates (or recreates) schema `name` on the primary and returns its name.
pub async fn fresh_schema(name: &str) -> String {
    let mut c = mysql_async::Conn::new(direct_opts("app", "app", None))
        .await
        .expect("connect");
    c.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
        .await
        .expect("drop");
    c.query_drop(format!("CREATE DATABASE `{name}`"))
        .await
        .expect("create");
    let _ = c.disconnect().await;
    name.to_string()
}

/// A second proxy, in this process, on its own ports with a config edited by `edit`
/// (e.g. TLS settings), written to a file of its own (so RELOAD/SAVE CONFIG work).
/// Stops when the returned guard is dropped.
pub struct InProcProxy {
    /// Its port.
    pub port: u16,
    /// Its SQL admin port.
    pub admin_port: u16,
    /// Its HTTP port.
    pub http_port: u16,
    /// Its config file.
    pub config_path: std::path::PathBuf,
    /// The proxy's shared state (runtime changes in tests).
    pub proxy: std::sync::Arc<rwproxy::server::Proxy>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for InProcProxy {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Starts an in-process proxy for the shared cluster; `edit` changes the TOML text.
pub async fn inproc_proxy(edit: impl FnOnce(String) -> String) -> InProcProxy {
    inproc_proxy_for(&env().cluster, edit).await
}

/// Starts an in-process proxy in front of `cluster` (e.g. one a test started itself);
/// `edit` changes the TOML text.
pub async fn inproc_proxy_for(
    cluster: &Cluster,
    edit: impl FnOnce(String) -> String,
) -> InProcProxy {
    let (port, admin_port, http_port) = (free_port(), free_port(), free_port());
    let text = edit(proxy_config(cluster, port, admin_port, http_port));
    let dir = tempfile::Builder::new()
        .prefix("rwproxy-inproc-")
        .tempdir()
        .expect("tempdir");
    let config_path = dir.path().join("inproc.toml");
    std::fs::write(&config_path, &text).expect("write config");
    let proxy = rwproxy::server::Proxy::from_file(&config_path).expect("proxy config");
    proxy.probe_flavour().await.expect("probe primary");
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let stop_monitor = tokio_util::sync::CancellationToken::new();
    rwproxy::admin::start(&proxy, &stop_monitor)
        .await
        .expect("admin listeners");
    proxy.spawn_monitor(stop_monitor.clone());
    tokio::spawn(rwproxy::server::run(listener, proxy.clone(), async move {
        let _ = rx.await;
        stop_monitor.cancel();
    }));
    // Serving (its session workers started), as `/health/ready` reports it.
    let started = std::time::Instant::now();
    while !proxy.listening.load(std::sync::atomic::Ordering::Relaxed) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "the in-process proxy did not start serving"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    InProcProxy {
        port,
        admin_port,
        http_port,
        config_path,
        proxy,
        stop: Some(tx),
        _dir: dir,
    }
}

/// Held by the tests that open thousands of connections, so they do not run at once
/// (together they would pass the process's open-files limit).
pub static THOUSANDS_OF_CONNECTIONS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Raises this process's open-files limit (the proxy it starts inherits it) and checks
/// there is room for every client socket on each side.
pub fn raise_fd_limit(need: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    assert!(
        lim.rlim_max >= need,
        "this test holds thousands of connections: it needs an open-files hard limit of at least \
         {need} (now {}); raise it with `ulimit -Hn {need}` or in /etc/security/limits.conf",
        lim.rlim_max
    );
}
