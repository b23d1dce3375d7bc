//! The TOML configuration: its shape (the keys in `DESIGN.md`), defaults, and complete
//! validation before anything uses it.
//!
//! A bad file is reported as `file: key: reason` so `rwproxy check` can tell a DBA exactly
//! what to fix. Validation happens once, at load; the running proxy only ever sees a
//! validated [`Config`].

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// MySQL 8's default `max_allowed_packet`: 64 MiB.
pub const DEFAULT_MAX_ALLOWED_PACKET: usize = 64 * 1024 * 1024;

/// Smallest non-zero `[proxy] backend_read_timeout_ms`: below it, ordinary queries
/// on a busy server would be cut off.
pub const MIN_BACKEND_READ_TIMEOUT_MS: u64 = 100;
/// Largest `[proxy] backend_read_timeout_ms`: one day.
pub const MAX_BACKEND_READ_TIMEOUT_MS: u64 = 86_400_000;

/// Why a configuration file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Read {
        /// The file named on the command line.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or a key has the wrong type or name.
    #[error("{file}: {key}: {reason}")]
    Invalid {
        /// The file named on the command line.
        file: PathBuf,
        /// The offending key, as a dotted path (`backends[1].address`).
        key: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The whole configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The client-facing listener and its limits.
    #[serde(default)]
    pub proxy: ProxyConfig,
    /// The admin interfaces.
    #[serde(default)]
    pub admin: AdminConfig,
    /// Who may connect; the same credentials log in to the backends.
    #[serde(default)]
    pub users: Vec<UserConfig>,
    /// Credentials and cadence of the replication monitor.
    #[serde(default)]
    pub monitor: MonitorConfig,
    /// The MariaDB/MySQL servers behind the proxy.
    #[serde(default)]
    pub backends: Vec<BackendConfig>,
    /// Routing overrides, first match wins.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
}

/// One `[[rules]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Regex the statement text must match.
    #[serde(rename = "match")]
    pub pattern: Option<String>,
    /// Only for this user.
    pub user: Option<String>,
    /// Only in this schema.
    pub schema: Option<String>,
    /// `primary`, `replica`, or a backend's name.
    pub route: String,
    /// Staleness bound for reads this rule matches.
    pub max_lag_ms: Option<u64>,
}

/// Read consistency a session gets by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Consistency {
    /// Reads after a write see that write (GTID tracking).
    #[default]
    ReadYourWrites,
    /// Reads may go to any replica within its lag limit.
    Eventual,
    /// Every statement goes to the primary.
    Primary,
}

/// Whether the primary takes reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PrimaryReads {
    /// Only when no replica qualifies.
    #[default]
    Fallback,
    /// Always a candidate, by its weight.
    Always,
    /// Never: a read with no qualifying replica fails with a clear error.
    Never,
}

