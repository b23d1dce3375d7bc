//! Protocol constants, named as the MySQL and MariaDB documentation names them.

/// Capability flags (`CLIENT_*`), exchanged in the handshake.
pub mod caps {
    /// Also `CLIENT_MYSQL`: when clear in a MariaDB greeting, MariaDB extended caps follow.
    pub const CLIENT_LONG_PASSWORD: u32 = 1;
    /// Affected rows = found rows, not changed rows.
    pub const CLIENT_FOUND_ROWS: u32 = 1 << 1;
    /// Longer column flags in column definitions.
    pub const CLIENT_LONG_FLAG: u32 = 1 << 2;
    /// A database name follows in the handshake response.
    pub const CLIENT_CONNECT_WITH_DB: u32 = 1 << 3;
    /// `db.table.column` not allowed.
    pub const CLIENT_NO_SCHEMA: u32 = 1 << 4;
    /// zlib compression (not offered by the proxy).
    pub const CLIENT_COMPRESS: u32 = 1 << 5;
    /// ODBC client.
    pub const CLIENT_ODBC: u32 = 1 << 6;
    /// LOAD DATA LOCAL allowed.
    pub const CLIENT_LOCAL_FILES: u32 = 1 << 7;
    /// Spaces allowed after function names.
    pub const CLIENT_IGNORE_SPACE: u32 = 1 << 8;
    /// 4.1 protocol.
    pub const CLIENT_PROTOCOL_41: u32 = 1 << 9;
    /// `interactive_timeout` instead of `wait_timeout`.
    pub const CLIENT_INTERACTIVE: u32 = 1 << 10;
    /// Switch to TLS after the SSL request.
    pub const CLIENT_SSL: u32 = 1 << 11;
    /// Do not raise SIGPIPE (client-side only).
    pub const CLIENT_IGNORE_SIGPIPE: u32 = 1 << 12;
    /// Client knows about transactions (status flags).
    pub const CLIENT_TRANSACTIONS: u32 = 1 << 13;
    /// Old 4.1 flag.
    pub const CLIENT_RESERVED: u32 = 1 << 14;
    /// 4.1 authentication (20-byte scramble).
    pub const CLIENT_SECURE_CONNECTION: u32 = 1 << 15;
    /// Several statements per COM_QUERY.
    pub const CLIENT_MULTI_STATEMENTS: u32 = 1 << 16;
    /// Several result sets per COM_QUERY.
    pub const CLIENT_MULTI_RESULTS: u32 = 1 << 17;
    /// Several result sets per COM_STMT_EXECUTE.
    pub const CLIENT_PS_MULTI_RESULTS: u32 = 1 << 18;
    /// Authentication plugins.
    pub const CLIENT_PLUGIN_AUTH: u32 = 1 << 19;
    /// Connection attributes in the handshake response.
    pub const CLIENT_CONNECT_ATTRS: u32 = 1 << 20;
    /// Length-encoded auth response.
    pub const CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 1 << 21;
    /// Expired passwords may log in to change themselves.
    pub const CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS: u32 = 1 << 22;
    /// Session state changes in OK packets.
    pub const CLIENT_SESSION_TRACK: u32 = 1 << 23;
    /// OK packets replace EOF packets.
    pub const CLIENT_DEPRECATE_EOF: u32 = 1 << 24;
    /// Verify the server certificate (client-side only).
    pub const CLIENT_SSL_VERIFY_SERVER_CERT: u32 = 1 << 30;
}

/// MariaDB extended capabilities, exchanged in the handshake's reserved bytes when the
/// CLIENT_MYSQL (= CLIENT_LONG_PASSWORD) bit is clear.
pub mod ext_caps {
    /// COM_STMT_BULK_EXECUTE: one execute, many rows of parameters.
    pub const MARIADB_CLIENT_STMT_BULK_OPERATIONS: u32 = 1 << 2;
    /// A column count carries a "metadata follows" byte; a prepared statement's column
    /// definitions are left out when the client already has them (`protocol::columns`).
    pub const MARIADB_CLIENT_CACHE_METADATA: u32 = 1 << 4;
}

