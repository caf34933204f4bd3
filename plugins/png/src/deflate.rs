//! A PNG's image data filtered and deflated on several threads.
//!
//! The zlib stream of a PNG is one deflate stream, but deflate can be cut
//! into pieces that are compressed independently (as pigz does): each piece
//! starts on a byte boundary after the previous one's sync flush, and is
//! primed with the 32 KiB of data before it as its dictionary, so matches
//! reach back across the cut and the file is as small as a one-thread one
//! (within a few bytes per piece). Rows are filtered with the png crate's
//! adaptive heuristic (Up, Sub, Average, Paeth; the smallest sum of the
//! bytes' magnitudes, ties to the later filter), row by row into the
//! compressor, so no filtered copy of the image is kept. The Adler-32 of
//! each piece is computed as it goes and the pieces' are combined.

use flate2::{Compress, Compression, FlushCompress, Status};

/// Images with less filtered data than this are encoded on one thread.
pub(crate) const PARALLEL_MIN: usize = 2 << 20;

/// No piece is smaller than this.
const PIECE_MIN: usize = 1 << 20;

/// Deflate's window: how far back a piece's dictionary reaches.
const WINDOW: usize = 32 * 1024;

/// How many pieces `bytes` of filtered data are cut into on this machine
/// (1: use the single-threaded encoder).
pub(crate) fn pieces_for(bytes: usize) -> usize {
    if bytes < PARALLEL_MIN {
        return 1;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    cores.min(bytes / PIECE_MIN).max(1)
}

/// The zlib stream (header, deflate data, Adler-32) of `data`, rows of
/// `row_bytes` bytes, `bpp` bytes per pixel, filtered and compressed at
/// zlib `level` in `pieces` pieces on as many threads: the pieces'
/// outputs, which make the stream one after the other (kept apart so the
/// stream is never copied whole). `None` if the compressor fails (the
/// caller then uses the single-threaded encoder).
pub(crate) fn zlib_stream(
    data: &[u8],
    row_bytes: usize,
    bpp: usize,
    level: u32,
    pieces: usize,
) -> Option<Vec<Vec<u8>>> {
    if row_bytes == 0 || !data.len().is_multiple_of(row_bytes) || pieces == 0 {
        return None;
    }
    let rows = data.len() / row_bytes;
    let per_piece = rows.div_ceil(pieces);
    let ranges: Vec<(usize, usize)> = (0..pieces)
        .map(|i| (i * per_piece, ((i + 1) * per_piece).min(rows)))
        .filter(|(a, b)| a < b)
        .collect();
    let last = ranges.len() - 1;
    let outputs: Vec<Option<(Vec<u8>, u32, usize)>> = std::thread::scope(|scope| {
        // A thread that cannot be started makes its piece (and so this
        // stream) None: the caller falls back to one thread.
        let handles: Vec<_> = ranges
            .iter()
            .enumerate()
            .map(|(i, &(from, to))| {
                std::thread::Builder::new()
                    .name("imageio-png-deflate".into())
                    .spawn_scoped(scope, move || {
                        compress_rows(data, row_bytes, bpp, level, from, to, i == last)
                    })
                    .ok()
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.and_then(|h| h.join().ok().flatten()))
            .collect()
    });
    let mut stream = Vec::with_capacity(outputs.len());
    let mut adler = 1u32;
    for piece in outputs {
        let (bytes, piece_adler, len) = piece?;
        stream.push(bytes);
        adler = adler32_combine(adler, piece_adler, len);
    }
    // The first piece began with the zlib header; the last ends with the
    // checksum.
    stream.last_mut()?.extend_from_slice(&adler.to_be_bytes());
    Some(stream)
}

/// zlib's two header bytes for a 32 KiB window at `level`, as zlib writes
/// them (the level hint in FLEVEL, the check bits making it a multiple of
/// 31).
fn zlib_header(level: u32) -> [u8; 2] {
    let flevel: u8 = match level {
        0 | 1 => 0,
        2..=5 => 1,
        6 => 2,
        _ => 3,
    };
    let cmf = 0x78u8;
    let mut flg = flevel << 6;
    let rem = (u16::from(cmf) * 256 + u16::from(flg)) % 31;
    if rem != 0 {
        flg += (31 - rem) as u8;
    }
    [cmf, flg]
}

/// Filters and compresses rows `from..to` into raw deflate data, primed
/// with the filtered data just before `from`; ends with a sync flush, or
/// the final block when `last`. Returns the data, the Adler-32 of the
/// filtered rows, and their length.
fn compress_rows(
    data: &[u8],
    row_bytes: usize,
    bpp: usize,
    level: u32,
    from: usize,
    to: usize,
    last: bool,
) -> Option<(Vec<u8>, u32, usize)> {
    let mut c = Compress::new(Compression::new(level), false);
    let mut filtered = vec![0u8; row_bytes + 1];
    let mut scratch = vec![0u8; row_bytes];
    let zero = vec![0u8; row_bytes];
    let row = |y: usize| &data[y * row_bytes..(y + 1) * row_bytes];
    let previous = |y: usize| if y == 0 { &zero[..] } else { row(y - 1) };
    if from > 0 {
        // The window before this piece, filtered as the piece before does.
        let back = WINDOW.div_ceil(row_bytes + 1).min(from);
        let mut dict = Vec::with_capacity(back * (row_bytes + 1));
        for y in from - back..from {
            filter_row(previous(y), row(y), bpp, &mut filtered, &mut scratch);
            dict.extend_from_slice(&filtered);
        }
        let start = dict.len().saturating_sub(WINDOW);
        c.set_dictionary(&dict[start..]).ok()?;
    }
    let mut out = Vec::with_capacity((to - from) * (row_bytes + 1) / 2 + 1024);
    if from == 0 {
        out.extend_from_slice(&zlib_header(level));
    }
    let mut adler = simd_adler32::Adler32::new();
    for y in from..to {
        filter_row(previous(y), row(y), bpp, &mut filtered, &mut scratch);
        adler.write(&filtered);
        feed(&mut c, &filtered, &mut out)?;
    }
    finish(&mut c, &mut out, last)?;
    Some((out, adler.finish(), (to - from) * (row_bytes + 1)))
}

/// Compresses all of `input` into `out`.
fn feed(c: &mut Compress, mut input: &[u8], out: &mut Vec<u8>) -> Option<()> {
    while !input.is_empty() {
        if out.capacity() - out.len() < 64 * 1024 {
            out.reserve(1 << 20);
        }
        let before = c.total_in();
        c.compress_vec(input, out, FlushCompress::None).ok()?;
        let used = usize::try_from(c.total_in() - before).ok()?;
        input = &input[used..];
    }
    Some(())
}

/// Ends a piece: a sync flush (byte-aligned, not final), or the final
/// block.
fn finish(c: &mut Compress, out: &mut Vec<u8>, last: bool) -> Option<()> {
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    loop {
        if out.capacity() - out.len() < 64 * 1024 {
            out.reserve(1 << 20);
        }
        let room = out.capacity() - out.len();
        let before = out.len();
        let status = c.compress_vec(&[], out, flush).ok()?;
        if last && status == Status::StreamEnd {
            return Some(());
        }
        // A sync flush is done when the compressor stops filling the room
        // it was given.
        if !last && out.len() - before < room {
            return Some(());
        }
    }
}

/// zlib's adler32_combine: the checksum of A then B from theirs and B's
/// length.
fn adler32_combine(a: u32, b: u32, b_len: usize) -> u32 {
    const BASE: u64 = 65521;
    let rem = (b_len as u64) % BASE;
    let a1 = u64::from(a & 0xffff);
    let a2 = u64::from(a >> 16);
    let b1 = u64::from(b & 0xffff);
    let b2 = u64::from(b >> 16);
    let sum1 = (a1 + b1 + BASE - 1) % BASE;
    let sum2 = (rem * a1 % BASE + a2 + b2 + BASE - rem) % BASE;
    ((sum2 << 16) | sum1) as u32
}

/// One row filtered adaptively into `out` (its filter type byte first);
/// `scratch` is a row of working space.
fn filter_row(prev: &[u8], cur: &[u8], bpp: usize, out: &mut [u8], scratch: &mut [u8]) {
    // The png crate's order and tie rule: Up, Sub, Average, Paeth, `<=`.
    let mut best = u64::MAX;
    for kind in [2u8, 1, 3, 4] {
        apply(kind, prev, cur, bpp, scratch);
        let cost = magnitude(scratch);
        if cost <= best {
            best = cost;
            out[0] = kind;
            out[1..].copy_from_slice(scratch);
            if cost == 0 {
                return;
            }
        }
    }
}

/// The sum of the bytes' magnitudes as signed bytes (the heuristic's
/// cost), in 32 KiB blocks that cannot overflow a `u32`.
fn magnitude(bytes: &[u8]) -> u64 {
    bytes
        .chunks(32 * 1024)
        .map(|block| u64::from(block.iter().map(|&b| u32::from((b as i8).unsigned_abs())).sum::<u32>()))
        .sum()
}

/// PNG filter `kind` (1 Sub, 2 Up, 3 Average, 4 Paeth) of `cur` over
/// `prev` into `out`.
fn apply(kind: u8, prev: &[u8], cur: &[u8], bpp: usize, out: &mut [u8]) {
    let n = cur.len();
    let head = bpp.min(n);
    // The first pixel has no left neighbour (left and upper-left are 0).
    let (out_head, out_rest) = out.split_at_mut(head);
    match kind {
        1 => {
            out_head.copy_from_slice(&cur[..head]);
            for ((o, &c), &a) in out_rest.iter_mut().zip(&cur[head..]).zip(cur) {
                *o = c.wrapping_sub(a);
            }
        }
        2 => {
            for ((o, &c), &p) in out.iter_mut().zip(cur).zip(prev) {
                *o = c.wrapping_sub(p);
            }
        }
        3 => {
            for ((o, &c), &p) in out_head.iter_mut().zip(cur).zip(prev) {
                *o = c.wrapping_sub(p >> 1);
            }
            for (((o, &c), &a), &b) in out_rest.iter_mut().zip(&cur[head..]).zip(cur).zip(&prev[head..]) {
                *o = c.wrapping_sub(((u16::from(a) + u16::from(b)) >> 1) as u8);
            }
        }
        _ => {
            // Paeth with no left neighbours is Up.
            for ((o, &c), &p) in out_head.iter_mut().zip(cur).zip(prev) {
                *o = c.wrapping_sub(p);
            }
            for ((((o, &x), &a), &b), &c) in out_rest
                .iter_mut()
                .zip(&cur[head..])
                .zip(cur)
                .zip(&prev[head..])
                .zip(prev)
            {
                *o = x.wrapping_sub(paeth(a, b, c));
            }
        }
    }
}

/// The Paeth predictor, without branches (so the row loop vectorises).
#[inline(always)]
fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let (ia, ib, ic) = (i16::from(a), i16::from(b), i16::from(c));
    let pa = (ib - ic).abs();
    let pb = (ia - ic).abs();
    let pc = (ia + ib - 2 * ic).abs();
    let b_or_c = if pb <= pc { b } else { c };
    if pa <= pb && pa <= pc { a } else { b_or_c }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn inflate(stream: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(stream).read_to_end(&mut out).unwrap();
        out
    }

    /// Undoes the filters, to check the stream carries the rows.
    fn unfilter(filtered: &[u8], row_bytes: usize, bpp: usize) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::new();
        for (y, f) in filtered.chunks(row_bytes + 1).enumerate() {
            let prev: Vec<u8> = if y == 0 {
                vec![0; row_bytes]
            } else {
                out[(y - 1) * row_bytes..y * row_bytes].to_vec()
            };
            let mut cur = vec![0u8; row_bytes];
            for i in 0..row_bytes {
                let a = if i >= bpp { cur[i - bpp] } else { 0 };
                let c = if i >= bpp { prev[i - bpp] } else { 0 };
                let pred = match f[0] {
                    0 => 0,
                    1 => a,
                    2 => prev[i],
                    3 => ((u16::from(a) + u16::from(prev[i])) >> 1) as u8,
                    _ => paeth(a, prev[i], c),
                };
                cur[i] = f[1 + i].wrapping_add(pred);
            }
            out.extend_from_slice(&cur);
        }
        out
    }

    #[test]
    fn pieces_make_one_valid_zlib_stream_of_the_filtered_rows() {
        let (w, h, bpp) = (300usize, 97usize, 3usize);
        let data: Vec<u8> = (0..w * h * bpp).map(|i| ((i * 7) ^ (i / 901)) as u8).collect();
        for pieces in [1, 2, 3, 8] {
            let stream = zlib_stream(&data, w * bpp, bpp, 6, pieces).unwrap().concat();
            assert_eq!(u16::from_be_bytes([stream[0], stream[1]]) % 31, 0);
            let filtered = inflate(&stream);
            assert_eq!(unfilter(&filtered, w * bpp, bpp), data, "{pieces} pieces");
        }
    }

    #[test]
    fn adler_combines_as_computed_whole() {
        let a = b"the first part, ".repeat(999);
        let b = b"and the second".repeat(777);
        let whole = [a.as_slice(), b.as_slice()].concat();
        let sum = |x: &[u8]| {
            let mut s = simd_adler32::Adler32::new();
            s.write(x);
            s.finish()
        };
        assert_eq!(adler32_combine(sum(&a), sum(&b), b.len()), sum(&whole));
        for level in 0..=9 {
            let [cmf, flg] = zlib_header(level);
            assert_eq!((u16::from(cmf) * 256 + u16::from(flg)) % 31, 0);
        }
    }
}
