//! Parsing a ZIP: end record, central directory and local headers, with
//! the structural checks that make the result trustworthy.
//!
//! Every offset and length comes from the file and is checked before use;
//! nothing here can panic or allocate more than the file's own size allows.

use mugai_core::{Blocked, Code, Reader};

const SIG_LOCAL: u32 = 0x0403_4b50;
const SIG_CENTRAL: u32 = 0x0201_4b50;
const SIG_EOCD: u32 = 0x0605_4b50;
const SIG_ZIP64_EOCD: u32 = 0x0606_4b50;
const SIG_ZIP64_LOCATOR: u32 = 0x0706_4b50;
const SIG_DESCRIPTOR: u32 = 0x0807_4b50;

const EOCD_LEN: usize = 22;
const CENTRAL_LEN: usize = 46;
const LOCAL_LEN: usize = 30;
const MAX_COMMENT: usize = 0xFFFF;

/// General-purpose flag bits.
pub const FLAG_ENCRYPTED: u16 = 1;
pub const FLAG_DESCRIPTOR: u16 = 1 << 3;
pub const FLAG_STRONG_ENCRYPTION: u16 = 1 << 6;
pub const FLAG_UTF8: u16 = 1 << 11;
pub const FLAG_MASKED_HEADERS: u16 = 1 << 13;

/// Compression method of WinZip AES entries.
pub const METHOD_AES: u16 = 99;

/// One entry, as the central directory and its local header agree it is.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// Position in the central directory.
    pub index: usize,
    pub raw_name: &'a [u8],
    /// Extra fields of the central directory record.
    pub extra: &'a [u8],
    pub made_by: u16,
    pub flags: u16,
    pub method: u16,
    pub dos_time: u16,
    pub dos_date: u16,
    pub crc32: u32,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    pub external_attrs: u32,
    pub local_offset: u64,
    /// The compressed data, `compressed_size` bytes.
    pub data: &'a [u8],
    /// Where the entry's bytes (local header to data descriptor) start and end.
    pub span: (usize, usize),
}

impl Entry<'_> {
    /// The name as it can be shown in a message before decoding.
    pub fn shown_name(&self) -> String {
        mugai_detect::name::printable(&String::from_utf8_lossy(self.raw_name))
    }

    /// Encrypted by any scheme: ZipCrypto, strong encryption, WinZip AES.
    pub fn is_encrypted(&self) -> bool {
        self.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_HEADERS) != 0
            || self.method == METHOD_AES
    }

    /// The encryption scheme, for the report.
    pub fn encryption_name(&self) -> &'static str {
        if self.method == METHOD_AES {
            "AES"
        } else if self.flags & FLAG_STRONG_ENCRYPTION != 0 {
            "PKWARE strong encryption"
        } else {
            "ZipCrypto"
        }
    }
}

/// A parsed archive.
#[derive(Debug, Clone)]
pub struct Archive<'a> {
    pub entries: Vec<Entry<'a>>,
    /// Bytes that no entry, directory or end record refers to.
    pub hidden_bytes: u64,
    /// Length of the archive comment (dropped from the output).
    pub comment_len: usize,
}

/// Limits the parser enforces before anything is inflated.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    pub max_entries: u64,
    /// Bytes the whole archive may still expand to.
    pub max_expanded: u64,
    pub max_ratio: u64,
}

pub use mugai_core::budget::{ratio_exceeded, RATIO_FLOOR};

fn failed(detail: impl Into<String>) -> Blocked {
    Blocked::failed(detail)
}

fn bomb(detail: impl Into<String>) -> Blocked {
    Blocked::new(Code::ArchiveBomb, detail)
}

fn to_usize(v: u64, what: &str) -> Result<usize, Blocked> {
    usize::try_from(v).map_err(|_| failed(format!("{what} {v} is outside the file")))
}

/// The end of central directory record and what it says.
struct End {
    start: usize,
    comment_len: usize,
    entries: u64,
    cd_offset: u64,
    cd_size: u64,
    /// Bytes of the ZIP64 end record and locator, when present.
    zip64_len: usize,
    /// The central directory must end at or before this offset.
    cd_limit: usize,
}

