//! What a client sends before it is authenticated: the HandshakeResponse41 (and the
//! SSL-request test the proxy applies first), COM_CHANGE_USER's body under any
//! capabilities, and — for the proxy's backend side — a server greeting. Every input
//! must parse or fail cleanly; a parsed response must survive re-encoding.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rwproxy::protocol::constants::caps::*;
use rwproxy::protocol::handshake::{is_ssl_request, ChangeUser, Greeting, HandshakeResponse};

fuzz_target!(|data: &[u8]| {
    let _ = is_ssl_request(data);
    if let Ok(r) = HandshakeResponse::parse(data) {
        // The proxy re-encodes responses for backends: the encoding must parse back to
        // the same login (user, token, plugin) when it uses the lenenc token form.
        let again = HandshakeResponse::parse(&r.encode());
        if r.capabilities & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA != 0
            && r.capabilities & CLIENT_PLUGIN_AUTH != 0
            && !r.user.contains('\0')
            && !r.user.contains('\u{fffd}')
        {
            let again = again.expect("re-encoded response parses");
            assert_eq!(again.user, r.user);
            assert_eq!(again.auth_response, r.auth_response);
        }
    }
    let caps = data
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .unwrap_or(0);
    let body = data.get(4..).unwrap_or(&[]);
    let _ = ChangeUser::parse(body, caps);
    let _ = ChangeUser::parse(data, u32::MAX);
    let _ = Greeting::parse(data);
});
