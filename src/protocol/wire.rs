//! Little-endian integers, length-encoded integers and strings: reading them from a
//! payload without panicking on short input, and writing them into a buffer.

use super::ProtocolError;
use bytes::{BufMut, BytesMut};

/// A cursor over a packet payload; every read checks the remaining length.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

fn short() -> ProtocolError {
    ProtocolError::Malformed("packet too short")
}

impl<'a> Reader<'a> {
    /// Starts reading `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Takes `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], ProtocolError> {
        if self.buf.len() < n {
            return Err(short());
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Takes everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, ProtocolError> {
        Ok(self.take(1)?[0])
    }

    /// Two bytes, little-endian.
    pub fn u16(&mut self) -> Result<u16, ProtocolError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// Four bytes, little-endian.
    pub fn u32(&mut self) -> Result<u32, ProtocolError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A length-encoded integer (`0xfb` = NULL is refused here).
    pub fn lenenc(&mut self) -> Result<u64, ProtocolError> {
        match self.u8()? {
            n @ 0..=0xfa => Ok(n as u64),
            0xfc => Ok(self.u16()? as u64),
            0xfd => {
                let b = self.take(3)?;
                Ok(u32::from_le_bytes([b[0], b[1], b[2], 0]) as u64)
            }
            0xfe => {
                let b = self.take(8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Ok(u64::from_le_bytes(a))
            }
            _ => Err(ProtocolError::Malformed("bad length-encoded integer")),
        }
    }

    /// A length-encoded string.
    pub fn lenenc_bytes(&mut self) -> Result<&'a [u8], ProtocolError> {
        let n = self.lenenc()?;
        let n = usize::try_from(n).map_err(|_| short())?;
        self.take(n)
    }

    /// A NUL-terminated string (the NUL is consumed, not returned). A missing NUL takes
    /// the rest, as servers accept for the last field.
    pub fn null_str(&mut self) -> &'a [u8] {
        match self.buf.iter().position(|&b| b == 0) {
            Some(i) => {
                let s = &self.buf[..i];
                self.buf = &self.buf[i + 1..];
                s
            }
            None => self.rest(),
        }
    }
}

/// Writes a length-encoded integer.
pub fn put_lenenc(buf: &mut BytesMut, n: u64) {
    match n {
        0..=0xfa => buf.put_u8(n as u8),
        0xfb..=0xffff => {
            buf.put_u8(0xfc);
            buf.put_u16_le(n as u16);
        }
        0x1_0000..=0xff_ffff => {
            buf.put_u8(0xfd);
            buf.put_slice(&(n as u32).to_le_bytes()[..3]);
        }
        _ => {
            buf.put_u8(0xfe);
            buf.put_u64_le(n);
        }
    }
}

/// Writes a length-encoded string.
pub fn put_lenenc_bytes(buf: &mut BytesMut, s: &[u8]) {
    put_lenenc(buf, s.len() as u64);
    buf.put_slice(s);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenenc_round_trips() {
        for n in [
            0u64,
            250,
            251,
            65535,
            65536,
            0xff_ffff,
            0x100_0000,
            u64::MAX,
        ] {
            let mut b = BytesMut::new();
            put_lenenc(&mut b, n);
            assert_eq!(Reader::new(&b).lenenc().unwrap(), n);
        }
    }

    #[test]
    fn short_input_is_an_error_not_a_panic() {
        assert!(Reader::new(&[0xfc, 1]).lenenc().is_err());
        assert!(Reader::new(&[0xff]).lenenc().is_err());
        assert!(Reader::new(&[5, b'a']).lenenc_bytes().is_err());
        assert!(Reader::new(&[1]).u32().is_err());
    }
}