/// Parses `input`: finds the end record, reads the central directory,
/// then every local header, and checks that they agree and that no two
/// entries share bytes. Encryption is reported before anything else so the
/// user learns the one thing they can fix. `charge` is called once per
/// entry (the shared entry budget).
pub fn parse<'a>(
    input: &'a [u8],
    limits: ParseLimits,
    mut charge: impl FnMut() -> Result<(), Blocked>,
) -> Result<Archive<'a>, Blocked> {
    let end = find_end(input)?;
    if end.entries > limits.max_entries {
        return Err(bomb(format!(
            "the archive declares {} entries, over the limit of {}",
            end.entries, limits.max_entries
        )));
    }
    let cd_start = to_usize(end.cd_offset, "central directory offset")?;
    let cd_len = to_usize(end.cd_size, "central directory size")?;
    let cd_end = cd_start
        .checked_add(cd_len)
        .filter(|&e| e <= end.cd_limit)
        .ok_or_else(|| failed("the central directory runs past the end record"))?;
    let cd = input
        .get(cd_start..cd_end)
        .ok_or_else(|| failed("the central directory is outside the file"))?;
    if end.entries.saturating_mul(CENTRAL_LEN as u64) > cd.len() as u64 {
        return Err(failed(format!(
            "{} entries cannot fit in a central directory of {} bytes",
            end.entries,
            cd.len()
        )));
    }

    if end.entries > 0 && cd.get(..4) != Some(&SIG_CENTRAL.to_le_bytes()[..]) {
        return Err(failed(format!(
            "the end record places the central directory at offset {cd_start}, where none starts"
        )));
    }
    let mut r = Reader::new(cd);
    // Bounded by the check above: every record is at least 46 bytes.
    let mut entries = Vec::with_capacity(to_usize(end.entries, "entry count")?);
    for index in 0..end.entries {
        charge()?;
        entries.push(read_central(&mut r, index as usize)?);
    }
    if !r.is_empty() {
        return Err(failed(format!(
            "{} bytes of the central directory follow its last entry",
            r.remaining()
        )));
    }

    if let Some(e) = entries.iter().find(|e| e.is_encrypted()) {
        return Err(encrypted(e));
    }

    let mut locals = Vec::with_capacity(entries.len());
    for e in &mut entries {
        locals.push(locate(input, e)?);
    }
    if let Some(e) = entries.iter().find(|e| e.is_encrypted()) {
        return Err(encrypted(e));
    }
    // Overlaps first, on header-to-data spans, so that a Fifield bomb is
    // named as such whatever else its headers get wrong.
    check_overlaps(&entries, cd_start)?;
    for (e, local) in entries.iter_mut().zip(&locals) {
        verify(input, e, local)?;
    }
    // Again with data descriptors included.
    check_overlaps(&entries, cd_start)?;

    // Declared sizes, before any byte is inflated.
    let mut declared: u64 = 0;
    for e in &entries {
        if ratio_exceeded(e.uncompressed_size, e.compressed_size, limits.max_ratio) {
            return Err(bomb(format!(
                "{}: declares {} bytes from {} compressed, a ratio over {}",
                e.shown_name(),
                e.uncompressed_size,
                e.compressed_size,
                limits.max_ratio
            )));
        }
        declared = declared.saturating_add(e.uncompressed_size);
    }
    if declared > limits.max_expanded {
        return Err(bomb(format!(
            "the entries declare {declared} bytes in all, over the {} bytes still allowed",
            limits.max_expanded
        )));
    }

    let referenced: u64 = entries
        .iter()
        .map(|e| (e.span.1 - e.span.0) as u64)
        .sum::<u64>()
        + cd.len() as u64
        + end.zip64_len as u64
        + (EOCD_LEN + end.comment_len) as u64;
    let hidden_bytes = (input.len() as u64).saturating_sub(referenced);
    Ok(Archive {
        entries,
        hidden_bytes,
        comment_len: end.comment_len,
    })
}

