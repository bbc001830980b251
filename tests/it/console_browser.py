#!/usr/bin/env python3
"""Drives the mugai console in headless Chromium (Debian's chromium and
chromium-driver) over WebDriver. Called by tests/it/console.rs with the
console's base URL, the accounts' passwords and the screenshot folder.
Prints one JSON object of what it saw; exits non-zero on a failed check."""

import json
import os
import sys

from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BASE = os.environ["CONSOLE_URL"]
SHOTS = os.environ["SCREENSHOTS"]
PW = os.environ["ACCOUNT_PASSWORD"]
LINK = os.environ["LINK_PATH"]
seen = {}


def check(cond, what):
    if not cond:
        print(json.dumps(seen, ensure_ascii=False))
        raise SystemExit("check failed: " + what)


def no_alert(d):
    try:
        d.switch_to.alert
        return False
    except NoAlertPresentException:
        return True


opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
          "--window-size=1280,1000", "--lang=ja"]:
    opts.add_argument(a)
d = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
d.set_page_load_timeout(60)


def shot(name):
    os.makedirs(SHOTS, exist_ok=True)
    d.save_screenshot(os.path.join(SHOTS, name))


def body():
    return d.find_element(By.TAG_NAME, "body").text


def gone(old):
    """Whether the element `old` has left the page. Chrome reports an
    element of a page being replaced either as stale or as a node that
    "does not belong to the document": both mean it has gone."""

    def check(_):
        try:
            old.is_enabled()
            return False
        except WebDriverException:
            return True

    return check


def click_and_wait(el):
    """Clicks something that loads a new page and waits for it."""
    old = d.find_element(By.TAG_NAME, "html")
    el.click()
    WebDriverWait(d, 60).until(gone(old))
    WebDriverWait(d, 60).until(lambda x: x.execute_script("return document.readyState") == "complete")


def login(user, password):
    d.delete_all_cookies()
    d.get(BASE + "/login")
    d.find_element(By.NAME, "user").send_keys(user)
    d.find_element(By.NAME, "password").send_keys(password)
    click_and_wait(d.find_element(By.CSS_SELECTOR, "form.login button"))


def post_with(path, fields):
    """Submits a form built in the page (as a hand-made request would)."""
    old = d.find_element(By.TAG_NAME, "html")
    d.execute_script(
        "const f=document.createElement('form');f.method='post';f.action=arguments[0];"
        "for (const [k,v] of Object.entries(arguments[1])) {const i=document.createElement('input');"
        "i.type='hidden';i.name=k;i.value=v;f.appendChild(i);} document.body.appendChild(f);f.submit();",
        path, fields)
    WebDriverWait(d, 60).until(gone(old))


def csrf():
    return d.find_element(By.NAME, "csrf").get_attribute("value")


