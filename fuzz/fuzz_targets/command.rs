//! Client requests after login: `Command::decode` on any payload, then the parsers the
//! session applies to what it decoded (COM_CHANGE_USER's body, the statement text of
//! COM_QUERY / COM_STMT_PREPARE through the classifier), and the has-no-response rule.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rwproxy::protocol::command::Command;
use rwproxy::protocol::constants::caps::*;
use rwproxy::protocol::handshake::ChangeUser;

const CAPS: u32 = CLIENT_PROTOCOL_41
    | CLIENT_SECURE_CONNECTION
    | CLIENT_PLUGIN_AUTH
    | CLIENT_CONNECT_ATTRS
    | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;

fuzz_target!(|data: &[u8]| {
    let cmd = Command::decode(data);
    let _ = cmd.has_no_response();
    match cmd {
        Command::ChangeUser(body) => {
            let _ = ChangeUser::parse(body, CAPS);
            let _ = ChangeUser::parse(body, 0);
        }
        Command::Query(sql) | Command::StmtPrepare(sql) => {
            let _ = rwproxy::router::classify::classify(sql);
        }
        Command::Unknown(code) => assert_eq!(Some(&code), data.first().or(Some(&0))),
        _ => {}
    }
});
