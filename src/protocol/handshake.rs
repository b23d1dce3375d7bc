//! Handshake packets, both directions: the v10 greeting a server sends (built for
//! clients, parsed from backends), the client's handshake response (parsed from clients,
//! built for backends), the SSL request, and COM_CHANGE_USER's payload.

use super::constants::caps::*;
use super::wire::{put_lenenc_bytes, Reader};
use super::ProtocolError;
use bytes::{BufMut, BytesMut};

/// A protocol v10 greeting.
#[derive(Debug, Clone)]
pub struct Greeting {
    /// Server version string.
    pub server_version: String,
    /// Connection (thread) id.
    pub connection_id: u32,
    /// The 20-byte scramble.
    pub scramble: Vec<u8>,
    /// Capability flags offered.
    pub capabilities: u32,
    /// Default collation id.
    pub charset: u8,
    /// Server status flags.
    pub status: u16,
    /// Default authentication plugin.
    pub auth_plugin: String,
    /// MariaDB extended capabilities (valid when CLIENT_LONG_PASSWORD is clear).
    pub ext_capabilities: u32,
}

impl Greeting {
    /// The greeting's payload.
    pub fn encode(&self) -> BytesMut {
        let mut b = BytesMut::with_capacity(128);
        b.put_u8(10);
        b.put_slice(self.server_version.as_bytes());
        b.put_u8(0);
        b.put_u32_le(self.connection_id);
        b.put_slice(&self.scramble[..8]);
        b.put_u8(0);
        b.put_u16_le(self.capabilities as u16);
        b.put_u8(self.charset);
        b.put_u16_le(self.status);
        b.put_u16_le((self.capabilities >> 16) as u16);
        b.put_u8(21);
        b.put_slice(&[0u8; 6]);
        b.put_u32_le(self.ext_capabilities);
        b.put_slice(&self.scramble[8..20]);
        b.put_u8(0);
        b.put_slice(self.auth_plugin.as_bytes());
        b.put_u8(0);
        b
    }

    /// Parses a backend's greeting (protocol 10 only).
    pub fn parse(payload: &[u8]) -> Result<Greeting, ProtocolError> {
        let mut r = Reader::new(payload);
        if r.u8()? != 10 {
            return Err(ProtocolError::Malformed("not a protocol v10 greeting"));
        }
        let server_version = String::from_utf8_lossy(r.null_str()).into_owned();
        let connection_id = r.u32()?;
        let mut scramble = r.take(8)?.to_vec();
        r.u8()?;
        let mut capabilities = r.u16()? as u32;
        let charset = r.u8()?;
        let status = r.u16()?;
        capabilities |= (r.u16()? as u32) << 16;
        let auth_len = r.u8()? as usize;
        r.take(6)?;
        let ext = r.u32()?;
        let ext_capabilities = if capabilities & CLIENT_LONG_PASSWORD == 0 {
            ext
        } else {
            0
        };
        if capabilities & CLIENT_SECURE_CONNECTION != 0 {
            let n = auth_len.saturating_sub(8).max(13);
            let part = r.take(n.min(r.remaining()))?;
            scramble.extend_from_slice(part.strip_suffix(&[0]).unwrap_or(part));
        }
        let auth_plugin = if capabilities & CLIENT_PLUGIN_AUTH != 0 {
            String::from_utf8_lossy(r.null_str()).into_owned()
        } else {
            super::auth::NATIVE.to_string()
        };
        Ok(Greeting {
            server_version,
            connection_id,
            scramble,
            capabilities,
            charset,
            status,
            auth_plugin,
            ext_capabilities,
        })
    }
}

/// A client's handshake response (protocol 4.1).
#[derive(Debug, Clone, Default)]
pub struct HandshakeResponse {
    /// Capabilities the client wants.
    pub capabilities: u32,
    /// Its max packet size.
    pub max_packet: u32,
    /// Collation id.
    pub charset: u8,
    /// User name.
    pub user: String,
    /// Auth token for `auth_plugin`.
    pub auth_response: Vec<u8>,
    /// Initial schema.
    pub database: Option<String>,
    /// Plugin the token was computed with.
    pub auth_plugin: String,
    /// Connection attributes, still length-encoded pairs.
    pub attrs: Vec<u8>,
    /// MariaDB extended capabilities (when CLIENT_LONG_PASSWORD is clear).
    pub ext_capabilities: u32,
}