/// Server status flags (`SERVER_*`) carried by OK and EOF packets.
pub mod status {
    /// A transaction is active.
    pub const SERVER_STATUS_IN_TRANS: u16 = 0x0001;
    /// Autocommit is on.
    pub const SERVER_STATUS_AUTOCOMMIT: u16 = 0x0002;
    /// Another result set follows.
    pub const SERVER_MORE_RESULTS_EXISTS: u16 = 0x0008;
    /// A read-only cursor is open for COM_STMT_FETCH.
    pub const SERVER_STATUS_CURSOR_EXISTS: u16 = 0x0040;
    /// The last row of a cursor was sent.
    pub const SERVER_STATUS_LAST_ROW_SENT: u16 = 0x0080;
    /// The statement dropped the session's current schema.
    pub const SERVER_STATUS_DB_DROPPED: u16 = 0x0100;
    /// The transaction is read-only.
    pub const SERVER_STATUS_IN_TRANS_READONLY: u16 = 0x2000;
    /// Session state information follows in the OK packet.
    pub const SERVER_SESSION_STATE_CHANGED: u16 = 0x4000;
}

/// Command bytes (`COM_*`).
pub mod com {
    pub const COM_QUIT: u8 = 0x01;
    pub const COM_INIT_DB: u8 = 0x02;
    pub const COM_QUERY: u8 = 0x03;
    pub const COM_FIELD_LIST: u8 = 0x04;
    pub const COM_STATISTICS: u8 = 0x09;
    pub const COM_PROCESS_KILL: u8 = 0x0c;
    pub const COM_DEBUG: u8 = 0x0d;
    pub const COM_PING: u8 = 0x0e;
    pub const COM_CHANGE_USER: u8 = 0x11;
    pub const COM_STMT_PREPARE: u8 = 0x16;
    pub const COM_STMT_EXECUTE: u8 = 0x17;
    pub const COM_STMT_SEND_LONG_DATA: u8 = 0x18;
    pub const COM_STMT_CLOSE: u8 = 0x19;
    pub const COM_STMT_RESET: u8 = 0x1a;
    pub const COM_SET_OPTION: u8 = 0x1b;
    pub const COM_STMT_FETCH: u8 = 0x1c;
    pub const COM_RESET_CONNECTION: u8 = 0x1f;
    pub const COM_STMT_BULK_EXECUTE: u8 = 0xfa;
}

/// Session-track entry types in OK packets.
pub mod track {
    /// A system variable changed: name, value.
    pub const SESSION_TRACK_SYSTEM_VARIABLES: u8 = 0;
    /// The current schema changed.
    pub const SESSION_TRACK_SCHEMA: u8 = 1;
}

/// Error codes and SQLSTATEs the proxy itself sends.
pub mod errors {
    /// ER_CON_COUNT_ERROR.
    pub const ER_CON_COUNT_ERROR: u16 = 1040;
    /// ER_HANDSHAKE_ERROR ("Bad handshake").
    pub const ER_HANDSHAKE_ERROR: u16 = 1043;
    /// ER_ACCESS_DENIED_ERROR.
    pub const ER_ACCESS_DENIED_ERROR: u16 = 1045;
    /// ER_UNKNOWN_COM_ERROR.
    pub const ER_UNKNOWN_COM_ERROR: u16 = 1047;
    /// ER_NO_SUCH_THREAD.
    pub const ER_NO_SUCH_THREAD: u16 = 1094;
    /// ER_HOST_IS_BLOCKED (`max_connect_errors` failed handshakes in a row).
    pub const ER_HOST_IS_BLOCKED: u16 = 1129;
    /// ER_NET_PACKET_TOO_LARGE.
    pub const ER_NET_PACKET_TOO_LARGE: u16 = 1153;
    /// ER_NET_PACKETS_OUT_OF_ORDER.
    pub const ER_NET_PACKETS_OUT_OF_ORDER: u16 = 1156;
    /// ER_TOO_MANY_USER_CONNECTIONS (a user's `max_user_connections`).
    pub const ER_TOO_MANY_USER_CONNECTIONS: u16 = 1203;
    /// ER_NOT_SUPPORTED_AUTH_MODE.
    pub const ER_NOT_SUPPORTED_AUTH_MODE: u16 = 1251;
    /// ER_SECURE_TRANSPORT_REQUIRED (MySQL 5.7+).
    pub const ER_SECURE_TRANSPORT_REQUIRED: u16 = 3159;
    /// CR_SERVER_LOST-class: the backend went away during a query.
    pub const CR_SERVER_LOST: u16 = 2013;
    /// CR_CONN_HOST_ERROR-class: the backend cannot be reached.
    pub const CR_CONN_HOST_ERROR: u16 = 2003;
    /// CR_SSL_CONNECTION_ERROR: TLS to the backend failed (`[proxy] backend_tls`).
    pub const CR_SSL_CONNECTION_ERROR: u16 = 2026;
}

/// Largest payload of one physical packet; a payload this long continues in the next.
pub const MAX_PAYLOAD: usize = 0xff_ffff;
