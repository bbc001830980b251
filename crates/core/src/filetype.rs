//! The true type of a file, as found from its content.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! file_types {
    ($( $(#[$m:meta])* $variant:ident = $name:literal, $ext:literal, $mime:literal; )*) => {
        /// A file's true type. The string name (`docx`, `pdf`, `jpeg` ...)
        /// is what reports and the policy's allow-list use.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum FileType {
            $( $(#[$m])* $variant, )*
        }

        impl FileType {
            pub const ALL: &'static [FileType] = &[ $( FileType::$variant, )* ];

            /// The stable name used in reports and the policy.
            pub fn name(self) -> &'static str {
                match self { $( FileType::$variant => $name, )* }
            }

            /// The usual extension, without the dot (empty when none fits).
            pub fn extension(self) -> &'static str {
                match self { $( FileType::$variant => $ext, )* }
            }

            /// The MIME type.
            pub fn mime(self) -> &'static str {
                match self { $( FileType::$variant => $mime, )* }
            }

            pub fn from_name(s: &str) -> Option<FileType> {
                match s {
                    $( $name => Some(FileType::$variant), )*
                    _ => None,
                }
            }
        }
    };
}

file_types! {
    Text = "text", "txt", "text/plain";
    Csv = "csv", "csv", "text/csv";
    Tsv = "tsv", "tsv", "text/tab-separated-values";
    Html = "html", "html", "text/html";
    Xml = "xml", "xml", "application/xml";
    Svg = "svg", "svg", "image/svg+xml";
    Pdf = "pdf", "pdf", "application/pdf";
    Rtf = "rtf", "rtf", "application/rtf";

    Docx = "docx", "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
    Docm = "docm", "docm", "application/vnd.ms-word.document.macroEnabled.12";
    Dotx = "dotx", "dotx", "application/vnd.openxmlformats-officedocument.wordprocessingml.template";
    Dotm = "dotm", "dotm", "application/vnd.ms-word.template.macroEnabled.12";
    Xlsx = "xlsx", "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    Xlsm = "xlsm", "xlsm", "application/vnd.ms-excel.sheet.macroEnabled.12";
    Xltx = "xltx", "xltx", "application/vnd.openxmlformats-officedocument.spreadsheetml.template";
    Xltm = "xltm", "xltm", "application/vnd.ms-excel.template.macroEnabled.12";
    Pptx = "pptx", "pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation";
    Pptm = "pptm", "pptm", "application/vnd.ms-powerpoint.presentation.macroEnabled.12";
    Potx = "potx", "potx", "application/vnd.openxmlformats-officedocument.presentationml.template";
    Potm = "potm", "potm", "application/vnd.ms-powerpoint.template.macroEnabled.12";
    Ppsx = "ppsx", "ppsx", "application/vnd.openxmlformats-officedocument.presentationml.slideshow";
    Ppsm = "ppsm", "ppsm", "application/vnd.ms-powerpoint.slideshow.macroEnabled.12";
    /// An OOXML package whose main part is none of the above.
    OoxmlOther = "ooxml", "", "application/octet-stream";
    /// An OLE2 container holding an `EncryptedPackage` (encrypted OOXML).
    OoxmlEncrypted = "ooxml-encrypted", "", "application/octet-stream";
    Odt = "odt", "odt", "application/vnd.oasis.opendocument.text";
    Ods = "ods", "ods", "application/vnd.oasis.opendocument.spreadsheet";
    Odp = "odp", "odp", "application/vnd.oasis.opendocument.presentation";
    OdfOther = "odf", "", "application/octet-stream";

    Doc = "doc", "doc", "application/msword";
    Xls = "xls", "xls", "application/vnd.ms-excel";
    Ppt = "ppt", "ppt", "application/vnd.ms-powerpoint";
    Msg = "msg", "msg", "application/vnd.ms-outlook";
    Ichitaro = "jtd", "jtd", "application/x-js-taro";
    Msi = "msi", "msi", "application/x-msi";
    /// Any other OLE2/CFB container.
    OleOther = "ole", "", "application/x-ole-storage";

    Jpeg = "jpeg", "jpg", "image/jpeg";
    Png = "png", "png", "image/png";
    Gif = "gif", "gif", "image/gif";
    Bmp = "bmp", "bmp", "image/bmp";
    Tiff = "tiff", "tif", "image/tiff";
    Webp = "webp", "webp", "image/webp";
    Ico = "ico", "ico", "image/x-icon";
    OtherImage = "image", "", "application/octet-stream";

    Zip = "zip", "zip", "application/zip";
    SevenZip = "7z", "7z", "application/x-7z-compressed";
    Rar = "rar", "rar", "application/vnd.rar";
    Lzh = "lzh", "lzh", "application/x-lzh-compressed";
    Cab = "cab", "cab", "application/vnd.ms-cab-compressed";
    Gzip = "gzip", "gz", "application/gzip";
    Bzip2 = "bzip2", "bz2", "application/x-bzip2";
    Xz = "xz", "xz", "application/x-xz";
    Tar = "tar", "tar", "application/x-tar";
    OtherArchive = "archive", "", "application/octet-stream";

    Eml = "eml", "eml", "message/rfc822";

    Executable = "executable", "", "application/x-executable";
    Script = "script", "", "text/plain";
    DiskImage = "disk-image", "", "application/octet-stream";
    OneNote = "onenote", "one", "application/onenote";
    Chm = "chm", "chm", "application/vnd.ms-htmlhelp";
    Lnk = "lnk", "lnk", "application/x-ms-shortcut";
    Jar = "jar", "jar", "application/java-archive";
    Unknown = "unknown", "", "application/octet-stream";

    /// Test-only inputs that drive the worker's failure paths.
    TestHook = "test-hook", "", "application/octet-stream";
}

