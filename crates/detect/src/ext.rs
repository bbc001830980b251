//! What an extension claims a file to be.

use mugai_core::FileType;
use FileType::*;

/// The lower-cased extension of `name` (without the dot), if any.
pub fn extension_of(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let (stem, ext) = base.rsplit_once('.')?;
    if stem.is_empty() || ext.is_empty() {
        return None;
    }
    Some(ext.to_ascii_lowercase())
}

/// The true types an extension may legitimately carry, or `None` when the
/// extension is unknown (and so claims nothing).
pub fn claimed_types(ext: &str) -> Option<&'static [FileType]> {
    // A password-protected OOXML file is an OLE2 container under its usual
    // extension: it is blocked as `ooxml.encrypted`, not as a mismatch.
    const WORD: &[FileType] = &[Docx, Docm, Dotx, Dotm, OoxmlEncrypted];
    const EXCEL: &[FileType] = &[Xlsx, Xlsm, Xltx, Xltm, OoxmlEncrypted];
    const PPT: &[FileType] = &[Pptx, Pptm, Potx, Potm, Ppsx, Ppsm, OoxmlEncrypted];
    const TEXT: &[FileType] = &[Text, Csv, Tsv];
    Some(match ext {
        "txt" | "text" | "log" | "md" | "ini" | "cfg" | "conf" | "json" | "yaml" | "yml"
        | "csv" | "tsv" | "tab" | "prn" => TEXT,
        "pdf" => &[Pdf],
        "rtf" => &[Rtf, Doc],
        "docx" | "docm" | "dotx" | "dotm" => WORD,
        "xlsx" | "xlsm" | "xltx" | "xltm" => EXCEL,
        "pptx" | "pptm" | "potx" | "potm" | "ppsx" | "ppsm" => PPT,
        // Word happily saves RTF or HTML under .doc; RTF is allowed as such.
        "doc" | "dot" => &[Doc, Rtf],
        "xls" | "xlt" => &[Xls],
        "ppt" | "pot" | "pps" => &[Ppt],
        "odt" => &[Odt],
        "ods" => &[Ods],
        "odp" => &[Odp],
        "jpg" | "jpeg" | "jpe" | "jfif" => &[Jpeg],
        "png" => &[Png],
        "gif" => &[Gif],
        "bmp" | "dib" => &[Bmp],
        "tif" | "tiff" => &[Tiff],
        "webp" => &[Webp],
        "ico" => &[Ico],
        "svg" | "svgz" => &[Svg],
        "zip" => &[Zip],
        "7z" => &[SevenZip],
        "rar" => &[Rar],
        "lzh" | "lha" => &[Lzh],
        "cab" => &[Cab],
        "gz" | "tgz" => &[Gzip],
        "eml" => &[Eml],
        "msg" => &[Msg],
        "jtd" | "jtt" | "jtdc" => &[Ichitaro],
        "htm" | "html" | "xhtml" | "mht" | "mhtml" => &[Html],
        "xml" => &[Xml],
        _ => return None,
    })
}

/// Extensions that mean "this will run" on Windows, whatever the content.
pub fn is_executable_extension(ext: &str) -> bool {
    matches!(
        ext,
        "exe"
            | "com"
            | "scr"
            | "pif"
            | "cpl"
            | "dll"
            | "sys"
            | "msi"
            | "msp"
            | "msc"
            | "bat"
            | "cmd"
            | "ps1"
            | "psm1"
            | "psd1"
            | "vbs"
            | "vbe"
            | "js"
            | "jse"
            | "wsf"
            | "wsh"
            | "hta"
            | "lnk"
            | "jar"
            | "reg"
            | "inf"
            | "scf"
            | "url"
            | "iso"
            | "img"
            | "vhd"
            | "vhdx"
            | "one"
            | "chm"
            | "appx"
            | "msix"
            | "application"
            | "gadget"
            | "xll"
            | "xlam"
            | "ppam"
            | "sh"
            | "elf"
            | "apk"
            | "dmg"
            | "pkg"
            | "settingcontent-ms"
    )
}

