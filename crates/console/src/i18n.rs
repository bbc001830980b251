//! The console's words in Japanese (the default) and English.

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "ja" => Some(Lang::Ja),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }
}

/// The text for `key`; the key itself when there is none (a defect shown
/// plainly rather than hidden).
pub fn t(lang: Lang, key: &'static str) -> &'static str {
    let (ja, en) = match key {
        "title" => ("mugai 管理コンソール", "mugai console"),
        "login" => ("ログイン", "Log in"),
        "account" => ("アカウント名", "Account"),
        "password" => ("パスワード", "Password"),
        "logout" => ("ログアウト", "Log out"),
        "items" => ("保留中のファイル", "Held files"),
        "requests" => ("解除申請", "Release requests"),
        "audit" => ("監査ログ", "Audit log"),
        "filter" => ("絞り込む", "Filter"),
        "from" => ("開始日", "From"),
        "to" => ("終了日", "To"),
        "code" => ("理由コード", "Reason code"),
        "type" => ("種類", "Type"),
        "source" => ("受信経路", "Source"),
        "sender" => ("送信者", "Sender"),
        "any" => ("すべて", "Any"),
        "share" => ("共有フォルダ", "Share"),
        "mail" => ("メール", "Mail"),
        "received" => ("受付日時", "Received"),
        "file" => ("ファイル", "File"),
        "reason" => ("理由", "Reason"),
        "size" => ("サイズ", "Size"),
        "findings" => ("検出内容", "Findings"),
        "notice" => ("送付したお知らせ", "Notice sent"),
        "ref" => ("受付番号", "Reference"),
        "no_items" => ("保留中のファイルはありません。", "No held files."),
        "no_requests" => ("解除申請はありません。", "No release requests."),
        "detail" => ("詳細", "Details"),
        "request_release" => ("解除を申請する", "Request release"),
        "req_reason" => ("申請理由", "Reason for release"),
        "override" => ("適用するポリシーの例外", "Policy override"),
        "ov_none" => ("なし（通常のポリシー）", "None (the policy as configured)"),
        "ov_allow" => ("この種類を許可する", "Allow this type"),
        "ov_drop" => ("ZIP 内の遮断対象を除いて渡す", "Drop blocked ZIP members"),
        "approve" => ("承認して解除する", "Approve and release"),
        "reject" => ("却下する", "Reject"),
        "status" => ("状態", "Status"),
        "pending" => ("承認待ち", "Awaiting approval"),
        "rejected" => ("却下", "Rejected"),
        "released" => (
            "解除済み（再無害化して受け渡し）",
            "Released (sanitised again, delivered)",
        ),
        "failed" => ("解除失敗", "Release failed"),
        "requested_by" => ("申請者", "Requested by"),
        "decided_by" => ("判断者", "Decided by"),
        "result" => ("結果", "Result"),
        "time" => ("日時", "Time"),
        "original_hidden" => (
            "原本はこの画面に表示・ダウンロードできません。受け渡しは必ず再無害化を経ます。",
            "The original is never shown or downloaded here; every release is sanitised again.",
        ),
        "err_csrf" => (
            "フォームの確認トークンがないか正しくありません。ページを開き直してください。",
            "The form's token is missing or wrong. Open the page again.",
        ),
        "err_forbidden" => ("この操作の権限がありません。", "Your role may not do this."),
        "err_not_found" => ("見つかりません。", "Not found."),
        "err_bad_request" => ("要求が正しくありません。", "Bad request."),
        "err_login" => (
            "アカウント名またはパスワードが正しくありません。",
            "Wrong account or password.",
        ),
        "err_locked" => (
            "失敗が続いたため、しばらくログインできません。",
            "Too many failures; try again later.",
        ),
        "err_own" => (
            "自分の申請は承認できません。別の承認者が承認してください。",
            "You cannot approve your own request; another approver must.",
        ),
        "err_not_pending" => (
            "この申請はすでに処理されています。",
            "This request was already decided.",
        ),
        "err_reason" => ("申請理由を入力してください。", "Enter a reason."),
        "err_internal" => (
            "処理できませんでした。管理者に連絡してください。",
            "The action failed. Contact the administrator.",
        ),
        "requested" => (
            "解除を申請しました。承認者の承認を待っています。",
            "Release requested; awaiting an approver.",
        ),
        "verify" => ("改ざん検査", "Tamper check"),
        "verify_ok" => ("改ざんは見つかりませんでした", "No tampering found"),
        "verify_bad" => ("改ざんのおそれがあります", "Possible tampering"),
        "records" => ("件の記録", "records"),
        "event" => ("操作", "Event"),
        "user" => ("利用者", "User"),
        "target" => ("対象", "Target"),
        "role_operator" => ("運用担当", "operator"),
        "role_approver" => ("承認者", "approver"),
        "role_auditor" => ("監査担当", "auditor"),
        "back" => ("一覧へ戻る", "Back to the list"),
        "none" => ("なし", "none"),
        "unlock" => ("パスワードで解除", "Unlock with password"),
        "unlock_help" => (
            "パスワード付きの ZIP・Office 文書（docx/xlsx/pptx）・PDF を解除します。入れ子（ZIP の中のパスワード付き文書など）の場合は 1 行に 1 つずつ入力してください。解除した内容は無害化してから受け渡します。パスワードは保存・記録されません。",
            "Unlocks a password-protected ZIP, Office document (docx/xlsx/pptx) or PDF. For nested files (e.g. a protected document inside a protected ZIP) enter one password per line. The contents are sanitised before delivery. Passwords are neither stored nor logged.",
        ),
        "passwords" => ("パスワード（1 行に 1 つ）", "Passwords (one per line)"),
        "unlocked" => (
            "解除して無害化し、受け渡しました。",
            "Unlocked, sanitised and delivered.",
        ),
        "unlock_blocked" => (
            "解除はできましたが、内容が無害化できないため受け渡していません。",
            "Unlocked, but the contents could not be made safe and were not delivered.",
        ),
        "wrong_password" => (
            "パスワードが正しくありません。",
            "Wrong password.",
        ),
        "err_unlock_locked" => (
            "パスワードの誤りが続いたため、しばらく解除できません。",
            "Too many wrong passwords; try again later.",
        ),
        "link_title" => ("パスワード付きZIPの解除", "Unlock a password-protected ZIP"),
        "link_help" => (
            "メールに添付されていたパスワード付きZIPを、パスワードで展開し無害化してからお届けします。入れ子の場合は 1 行に 1 つずつ入力してください。パスワードは保存・記録されません。",
            "The password-protected ZIP attached to your mail is unpacked with the password, sanitised, then sent to you. For nested archives enter one password per line. Passwords are neither stored nor logged.",
        ),
        "link_expires" => ("有効期限", "Expires"),
        "link_tries_left" => ("残りの入力回数", "Tries left"),
        "recipients" => ("宛先", "Recipients"),
        "link_invalid" => (
            "このリンクは無効です。メールに書かれたリンクをそのまま開いてください。",
            "This link is not valid. Open the link exactly as it is in the mail.",
        ),
        "link_expired" => (
            "このリンクは有効期限が切れています。管理者にお問い合わせください。",
            "This link has expired. Ask the administrator.",
        ),
        "link_spent" => (
            "このリンクはすでに使われました（内容はお届け済みです）。",
            "This link was used already; the contents were delivered.",
        ),
        "link_no_tries" => (
            "パスワードの入力回数の上限に達したため、このリンクは使えません。管理者にお問い合わせください。",
            "No tries are left on this link. Ask the administrator.",
        ),
        "link_sent_mail" => (
            "展開して無害化し、次の宛先へメールでお届けしました",
            "Unpacked, sanitised and mailed to",
        ),
        "link_placed" => (
            "展開して無害化し、受け渡し用フォルダに置きました",
            "Unpacked, sanitised and placed in the delivery folder as",
        ),
        "link_failed" => (
            "展開はできましたが、内容を安全に受け渡せませんでした。管理者にお問い合わせください。",
            "The contents could not be delivered safely. Ask the administrator.",
        ),
        _ => (key, key),
    };
    match lang {
        Lang::Ja => ja,
        Lang::En => en,
    }
}
