//! Legacy Office (OLE2 / CFB): a new compound file with the remaining
//! streams, without VBA storages and embedded objects; blocked where the
//! danger sits inside a stream that cannot be rewritten safely.

use mugai_core::{Blocked, Code, Context, FileType, Rebuilt};
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};

/// Storages that hold a VBA project (anywhere in the tree).
const VBA_STORAGES: &[&str] = &["macros", "_vba_project_cur", "vba"];

struct Item {
    path: PathBuf,
    stream: bool,
    state: u32,
    len: u64,
}

/// An entry's name as compound files compare them: case-insensitively.
fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

/// Storages and streams of a rights-managed (IRM/DRM) document: its real
/// content is encrypted inside them.
const RIGHTS_MANAGED: &[&str] = &[
    "dataspaces",
    "drmcontent",
    "drmviewercontent",
    "drmencrypteddataspace",
    "encryptedpackage",
    "protectedcontent",
];

/// The name without the control characters some storage names start with
/// (`\x06DataSpaces`, `\x09DRMContent`).
fn plain_name(p: &Path) -> String {
    name_of(p)
        .trim_start_matches(|c: char| c.is_control())
        .to_string()
}

/// Why an entry is left out, if it is.
fn danger(item: &Item) -> Option<(Code, &'static str)> {
    let n = name_of(&item.path);
    if !item.stream && VBA_STORAGES.contains(&n.as_str()) {
        return Some((Code::OleVba, "VBA storage"));
    }
    if item.stream && (n == "_vba_project" || n == "\u{1}ole10native") {
        return Some(if n == "_vba_project" {
            (Code::OleVba, "VBA stream")
        } else {
            (Code::OleEmbedded, "Ole10Native package")
        });
    }
    if !item.stream && n == "objectpool" {
        return Some((Code::OleEmbedded, "ObjectPool (embedded objects)"));
    }
    if !item.stream && n.starts_with("mbd") && item.path.parent() == Some(Path::new("/")) {
        return Some((Code::OleEmbedded, "embedded object storage"));
    }
    None
}