/// `[proxy]`: the client-facing side.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProxyConfig {
    /// Address clients connect to.
    pub listen: String,
    /// Default read consistency.
    pub consistency: Consistency,
    /// Whether the primary takes reads.
    pub primary_reads: PrimaryReads,
    /// While no backend is writable (failover), how long a write waits for one.
    pub write_hold_ms: u64,
    /// Largest packet (logical, after joining 16 MiB pieces) a client may send.
    pub max_allowed_packet: usize,
    /// PEM certificate chain for TLS; TLS is offered only when both cert and key are set.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    pub tls_key: Option<PathBuf>,
    /// Refuse clients that do not upgrade to TLS.
    pub require_tls: bool,
    /// Time allowed to connect and log in to a backend.
    pub connect_timeout_ms: u64,
    /// Time a client has to complete the handshake.
    pub handshake_timeout_ms: u64,
    /// Client connections served at once; the next one gets ERR 1040 (Too many
    /// connections) instead of a greeting, like the server at its `max_connections`.
    pub max_client_connections: usize,
    /// On shutdown (SIGTERM, Ctrl-C), how long a session in a transaction may go on to
    /// finish it; idle sessions are closed at once.
    pub shutdown_timeout_ms: u64,
    /// Longest a read waits for a replica to apply the session's last write before it
    /// goes to the primary instead (read-your-writes).
    pub causal_wait_ms: u64,
    /// Longest the proxy waits for the next bytes of a backend's response, or for a
    /// backend that stopped reading to take the rest of a request (0 = no limit). On
    /// expiry the backend connection is dropped and the request fails like a lost
    /// connection: a read nothing of which reached the client is retried on another
    /// backend, anything else gets CR_SERVER_LOST (2013) and is never re-sent.
    pub backend_read_timeout_ms: u64,
    /// Failed handshakes in a row after which a client IP is refused (ERR 1129) until
    /// `FLUSH HOSTS` on the admin port, like MariaDB's `max_connect_errors`; a
    /// successful login resets the count. 0 = off.
    pub max_connect_errors: u32,
    /// Client sessions run on this many single-threaded workers, each session wholly on
    /// one (thread per core, no cross-thread wakeups); 0 = tokio's multi-threaded
    /// work-stealing scheduler. Default: one per CPU ([`default_workers`]).
    pub workers: usize,
    /// Return a session's backend connections to the pool after each statement when
    /// nothing ties the session to them (no transaction, pin, prepared statement, or
    /// result a next statement may ask about), so many clients share few connections.
    pub multiplexing: bool,
    /// A pooled connection idle longer than this (counted from the server's last answer
    /// on it) is closed (0 = kept until the server closes it), so the connections a
    /// burst opened go away after it.
    pub pool_idle_timeout_ms: u64,
    /// When a backend is at its `max_connections`, how long a request waits for one of
    /// its connections to come free before it fails with ERR 1040.
    pub queue_timeout_ms: u64,
    /// Requests that may wait for a connection to one backend at once; the next one
    /// fails at once with ERR 1040.
    pub max_queued: usize,
    /// TLS on the proxy's own connections to the backends (pool and monitor).
    pub backend_tls: BackendTlsMode,
    /// PEM file of the CA certificate(s) that sign the backends' certificates (with
    /// `backend_tls = "verify"`); unset = the public web PKI roots (webpki-roots).
    pub backend_tls_ca: Option<PathBuf>,
    /// Name the backends' certificates must carry (with "verify"); unset = the host
    /// part of each backend's address.
    pub backend_tls_server_name: Option<String>,
}

/// `[proxy] backend_tls`: whether and how the proxy encrypts its backend connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum BackendTlsMode {
    /// Plaintext.
    #[default]
    Off,
    /// Encrypted, the server's certificate not checked (protects against eavesdropping
    /// only); a server that does not offer TLS is refused.
    On,
    /// Encrypted, the certificate chain checked against `backend_tls_ca` and the name
    /// against `backend_tls_server_name` (or the address's host).
    Verify,
}

/// The backend TLS settings of `[proxy]`, gathered for the code that connects to the
/// backends (the pool and the monitor's probes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendTlsSettings {
    /// Off, on or verify.
    pub mode: BackendTlsMode,
    /// CA file for "verify".
    pub ca: Option<PathBuf>,
    /// Certificate name override for "verify".
    pub server_name: Option<String>,
}

impl ProxyConfig {
    /// The backend TLS settings.
    pub fn backend_tls_settings(&self) -> BackendTlsSettings {
        BackendTlsSettings {
            mode: self.backend_tls,
            ca: self.backend_tls_ca.clone(),
            server_name: self.backend_tls_server_name.clone(),
        }
    }
}