fn check_overlaps(entries: &[Entry<'_>], cd_start: usize) -> Result<(), Blocked> {
    let mut spans: Vec<(usize, usize, usize)> = entries
        .iter()
        .map(|e| (e.span.0, e.span.1, e.index))
        .collect();
    spans.sort_unstable();
    for w in spans.windows(2) {
        if let [a, b] = w {
            if b.0 < a.1 {
                return Err(bomb(format!(
                    "entries {} and {} overlap (bytes {}..{} and {}..{}): an overlapping-entry bomb",
                    a.2, b.2, a.0, a.1, b.0, b.1
                )));
            }
        }
    }
    if let Some(last) = spans.last() {
        if last.1 > cd_start {
            return Err(bomb(format!(
                "entry {} overlaps the central directory",
                last.2
            )));
        }
    }
    Ok(())
}

fn encrypted(e: &Entry<'_>) -> Blocked {
    Blocked::new(
        Code::ArchiveEncrypted,
        format!(
            "{} is password-protected ({}); encrypted files cannot be inspected, send the file without a password (パスワードなしで送付してください)",
            e.shown_name(),
            e.encryption_name()
        ),
    )
}

/// Finds the end record: the last signature, scanning back over at most a
/// maximal comment, whose comment fits in the file.
fn find_end(input: &[u8]) -> Result<End, Blocked> {
    if input.len() < EOCD_LEN {
        return Err(failed("too short to be a ZIP archive"));
    }
    let last = input.len() - EOCD_LEN;
    let first = last.saturating_sub(MAX_COMMENT);
    let mut pos = last + 1;
    while pos > first {
        pos -= 1;
        let mut r = Reader::new(input);
        r.seek(pos).ok_or_else(|| failed("end record search"))?;
        if r.u32_le() != Some(SIG_EOCD) {
            continue;
        }
        let (
            Some(disk),
            Some(cd_disk),
            Some(on_disk),
            Some(total),
            Some(size),
            Some(offset),
            Some(clen),
        ) = (
            r.u16_le(),
            r.u16_le(),
            r.u16_le(),
            r.u16_le(),
            r.u32_le(),
            r.u32_le(),
            r.u16_le(),
        )
        else {
            continue;
        };
        let comment_len = usize::from(clen);
        if pos + EOCD_LEN + comment_len > input.len() {
            continue;
        }
        let mut end = End {
            start: pos,
            comment_len,
            entries: u64::from(total),
            cd_offset: u64::from(offset),
            cd_size: u64::from(size),
            zip64_len: 0,
            cd_limit: pos,
        };
        let needs_zip64 =
            total == 0xFFFF || on_disk == 0xFFFF || size == 0xFFFF_FFFF || offset == 0xFFFF_FFFF;
        if needs_zip64 {
            read_zip64_end(input, &mut end)?;
        } else if disk != 0 || cd_disk != 0 || on_disk != total {
            return Err(failed("multi-volume (split) archives are not supported"));
        }
        return Ok(end);
    }
    Err(failed(
        "no end of central directory record: not a complete ZIP archive",
    ))
}

fn read_zip64_end(input: &[u8], end: &mut End) -> Result<(), Blocked> {
    let bad = || failed("the ZIP64 end record is missing or damaged");
    let loc = end.start.checked_sub(20).ok_or_else(bad)?;
    let mut r = Reader::new(input);
    r.seek(loc).ok_or_else(bad)?;
    if r.u32_le() != Some(SIG_ZIP64_LOCATOR) {
        return Err(bad());
    }
    let _disk = r.u32_le().ok_or_else(bad)?;
    let rec = to_usize(r.u64_le().ok_or_else(bad)?, "ZIP64 end record offset")?;
    let disks = r.u32_le().ok_or_else(bad)?;
    if disks > 1 {
        return Err(failed("multi-volume (split) archives are not supported"));
    }
    r.seek(rec).ok_or_else(bad)?;
    if r.u32_le() != Some(SIG_ZIP64_EOCD) {
        return Err(bad());
    }
    let size = r.u64_le().ok_or_else(bad)?;
    let rec_len = size.checked_add(12).ok_or_else(bad)?;
    if rec.saturating_add(to_usize(rec_len, "ZIP64 end record size")?) > loc {
        return Err(bad());
    }
    r.skip(4).ok_or_else(bad)?; // versions
    let disk = r.u32_le().ok_or_else(bad)?;
    let cd_disk = r.u32_le().ok_or_else(bad)?;
    let on_disk = r.u64_le().ok_or_else(bad)?;
    let total = r.u64_le().ok_or_else(bad)?;
    let cd_size = r.u64_le().ok_or_else(bad)?;
    let cd_offset = r.u64_le().ok_or_else(bad)?;
    if disk != 0 || cd_disk != 0 || on_disk != total {
        return Err(failed("multi-volume (split) archives are not supported"));
    }
    end.entries = total;
    end.cd_size = cd_size;
    end.cd_offset = cd_offset;
    end.zip64_len = to_usize(rec_len, "ZIP64 end record size")? + 20;
    end.cd_limit = rec;
    Ok(())
}

fn read_central<'a>(r: &mut Reader<'a>, index: usize) -> Result<Entry<'a>, Blocked> {
    let bad = || failed(format!("central directory entry {index} is damaged"));
    if r.u32_le() != Some(SIG_CENTRAL) {
        return Err(bad());
    }
    let made_by = r.u16_le().ok_or_else(bad)?;
    let _needed = r.u16_le().ok_or_else(bad)?;
    let flags = r.u16_le().ok_or_else(bad)?;
    let method = r.u16_le().ok_or_else(bad)?;
    let dos_time = r.u16_le().ok_or_else(bad)?;
    let dos_date = r.u16_le().ok_or_else(bad)?;
    let crc32 = r.u32_le().ok_or_else(bad)?;
    let csize = r.u32_le().ok_or_else(bad)?;
    let usize_ = r.u32_le().ok_or_else(bad)?;
    let name_len = r.u16_le().ok_or_else(bad)?;
    let extra_len = r.u16_le().ok_or_else(bad)?;
    let comment_len = r.u16_le().ok_or_else(bad)?;
    let disk = r.u16_le().ok_or_else(bad)?;
    let _internal = r.u16_le().ok_or_else(bad)?;
    let external_attrs = r.u32_le().ok_or_else(bad)?;
    let offset = r.u32_le().ok_or_else(bad)?;
    let raw_name = r.take(usize::from(name_len)).ok_or_else(bad)?;
    let extra = r.take(usize::from(extra_len)).ok_or_else(bad)?;
    r.skip(usize::from(comment_len)).ok_or_else(bad)?;

    let mut compressed_size = u64::from(csize);
    let mut uncompressed_size = u64::from(usize_);
    let mut local_offset = u64::from(offset);
    let mut disk = u32::from(disk);
    if csize == 0xFFFF_FFFF || usize_ == 0xFFFF_FFFF || offset == 0xFFFF_FFFF || disk == 0xFFFF {
        let z = find_extra(extra, 0x0001).ok_or_else(|| {
            failed(format!(
                "central directory entry {index} lacks its ZIP64 sizes"
            ))
        })?;
        let mut zr = Reader::new(z);
        let mut next = |present: bool, v: &mut u64| -> Result<(), Blocked> {
            if present {
                *v = zr.u64_le().ok_or_else(bad)?;
            }
            Ok(())
        };
        next(usize_ == 0xFFFF_FFFF, &mut uncompressed_size)?;
        next(csize == 0xFFFF_FFFF, &mut compressed_size)?;
        next(offset == 0xFFFF_FFFF, &mut local_offset)?;
        if disk == 0xFFFF {
            disk = zr.u32_le().ok_or_else(bad)?;
        }
    }
    if disk != 0 {
        return Err(failed("multi-volume (split) archives are not supported"));
    }
    Ok(Entry {
        index,
        raw_name,
        extra,
        made_by,
        flags,
        method,
        dos_time,
        dos_date,
        crc32,
        compressed_size,
        uncompressed_size,
        external_attrs,
        local_offset,
        data: &[],
        span: (0, 0),
    })
}