try:
    # A mail recipient's one-time link: no account; a wrong password is
    # refused and counted, the right one unpacks, sanitises and delivers;
    # the link is then spent.
    d.get(BASE + LINK)
    text = body()
    check("パスワード付きZIPの解除" in text and "有効期限" in text, "link page in Japanese: " + text[:300])
    check("mail-ppap.zip" in text and "sender@internet.example" in text, "the held part is named")
    shot("link.png")
    d.find_element(By.NAME, "passwords").send_keys("guess1")
    click_and_wait(d.find_element(By.CSS_SELECTOR, "form.unlock button"))
    text = body()
    check("パスワードが正しくありません" in text and "残りの入力回数: 4" in text, "wrong link password: " + text[:300])
    shot("link-wrong.png")
    d.find_element(By.NAME, "passwords").send_keys("himitsu")
    click_and_wait(d.find_element(By.CSS_SELECTOR, "form.unlock button"))
    check("展開して無害化し" in body(), "link unlocked: " + body()[:300])
    shot("link-done.png")
    d.get(BASE + LINK)
    check("すでに使われました" in body(), "the link is spent")
    seen["link_spent"] = True

    # The login page is Japanese by default and carries the headers.
    d.get(BASE + "/login")
    check("ログイン" in body() and "アカウント名" in body(), "login page in Japanese")

    # A wrong password is refused.
    login("alice", "wrong password")
    check("正しくありません" in body(), "wrong login refused")

    # Operator: the list, in Japanese, with the held files.
    login("alice", PW)
    check(d.current_url.endswith("/items"), "logged in: " + d.current_url)
    text = body()
    check("保留中のファイル" in text and "受付日時" in text, "list page in Japanese")
    check("ppap.zip" in text, "the PPAP zip is listed")
    check("archive.encrypted" in text, "its reason code is shown")
    # The hostile name is text, not markup, and ran nothing.
    check("<script>alert(1)</script>.pdf" in text, "hostile name shown as text")
    check("&lt;script&gt;alert(1)&lt;/script&gt;.pdf" in d.page_source, "hostile name escaped")
    check(no_alert(d), "no alert on the list")
    shot("list.png")

    # Filters: by reason code.
    d.get(BASE + "/items?code=archive.encrypted")
    check("ppap.zip" in body() and "申請書.csv" not in body(), "filter by code")
    d.get(BASE + "/items?type=csv")
    check("申請書.csv" in body() and "ppap.zip" not in body(), "filter by type")

    # The hostile item's page: inert too.
    d.get(BASE + "/items")
    click_and_wait(d.find_element(By.PARTIAL_LINK_TEXT, "alert(1)"))
    check(no_alert(d), "no alert on the detail page")
    check("<script>alert(1)</script>.pdf" in body(), "hostile name shown on detail")

    # The PPAP zip's detail page.
    d.get(BASE + "/items")
    click_and_wait(d.find_element(By.PARTIAL_LINK_TEXT, "ppap.zip"))
    text = body()
    check("暗号化" in text or "パスワード" in text, "encrypted finding in Japanese: " + text[:400])
    shot("detail-ppap.png")

    # PPAP: the unlock page; a wrong password is refused, the right one
    # (after a wrong one, as a list of tries) unlocks, sanitises, delivers.
    click_and_wait(d.find_element(By.CSS_SELECTOR, "a.unlock"))
    check("パスワード" in body() and "保存・記録されません" in body(), "unlock page in Japanese")
    unlock_url = d.current_url
    shot("unlock.png")
    d.find_element(By.NAME, "passwords").send_keys("guess1")
    click_and_wait(d.find_element(By.CSS_SELECTOR, "form.unlock button"))
    check("パスワードが正しくありません" in body(), "wrong ZIP password refused: " + body()[:300])
    seen["wrong_zip_password_refused"] = True
    d.find_element(By.NAME, "passwords").send_keys("guess2\nhimitsu")
    click_and_wait(d.find_element(By.CSS_SELECTOR, "form.unlock button"))
    check("解除して無害化し、受け渡しました" in body(), "unlocked: " + body()[:300])
    shot("unlocked.png")

    # The CSV's detail page: findings in Japanese, hashes, the notice.
    d.get(BASE + "/items?type=csv")
    click_and_wait(d.find_element(By.PARTIAL_LINK_TEXT, "申請書.csv"))
    detail_url = d.current_url
    text = body()
    check("検出内容" in text and "SHA-256" in text and "送付したお知らせ" in text,
          "detail page in Japanese")
    check("【mugai 無害化のお知らせ】" in text, "the notice is shown")
    shot("detail.png")

    # A form posted without its token is refused.
    check(len(d.find_elements(By.CSS_SELECTOR, "form.request")) == 1, "request form: " + d.page_source[-1500:])
    d.execute_script("document.querySelector('form.request input[name=csrf]').remove();")
    d.find_element(By.NAME, "reason").send_keys("業務で必要")
    click_and_wait(d.find_element(By.CSS_SELECTOR, "form.request button"))
    check("確認トークン" in body(), "form without CSRF token refused: " + body()[:300])
    seen["csrf_refused"] = True

    # Request a release of the CSV, allowing its type.
    d.get(detail_url)
    d.find_element(By.NAME, "reason").send_keys("市民からの申請書で業務上必要")
    d.find_element(By.CSS_SELECTOR, "select[name=policy_override] option[value='allow-type:csv']").click()
    click_and_wait(d.find_element(By.CSS_SELECTOR, "form.request button"))
    check("承認待ち" in body(), "request pending")
    rid = d.find_element(By.CSS_SELECTOR, "tr.req-pending").get_attribute("id")[4:]
    seen["request"] = rid
    shot("request.png")

    # The operator may not approve, not even by a hand-made form.
    post_with("/requests/%s/approve" % rid, {"csrf": csrf()})
    check("権限がありません" in body(), "operator cannot approve")

    # Ids outside the daemon's form are refused.
    for bad in ["/items/2026-12-01/..%2F..%2Fetc", "/items/..%2F..%2F/passwd",
                "/items/2026-12-01/..", "/items/2026-12-01/x%2F..%2F..%2Freason.json"]:
        d.get(BASE + bad)
        check("400" in d.title or "404" in d.title, "bad id refused: %s -> %s" % (bad, d.title))
    seen["bad_ids_refused"] = True

    # English on request.
    d.get(BASE + "/items?lang=en")
    check("Held files" in body(), "English available")
    d.get(BASE + "/items?lang=ja")
    check("保留中のファイル" in body(), "back to Japanese")

    # An approver approves: the CSV is sanitised again and delivered.
    login("bob", PW)
    d.get(BASE + "/requests")
    click_and_wait(d.find_element(By.CSS_SELECTOR, "#req-%s button.approve" % rid))
    check("解除済み" in body(), "released: " + body()[:500])

    # An approver's own request needs another approver.
    d.get(BASE + "/items?code=type.mismatch")
    click_and_wait(d.find_element(By.PARTIAL_LINK_TEXT, "alert(1)"))
    d.find_element(By.NAME, "reason").send_keys("確認のため")
    click_and_wait(d.find_element(By.CSS_SELECTOR, "form.request button"))
    own = d.find_element(By.CSS_SELECTOR, "tr.req-pending").get_attribute("id")[4:]
    click_and_wait(d.find_element(By.CSS_SELECTOR, "#req-%s button.approve" % own))
    check("自分の申請は承認できません" in body(), "own request cannot be approved")
    seen["own_refused"] = own

    # The auditor sees the records and the verification.
    login("carol", PW)
    d.get(BASE + "/audit")
    text = body()
    check("改ざんは見つかりませんでした" in text, "audit verifies")
    for ev in ["login-failed", "login", "view", "release-requested", "release-approved",
               "released", "approval-refused"]:
        check(ev in text, "audit shows " + ev)
    shot("audit.png")
    # ...and may not request a release.
    d.get(detail_url)
    check(len(d.find_elements(By.CSS_SELECTOR, "form.request")) == 0, "no request form for auditors")
    seen["ok"] = True
finally:
    d.quit()
print(json.dumps(seen, ensure_ascii=False))
