//! `SAVE CONFIG`: writes the runtime changes (each backend's weight, max_lag_ms and
//! admin state) back into the config file with toml_edit, so comments, key order and
//! layout stay as the DBA wrote them. Only those three keys of existing `[[backends]]`
//! entries are touched; `state` is written only when it is not `online` (and removed
//! when it goes back). The new text is validated before it replaces the file (written
//! to a temporary file in the same directory, then renamed), and becomes the running
//! config, so a later `RELOAD CONFIG` is a no-op.

use super::reload::ReloadError;
use crate::config::Config;
use crate::replication::BackendState;
use crate::server::Proxy;
use std::path::Path;
use std::sync::Arc;
use toml_edit::{value, DocumentMut, Item};

/// A backend's runtime values to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    /// Backend name.
    pub name: String,
    /// Read weight.
    pub weight: u32,
    /// Lag limit.
    pub max_lag_ms: u64,
    /// Admin state: "offline", "draining", or None for online.
    pub state: Option<&'static str>,
}

/// Sets `key` in `table` only if it differs, keeping the value's decoration (the
/// comment after it); a missing key whose default is `v` stays missing.
fn set_int(table: &mut toml_edit::Table, key: &str, v: i64, default: i64) -> bool {
    if let Some(item) = table.get_mut(key) {
        if item.as_integer() == Some(v) {
            return false;
        }
        if let Some(old) = item.as_value() {
            let decor = old.decor().clone();
            let mut new = toml_edit::Value::from(v);
            *new.decor_mut() = decor;
            *item = Item::Value(new);
            return true;
        }
    }
    if table.get(key).is_none() && v == default {
        return false;
    }
    table.insert(key, value(v));
    true
}

/// Rewrites `text` with `runtime`'s values; returns the new text and how many keys
/// changed. Backends not in the file are reported as errors.
pub fn rewrite(text: &str, runtime: &[Runtime]) -> Result<(String, usize), String> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| e.to_string())?;
    let tables = doc
        .get_mut("backends")
        .and_then(Item::as_array_of_tables_mut)
        .ok_or("the file has no [[backends]] entries")?;
    let mut changed = 0;
    for r in runtime {
        let t = tables
            .iter_mut()
            .find(|t| t.get("name").and_then(Item::as_str) == Some(r.name.as_str()))
            .ok_or_else(|| {
                format!(
                    "backend '{}' is not in the file (edited since the last reload?)",
                    r.name
                )
            })?;
        changed += usize::from(set_int(
            t,
            "weight",
            r.weight as i64,
            crate::config::default_weight() as i64,
        ));
        changed += usize::from(set_int(
            t,
            "max_lag_ms",
            r.max_lag_ms as i64,
            crate::config::default_max_lag() as i64,
        ));
        match r.state {
            Some(s) if t.get("state").and_then(Item::as_str) != Some(s) => {
                t.insert("state", value(s));
                changed += 1;
            }
            None if t.contains_key("state") => {
                t.remove("state");
                changed += 1;
            }
            _ => {}
        }
    }
    Ok((doc.to_string(), changed))
}

/// What the running backends would write.
pub fn runtime(proxy: &Proxy) -> Vec<Runtime> {
    proxy
        .topology
        .load()
        .backends
        .iter()
        .map(|b| Runtime {
            name: b.name.to_string(),
            weight: b.weight(),
            max_lag_ms: b.max_lag_ms(),
            state: match b.state() {
                BackendState::Offline => Some("offline"),
                BackendState::Draining => Some("draining"),
                _ => None,
            },
        })
        .collect()
}

/// Writes the runtime values into the proxy's config file; returns the keys changed.
pub async fn save(proxy: &Proxy) -> Result<usize, ReloadError> {
    let _one = proxy.reload_lock.lock().await;
    let path = proxy.config_path.as_ref().ok_or(ReloadError::NoFile)?;
    let io = |e: std::io::Error| ReloadError::Io(format!("{}: {e}", path.display()));
    let text = std::fs::read_to_string(path).map_err(io)?;
    let (new_text, changed) = rewrite(&text, &runtime(proxy))
        .map_err(|e| ReloadError::Io(format!("{}: {e}", path.display())))?;
    let config = Config::parse(&new_text, path)?;
    if changed > 0 {
        write_atomically(path, &new_text).map_err(io)?;
    }
    proxy.config.store(Arc::new(config));
    tracing::warn!(file = %path.display(), keys = changed, "config saved");
    Ok(changed)
}

/// Replaces `path` with `text` through a temporary file in the same directory, keeping
/// the file's permissions.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.rwproxy-save"));
    std::fs::write(&tmp, text)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"# rwproxy config, hand-written
[proxy]
listen = "127.0.0.1:6033"   # clients

[[users]]
name = "app"
password = "app"

[[backends]]
name = "primary"
address = "127.0.0.1:3307"
role = "primary"

# the fast one
[[backends]]
name = "replica1"
address = "127.0.0.1:3308"
role = "replica"
weight = 1        # reads share
max_lag_ms = 1000
"#;

    #[test]
    fn keeps_comments_and_layout() {
        let rt = vec![
            Runtime {
                name: "primary".into(),
                weight: 1,
                max_lag_ms: 1000,
                state: None,
            },
            Runtime {
                name: "replica1".into(),
                weight: 5,
                max_lag_ms: 1000,
                state: Some("offline"),
            },
        ];
        let (out, changed) = rewrite(FILE, &rt).unwrap();
        // Only replica1's weight and state change (the primary's defaults stay unset).
        assert_eq!(changed, 2, "{out}");
        assert!(
            !out[..out.find("# the fast one").unwrap()].contains("weight"),
            "{out}"
        );
        assert!(out.contains("weight = 5        # reads share"), "{out}");
        assert!(out.contains("# the fast one\n[[backends]]"), "{out}");
        assert!(
            out.contains("listen = \"127.0.0.1:6033\"   # clients"),
            "{out}"
        );
        assert!(out.contains("state = \"offline\""), "{out}");
        let c = Config::parse(&out, Path::new("x.toml")).unwrap();
        assert_eq!(c.backends[1].weight, 5);
        assert_eq!(c.backends[1].state, crate::config::AdminState::Offline);
        // Saving the same values again changes nothing; back online removes the key.
        let (again, n) = rewrite(&out, &rt).unwrap();
        assert_eq!((n, again.as_str()), (0, out.as_str()));
        let mut online = rt.clone();
        online[1].state = None;
        let (back, _) = rewrite(&out, &online).unwrap();
        assert!(!back.contains("state ="), "{back}");
        let unknown = vec![Runtime {
            name: "nope".into(),
            ..rt[0].clone()
        }];
        assert!(rewrite(FILE, &unknown).unwrap_err().contains("nope"));
    }
}
