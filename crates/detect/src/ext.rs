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
    const WORD: &[FileType] = &[Docx, Docm, Dotx, Dotm];
    const EXCEL: &[FileType] = &[Xlsx, Xlsm, Xltx, Xltm];
    const PPT: &[FileType] = &[Pptx, Pptm, Potx, Potm, Ppsx, Ppsm];
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

#[cfg(test)]
mod tests {
    use super::*;

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