/// What an extension makes a file do when it is opened from the Windows
/// desktop or Explorer, for extensions that are not executables but still
/// act (fetch, connect, run a query, change settings) instead of showing
/// their content. Such a name is never kept on content of another type.
pub fn active_meaning(ext: &str) -> Option<&'static str> {
    Some(match ext {
        "shtml" | "shtm" | "stm" | "xht" | "xhtml" | "mht" | "mhtml" | "htm" | "html" | "hta"
        | "svg" | "svgz" | "xml" | "xsl" | "xslt" => "opens in a browser or script host",
        "slk" | "sylk" => "opens in Excel as SYLK, whose cells can run commands (EXEC, DDE)",
        "iqy" | "dqy" | "oqy" | "rqy" | "odc" | "udl" => {
            "an Excel/Office data query or connection that fetches from a server"
        }
        "rdp" => "a Remote Desktop connection that connects out and can share drives",
        "appref-ms" | "application" | "xbap" | "jnlp" => "starts a ClickOnce/Java application",
        "theme" | "themepack" | "deskthemepack" => {
            "a Windows theme that can load files from a network share"
        }
        "url" | "website" | "lnk" | "scf" | "desktop" | "xnk" | "glk" => {
            "a shortcut that opens a target on the network or on disk"
        }
        "library-ms" | "searchconnector-ms" | "search-ms" | "searchms" => {
            "an Explorer library or search location that can point at a network share"
        }
        "settingcontent-ms" | "ms-settings" | "msc" | "cpl" => "opens a settings or control panel",
        "wsc" | "sct" | "wsf" | "wsh" | "ps1xml" | "psc1" | "mof" | "inf" | "reg" | "diagcab"
        | "printerexport" | "diagpkg" | "diagcfg" => "is run or imported by a Windows component",
        _ => return None,
    })
}

/// The name to write a rebuilt file of type `output` under: the extension
/// is kept only when it claims `output` (positive selection: an unknown or
/// active extension never survives), else it becomes `output`'s own. A
/// macro-enabled extension on a macro-free output changes too, although
/// `.docm` also claims docx. A name without extension keeps none.
pub fn output_name(name: &str, output: FileType) -> String {
    let Some(ext) = extension_of(name) else {
        return name.to_string();
    };
    if output.extension().is_empty() {
        return name.to_string();
    }
    let macro_named = FileType::ALL
        .iter()
        .any(|t| t.extension() == ext && t.is_macro_enabled() && *t != output);
    match claimed_types(&ext) {
        Some(claimed) if claimed.contains(&output) && !macro_named => name.to_string(),
        _ => crate::name::with_extension(name, output.extension()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_names_keep_only_extensions_that_claim_the_type() {
        assert_eq!(output_name("d/a.docm", Docx), "d/a.docx");
        assert_eq!(output_name("d/a.docx", Docx), "d/a.docx");
        assert_eq!(output_name("a.csv", Csv), "a.csv");
        assert_eq!(output_name("a.TXT", Text), "a.TXT");
        assert_eq!(output_name("README", Text), "README");
        assert_eq!(output_name("a.weird", Text), "a.txt");
        assert_eq!(output_name("x/page.shtml", Text), "x/page.txt");
        assert_eq!(output_name("book.slk", Text), "book.txt");
        assert_eq!(output_name("a.jpg", Png), "a.png");
        assert_eq!(output_name("letter.doc", Rtf), "letter.doc");
        assert_eq!(output_name("mail.msg", Eml), "mail.eml");
        assert!(active_meaning("iqy").is_some() && active_meaning("pdf").is_none());
    }

    #[test]
    fn extensions() {
        assert_eq!(extension_of("a/b/Report.PDF").as_deref(), Some("pdf"));
        assert_eq!(extension_of(".bashrc"), None);
        assert_eq!(extension_of("noext"), None);
        assert!(claimed_types("docx").unwrap().contains(&Docm));
        assert!(claimed_types("weird").is_none());
        assert!(is_executable_extension("exe"));
    }
}
