//! Cases for the `type.*` and `name.*` rows: true type from content,
//! executables, mismatches, and dangerous names.

use crate::{build, Case, Expect};
use mugai_core::Code;

fn pe() -> Vec<u8> {
    let mut v = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff".to_vec();
    v.resize(0x3c, 0);
    v.extend_from_slice(&0x80u32.to_le_bytes());
    v.resize(0x80, 0);
    v.extend_from_slice(b"PE\0\0\x4c\x01\x01\x00");
    v.resize(512, 0);
    v
}

fn cfb_with(clsid: Option<[u8; 16]>, streams: &[&str]) -> Vec<u8> {
    let mut c = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).expect("cfb");
    if let Some(id) = clsid {
        c.set_storage_clsid("/", uuid_from(id)).expect("clsid");
    }
    for s in streams {
        use std::io::Write;
        let mut st = c.create_stream(s).expect("stream");
        st.write_all(b"\x00\x01payload").expect("write");
    }
    c.flush().expect("flush");
    c.into_inner().into_inner()
}

fn uuid_from(b: [u8; 16]) -> uuid::Uuid {
    uuid::Uuid::from_bytes_le(b)
}

pub fn cases() -> Vec<Case> {
    let text = b"plain text\n".to_vec();
    let pdfish = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.resize(64, 0);
    let lnk = {
        let mut v = vec![
            0x4C, 0, 0, 0, 0x01, 0x14, 0x02, 0x00, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46,
        ];
        v.resize(76, 0);
        v
    };
    let chm = {
        let mut v = b"ITSF\x03\x00\x00\x00".to_vec();
        v.resize(96, 0);
        v
    };
    let onenote = {
        let mut v = vec![
            0xE4, 0x52, 0x5C, 0x7B, 0x8C, 0xD8, 0xA7, 0x4D, 0xAE, 0xB1, 0x53, 0x78, 0xD0, 0x29,
            0x96, 0xD3,
        ];
        v.resize(1024, 0);
        v
    };
    let iso = {
        let mut v = vec![0u8; 0x8000];
        v.extend_from_slice(b"\x01CD001\x01");
        v.resize(0x9000, 0);
        v
    };
    let vhd = {
        let mut v = vec![0u8; 1024];
        v.extend_from_slice(b"conectix");
        v.resize(1024 + 512, 0);
        v
    };
    // MSI: a compound file with the installer database CLSID.
    let msi = cfb_with(
        Some([
            0x84, 0x10, 0x0C, 0x00, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46,
        ]),
        &["/\u{4840}\u{3f3f}"],
    );
    let msg = cfb_with(None, &["/__substg1.0_0037001F", "/__properties_version1.0"]);
    let jtd = cfb_with(None, &["/DocumentText", "/JSRV_SegmentList"]);
    let other_ole = cfb_with(None, &["/Contents"]);
    let jar = build::zip(&[
        (
            "META-INF/MANIFEST.MF",
            b"Manifest-Version: 1.0\r\nMain-Class: A\r\n",
        ),
        ("A.class", b"\xCA\xFE\xBA\xBE\0\0\0\x34"),
    ]);
    let html_script =
        b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>\n".to_vec();
    let html_onload = b"<html><body onload=\"run()\">hi</body></html>\n".to_vec();
    let html_plain = b"<!DOCTYPE html><html><body><p>hello</p></body></html>\n".to_vec();
    let hta = b"<HTA:APPLICATION ID=\"x\"/>\n<script language=\"VBScript\">x</script>\n".to_vec();
    let wsf = b"<?xml version=\"1.0\"?>\n<job id=\"a\"><script language=\"JScript\">WScript.Echo(1)</script></job>\n".to_vec();
    let unknown = vec![
        0x00, 0x13, 0x37, 0x00, 0xDE, 0xAD, 0xBE, 0xEF, 0, 0, 0, 0, 1, 2, 3, 4,
    ];
    let svg = b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>\n".to_vec();

    use Code::*;
    vec![
        Case::new(
            "types/program.pdf",
            pe(),
            Expect::blocked(TypeExecutable, &[], "a PE executable named .pdf"),
        ),
        Case::new(
            "types/program.exe",
            pe(),
            Expect::blocked(TypeExecutable, &[], "a PE executable"),
        ),
        Case::new(
            "types/tool.bin",
            elf,
            Expect::blocked(TypeExecutable, &[], "an ELF executable"),
        ),
        Case::new(
            "types/run.sh",
            b"#!/bin/sh\nrm -rf ~\n".to_vec(),
            Expect::blocked(TypeExecutable, &[], "a shell script"),
        ),
        Case::new(
            "types/readme.js",
            b"WScript.Echo('x');\n".to_vec(),
            Expect::blocked(TypeExecutable, &[], "JScript by extension"),
        ),
        Case::new(
            "types/update.vbs",
            b"MsgBox \"x\"\n".to_vec(),
            Expect::blocked(TypeExecutable, &[], "VBScript by extension"),
        ),
        Case::new(
            "types/setup.ps1",
            b"Get-Process\n".to_vec(),
            Expect::blocked(TypeExecutable, &[], "PowerShell by extension"),
        ),
        Case::new(
            "types/start.bat",
            b"@echo off\r\n".to_vec(),
            Expect::blocked(TypeExecutable, &[], "batch file by extension"),
        ),
        Case::new(
            "types/page.hta",
            hta.clone(),
            Expect::blocked(TypeExecutable, &[], "HTML application"),
        ),
        Case::new(
            "types/hta_as.txt",
            hta,
            Expect::blocked(TypeExecutable, &[], "HTA content named .txt"),
        ),
        Case::new(
            "types/job.xml",
            wsf,
            Expect::blocked(TypeExecutable, &[], "Windows Script File content"),
        ),
        Case::new(
            "types/shortcut.lnk",
            lnk.clone(),
            Expect::blocked(TypeExecutable, &[], "Windows shortcut"),
        ),
        Case::new(
            "types/shortcut_as.txt",
            lnk,
            Expect::blocked(TypeExecutable, &[], "Windows shortcut named .txt"),
        ),
        Case::new(
            "types/help.chm",
            chm,
            Expect::blocked(TypeExecutable, &[], "compiled HTML help"),
        ),
        Case::new(
            "types/notes.one",
            onenote,
            Expect::blocked(TypeExecutable, &[], "OneNote section"),
        ),
        Case::new(
            "types/disk.iso",
            iso.clone(),
            Expect::blocked(TypeExecutable, &[], "ISO 9660 disk image"),
        ),
        Case::new(
            "types/disk_as.zip",
            iso,
            Expect::blocked(TypeExecutable, &[], "disk image named .zip"),
        ),
        Case::new(
            "types/disk.vhd",
            vhd,
            Expect::blocked(TypeExecutable, &[], "VHD disk image"),
        ),
        Case::new(
            "types/install.msi",
            msi,
            Expect::blocked(TypeExecutable, &[], "Windows Installer database"),
        ),
        Case::new(
            "types/app.jar",
            jar,
            Expect::blocked(TypeExecutable, &[], "Java archive"),
        ),
        Case::new(
            "types/script.html",
            html_script,
            Expect::blocked(TypeExecutable, &[], "HTML with script"),
        ),
        Case::new(
            "types/onload.htm",
            html_onload,
            Expect::blocked(TypeExecutable, &[], "HTML with an event handler"),
        ),
        Case::new(
            "types/page.html",
            html_plain.clone(),
            Expect::blocked(TypeUnknown, &[], "HTML is not on the allow-list"),
        ),
        Case::new(
            "types/photo.jpg",
            html_plain,
            Expect::blocked(TypeMismatch, &[], "HTML named .jpg"),
        ),
        Case::new(
            "types/notes.pdf",
            text.clone(),
            Expect::blocked(TypeMismatch, &[], "text named .pdf"),
        ),
        Case::new(
            "types/data.bin",
            unknown,
            Expect::blocked(TypeUnknown, &[], "unrecognised binary"),
        ),
        Case::new(
            "types/mail.msg",
            msg,
            Expect::blocked(
                RebuildFailed,
                &[],
                "an Outlook MSG whose property stream is shorter than its header cannot be read",
            ),
        ),
        Case::new(
            "types/document.jtd",
            jtd,
            Expect::blocked(OleUnknown, &[], "Ichitaro document is not allowed"),
        ),
        Case::new(
            "types/storage.ole",
            other_ole,
            Expect::blocked(OleUnknown, &[], "unknown OLE2 container"),
        ),
        Case::new(
            "types/drawing.svg",
            svg,
            Expect::blocked(ImageSvg, &[], "SVG with script"),
        ),
        Case::new(
            "types/empty.txt",
            Vec::new(),
            Expect::clean("an empty file"),
        ),
        Case::new(
            "types/no_extension",
            text.clone(),
            Expect::clean("text without an extension"),
        ),
        Case::new(
            "types/report.pdf.txt",
            text.clone(),
            Expect::clean("an innocent double extension"),
        ),
        Case::new(
            "types/leading_junk.pdf",
            [b"junk\r\n".as_slice(), &crate::pdf::doc("", "", &[])].concat(),
            pdf_expect(),
        ),
        // Names.
        Case::new(
            "names/invoice.pdf.exe",
            pdfish.clone(),
            Expect::blocked(NameDoubleExt, &[], "double extension hiding .exe"),
        ),
        Case::new(
            "names/photo.jpg      .scr",
            text.clone(),
            Expect::blocked(NameDoubleExt, &[], "spaces before .scr"),
        ),
        Case::new(
            "names/report\u{202E}fdp.exe",
            pdfish,
            Expect::blocked(
                TypeExecutable,
                &[NameBidi],
                "right-to-left override hiding .exe",
            ),
        ),
        Case::new(
            "names/memo\u{202E}vsc.txt",
            text.clone(),
            Expect::sanitized(&[NameBidi], "bidi control in a harmless name"),
        ),
        Case::new(
            "names/CON.txt",
            text.clone(),
            Expect::sanitized(&[NameUnsafe], "Windows device name"),
        ),
        Case::new(
            "names/com1.csv",
            b"a,b\n".to_vec(),
            Expect::sanitized(&[NameUnsafe], "Windows device name with another extension"),
        ),
        Case::new(
            "names/notes.txt. ",
            text.clone(),
            Expect::sanitized(&[NameDoubleExt], "trailing dot and space"),
        ),
        Case::new(
            "names/a.txt:hidden.txt",
            text.clone(),
            Expect::sanitized(&[NameDoubleExt], "NTFS alternate data stream name"),
        ),
        Case::new(
            "names/..\\..\\windows\\win.txt",
            text.clone(),
            Expect::sanitized(&[NameUnsafe], "backslash traversal in a name"),
        ),
        Case::new(
            "names/bell\u{7}.txt",
            text.clone(),
            Expect::sanitized(&[NameUnsafe], "control character in a name"),
        ),
        Case::new(
            format!("names/{}.txt", "長".repeat(80)),
            text,
            Expect::sanitized(&[NameUnsafe], "an over-long name (240 bytes)"),
        ),
    ]
}

/// A PDF case depends on the PDF rebuilder: a minimal document with leading
/// junk is rebuilt, not blocked.
fn pdf_expect() -> Expect {
    Expect::clean("PDF with junk before %PDF-")
}