/// The data of extra field `id` in an extra-field block. A damaged block
/// ends the search rather than failing: only the fields read matter.
pub fn find_extra(extra: &[u8], id: u16) -> Option<&[u8]> {
    let mut r = Reader::new(extra);
    while r.remaining() >= 4 {
        let tag = r.u16_le()?;
        let len = r.u16_le()?;
        let data = r.take(usize::from(len))?;
        if tag == id {
            return Some(data);
        }
    }
    None
}

/// What a local header says, kept for [`verify`].
#[derive(Debug, Clone)]
struct Local<'a> {
    flags: u16,
    method: u16,
    crc32: u32,
    csize: u32,
    usize_: u32,
    raw_name: &'a [u8],
    extra: &'a [u8],
}

/// Reads the local header of `e` and sets the entry's data and its
/// header-to-data span; checks nothing else yet.
fn locate<'a>(input: &'a [u8], e: &mut Entry<'a>) -> Result<Local<'a>, Blocked> {
    let name = e.shown_name();
    let outside = || failed(format!("{name}: the entry points outside the file"));
    let start = to_usize(e.local_offset, "local header offset")?;
    let mut r = Reader::new(input);
    r.seek(start).ok_or_else(outside)?;
    if r.remaining() < LOCAL_LEN {
        return Err(outside());
    }
    if r.u32_le() != Some(SIG_LOCAL) {
        return Err(failed(format!(
            "{name}: no local header where the central directory says (offset {start})"
        )));
    }
    let _needed = r.u16_le().ok_or_else(outside)?;
    let flags = r.u16_le().ok_or_else(outside)?;
    let method = r.u16_le().ok_or_else(outside)?;
    r.skip(4).ok_or_else(outside)?; // time, date: not trusted, not compared
    let crc32 = r.u32_le().ok_or_else(outside)?;
    let csize = r.u32_le().ok_or_else(outside)?;
    let usize_ = r.u32_le().ok_or_else(outside)?;
    let name_len = r.u16_le().ok_or_else(outside)?;
    let extra_len = r.u16_le().ok_or_else(outside)?;
    let raw_name = r.take(usize::from(name_len)).ok_or_else(outside)?;
    let extra = r.take(usize::from(extra_len)).ok_or_else(outside)?;
    let clen = to_usize(e.compressed_size, "compressed size")?;
    let data = r.take(clen).ok_or_else(outside)?;
    e.data = data;
    e.span = (start, r.position());
    // Encryption announced in either header counts.
    e.flags |= flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION);
    Ok(Local {
        flags,
        method,
        crc32,
        csize,
        usize_,
        raw_name,
        extra,
    })
}

