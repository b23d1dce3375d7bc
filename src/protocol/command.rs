//! Client commands, decoded by their first byte into a borrowed [`Command`]. Only what
//! the proxy acts on is decoded; everything else stays as bytes to forward.

use super::constants::com::*;
use super::wire::Reader;

/// One client request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// COM_QUIT: close the session.
    Quit,
    /// COM_INIT_DB: change schema.
    InitDb(&'a [u8]),
    /// COM_QUERY: SQL text (bytes; usually UTF-8).
    Query(&'a [u8]),
    /// COM_FIELD_LIST (deprecated column listing).
    FieldList,
    /// COM_STATISTICS: a status string.
    Statistics,
    /// COM_PROCESS_KILL with a (proxy) connection id.
    ProcessKill(u32),
    /// COM_PING.
    Ping,
    /// COM_DEBUG (the server checks the privilege and answers OK or ERR).
    Debug,
    /// COM_CHANGE_USER; the body after the command byte.
    ChangeUser(&'a [u8]),
    /// COM_STMT_PREPARE with SQL text.
    StmtPrepare(&'a [u8]),
    /// COM_STMT_EXECUTE of a statement id (0xffffffff = the last prepared, MariaDB).
    StmtExecute(u32),
    /// COM_STMT_SEND_LONG_DATA (no response).
    StmtSendLongData(u32),
    /// COM_STMT_CLOSE (no response).
    StmtClose(u32),
    /// COM_STMT_RESET.
    StmtReset(u32),
    /// COM_SET_OPTION: 0 = multi-statements on, 1 = off.
    SetOption(u16),
    /// COM_STMT_FETCH from a cursor.
    StmtFetch(u32),
    /// COM_RESET_CONNECTION.
    ResetConnection,
    /// MariaDB's COM_STMT_BULK_EXECUTE of a statement id.
    StmtBulkExecute(u32),
    /// Anything else, or a known command too short to be valid.
    Unknown(u8),
}

impl<'a> Command<'a> {
    /// Decodes a request payload. An empty payload is `Unknown(0)`.
    pub fn decode(payload: &'a [u8]) -> Command<'a> {
        let Some((&code, body)) = payload.split_first() else {
            return Command::Unknown(0);
        };
        let id = || Reader::new(body).u32().ok();
        let cmd = match code {
            COM_QUIT => Some(Command::Quit),
            COM_INIT_DB => Some(Command::InitDb(body)),
            COM_QUERY => Some(Command::Query(body)),
            COM_FIELD_LIST => Some(Command::FieldList),
            COM_STATISTICS => Some(Command::Statistics),
            COM_PROCESS_KILL => id().map(Command::ProcessKill),
            COM_PING => Some(Command::Ping),
            COM_DEBUG => Some(Command::Debug),
            COM_CHANGE_USER => Some(Command::ChangeUser(body)),
            COM_STMT_PREPARE => Some(Command::StmtPrepare(body)),
            COM_STMT_EXECUTE => id().map(Command::StmtExecute),
            COM_STMT_SEND_LONG_DATA => id().map(Command::StmtSendLongData),
            COM_STMT_CLOSE => id().map(Command::StmtClose),
            COM_STMT_RESET => id().map(Command::StmtReset),
            COM_SET_OPTION => Reader::new(body).u16().ok().map(Command::SetOption),
            COM_STMT_FETCH => id().map(Command::StmtFetch),
            COM_RESET_CONNECTION => Some(Command::ResetConnection),
            COM_STMT_BULK_EXECUTE => id().map(Command::StmtBulkExecute),
            _ => None,
        };
        cmd.unwrap_or(Command::Unknown(code))
    }

    /// True for commands the server never answers.
    pub fn has_no_response(&self) -> bool {
        matches!(
            self,
            Command::StmtSendLongData(_) | Command::StmtClose(_) | Command::Quit
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_by_first_byte() {
        assert_eq!(
            Command::decode(b"\x03SELECT 1"),
            Command::Query(b"SELECT 1")
        );
        assert_eq!(
            Command::decode(&[0x17, 0xff, 0xff, 0xff, 0xff, 0, 1, 0, 0, 0]),
            Command::StmtExecute(u32::MAX)
        );
        assert_eq!(
            Command::decode(&[0x0c, 5, 0, 0, 0]),
            Command::ProcessKill(5)
        );
        assert_eq!(Command::decode(&[0x0c, 5]), Command::Unknown(0x0c));
        assert_eq!(Command::decode(&[0x1b, 1, 0]), Command::SetOption(1));
        assert_eq!(Command::decode(&[0x12, 0]), Command::Unknown(0x12));
        assert_eq!(Command::decode(&[]), Command::Unknown(0));
    }
}
