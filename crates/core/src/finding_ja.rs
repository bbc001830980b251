//! One Japanese sentence per finding code, for notices read by LGWAN users
//! (the English detail may follow in parentheses). The match is exhaustive:
//! a new code does not compile without its sentence.

use crate::finding::Code;

impl Code {
    /// What the finding means, as a Japanese sentence.
    pub fn ja(self) -> &'static str {
        use Code::*;
        match self {
            TypeUnknown => "ファイルの種類を判別できないため、受け渡しを止めました。",
            TypeExecutable => {
                "実行形式のプログラム（またはスクリプト）のため、受け渡しを止めました。"
            }
            TypeMismatch => "拡張子と実際の中身の種類が一致しません。",
            TypePolyglot => "別の種類のファイルとしても解釈できる余分なデータを除去しました。",
            NameBidi => "ファイル名の文字の向きを変える制御文字を無効化しました。",
            NameDoubleExt => "拡張子を偽装するおそれのある二重拡張子を無効化しました。",
            NameUnsafe => "ファイル名の危険な文字や予約名を安全な名前に置き換えました。",
            TextControl => "テキスト中の制御文字を除去しました。",
            TextFormula => "表計算ソフトで数式として実行されるおそれのあるセルを無効化しました。",
            PdfJavascript => "PDF に含まれる JavaScript を除去しました。",
            PdfOpenAction => "PDF を開いたときに自動実行される動作を除去しました。",
            PdfAdditionalActions => {
                "PDF の追加アクション（ページ表示時などの自動動作）を除去しました。"
            }
            PdfLaunch => "PDF から外部プログラムを起動する動作を除去しました。",
            PdfRemoteGoto => "PDF から別の文書へ移動する動作を除去しました。",
            PdfUri => "PDF のリンク（URL）を無効化しました。",
            PdfEmbeddedFile => "PDF に埋め込まれたファイルを除去しました。",
            PdfXfa => "PDF の XFA フォームを除去しました。",
            PdfRichMedia => "PDF のマルチメディア要素（動画・Flash など）を除去しました。",
            PdfObfuscatedName => "PDF 内で名前を難読化した要素を除去しました。",
            PdfIncrementalUpdate => "PDF の追記更新部分（以前の版の内容）を除去しました。",
            PdfEncrypted => "暗号化された PDF は中身を確認できないため、受け渡しを止めました。",
            PdfMalformed => "PDF の構造が壊れているため、受け渡しを止めました。",
            PdfAction => "PDF の動作（アクション）を除去しました。",
            PdfDropped => "安全と確認できない PDF の要素を除去しました。",
            PdfRepaired => "PDF の壊れた相互参照表を作り直して読み込みました。",
            PdfFont => "安全と確認できない PDF のフォントを除去しました。",
            PdfImageCodec => "安全と確認できない形式の PDF 内画像を除去しました。",
            PdfDamagedStream => "PDF 内の壊れたデータを除去しました。",
            OoxmlVba => "Office 文書のマクロ（VBA）を除去しました。",
            OoxmlXlmMacro => "Excel 4.0 マクロを除去しました。",
            OoxmlActivex => "Office 文書の ActiveX コントロールを除去しました。",
            OoxmlOleObject => "Office 文書に埋め込まれたオブジェクトを除去しました。",
            OoxmlExternalRel => "Office 文書から外部の場所を参照する設定を除去しました。",
            OoxmlHyperlink => "Office 文書のハイパーリンクを無効化しました。",
            OoxmlDde => "Office 文書の DDE（他のプログラムとの自動連携）を除去しました。",
            OoxmlCustomUi => "Office 文書のリボン（操作画面）のカスタマイズを除去しました。",
            OoxmlContentTypeLie => "種類を偽った Office 文書の部品を除去しました。",
            OoxmlEncrypted => {
                "暗号化された Office 文書は中身を確認できないため、受け渡しを止めました。"
            }
            OoxmlField => "Office 文書のフィールド（自動更新される式）を除去しました。",
            OoxmlDataConnection => "Office 文書の外部データ接続を除去しました。",
            OleVba => "Office 文書（旧形式）のマクロ（VBA）を除去しました。",
            OleXlmMacro => "Excel 4.0 マクロを含む旧形式の文書のため、受け渡しを止めました。",
            OleEmbedded => "Office 文書（旧形式）に埋め込まれたオブジェクトを除去しました。",
            OleEncrypted => {
                "暗号化された Office 文書（旧形式）は中身を確認できないため、受け渡しを止めました。"
            }
            OleUnknown => "種類を判別できない旧形式の Office 文書のため、受け渡しを止めました。",
            RtfObject => "RTF 文書に埋め込まれたオブジェクトを除去しました。",
            RtfTemplate => "RTF 文書の外部テンプレート参照を除去しました。",
            OleField => "Office 文書（旧形式）のフィールドを無効化しました。",
            RtfField => "RTF 文書のフィールドを除去しました。",
            RtfDropped => "安全と確認できない RTF 文書の要素を除去しました。",
            OfficeUnsupported => "安全と確認できない Office 文書の要素を除去しました。",
            ImageMetadata => "画像のメタデータ（撮影情報・位置情報など）を除去しました。",
            ImageTrailingData => "画像の後ろに付け足されたデータを除去しました。",
            ImageBomb => "展開すると極端に大きくなる画像のため、受け渡しを止めました。",
            ImageSvg => "SVG 画像はスクリプトを含みうるため、受け渡しを止めました。",
            ArchivePathTraversal => "圧縮ファイル内の、展開先の外を指すパスを無効化しました。",
            ArchiveSymlink => "圧縮ファイル内のシンボリックリンクを除去しました。",
            ArchiveBomb => "展開すると極端に大きくなる圧縮ファイルのため、受け渡しを止めました。",
            ArchiveEncrypted => {
                "パスワード付きの圧縮ファイルは中身を確認できないため、受け渡しを止めました。"
            }
            ArchiveNested => "圧縮ファイルの中の圧縮ファイル（入れ子）を除去しました。",
            ArchiveUnsupported => "対応していない形式の圧縮ファイルのため、受け渡しを止めました。",
            ArchiveNameEncoding => "圧縮ファイル内のファイル名の文字コードを変換しました。",
            ArchiveMemberDropped => "安全と確認できない圧縮ファイル内のファイルを除去しました。",
            ArchiveHiddenData => "圧縮ファイル内の隠されたデータを除去しました。",
            ArchiveMemberType => "圧縮ファイル内のファイルの種類に合わせて名前を直しました。",
            MailHtml => "メールの HTML をテキストに変換しました。",
            MailAttachment => "メールの添付ファイルを除去しました。",
            MailLink => "メール中のリンク（URL）を無効化しました。",
            MailCharset => "メールの文字コードを変換しました。",
            MailMalformed => "メールの壊れた構造を修復しました。",
            MailEncodedPayload => "メール中の符号化されたデータを除去しました。",
            LimitSize => "ファイルが大きすぎるため、受け渡しを止めました。",
            LimitDepth => "入れ子が深すぎるため、受け渡しを止めました。",
            LimitCount => "含まれる要素が多すぎるため、受け渡しを止めました。",
            LimitMemory => "処理に必要なメモリが上限を超えたため、受け渡しを止めました。",
            LimitTime => "処理が時間内に終わらなかったため、受け渡しを止めました。",
            WorkerCrashed => "無害化処理が異常終了したため、受け渡しを止めました。",
            WorkerViolation => "無害化処理が禁止された動作をしたため、受け渡しを止めました。",
            RebuildFailed => "ファイルを安全に作り直せなかったため、受け渡しを止めました。",
            AvDetected => "ウイルス対策ソフトがマルウェアを検知したため、受け渡しを止めました。",
            AvUnavailable => "ウイルス検査ができなかったため、受け渡しを止めました。",
            AvTooLarge => "ウイルス検査の上限を超える大きさのため、受け渡しを止めました。",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_japanese_sentence() {
        for c in Code::ALL {
            let s = c.ja();
            assert!(s.ends_with('。'), "{c:?}: {s}");
            assert!(
                s.chars().any(|ch| ('\u{3040}'..='\u{30ff}').contains(&ch)),
                "{c:?}: {s}"
            );
        }
    }
}