/// True if `payload` is an SSL request (a short handshake response asking for TLS).
pub fn is_ssl_request(payload: &[u8]) -> bool {
    payload.len() == 32
        && Reader::new(payload)
            .u32()
            .is_ok_and(|c| c & CLIENT_SSL != 0)
}

impl HandshakeResponse {
    /// Parses a HandshakeResponse41.
    pub fn parse(payload: &[u8]) -> Result<HandshakeResponse, ProtocolError> {
        let mut r = Reader::new(payload);
        let capabilities = r.u32()?;
        if capabilities & CLIENT_PROTOCOL_41 == 0 {
            return Err(ProtocolError::Malformed(
                "client does not speak protocol 4.1",
            ));
        }
        let max_packet = r.u32()?;
        let charset = r.u8()?;
        r.take(19)?;
        let ext = r.u32()?;
        let ext_capabilities = if capabilities & CLIENT_LONG_PASSWORD == 0 {
            ext
        } else {
            0
        };
        let user = String::from_utf8_lossy(r.null_str()).into_owned();
        let auth_response = if capabilities & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
            r.lenenc_bytes()?.to_vec()
        } else if capabilities & CLIENT_SECURE_CONNECTION != 0 {
            let n = r.u8()? as usize;
            r.take(n)?.to_vec()
        } else {
            r.null_str().to_vec()
        };
        let database = if capabilities & CLIENT_CONNECT_WITH_DB != 0 && r.remaining() > 0 {
            Some(String::from_utf8_lossy(r.null_str()).into_owned()).filter(|d| !d.is_empty())
        } else {
            None
        };
        let auth_plugin = if capabilities & CLIENT_PLUGIN_AUTH != 0 && r.remaining() > 0 {
            String::from_utf8_lossy(r.null_str()).into_owned()
        } else {
            String::new()
        };
        let attrs = if capabilities & CLIENT_CONNECT_ATTRS != 0 && r.remaining() > 0 {
            r.lenenc_bytes()?.to_vec()
        } else {
            Vec::new()
        };
        Ok(HandshakeResponse {
            capabilities,
            max_packet,
            charset,
            user,
            auth_response,
            database,
            auth_plugin,
            attrs,
            ext_capabilities,
        })
    }

    /// The payload, as the proxy sends it to a backend.
    pub fn encode(&self) -> BytesMut {
        let mut b = BytesMut::with_capacity(128 + self.attrs.len());
        b.put_u32_le(self.capabilities);
        b.put_u32_le(self.max_packet);
        b.put_u8(self.charset);
        b.put_slice(&[0u8; 19]);
        b.put_u32_le(self.ext_capabilities);
        b.put_slice(self.user.as_bytes());
        b.put_u8(0);
        put_lenenc_bytes(&mut b, &self.auth_response);
        if self.capabilities & CLIENT_CONNECT_WITH_DB != 0 {
            b.put_slice(self.database.as_deref().unwrap_or("").as_bytes());
            b.put_u8(0);
        }
        b.put_slice(self.auth_plugin.as_bytes());
        b.put_u8(0);
        if self.capabilities & CLIENT_CONNECT_ATTRS != 0 {
            put_lenenc_bytes(&mut b, &self.attrs);
        }
        b
    }
}

/// COM_CHANGE_USER's fields.
#[derive(Debug, Clone, Default)]
pub struct ChangeUser {
    /// New user.
    pub user: String,
    /// Token computed with the connection's original scramble.
    pub auth_response: Vec<u8>,
    /// New schema.
    pub database: Option<String>,
    /// Collation id, if sent.
    pub charset: Option<u16>,
    /// Plugin the token was computed with.
    pub auth_plugin: String,
    /// Connection attributes, length-encoded pairs.
    pub attrs: Vec<u8>,
}