/// `[proxy] workers` when unset: one per CPU the process may use, as MaxScale's
/// `threads = auto`. Measured against tokio's work-stealing scheduler (0) on a 2-CPU
/// machine that also ran sysbench and three servers (interleaved rounds): point selects
/// at 8 clients 16% more QPS (6 of 6 rounds), the machine's idle time per query down
/// from 15 to 4 µs, as no request waits for a sleeping thread to wake and steal it; at
/// 32 clients 3% more (4 of 6); read_write at 32 even (10 rounds, 0.99×).
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            listen: "127.0.0.1:6033".into(),
            consistency: Consistency::default(),
            primary_reads: PrimaryReads::default(),
            write_hold_ms: 3000,
            max_allowed_packet: DEFAULT_MAX_ALLOWED_PACKET,
            tls_cert: None,
            tls_key: None,
            require_tls: false,
            connect_timeout_ms: 3000,
            handshake_timeout_ms: 10_000,
            max_client_connections: 4096,
            shutdown_timeout_ms: 10_000,
            causal_wait_ms: 500,
            workers: default_workers(),
            multiplexing: true,
            pool_idle_timeout_ms: 60_000,
            queue_timeout_ms: 3000,
            max_queued: 4096,
            backend_tls: BackendTlsMode::Off,
            backend_tls_ca: None,
            backend_tls_server_name: None,
            backend_read_timeout_ms: 30_000,
            max_connect_errors: 100,
        }
    }
}

/// `[admin]`: SQL admin port and HTTP endpoint.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// SQL admin listener; "" disables it.
    pub listen: String,
    /// HTTP listener (metrics, health, JSON API); "" disables it.
    pub http: String,
    /// Admin user name (the admin port accepts no other; the proxy port not this one,
    /// unless it is also a `[[users]]` entry).
    pub user: String,
    /// Admin password (plaintext or a `*` + 40 hex digits mysql_native_password hash).
    pub password: Password,
    /// Statements slower than this many ms are logged (0 = off).
    pub slow_ms: u64,
    /// Keep per-fingerprint statistics (`SHOW DIGESTS`).
    pub digests: bool,
    /// Most fingerprints kept; later ones count under `(other)`.
    pub max_digests: usize,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: "127.0.0.1:6032".into(),
            http: "127.0.0.1:6080".into(),
            user: "admin".into(),
            password: "admin".into(),
            slow_ms: 1000,
            digests: true,
            max_digests: 2000,
        }
    }
}

/// A password from the config file (plaintext, or a `*` + 40 hex digits hash). Its
/// `Debug` never shows it, so no log line or error message can carry a secret.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Password(String);

impl Password {
    /// The password as written in the file.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Password {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Password {
    fn from(s: &str) -> Password {
        Password(s.to_string())
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hidden>")
    }
}

/// One `[[users]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// User name, as clients send it and as it exists on the backends.
    pub name: String,
    /// Plaintext password, or a mysql_native_password hash `*` + 40 hex digits.
    pub password: Password,
    /// Sessions this user may have open at once; the next login gets ERR 1203, like
    /// MariaDB's `max_user_connections`. 0 = unlimited.
    #[serde(default)]
    pub max_connections: u32,
}

/// `[monitor]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitorConfig {
    /// Monitor user on every backend.
    pub user: String,
    /// Its password.
    pub password: Password,
    /// Probe interval.
    pub interval_ms: u64,
    /// Longest a probe (connect or query) may take before the backend counts as down.
    pub timeout_ms: u64,
    /// A readmitted replica's share ramps from 10% to its full weight over this long.
    pub slow_start_ms: u64,
    /// Not a key of `[monitor]`: `[proxy]`'s backend TLS settings, copied at load, so the
    /// probes connect to the backends as the pool does (and a change renews them).
    #[serde(skip)]
    pub tls: BackendTlsSettings,
}

impl Default for MonitorConfig {
    fn default() -> Self {
        MonitorConfig {
            user: "monitor".into(),
            password: "monitor".into(),
            interval_ms: 250,
            timeout_ms: 1000,
            slow_start_ms: 5000,
            tls: BackendTlsSettings::default(),
        }
    }
}

/// What a backend is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Takes writes, transactions and session-sensitive statements.
    Primary,
    /// Takes plain reads.
    Replica,
}

