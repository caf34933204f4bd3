//! A first pass over a TIFF's directories (safe code only), before the
//! decoder sees the file: every tag's value must lie inside the file. A
//! tag that claims more bytes than the file has (a hostile count of
//! 0xC2000000, say) is an error here, instead of an allocation of gigabytes
//! in the decoder.
#![forbid(unsafe_code)]

use imageio_plugin_api::{Error, Result};
use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};

/// The most directories walked (a chain longer than this is hostile).
const MAX_IFDS: usize = 1 << 20;

/// Bytes per value of a TIFF field type, or `None` for a type this scan
/// does not know (the decoder then judges it).
fn type_size(t: u16) -> Option<u64> {
    Some(match t {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 | 16 | 17 | 18 => 8,
        _ => return None,
    })
}

/// Checks every directory of the TIFF that starts at the stream's current
/// position; leaves the position there. Returns the file's length.
pub(crate) fn check_directories(r: &mut (impl Read + Seek)) -> Result<u64> {
    let start = r.stream_position()?;
    let len = r.seek(SeekFrom::End(0))?.saturating_sub(start);
    let result = walk(r, start, len);
    r.seek(SeekFrom::Start(start))?;
    result.map(|()| len)
}

struct Order {
    little: bool,
}

impl Order {
    fn u16(&self, b: &[u8]) -> u16 {
        let a = [b[0], b[1]];
        if self.little {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        }
    }
    fn u32(&self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    }
    fn u64(&self, b: &[u8]) -> u64 {
        let a: [u8; 8] = b[..8].try_into().expect("8 bytes");
        if self.little {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        }
    }
}

fn read_at(r: &mut (impl Read + Seek), start: u64, offset: u64, buf: &mut [u8]) -> Result<()> {
    r.seek(SeekFrom::Start(start + offset))?;
    r.read_exact(buf)
        .map_err(|_| Error::corrupt("TIFF: a directory runs past the end of the file"))
}

fn walk(r: &mut (impl Read + Seek), start: u64, len: u64) -> Result<()> {
    let mut head = [0u8; 16];
    let n = len.min(16) as usize;
    read_at(r, start, 0, &mut head[..n])?;
    let order = match &head[..2] {
        b"II" => Order { little: true },
        b"MM" => Order { little: false },
        _ => return Err(Error::corrupt("TIFF: no byte-order mark")),
    };
    let big = match order.u16(&head[2..4]) {
        42 => false,
        43 => true,
        v => {
            return Err(Error::corrupt(format!(
                "TIFF: version {v} is neither TIFF (42) nor BigTIFF (43)"
            )));
        }
    };
    let (count_size, entry_size, inline) = if big { (8u64, 20u64, 8u64) } else { (2, 12, 4) };
    let mut next = if big {
        order.u64(&head[8..16])
    } else {
        u64::from(order.u32(&head[4..8]))
    };
    let mut seen = HashSet::new();
    while next != 0 {
        if !seen.insert(next) {
            return Err(Error::corrupt(format!(
                "TIFF: the directories loop (offset {next} again)"
            )));
        }
        if seen.len() > MAX_IFDS {
            return Err(Error::corrupt("TIFF: more than a million directories"));
        }
        let mut count_buf = [0u8; 8];
        read_at(r, start, next, &mut count_buf[..count_size as usize])?;
        let entries = if big {
            order.u64(&count_buf)
        } else {
            u64::from(order.u16(&count_buf))
        };
        let table = entries
            .checked_mul(entry_size)
            .and_then(|t| t.checked_add(count_size + inline))
            .filter(|&t| next.checked_add(t).is_some_and(|end| end <= len))
            .ok_or_else(|| {
                Error::corrupt(format!(
                    "TIFF: a directory at offset {next} claims {entries} entries, past the end of the {len}-byte file"
                ))
            })?;
        let mut buf = vec![0u8; table as usize];
        read_at(r, start, next + count_size, &mut buf[..(table - count_size) as usize])?;
        for e in buf[..(entries * entry_size) as usize].chunks_exact(entry_size as usize) {
            let tag = order.u16(&e[0..2]);
            let Some(size) = type_size(order.u16(&e[2..4])) else {
                continue;
            };
            let (count, offset) = if big {
                (order.u64(&e[4..12]), order.u64(&e[12..20]))
            } else {
                (u64::from(order.u32(&e[4..8])), u64::from(order.u32(&e[8..12])))
            };
            let bytes = count.checked_mul(size);
            let inside = match bytes {
                Some(b) if b <= inline => true,
                Some(b) => offset.checked_add(b).is_some_and(|end| end <= len),
                None => false,
            };
            if !inside {
                return Err(Error::corrupt(format!(
                    "TIFF: tag {tag} claims {count} values ({} bytes) at offset {offset}, past the end of the {len}-byte file",
                    bytes.map_or_else(|| "too many".to_owned(), |b| b.to_string())
                )));
            }
        }
        let tail = &buf[(entries * entry_size) as usize..];
        next = if big {
            order.u64(tail)
        } else {
            u64::from(order.u32(tail))
        };
    }
    Ok(())
}