impl ChangeUser {
    /// Parses the payload after the command byte, for a client with `capabilities`.
    pub fn parse(body: &[u8], capabilities: u32) -> Result<ChangeUser, ProtocolError> {
        let mut r = Reader::new(body);
        let user = String::from_utf8_lossy(r.null_str()).into_owned();
        let auth_response = if capabilities & CLIENT_SECURE_CONNECTION != 0 {
            let n = r.u8()? as usize;
            r.take(n)?.to_vec()
        } else {
            r.null_str().to_vec()
        };
        let database = Some(String::from_utf8_lossy(r.null_str()).into_owned());
        let mut cu = ChangeUser {
            user,
            auth_response,
            database: database.filter(|d| !d.is_empty()),
            ..Default::default()
        };
        if r.remaining() >= 2 {
            cu.charset = Some(r.u16()?);
        }
        if capabilities & CLIENT_PLUGIN_AUTH != 0 && r.remaining() > 0 {
            cu.auth_plugin = String::from_utf8_lossy(r.null_str()).into_owned();
        }
        if capabilities & CLIENT_CONNECT_ATTRS != 0 && r.remaining() > 0 {
            cu.attrs = r.lenenc_bytes()?.to_vec();
        }
        Ok(cu)
    }

    /// The full command payload (with the 0x11 byte) as sent to a backend.
    pub fn encode(&self, capabilities: u32) -> BytesMut {
        let mut b = BytesMut::with_capacity(64 + self.attrs.len());
        b.put_u8(super::constants::com::COM_CHANGE_USER);
        b.put_slice(self.user.as_bytes());
        b.put_u8(0);
        b.put_u8(self.auth_response.len() as u8);
        b.put_slice(&self.auth_response);
        b.put_slice(self.database.as_deref().unwrap_or("").as_bytes());
        b.put_u8(0);
        b.put_u16_le(self.charset.unwrap_or(45));
        b.put_slice(self.auth_plugin.as_bytes());
        b.put_u8(0);
        if capabilities & CLIENT_CONNECT_ATTRS != 0 {
            put_lenenc_bytes(&mut b, &self.attrs);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_round_trips() {
        let g = Greeting {
            server_version: "5.5.5-10.11.19-MariaDB-rwproxy".into(),
            connection_id: 7,
            scramble: (1..=20).collect(),
            capabilities: 0x81fff7fe,
            charset: 8,
            status: 2,
            auth_plugin: "mysql_native_password".into(),
            ext_capabilities: 4,
        };
        let p = Greeting::parse(&g.encode()).unwrap();
        assert_eq!(p.ext_capabilities, 4, "read because CLIENT_MYSQL is clear");
        assert_eq!(p.scramble, g.scramble);
        assert_eq!(p.capabilities, g.capabilities);
        assert_eq!(p.auth_plugin, g.auth_plugin);
        assert_eq!(p.connection_id, 7);
    }

    #[test]
    fn response_round_trips_and_truncation_errors() {
        let h = HandshakeResponse {
            capabilities: CLIENT_PROTOCOL_41
                | CLIENT_SECURE_CONNECTION
                | CLIENT_PLUGIN_AUTH
                | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
                | CLIENT_CONNECT_WITH_DB
                | CLIENT_CONNECT_ATTRS,
            max_packet: 1 << 24,
            charset: 45,
            user: "app".into(),
            auth_response: vec![9; 20],
            database: Some("shop".into()),
            auth_plugin: "mysql_native_password".into(),
            attrs: vec![3, b'k', b'e', b'y', 1, b'v'],
            ext_capabilities: 4,
        };
        let enc = h.encode();
        let p = HandshakeResponse::parse(&enc).unwrap();
        assert_eq!(
            (p.user.as_str(), p.database.as_deref()),
            ("app", Some("shop"))
        );
        assert_eq!(p.auth_response, h.auth_response);
        assert_eq!(p.attrs, h.attrs);
        assert_eq!(p.ext_capabilities, 4);
        for cut in 0..36 {
            assert!(HandshakeResponse::parse(&enc[..cut]).is_err(), "cut {cut}");
        }
    }
}
