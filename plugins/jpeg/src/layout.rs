//! The layout of a whole JPEG file, from one walk over its markers: the
//! frame's size, kind and components, how many bytes of entropy-coded data
//! the scans hold, the metadata segments (sizes of the profile and EXIF,
//! the JFIF density, an Adobe marker), and whether the file ends with its
//! EOI marker. The reader uses it to refuse, before decoding, a
//! file whose data cannot hold the image its header claims, and a file cut
//! short (safe code only).
#![forbid(unsafe_code)]

/// One component of the frame: its sampling factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Component {
    pub h: u8,
    pub v: u8,
}

/// What the walk found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The frame header's (width, height) and components.
    pub frame: Option<(u16, u16, Vec<Component>)>,
    /// Bytes of entropy-coded data over every scan (restart markers
    /// included).
    pub entropy_bytes: u64,
    /// How many scans (SOS segments) the file has.
    pub scans: u32,
    /// The file ends its last scan with an EOI marker.
    pub has_eoi: bool,
    /// The walk stopped at a segment whose length is not valid (the file
    /// is damaged, not necessarily cut short).
    pub malformed: bool,
    /// Bytes of the ICC profile over its APP2 `ICC_PROFILE` segments.
    pub icc_bytes: u64,
    /// Bytes of the largest APP1 `Exif` segment.
    pub exif_bytes: u64,
    /// The frame is progressive (SOF2, 6, 10 or 14).
    pub progressive: bool,
    /// An Adobe APP14 segment before the first scan (CMYK stored inverted).
    pub adobe: bool,
    /// A JFIF density before the first scan: (unit, x, y), unit 1 dots per
    /// inch, 2 per cm.
    pub density: Option<(u8, u16, u16)>,
}

impl Layout {
    /// The 8x8 blocks the frame's components need: each scan codes every
    /// block of its components with at least one bit (a Huffman code is
    /// never shorter), so a file whose scans hold fewer bits than the
    /// frame has blocks cannot be whole.
    pub(crate) fn blocks(&self) -> u64 {
        let Some((width, height, components)) = &self.frame else {
            return 0;
        };
        let hmax = components.iter().map(|c| c.h).max().unwrap_or(1).max(1);
        let vmax = components.iter().map(|c| c.v).max().unwrap_or(1).max(1);
        components
            .iter()
            .map(|c| {
                // The component's size in samples (T.81 A.1.1), then blocks.
                let cw = (u64::from(*width) * u64::from(c.h)).div_ceil(u64::from(hmax));
                let ch = (u64::from(*height) * u64::from(c.v)).div_ceil(u64::from(vmax));
                cw.div_ceil(8) * ch.div_ceil(8)
            })
            .sum()
    }
}

