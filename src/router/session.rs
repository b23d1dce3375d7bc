//! `SessionState`: what the proxy knows about one client session, learned from the
//! server's own responses (status flags and session tracking), never by guessing at SQL.

use crate::protocol::constants::status::*;
use crate::protocol::packets::OkInfo;

/// One client session's state.
#[derive(Debug, Clone, Default)]
pub struct SessionState {
    /// The current schema, if known.
    pub schema: Option<String>,
    /// Last server status flags seen.
    pub status: u16,
    /// True once the session has a backend connection.
    pub has_backend: bool,
    /// System variables the server reported changed (name, value), latest last.
    pub variables: Vec<(String, String)>,
}

impl SessionState {
    /// A transaction is open (SERVER_STATUS_IN_TRANS).
    pub fn in_transaction(&self) -> bool {
        self.status & SERVER_STATUS_IN_TRANS != 0
    }

    /// Autocommit is on (SERVER_STATUS_AUTOCOMMIT).
    pub fn autocommit(&self) -> bool {
        self.status & SERVER_STATUS_AUTOCOMMIT != 0
    }

    /// The open transaction is READ ONLY.
    pub fn read_only_transaction(&self) -> bool {
        self.status & SERVER_STATUS_IN_TRANS_READONLY != 0
    }

    /// Records the end of a response: its final status flags and any OK packet.
    pub fn observe(&mut self, status: Option<u16>, ok: Option<&OkInfo>) {
        if let Some(s) = status {
            self.status = s;
        }
        if let Some(ok) = ok {
            if let Some(schema) = &ok.schema {
                self.schema = Some(schema.clone());
            }
            for (name, value) in &ok.variables {
                self.variables.retain(|(n, _)| n != name);
                self.variables.push((name.clone(), value.clone()));
            }
        }
    }

    /// Forgets everything a COM_RESET_CONNECTION clears (the schema stays).
    pub fn reset(&mut self) {
        self.variables.clear();
        self.status = SERVER_STATUS_AUTOCOMMIT;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_follows_status_flags_and_tracking() {
        let mut s = SessionState::default();
        s.observe(
            Some(SERVER_STATUS_IN_TRANS | SERVER_STATUS_AUTOCOMMIT),
            None,
        );
        assert!(s.in_transaction() && s.autocommit());
        let ok = OkInfo {
            schema: Some("shop".into()),
            variables: vec![("time_zone".into(), "+01:00".into())],
            ..OkInfo::default()
        };
        s.observe(Some(SERVER_STATUS_AUTOCOMMIT), Some(&ok));
        assert!(!s.in_transaction());
        assert_eq!(s.schema.as_deref(), Some("shop"));
        s.reset();
        assert!(s.variables.is_empty() && s.schema.is_some());
    }
}
