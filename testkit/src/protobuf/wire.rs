//! The protobuf wire format: a message is a run of (field number, wire type, value).

/// One field's value as written on the wire, before its declared type gives it meaning.
#[derive(Debug, Clone, Copy)]
pub(super) enum WireValue<'a> {
    Varint(u64),
    Fixed64(u64),
    /// A 4-byte number (no built-in type has one; skipped).
    Fixed32,
    /// Length-delimited: a string, bytes, a nested message, a map entry or packed numbers.
    Bytes(&'a [u8]),
}

pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, at: 0 }
    }

    /// The next field, or `None` at the end of the message.
    pub(super) fn next(&mut self) -> Result<Option<(u32, WireValue<'a>)>, String> {
        if self.at >= self.bytes.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let tag =
            u32::try_from(key >> 3).map_err(|_| format!("field number {} too large", key >> 3))?;
        let value = match key & 7 {
            0 => WireValue::Varint(self.varint()?),
            1 => WireValue::Fixed64(u64::from_le_bytes(
                self.take(8)?.try_into().unwrap_or([0; 8]),
            )),
            2 => {
                let len =
                    usize::try_from(self.varint()?).map_err(|_| "length too large".to_string())?;
                WireValue::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                WireValue::Fixed32
            }
            other => return Err(format!("unsupported wire type {other} for field {tag}")),
        };
        Ok(Some((tag, value)))
    }

    /// The next number of a packed repeated field: varints, or 8-byte doubles.
    pub(super) fn packed(&mut self, fixed64: bool) -> Result<Option<WireValue<'a>>, String> {
        if self.at >= self.bytes.len() {
            return Ok(None);
        }
        Ok(Some(if fixed64 {
            WireValue::Fixed64(u64::from_le_bytes(
                self.take(8)?.try_into().unwrap_or([0; 8]),
            ))
        } else {
            WireValue::Varint(self.varint()?)
        }))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| format!("truncated: {len} bytes wanted at offset {}", self.at))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let byte = *self
                .bytes
                .get(self.at)
                .ok_or_else(|| format!("truncated varint at offset {}", self.at))?;
            self.at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(format!("varint longer than 10 bytes at offset {}", self.at))
    }
}