impl FileType {
    /// Types that are blocked as `type.executable` whatever the policy.
    pub fn is_executable(self) -> bool {
        matches!(
            self,
            FileType::Executable
                | FileType::Script
                | FileType::Msi
                | FileType::DiskImage
                | FileType::OneNote
                | FileType::Chm
                | FileType::Lnk
                | FileType::Jar
        )
    }

    /// Archive formats other than ZIP, which mugai does not open.
    pub fn is_unsupported_archive(self) -> bool {
        matches!(
            self,
            FileType::SevenZip
                | FileType::Rar
                | FileType::Lzh
                | FileType::Cab
                | FileType::Gzip
                | FileType::Bzip2
                | FileType::Xz
                | FileType::Tar
                | FileType::OtherArchive
        )
    }

    /// OOXML package types (the ones the Office rebuilder handles).
    pub fn is_ooxml(self) -> bool {
        matches!(
            self,
            FileType::Docx
                | FileType::Docm
                | FileType::Dotx
                | FileType::Dotm
                | FileType::Xlsx
                | FileType::Xlsm
                | FileType::Xltx
                | FileType::Xltm
                | FileType::Pptx
                | FileType::Pptm
                | FileType::Potx
                | FileType::Potm
                | FileType::Ppsx
                | FileType::Ppsm
                | FileType::OoxmlOther
        )
    }

    /// Legacy Office and other OLE2 (CFB) containers.
    pub fn is_ole(self) -> bool {
        matches!(
            self,
            FileType::Doc
                | FileType::Xls
                | FileType::Ppt
                | FileType::Msg
                | FileType::Ichitaro
                | FileType::OleOther
                | FileType::OoxmlEncrypted
        )
    }

    /// Raster image types the image rebuilder handles.
    pub fn is_raster_image(self) -> bool {
        matches!(
            self,
            FileType::Jpeg
                | FileType::Png
                | FileType::Gif
                | FileType::Bmp
                | FileType::Tiff
                | FileType::Webp
        )
    }

    /// Plain-text family handled by the text rebuilder.
    pub fn is_text(self) -> bool {
        matches!(self, FileType::Text | FileType::Csv | FileType::Tsv)
    }

    /// The macro-free type a macro-enabled OOXML type is rebuilt as.
    pub fn macro_free(self) -> FileType {
        match self {
            FileType::Docm => FileType::Docx,
            FileType::Dotm => FileType::Dotx,
            FileType::Xlsm => FileType::Xlsx,
            FileType::Xltm => FileType::Xltx,
            FileType::Pptm => FileType::Pptx,
            FileType::Potm => FileType::Potx,
            FileType::Ppsm => FileType::Ppsx,
            other => other,
        }
    }

    pub fn is_macro_enabled(self) -> bool {
        self.macro_free() != self
    }
}

impl fmt::Display for FileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for FileType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for FileType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        FileType::from_name(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown file type `{s}`")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for &t in FileType::ALL {
            assert!(seen.insert(t.name()), "duplicate name {}", t.name());
            assert_eq!(FileType::from_name(t.name()), Some(t));
        }
    }

    #[test]
    fn macro_enabled_types_map_to_macro_free_ones() {
        assert_eq!(FileType::Docm.macro_free(), FileType::Docx);
        assert_eq!(FileType::Ppsm.macro_free(), FileType::Ppsx);
        assert!(!FileType::Docx.is_macro_enabled());
        assert!(FileType::Xltm.is_macro_enabled());
    }
}