fn read_stream(
    comp: &mut cfb::CompoundFile<Cursor<&[u8]>>,
    cx: &Context<'_>,
    path: &Path,
    len: u64,
) -> Result<Vec<u8>, Blocked> {
    cx.check_deadline()?;
    cx.charge_expanded(len)?;
    let mut s = comp
        .open_stream(path)
        .map_err(|e| cx.block(Code::RebuildFailed, format!("{}: {e}", path.display())))?;
    let mut out = Vec::with_capacity(len.min(1 << 24) as usize);
    (&mut s)
        .take(len)
        .read_to_end(&mut out)
        .map_err(|e| cx.block(Code::RebuildFailed, format!("{}: {e}", path.display())))?;
    Ok(out)
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Word: the FIB's encryption and obfuscation flags.
fn check_word(cx: &Context<'_>, wd: &[u8]) -> Result<(), Blocked> {
    let ident = u16_at(wd, 0)
        .ok_or_else(|| cx.block(Code::RebuildFailed, "WordDocument stream too short"))?;
    if ident != 0xA5EC && ident != 0xA5DC {
        return Err(cx.block(
            Code::RebuildFailed,
            format!("WordDocument stream has no FIB (wIdent {ident:#06x})"),
        ));
    }
    let flags = u16_at(wd, 0x0A).unwrap_or(0);
    if flags & 0x0100 != 0 || flags & 0x8000 != 0 {
        return Err(cx.block(
            Code::OleEncrypted,
            "encrypted Word document (FIB fEncrypted); send it without a password",
        ));
    }
    Ok(())
}

/// Excel BIFF: FILEPASS (encryption) and BOUNDSHEET of macro / VB module sheets.
fn check_workbook(cx: &Context<'_>, wb: &[u8]) -> Result<(), Blocked> {
    let mut at = 0usize;
    let mut records = 0u64;
    while at + 4 <= wb.len() {
        let ty = u16_at(wb, at).unwrap_or(0);
        let len = u16_at(wb, at + 2).unwrap_or(0) as usize;
        let body = wb.get(at + 4..(at + 4 + len).min(wb.len())).unwrap_or(&[]);
        records += 1;
        if records & 0xFFFF == 0 {
            cx.check_deadline()?;
        }
        match ty {
            0x002F => {
                return Err(cx.block(
                    Code::OleEncrypted,
                    "encrypted Excel workbook (FILEPASS); send it without a password",
                ))
            }
            0x0085 if body.len() >= 6 => match body[5] {
                1 => {
                    return Err(cx.block(
                        Code::OleXlmMacro,
                        "Excel 4.0 macro sheet (BOUNDSHEET type 1) in a BIFF workbook",
                    ))
                }
                6 => {
                    return Err(cx.block(
                        Code::OleVba,
                        "Excel 5 VBA module sheet (BOUNDSHEET type 6) cannot be removed safely",
                    ))
                }
                _ => {}
            },
            _ => {}
        }
        at += 4 + len;
    }
    Ok(())
}

/// Excel BIFF8 supporting links (SUPBOOK): a reference to another
/// workbook, a DDE link (`cmd|' /c calc'!A0` is a SUPBOOK `cmd\x03 /c
/// calc` with an EXTERNNAME `A0`) or an OLE link. Only the self reference
/// and the add-in list are kept; any other becomes an unused link (a
/// virtual path of one space), in place, so every stream offset stays
/// valid. Formulas that used it keep their cached values.
fn neutralise_supbooks(cx: &mut Context<'_>, wb: &mut [u8]) -> Result<(), Blocked> {
    let mut at = 0usize;
    let mut records = 0u64;
    while at + 4 <= wb.len() {
        let ty = u16_at(wb, at).unwrap_or(0);
        let len = u16_at(wb, at + 2).unwrap_or(0) as usize;
        records += 1;
        if records & 0xFFFF == 0 {
            cx.check_deadline()?;
        }
        let end = (at + 4 + len).min(wb.len());
        if ty == 0x01AE {
            let body = &mut wb[at + 4..end];
            if let Some(link) = supbook_link(body) {
                let what = link.map_err(|e| {
                    cx.block(
                        Code::OleField,
                        format!("an external link record (SUPBOOK at {at:#x}) cannot be read: {e}"),
                    )
                })?;
                body.fill(0);
                body[2] = 1; // cch = 1
                body[5] = b' '; // an unused link
                cx.removed(
                    Code::OleField,
                    format!("{what} (SUPBOOK at {at:#x}) made an unused link; cells keep their cached values"),
                );
            }
        }
        at += 4 + len;
    }
    Ok(())
}

/// What a SUPBOOK body links to: `None` for the kept kinds (self
/// reference, add-ins, unused, same sheet), `Some(Err)` when it cannot be
/// read.
fn supbook_link(body: &[u8]) -> Option<Result<String, &'static str>> {
    let (Some(ctab), Some(cch)) = (u16_at(body, 0), u16_at(body, 2)) else {
        return Some(Err("shorter than 4 bytes"));
    };
    if cch == 0x0401 || cch == 0x3A01 {
        return None;
    }
    if cch == 0 || cch > 0xFF {
        return Some(Err("virtual path length out of range"));
    }
    let Some(&flags) = body.get(4) else {
        return Some(Err("no virtual path"));
    };
    let wide = flags & 1 != 0;
    let n = usize::from(cch) * if wide { 2 } else { 1 };
    let Some(raw) = body.get(5..5 + n) else {
        return Some(Err("the virtual path runs past the record"));
    };
    let chars: Vec<u16> = if wide {
        raw.chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect()
    } else {
        raw.iter().map(|&b| u16::from(b)).collect()
    };
    if chars == [0x20] || chars == [0] {
        return None;
    }
    let dde = ctab == 0 && chars.contains(&3);
    let shown: String = char::decode_utf16(chars.iter().copied())
        .map(|c| match c {
            Ok('\u{3}') => '|',
            Ok(c) if !c.is_control() => c,
            _ => '?',
        })
        .collect();
    Some(Ok(if dde {
        format!("DDE link {shown}")
    } else if ctab == 0 {
        format!("DDE or OLE link {shown}")
    } else {
        format!("external workbook link {shown}")
    }))
}

/// An empty compound file: what an emptied OLE storage holds.
fn empty_storage() -> Option<Vec<u8>> {
    let mut c =
        cfb::CompoundFile::create_with_version(cfb::Version::V3, Cursor::new(Vec::new())).ok()?;
    c.flush().ok()?;
    Some(c.into_inner().into_inner())
}