/// Walks `data` (a JPEG file from its SOI) to the EOI marker or the end.
pub(crate) fn walk(data: &[u8]) -> Layout {
    let mut out = Layout::default();
    let mut at = 2; // after SOI
    loop {
        // Fill bytes (0xFF runs) may precede a marker; stray bytes between
        // segments are skipped up to the next marker, as decoders do
        // (libjpeg's "extraneous bytes before marker").
        while data.get(at) == Some(&0xFF) && data.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if data.get(at) != Some(&0xFF) || matches!(data.get(at + 1), Some(0x00)) {
            let next = data.get(at + 1..).and_then(|rest| {
                rest.windows(2)
                    .position(|w| w[0] == 0xFF && !matches!(w[1], 0x00 | 0xFF))
            });
            match next {
                Some(i) => at += 1 + i,
                None => return out,
            }
        }
        let (Some(&0xFF), Some(&marker)) = (data.get(at), data.get(at + 1)) else {
            return out;
        };
        at += 2;
        match marker {
            0xD9 => {
                out.has_eoi = true;
                return out;
            }
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let Some(len) = data
            .get(at..at + 2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        else {
            return out;
        };
        if len < 2 {
            out.malformed = true;
            return out;
        }
        let body = data.get(at + 2..(at + len).min(data.len())).unwrap_or_default();
        match marker {
            // Start of frame (every kind but DHT 0xC4, JPG 0xC8 and DAC 0xCC).
            0xC0..=0xCF if !matches!(marker, 0xC4 | 0xC8 | 0xCC) && out.frame.is_none() && body.len() >= 6 => {
                out.progressive = matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE);
                let height = u16::from_be_bytes([body[1], body[2]]);
                let width = u16::from_be_bytes([body[3], body[4]]);
                let count = usize::from(body[5]);
                let components = body[6..]
                    .chunks_exact(3)
                    .take(count)
                    .map(|c| Component {
                        h: c[1] >> 4,
                        v: c[1] & 15,
                    })
                    .collect();
                out.frame = Some((width, height, components));
            }
            0xE0 if out.scans == 0 && body.starts_with(b"JFIF\0") && body.len() >= 12 => {
                let unit = body[7];
                let x = u16::from_be_bytes([body[8], body[9]]);
                let y = u16::from_be_bytes([body[10], body[11]]);
                if unit != 0 && x > 0 && y > 0 {
                    out.density = Some((unit, x, y));
                }
            }
            0xEE if out.scans == 0 && body.starts_with(b"Adobe") => out.adobe = true,
            0xE1 if body.starts_with(b"Exif\0") => out.exif_bytes = out.exif_bytes.max(body.len() as u64),
            0xE2 if body.starts_with(b"ICC_PROFILE\0") => {
                out.icc_bytes += body.len().saturating_sub(14) as u64;
            }
            _ => {}
        }
        at += len;
        if marker == 0xDA {
            out.scans += 1;
            // The entropy-coded data: up to the next marker that is not a
            // stuffed 0xFF00 or a restart marker.
            let start = at;
            loop {
                match data.get(at..) {
                    None | Some([]) => {
                        out.entropy_bytes += data.len().saturating_sub(start) as u64;
                        return out;
                    }
                    Some(rest) => match rest.iter().position(|&b| b == 0xFF) {
                        None => at = data.len(),
                        Some(i) => {
                            at += i;
                            match data.get(at + 1) {
                                Some(0x00 | 0xD0..=0xD7) => at += 2,
                                // More fill bytes: look again from the next one.
                                Some(0xFF) => at += 1,
                                Some(_) => break,
                                None => at = data.len(),
                            }
                        }
                    },
                }
            }
            out.entropy_bytes += (at - start) as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SOI, a SOF0 of `w`x`h` with 3 components (4:2:0), a SOS and `scan`
    /// bytes of entropy data, then `tail`.
    fn jpeg(w: u16, h: u16, scan: &[u8], tail: &[u8]) -> Vec<u8> {
        let mut f = vec![0xFF, 0xD8];
        f.extend([0xFF, 0xC0, 0, 17, 8]);
        f.extend(h.to_be_bytes());
        f.extend(w.to_be_bytes());
        f.extend([3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
        f.extend([0xFF, 0xDA, 0, 12, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0]);
        f.extend(scan);
        f.extend(tail);
        f
    }

    #[test]
    fn counts_blocks_entropy_bytes_and_the_eoi() {
        let l = walk(&jpeg(16, 16, &[1, 0xFF, 0x00, 2, 0xFF, 0xD0, 3], &[0xFF, 0xD9]));
        assert_eq!(l.frame.as_ref().unwrap().0, 16);
        // Y: 2x2 blocks, Cb and Cr 8x8 samples: 1 block each.
        assert_eq!(l.blocks(), 6);
        assert_eq!(l.entropy_bytes, 7);
        assert_eq!(l.scans, 1);
        assert!(l.has_eoi);
        let cut = walk(&jpeg(16, 16, &[1, 2, 3], &[]));
        assert!(!cut.has_eoi);
        assert_eq!(cut.entropy_bytes, 3);
        assert_eq!(
            walk(&jpeg(30000, 30000, &[0; 10], &[0xFF, 0xD9])).blocks(),
            14_062_500 + 2 * 3_515_625
        );
    }

    #[test]
    fn every_cut_and_every_damaged_byte_walks_without_a_panic() {
        let whole = jpeg(16, 16, &[1, 0xFF, 0x00, 2, 0xFF, 0xD0, 3], &[0xFF, 0xD9]);
        for cut in 0..whole.len() {
            walk(&whole[..cut]);
            for byte in [0x00, 0x01, 0x7F, 0xFF] {
                let mut damaged = whole.clone();
                damaged[cut] = byte;
                walk(&damaged);
            }
        }
        // A scan header whose length runs past the end of the file.
        walk(&[0xFF, 0xD8, 0xFF, 0xDA, 0xFF, 0xFF]);
    }

    #[test]
    fn stray_bytes_between_segments_are_skipped_to_the_next_marker() {
        let mut f = jpeg(30000, 30000, &[0; 10], &[0xFF, 0xD9]);
        // A stray 0x00, and a stuffed-looking 0xFF00, before the SOF.
        f.splice(2..2, [0x00, 0xFF, 0x00, 0x17]);
        let l = walk(&f);
        assert_eq!(l.frame.as_ref().map(|f| f.0), Some(30000));
        assert!(l.has_eoi);
    }
}