/// One `[[backends]]` entry.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendConfig {
    /// Unique name used in logs and the admin interface.
    pub name: String,
    /// `host:port`.
    pub address: String,
    /// Primary or replica.
    pub role: Role,
    /// Share of reads (0 = none).
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Replication lag above which the backend gets no reads.
    #[serde(default = "default_max_lag")]
    pub max_lag_ms: u64,
    /// `offline` or `draining` to start (or reload) it taken out, as `SAVE CONFIG`
    /// writes after an admin change; absent = `online`.
    #[serde(default)]
    pub state: AdminState,
    /// Most connections the proxy opens to it (idle in the pool or in use); more
    /// requests wait up to `[proxy] queue_timeout_ms` for one to come free.
    #[serde(default = "default_max_connections")]
    pub max_connections: u32,
}

/// The states a DBA sets on a backend (the monitor sets the others).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AdminState {
    /// In service; the monitor decides Online, Lagging or Down.
    #[default]
    Online,
    /// No new statements.
    Offline,
    /// No new reads; on a primary, no new sessions.
    Draining,
}

impl AdminState {
    /// The lower-case name used in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            AdminState::Online => "online",
            AdminState::Offline => "offline",
            AdminState::Draining => "draining",
        }
    }
}

/// `weight` when a backend does not set it.
pub fn default_weight() -> u32 {
    1
}

/// `max_connections` when a backend does not set it.
pub fn default_max_connections() -> u32 {
    1000
}

/// `max_lag_ms` when a backend does not set it.
pub fn default_max_lag() -> u64 {
    1000
}