/// Checks a local header against the central record and extends the span
/// over the data descriptor.
fn verify(input: &[u8], e: &mut Entry<'_>, l: &Local<'_>) -> Result<(), Blocked> {
    let name = e.shown_name();
    let disagree = |what: &str| {
        failed(format!(
            "{name}: the local header and the central directory disagree on the {what}"
        ))
    };
    if l.raw_name != e.raw_name {
        return Err(disagree("name"));
    }
    if l.method != e.method {
        return Err(disagree("compression method"));
    }
    let descriptor = (l.flags | e.flags) & FLAG_DESCRIPTOR != 0;
    let (mut lc, mut lu) = (u64::from(l.csize), u64::from(l.usize_));
    if l.csize == 0xFFFF_FFFF || l.usize_ == 0xFFFF_FFFF {
        if let Some(z) = find_extra(l.extra, 0x0001) {
            let mut zr = Reader::new(z);
            if l.usize_ == 0xFFFF_FFFF {
                lu = zr.u64_le().ok_or_else(|| disagree("ZIP64 sizes"))?;
            }
            if l.csize == 0xFFFF_FFFF {
                lc = zr.u64_le().ok_or_else(|| disagree("ZIP64 sizes"))?;
            }
        }
    }
    let same = |local: u64, central: u64| local == central || (descriptor && local == 0);
    if !same(u64::from(l.crc32), u64::from(e.crc32)) {
        return Err(disagree("CRC-32"));
    }
    if !same(lc, e.compressed_size) || !same(lu, e.uncompressed_size) {
        return Err(disagree("sizes"));
    }
    if descriptor {
        let extra =
            descriptor_len(input, e.span.1, e).ok_or_else(|| disagree("data descriptor"))?;
        e.span.1 += extra;
    }
    Ok(())
}

/// Length of the data descriptor at `at` that matches the central record
/// (with or without signature, 32- or 64-bit sizes).
fn descriptor_len(input: &[u8], at: usize, e: &Entry<'_>) -> Option<usize> {
    let matches = |sig: bool, wide: bool| -> Option<usize> {
        let mut r = Reader::new(input);
        r.seek(at)?;
        let start = r.position();
        if sig && r.u32_le()? != SIG_DESCRIPTOR {
            return None;
        }
        let crc = r.u32_le()?;
        let (c, u) = if wide {
            (r.u64_le()?, r.u64_le()?)
        } else {
            (u64::from(r.u32_le()?), u64::from(r.u32_le()?))
        };
        (crc == e.crc32 && c == e.compressed_size && u == e.uncompressed_size)
            .then(|| r.position() - start)
    };
    matches(true, false)
        .or_else(|| matches(true, true))
        .or_else(|| matches(false, false))
        .or_else(|| matches(false, true))
}