/// Replaces an `ExOleObjStg` record's payload with an empty storage, in
/// place (the record keeps its length, so the persist directory's offsets
/// stay valid). `compressed`: the payload is a decompressed size and a zlib
/// stream. `None` when the record is too small to hold one, `Some(false)`
/// when it holds an empty storage already.
fn empty_ole_storage(body: &mut [u8], compressed: bool) -> Option<bool> {
    let empty = empty_storage()?;
    let data = if compressed {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&empty).ok()?;
        let zd = z.finish().ok()?;
        let mut d = (empty.len() as u32).to_le_bytes().to_vec();
        d.extend_from_slice(&zd);
        d
    } else {
        empty
    };
    if data.len() > body.len() {
        return None;
    }
    let (head, rest) = body.split_at_mut(data.len());
    if head == data.as_slice() && rest.iter().all(|&b| b == 0) {
        return Some(false);
    }
    head.copy_from_slice(&data);
    rest.fill(0);
    Some(true)
}

/// PowerPoint: encryption blocks; a VBA project (VBAInfoAtom with
/// fHasMacros) is marked absent and every OLE storage inside the PowerPoint
/// Document stream (embedded objects, controls, the VBA project) is
/// emptied in place; linked objects block.
fn rewrite_powerpoint(cx: &mut Context<'_>, pp: &mut [u8]) -> Result<(), Blocked> {
    let mut at = 0usize;
    let mut records = 0u64;
    while at + 8 <= pp.len() {
        let ver_inst = u16_at(pp, at).unwrap_or(0);
        let ty = u16_at(pp, at + 2).unwrap_or(0);
        let len = u32_at(pp, at + 4).unwrap_or(0) as usize;
        records += 1;
        if records & 0xFFFF == 0 {
            cx.check_deadline()?;
        }
        match ty {
            0x2F14 => {
                return Err(cx.block(
                    Code::OleEncrypted,
                    "encrypted PowerPoint presentation; send it without a password",
                ))
            }
            // VBAInfoAtom: a project only when fHasMacros says so (PowerPoint
            // writes the record for presentations without macros as well).
            0x0400 if u32_at(pp, at + 12).unwrap_or(1) != 0 => {
                if let Some(f) = pp.get_mut(at + 12..at + 16) {
                    f.copy_from_slice(&0u32.to_le_bytes());
                }
                cx.removed(
                    Code::OleVba,
                    format!("VBA project (VBAInfoAtom at {at:#x}) marked absent; its storage is emptied"),
                );
            }
            0x0FCE => {
                return Err(cx.block(
                    Code::OleEmbedded,
                    "linked OLE object (ExOleLink) inside the PowerPoint Document stream",
                ))
            }
            0x1011 => {
                let compressed = ver_inst >> 4 == 1;
                let end = (at + 8).saturating_add(len).min(pp.len());
                match empty_ole_storage(&mut pp[at + 8..end], compressed) {
                    None => return Err(cx.block(
                        Code::OleEmbedded,
                        format!("OLE storage at {at:#x} in the PowerPoint Document stream is too small to empty in place"),
                    )),
                    Some(true) => cx.removed(
                        Code::OleEmbedded,
                        format!("OLE storage (embedded object, control or VBA project) at {at:#x} emptied in place"),
                    ),
                    Some(false) => {}
                }
            }
            _ => {}
        }
        // Containers (version 0xF) are entered; atoms are skipped.
        at = if ver_inst & 0x000F == 0x000F {
            at + 8
        } else {
            at.saturating_add(8).saturating_add(len)
        };
    }
    Ok(())
}