impl Config {
    /// Reads, parses and validates `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            file: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and validates TOML text; `file` names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        let invalid = |key: String, reason: String| ConfigError::Invalid {
            file: file.to_owned(),
            key,
            reason,
        };
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let key = e
                .span()
                .map(|s| locate(text, s.start))
                .unwrap_or_else(|| "(file)".into());
            invalid(key, e.message().to_string())
        })?;
        config.validate().map_err(|(k, r)| invalid(k, r))?;
        config.monitor.tls = config.proxy.backend_tls_settings();
        Ok(config)
    }

    /// The one backend with `role = "primary"`.
    pub fn primary(&self) -> &BackendConfig {
        // validate() guarantees exactly one.
        self.backends
            .iter()
            .find(|b| b.role == Role::Primary)
            .unwrap_or(&self.backends[0])
    }

    fn validate(&self) -> Result<(), (String, String)> {
        let addr = |key: &str, v: &str| {
            v.parse::<SocketAddr>()
                .map(|_| ())
                .map_err(|e| (key.to_string(), format!("`{v}` is not host:port ({e})")))
        };
        addr("proxy.listen", &self.proxy.listen)?;
        // "" turns an admin listener off.
        if !self.admin.listen.is_empty() {
            addr("admin.listen", &self.admin.listen)?;
        }
        if !self.admin.http.is_empty() {
            addr("admin.http", &self.admin.http)?;
        }
        if self.admin.user.is_empty() {
            return Err(("admin.user".into(), "must not be empty".into()));
        }
        if let Some(hex) = self.admin.password.strip_prefix('*') {
            if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err((
                    "admin.password".into(),
                    "a `*` hash must be `*` followed by 40 hex digits".into(),
                ));
            }
        }
        if self.proxy.max_allowed_packet < 1024 || self.proxy.max_allowed_packet > 1 << 30 {
            return Err((
                "proxy.max_allowed_packet".into(),
                "must be between 1024 and 1073741824 bytes".into(),
            ));
        }
        if self.proxy.tls_cert.is_some() != self.proxy.tls_key.is_some() {
            return Err((
                "proxy.tls_cert".into(),
                "tls_cert and tls_key must be set together".into(),
            ));
        }
        if self.proxy.require_tls && self.proxy.tls_cert.is_none() {
            return Err((
                "proxy.require_tls".into(),
                "require_tls needs tls_cert and tls_key".into(),
            ));
        }
        self.validate_backend_tls()?;
        if self.proxy.max_client_connections == 0 {
            return Err(("proxy.max_client_connections".into(), "must be > 0".into()));
        }
        if self.proxy.max_queued == 0 {
            return Err(("proxy.max_queued".into(), "must be > 0".into()));
        }
        let t = self.proxy.backend_read_timeout_ms;
        if t != 0 && !(MIN_BACKEND_READ_TIMEOUT_MS..=MAX_BACKEND_READ_TIMEOUT_MS).contains(&t) {
            return Err((
                "proxy.backend_read_timeout_ms".into(),
                format!(
                    "must be 0 (no limit) or between {MIN_BACKEND_READ_TIMEOUT_MS} and \
                     {MAX_BACKEND_READ_TIMEOUT_MS} ms (got {t})"
                ),
            ));
        }
        if self.monitor.interval_ms == 0 {
            return Err(("monitor.interval_ms".into(), "must be > 0".into()));
        }
        if self.users.is_empty() {
            return Err((
                "users".into(),
                "at least one [[users]] entry is needed".into(),
            ));
        }
        for (i, u) in self.users.iter().enumerate() {
            if u.name.is_empty() {
                return Err((format!("users[{i}].name"), "must not be empty".into()));
            }
            if self.users[..i].iter().any(|o| o.name == u.name) {
                return Err((
                    format!("users[{i}].name"),
                    format!("duplicate user `{}`", u.name),
                ));
            }
            if let Some(hex) = u.password.strip_prefix('*') {
                if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err((
                        format!("users[{i}].password"),
                        "a `*` hash must be `*` followed by 40 hex digits".into(),
                    ));
                }
            }
        }
        self.validate_backends()
    }

    /// A CA or name override only means something when certificates are verified: set
    /// with "off" or "on" they would give a false sense of security, so they are refused.
    fn validate_backend_tls(&self) -> Result<(), (String, String)> {
        let p = &self.proxy;
        for (key, set) in [
            ("proxy.backend_tls_ca", p.backend_tls_ca.is_some()),
            (
                "proxy.backend_tls_server_name",
                p.backend_tls_server_name.is_some(),
            ),
        ] {
            if set && p.backend_tls != BackendTlsMode::Verify {
                return Err((
                    key.into(),
                    "is used only with backend_tls = \"verify\" (certificates are not checked otherwise)".into(),
                ));
            }
        }
        if let Some(name) = &p.backend_tls_server_name {
            if rustls::pki_types::ServerName::try_from(name.as_str()).is_err() {
                return Err((
                    "proxy.backend_tls_server_name".into(),
                    format!("`{name}` is neither a DNS name nor an IP address"),
                ));
            }
        }
        Ok(())
    }

    fn validate_backends(&self) -> Result<(), (String, String)> {
        if self.backends.is_empty() {
            return Err((
                "backends".into(),
                "at least one [[backends]] entry is needed".into(),
            ));
        }
        for (i, b) in self.backends.iter().enumerate() {
            if b.name.is_empty() {
                return Err((format!("backends[{i}].name"), "must not be empty".into()));
            }
            if self.backends[..i].iter().any(|o| o.name == b.name) {
                return Err((
                    format!("backends[{i}].name"),
                    format!("duplicate backend `{}`", b.name),
                ));
            }
            if b.max_connections == 0 {
                return Err((
                    format!("backends[{i}].max_connections"),
                    "must be > 0".into(),
                ));
            }
            if b.address
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u16>().ok())
                .is_none()
            {
                return Err((
                    format!("backends[{i}].address"),
                    format!("`{}` is not host:port", b.address),
                ));
            }
        }
        for (i, r) in self.rules.iter().enumerate() {
            let named = r.route == "primary" || r.route == "replica";
            if !named && !self.backends.iter().any(|b| b.name == r.route) {
                return Err((
                    format!("rules[{i}].route"),
                    format!(
                        "`{}` is neither primary, replica nor a backend's name",
                        r.route
                    ),
                ));
            }
        }
        crate::router::rules::Rules::compile(&self.rules)?;
        let primaries = self
            .backends
            .iter()
            .filter(|b| b.role == Role::Primary)
            .count();
        if primaries != 1 {
            return Err((
                "backends".into(),
                format!("exactly one backend must have role = \"primary\" (found {primaries})"),
            ));
        }
        Ok(())
    }
}

