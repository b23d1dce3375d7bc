//! A ready-to-use rwproxy configuration for a launched cluster, so `rwproxy cluster up`, the demo
//! and the tests all point the proxy at the servers the same way.

use super::Cluster;
use std::fmt::Write as _;

/// Replication lag above which the sample config stops sending reads to a replica.
const SAMPLE_MAX_LAG_MS: u64 = 1000;

impl Cluster {
    /// A complete rwproxy TOML config: the proxy listening on `listen`, user `app`, the
    /// `monitor` credentials, the primary and every replica (weight 1, 1 s lag limit).
    /// `[admin]` is left out, so its defaults apply.
    pub fn sample_config(&self, listen: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "[proxy]\nlisten = {}\n", quote(listen));
        out.push_str("[[users]]\nname = \"app\"\npassword = \"app\"\n\n");
        out.push_str("[monitor]\nuser = \"monitor\"\npassword = \"monitor\"\n");
        for (i, node) in self.nodes.iter().enumerate() {
            let _ = write!(
                out,
                "\n[[backends]]\nname = {}\naddress = \"127.0.0.1:{}\"\n",
                quote(&node.name),
                node.port
            );
            if i == 0 {
                out.push_str("role = \"primary\"\n");
            } else {
                let _ = write!(
                    out,
                    "role = \"replica\"\nweight = 1\nmax_lag_ms = {SAMPLE_MAX_LAG_MS}\n"
                );
            }
        }
        out
    }
}

/// A TOML basic string holding `s`.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::super::NodeInfo;
    use super::*;
    use std::path::{Path, PathBuf};

    fn cluster() -> Cluster {
        let node = |name: &str, port: u16| NodeInfo {
            name: name.into(),
            port,
            server_id: 1,
            pid: 1,
            datadir: PathBuf::from("/nonexistent"),
        };
        let mut c = Cluster {
            dir: PathBuf::from("/nonexistent"),
            nodes: vec![
                node("primary", 4000),
                node("replica1", 4001),
                node("replica2", 4002),
            ],
            stop_on_drop: false,
            children: Vec::new(),
            socket_user: "root".into(),
            max_allowed_packet: None,
            server_options: Vec::new(),
        };
        c.stop_on_drop(false);
        c
    }

    #[test]
    fn sample_is_a_valid_rwproxy_config() {
        let text = cluster().sample_config("127.0.0.1:6033");
        let cfg = crate::config::Config::parse(&text, Path::new("sample.toml"))
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(cfg.proxy.listen, "127.0.0.1:6033");
        assert_eq!(cfg.backends.len(), 3);
        assert_eq!(cfg.backends[0].address, "127.0.0.1:4000");
        assert_eq!(cfg.backends[2].name, "replica2");
        assert_eq!(cfg.backends[2].max_lag_ms, 1000);
        assert_eq!(cfg.users[0].name, "app");
        assert_eq!(cfg.monitor.user, "monitor");
    }

    #[test]
    fn compose_config_matches_the_sample_but_for_addresses() {
        let file = Path::new("docker/rwproxy.toml");
        let docker =
            crate::config::Config::parse(DOCKER_CONFIG, file).unwrap_or_else(|e| panic!("{e}"));
        let sample = crate::config::Config::parse(
            &cluster().sample_config("127.0.0.1:6033"),
            Path::new("sample.toml"),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let users = |c: &crate::config::Config| {
            c.users
                .iter()
                .map(|u| (u.name.clone(), u.password.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(users(&docker), users(&sample));
        assert_eq!(docker.monitor.user, sample.monitor.user);
        assert_eq!(docker.monitor.password, sample.monitor.password);
        assert_eq!(docker.proxy.consistency, sample.proxy.consistency);
        assert_eq!(docker.backends.len(), sample.backends.len());
        for (d, s) in docker.backends.iter().zip(&sample.backends) {
            assert_eq!(d.name, s.name);
            assert_eq!(
                d.address,
                format!("{}:3306", s.name),
                "compose service names"
            );
            assert_eq!(
                (d.role, d.weight, d.max_lag_ms),
                (s.role, s.weight, s.max_lag_ms)
            );
        }
        // Contract: every listener inside the container, on the published ports.
        assert_eq!(docker.proxy.listen, "0.0.0.0:6033");
        assert_eq!(docker.admin.listen, "0.0.0.0:6032");
        assert_eq!(docker.admin.http, "0.0.0.0:6080");
    }

    /// The compose cluster's proxy config.
    const DOCKER_CONFIG: &str = include_str!("../../docker/rwproxy.toml");
}