/// Rebuilds a Word, Excel or PowerPoint binary file.
pub fn rebuild(input: &[u8], ty: FileType, cx: &mut Context<'_>) -> Result<Rebuilt, Blocked> {
    let mut comp = cfb::CompoundFile::open(Cursor::new(input)).map_err(|e| {
        cx.block(
            Code::RebuildFailed,
            format!("not a readable OLE2 file: {e}"),
        )
    })?;
    let root_clsid = *comp.root_entry().clsid();
    let mut items: Vec<Item> = Vec::new();
    for e in comp.walk() {
        if e.is_root() {
            continue;
        }
        items.push(Item {
            path: e.path().to_path_buf(),
            stream: e.is_stream(),
            state: e.state_bits(),
            len: e.len(),
        });
        if items.len() as u64 > cx.policy().limits.max_entries {
            break;
        }
    }
    cx.charge_entries(items.len() as u64)?;
    // A root-level entry by name, case-insensitively (`BOOK`, `workbook`).
    let root_entry = |name: &str, stream: bool| {
        items
            .iter()
            .find(|i| {
                i.stream == stream
                    && i.path.parent() == Some(Path::new("/"))
                    && name_of(&i.path) == name.to_lowercase()
            })
            .map(|i| (i.path.clone(), i.len))
    };
    let has = |name: &str| root_entry(name, true).or(root_entry(name, false)).is_some();
    if has("EncryptedSummary") || has("EncryptionInfo") || has("EncryptedPackage") {
        return Err(cx.block(
            Code::OleEncrypted,
            "encrypted Office document; send it without a password",
        ));
    }
    if let Some(it) = items
        .iter()
        .find(|i| RIGHTS_MANAGED.contains(&plain_name(&i.path).as_str()))
    {
        return Err(cx.block(
            Code::OleEncrypted,
            format!(
                "rights-managed (IRM/DRM) document: its content is encrypted ({})",
                it.path.display()
            ),
        ));
    }
    let main = match ty {
        FileType::Doc => "WordDocument",
        FileType::Xls if has("Workbook") => "Workbook",
        FileType::Xls => "Book",
        FileType::Ppt => "PowerPoint Document",
        _ => {
            return Err(cx.block(
                Code::OleUnknown,
                format!("OLE2 file of type {ty} is not handled"),
            ))
        }
    };
    let (main_path, main_len) = root_entry(main, true)
        .ok_or_else(|| cx.block(Code::RebuildFailed, format!("no {main} stream")))?;
    let mut main_bytes = read_stream(&mut comp, cx, &main_path, main_len)?;
    // Streams rewritten in place: path → new bytes.
    let mut replaced: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    match ty {
        FileType::Doc => {
            check_word(cx, &main_bytes)?;
            // The table stream named by the FIB (fWhichTblStm).
            let flags = u16_at(&main_bytes, 0x0A).unwrap_or(0);
            let table_name = if flags & 0x0200 != 0 {
                "1Table"
            } else {
                "0Table"
            };
            let mut table = match root_entry(table_name, true) {
                Some((p, len)) => Some((p.clone(), read_stream(&mut comp, cx, &p, len)?)),
                None => None,
            };
            let mut data = match root_entry("Data", true) {
                Some((p, len)) => Some((p.clone(), read_stream(&mut comp, cx, &p, len)?)),
                None => None,
            };
            let neutralise =
                cx.policy().office.hyperlinks == mugai_core::config::LinkAction::Neutralise;
            crate::word::neutralise_fields(
                cx,
                &mut main_bytes,
                table.as_mut().map(|(_, t)| t),
                data.as_mut().map(|(_, d)| d),
                neutralise,
            )?;
            replaced.extend(table);
            replaced.extend(data);
        }
        FileType::Xls => {
            check_workbook(cx, &main_bytes)?;
            neutralise_supbooks(cx, &mut main_bytes)?;
        }
        _ => rewrite_powerpoint(cx, &mut main_bytes)?,
    }
    replaced.push((main_path.clone(), main_bytes));

    // Which subtrees are left out.
    let mut dropped: Vec<PathBuf> = Vec::new();
    for it in &items {
        if dropped.iter().any(|d| it.path.starts_with(d)) {
            continue;
        }
        if let Some((code, what)) = danger(it) {
            cx.removed(code, format!("{} {} removed", what, it.path.display()));
            dropped.push(it.path.clone());
        }
    }

    let mut out = cfb::CompoundFile::create_with_version(comp.version(), Cursor::new(Vec::new()))
        .map_err(|e| {
        cx.block(
            Code::RebuildFailed,
            format!("creating the compound file: {e}"),
        )
    })?;
    let werr = |cx: &Context<'_>, e: std::io::Error| {
        cx.block(
            Code::RebuildFailed,
            format!("writing the compound file: {e}"),
        )
    };
    out.set_storage_clsid("/", root_clsid)
        .map_err(|e| werr(cx, e))?;
    for it in &items {
        if dropped.iter().any(|d| it.path.starts_with(d)) {
            continue;
        }
        if it.stream {
            let bytes = match replaced.iter().find(|(p, _)| *p == it.path) {
                Some((_, b)) => b.clone(),
                None => read_stream(&mut comp, cx, &it.path, it.len)?,
            };
            let mut s = out.create_stream(&it.path).map_err(|e| werr(cx, e))?;
            s.write_all(&bytes).map_err(|e| werr(cx, e))?;
        } else {
            out.create_storage(&it.path).map_err(|e| werr(cx, e))?;
            let clsid = *comp
                .entry(&it.path)
                .map_err(|e| cx.block(Code::RebuildFailed, format!("{}: {e}", it.path.display())))?
                .clsid();
            out.set_storage_clsid(&it.path, clsid)
                .map_err(|e| werr(cx, e))?;
            // The storage keeps its times (a rebuild is the same every time).
            let (created, modified) = comp
                .entry(&it.path)
                .map(|e| (e.created(), e.modified()))
                .map_err(|e| {
                    cx.block(Code::RebuildFailed, format!("{}: {e}", it.path.display()))
                })?;
            out.set_created_time(&it.path, created)
                .map_err(|e| werr(cx, e))?;
            out.set_modified_time(&it.path, modified)
                .map_err(|e| werr(cx, e))?;
        }
        if it.state != 0 {
            out.set_state_bits(&it.path, it.state)
                .map_err(|e| werr(cx, e))?;
        }
    }
    out.flush().map_err(|e| werr(cx, e))?;
    Ok(Rebuilt::new(out.into_inner().into_inner(), ty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn biff_records_are_walked() {
        // BOF, BOUNDSHEET with sheet type 1 (macro sheet).
        let mut wb = vec![0x09, 0x08, 0x00, 0x00];
        wb.extend_from_slice(&[0x85, 0x00, 0x08, 0x00, 0, 0, 0, 0, 0, 1, 0, 0]);
        let p = mugai_core::Policy::default();
        let b = mugai_core::Budget::new(&p.limits);
        let cx = Context::new(&p, &b, &mugai_core::NoMembers, None);
        assert_eq!(
            check_workbook(&cx, &wb).unwrap_err().code,
            Code::OleXlmMacro
        );
        wb[9 + 4] = 0;
        assert!(check_workbook(&cx, &wb).is_ok());
        assert_eq!(
            check_workbook(&cx, &[0x2F, 0, 0, 0]).unwrap_err().code,
            Code::OleEncrypted
        );
    }

    /// The streams of a compound file, by name.
    fn streams(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
        let mut c = cfb::CompoundFile::open(Cursor::new(bytes)).expect("cfb");
        let paths: Vec<PathBuf> = c
            .walk()
            .filter(|e| e.is_stream())
            .map(|e| e.path().to_path_buf())
            .collect();
        paths
            .into_iter()
            .map(|p| {
                let mut v = Vec::new();
                c.open_stream(&p)
                    .expect("stream")
                    .read_to_end(&mut v)
                    .expect("read");
                (p.display().to_string(), v)
            })
            .collect()
    }

    #[test]
    fn a_neutralised_hyperlink_takes_its_data_with_it() {
        use mugai_core::config::LinkAction;
        let has = |b: &[u8], n: &[u8]| b.windows(n.len()).any(|w| w == n);
        for (url, hyperlinks, cleared) in [
            ("http://example.jp/x", LinkAction::Neutralise, true),
            ("http://example.jp/x", LinkAction::Keep, false),
            // A share is never a kept target.
            ("\\\\evil.example\\share", LinkAction::Keep, true),
        ] {
            let (wd, table, data) = mugai_corpus::office::word97_hyperlink(url);
            let file = mugai_corpus::office::cfb_file(&[
                ("/WordDocument", wd),
                ("/1Table", table),
                ("/Data", data.clone()),
            ]);
            let wide: Vec<u8> = url.encode_utf16().flat_map(u16::to_le_bytes).collect();
            assert!(has(&data, &wide));
            let mut p = mugai_core::Policy::default();
            p.office.hyperlinks = hyperlinks;
            let b = mugai_core::Budget::new(&p.limits);
            let mut cx = Context::new(&p, &b, &mugai_core::NoMembers, None);
            let out = rebuild(&file, FileType::Doc, &mut cx).unwrap_or_else(|e| panic!("{e}"));
            let s = streams(&out.bytes);
            let new_data = &s["/Data"];
            assert_eq!(new_data.len(), data.len(), "offsets stay valid");
            let wd = &s["/WordDocument"];
            // The NilPICFAndBinData keeps its size and header.
            assert_eq!(new_data[..6], data[..6]);
            if cleared {
                assert!(!has(new_data, &wide), "target left in the Data stream");
                assert!(new_data[0x44..].iter().all(|&b| b == 0));
                assert!(!has(wd, url.as_bytes()), "instruction left");
                assert!(has(wd, b"the page"), "result kept");
                let details: Vec<&str> = cx.findings().iter().map(|f| f.detail.as_str()).collect();
                assert!(
                    details.iter().any(|d| d.contains("Data stream cleared")),
                    "{details:?}"
                );
            } else {
                assert_eq!(new_data, &data, "a kept hyperlink keeps its data");
                assert!(has(wd, url.as_bytes()));
            }
        }
    }

    #[test]
    fn word6_fast_saved_is_blocked_and_plain_word6_is_read() {
        let p = mugai_core::Policy::default();
        let b = mugai_core::Budget::new(&p.limits);
        let text = b"A \x13 INCLUDETEXT \"\\\\h\\s\\a.doc\" \x14x\x15\r";
        let run = |flags: u16| {
            let file = mugai_corpus::office::cfb_file(&[(
                "/WordDocument",
                mugai_corpus::office::word6_stream(flags, text),
            )]);
            let mut cx = Context::new(&p, &b, &mugai_core::NoMembers, None);
            rebuild(&file, FileType::Doc, &mut cx).map(|r| (r, cx.findings().to_vec()))
        };
        let Err(e) = run(0x0004) else {
            panic!("fast-saved Word 6 not blocked")
        };
        assert_eq!(e.code, Code::OleField);
        assert!(e.detail.contains("fast-saved"), "{}", e.detail);
        let (r, findings) = run(0).unwrap_or_else(|e| panic!("{e}"));
        assert!(findings.iter().any(|f| f.code == Code::OleField));
        let wd = &streams(&r.bytes)["/WordDocument"];
        assert!(!wd.windows(11).any(|w| w == b"INCLUDETEXT"));
        assert!(wd.windows(3).any(|w| w == b"\x14x\x15"), "result kept");
    }

    #[test]
    fn supbook_dde_links_become_unused_links() {
        let p = mugai_core::Policy::default();
        let b = mugai_core::Budget::new(&p.limits);
        let path = b"cmd\x03 /c calc";
        let mut sup = vec![0, 0, path.len() as u8, 0, 0];
        sup.extend_from_slice(path);
        let mut wb = vec![0xAE, 0x01, sup.len() as u8, 0];
        wb.extend_from_slice(&sup);
        // A self reference stays.
        wb.extend_from_slice(&[0xAE, 0x01, 4, 0, 1, 0, 1, 4]);
        let before = wb.clone();
        let mut cx = Context::new(&p, &b, &mugai_core::NoMembers, None);
        neutralise_supbooks(&mut cx, &mut wb).unwrap_or_else(|e| panic!("{e}"));
        let f = cx.findings();
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].code, Code::OleField);
        assert!(f[0].detail.contains("DDE link cmd| /c calc"), "{f:?}");
        assert_eq!(wb.len(), before.len(), "same length");
        assert_eq!(&wb[4..10], &[0, 0, 1, 0, 0, b' ']);
        assert!(!wb.windows(4).any(|w| w == b"calc"));
        assert_eq!(wb[wb.len() - 8..], before[before.len() - 8..]);
        // A second pass finds nothing.
        let mut cx = Context::new(&p, &b, &mugai_core::NoMembers, None);
        neutralise_supbooks(&mut cx, &mut wb).unwrap_or_else(|e| panic!("{e}"));
        assert!(cx.findings().is_empty());
        // A record cut short is not guessed at.
        let mut cut = vec![0xAE, 0x01, 6, 0, 0, 0, 9, 0, 0, b'c'];
        let mut cx = Context::new(&p, &b, &mugai_core::NoMembers, None);
        assert_eq!(
            neutralise_supbooks(&mut cx, &mut cut).unwrap_err().code,
            Code::OleField
        );
    }
}