/// Names the key around byte offset `at`: the nearest `[table]` header above it and the
/// key on its line, e.g. `proxy.listen` or `backends[1].role`.
fn locate(text: &str, at: usize) -> String {
    let before = &text[..at.min(text.len())];
    let mut table = String::new();
    let mut counts: std::collections::HashMap<String, usize> = Default::default();
    for line in before.lines() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("[[").and_then(|r| r.strip_suffix("]]")) {
            let n = counts.entry(name.to_string()).or_insert(0);
            table = format!("{name}[{n}]");
            *n += 1;
        } else if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            table = name.to_string();
        }
    }
    let line = before.rsplit('\n').next().unwrap_or("");
    let full_line = text[before.len() - line.len()..]
        .lines()
        .next()
        .unwrap_or("");
    let key = full_line.split('=').next().unwrap_or("").trim();
    match (table.is_empty(), key.is_empty() || key.starts_with('[')) {
        (true, _) => key.to_string(),
        (false, true) => table,
        (false, false) => format!("{table}.{key}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[proxy]
listen = "127.0.0.1:6033"
[[users]]
name = "app"
password = "app"
[[backends]]
name = "primary"
address = "127.0.0.1:3307"
role = "primary"
[[backends]]
name = "replica1"
address = "127.0.0.1:3308"
role = "replica"
"#;

    fn err(text: &str) -> String {
        Config::parse(text, Path::new("x.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn good_config_loads_with_defaults() {
        let c = Config::parse(GOOD, Path::new("x.toml")).unwrap();
        assert_eq!(c.proxy.max_allowed_packet, DEFAULT_MAX_ALLOWED_PACKET);
        assert_eq!(c.primary().name, "primary");
        assert_eq!(c.backends[1].weight, 1);
    }

    #[test]
    fn wrong_type_names_file_and_key() {
        let e = err(&GOOD.replace("role = \"replica\"", "role = \"leader\""));
        assert!(e.starts_with("x.toml: backends[1].role:"), "{e}");
    }

    #[test]
    fn unknown_key_is_refused() {
        let e = err(&GOOD.replace("[proxy]", "[proxy]\nlisten_port = 3"));
        assert!(
            e.contains("proxy.listen_port") && e.contains("unknown field"),
            "{e}"
        );
    }

    #[test]
    fn admin_listeners_can_be_off_and_states_set() {
        let text = format!(
            "{GOOD}state = \"draining\"\n[admin]\nlisten = \"\"\nhttp = \"\"\nslow_ms = 0\n"
        );
        let c = Config::parse(&text, Path::new("x.toml")).unwrap();
        assert!(c.admin.listen.is_empty() && c.admin.http.is_empty());
        assert_eq!(c.backends[1].state, AdminState::Draining);
        let shown = format!("{:?}", c.admin);
        assert!(shown.contains("<hidden>") && !shown.contains("password: \"admin\""));
    }

    #[test]
    fn no_password_shows_in_debug_output() {
        let text = GOOD.replace("password = \"app\"", "password = \"s3cret-user\"")
            + "[monitor]\nuser = \"monitor\"\npassword = \"s3cret-monitor\"\n\
               [admin]\npassword = \"s3cret-admin\"\n";
        let c = Config::parse(&text, Path::new("x.toml")).unwrap();
        assert_eq!(c.users[0].password.as_str(), "s3cret-user");
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert_eq!(shown.matches("<hidden>").count(), 3, "{shown}");
        let e = err(&format!("{GOOD}state = \"lagging\"\n"));
        assert!(e.starts_with("x.toml: backends[1].state:"), "{e}");
        let e = err(&format!("{GOOD}[admin]\nhttp = \"nowhere\"\n"));
        assert!(e.starts_with("x.toml: admin.http:"), "{e}");
    }

    #[test]
    fn connection_limits_have_defaults_and_are_read() {
        let c = Config::parse(GOOD, Path::new("x.toml")).unwrap();
        assert_eq!(c.proxy.max_connect_errors, 100);
        assert_eq!(c.users[0].max_connections, 0);
        let text = GOOD
            .replace("[proxy]\n", "[proxy]\nmax_connect_errors = 0\n")
            .replace(
                "password = \"app\"",
                "password = \"app\"\nmax_connections = 5",
            );
        let c = Config::parse(&text, Path::new("x.toml")).unwrap();
        assert_eq!(c.proxy.max_connect_errors, 0);
        assert_eq!(c.users[0].max_connections, 5);
        let e = err(&GOOD.replace(
            "password = \"app\"",
            "password = \"app\"\nmax_connections = -1",
        ));
        assert!(e.starts_with("x.toml: users[0].max_connections:"), "{e}");
    }

    #[test]
    fn semantic_errors_name_the_key() {
        let e = err(&GOOD.replace("127.0.0.1:6033", "nowhere"));
        assert!(e.starts_with("x.toml: proxy.listen:"), "{e}");
        let e = err(&GOOD.replace("role = \"replica\"", "role = \"primary\""));
        assert!(e.contains("exactly one backend"), "{e}");
        let e = err(&GOOD.replace("password = \"app\"", "password = \"*12AB\""));
        assert!(e.starts_with("x.toml: users[0].password:"), "{e}");
    }

    #[test]
    fn backend_tls_keys_are_checked_and_reach_the_monitor() {
        let c = Config::parse(GOOD, Path::new("x.toml")).unwrap();
        assert_eq!(c.proxy.backend_tls, BackendTlsMode::Off);
        let with = |extra: &str| GOOD.replace("[proxy]\n", &format!("[proxy]\n{extra}\n"));
        let e = err(&with("backend_tls = \"maybe\""));
        assert!(e.starts_with("x.toml: proxy.backend_tls:"), "{e}");
        let e = err(&with("backend_tls = \"on\"\nbackend_tls_ca = \"/ca.pem\""));
        assert!(e.starts_with("x.toml: proxy.backend_tls_ca:"), "{e}");
        let e = err(&with("backend_tls_server_name = \"db.example\""));
        assert!(
            e.starts_with("x.toml: proxy.backend_tls_server_name:"),
            "{e}"
        );
        let e = err(&with(
            "backend_tls = \"verify\"\nbackend_tls_server_name = \"not a name\"",
        ));
        assert!(e.contains("neither a DNS name"), "{e}");
        let text = with(
            "backend_tls = \"verify\"\nbackend_tls_ca = \"/ca.pem\"\n\
             backend_tls_server_name = \"db.example\"",
        );
        let c = Config::parse(&text, Path::new("x.toml")).unwrap();
        assert_eq!(c.monitor.tls, c.proxy.backend_tls_settings());
        assert_eq!(c.monitor.tls.mode, BackendTlsMode::Verify);
        assert_eq!(c.monitor.tls.server_name.as_deref(), Some("db.example"));
    }

    #[test]
    fn backend_read_timeout_is_zero_or_in_range() {
        let c = Config::parse(GOOD, Path::new("x.toml")).unwrap();
        assert_eq!(c.proxy.backend_read_timeout_ms, 30_000);
        for ok in [0, 100, 500, 86_400_000] {
            let text = GOOD.replace(
                "[proxy]",
                &format!("[proxy]\nbackend_read_timeout_ms = {ok}"),
            );
            let c = Config::parse(&text, Path::new("x.toml")).unwrap();
            assert_eq!(c.proxy.backend_read_timeout_ms, ok);
        }
        for bad in [1, 99, 86_400_001] {
            let e = err(&GOOD.replace(
                "[proxy]",
                &format!("[proxy]\nbackend_read_timeout_ms = {bad}"),
            ));
            assert!(
                e.starts_with("x.toml: proxy.backend_read_timeout_ms: must be 0"),
                "{e}"
            );
        }
    }
}
