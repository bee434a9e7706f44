"""The web app in headless Chromium against the real host and a fake OpenAI vendor.

The tests share one signed-in browser context and run in file order: each builds on the
conversation the previous one left.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_site import SCREENSHOTS, LiveSite

PASSWORD = "e2e user password"
RICH_ANSWER = (
    "Here is a table:\n\n| Planet | Moons |\n|---|---|\n| Earth | 1 |\n| Mars | 2 |\n\n"
    "```python\nprint('hello')\n```\n\nEuler says $e^{i\\pi}+1=0$ and\n\n$$\\int_0^1 x\\,dx$$\n\n"
    "```mermaid\ngraph TD\nA-->B\n```\n\nAll done."
)
LONG_ANSWER = " ".join(f"word{index}" for index in range(150)) + " THE-END"


class PageWatch:
    """Records page errors and console errors of one page."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        # Failed HTTP requests are logged by Chromium itself; the tests check those through the UI.
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.console_errors.append(message.text)


@pytest.fixture(scope="module")
def username() -> str:
    return f"alice{secrets.token_hex(3)}"


@pytest.fixture(scope="module")
def watched(site: LiveSite, browser: Any) -> Iterator[PageWatch]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = PageWatch(page)
    try:
        yield watch
    finally:
        context.close()


def last_assistant(page: Any) -> Any:
    return page.locator('[data-testid="message"][data-role="assistant"]').last


def send(page: Any, text: str) -> None:
    composer = page.get_by_test_id("composer")
    composer.fill(text)
    page.get_by_test_id("send-button").click()


def wait_idle(page: Any) -> None:
    """Wait until no reply is streaming (the send button is back)."""
    page.get_by_test_id("send-button").wait_for(state="visible", timeout=30_000)
    page.locator('[data-streaming="true"]').wait_for(state="detached", timeout=30_000)


def test_register_and_sign_in(site: LiveSite, watched: PageWatch, username: str) -> None:
    page = watched.page
    page.goto(f"{site.url}/register")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("#confirm").fill(PASSWORD)
    page.get_by_test_id("register-submit").click()
    page.get_by_test_id("composer").wait_for()
    assert page.get_by_test_id("user-menu").inner_text() == username

    page.get_by_test_id("user-menu").click()
    page.get_by_role("menuitem", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login"))
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("composer").wait_for()
    assert page.get_by_test_id("user-menu").inner_text() == username


def test_chat_renders_rich_answer(site: LiveSite, watched: PageWatch) -> None:
    page = watched.page
    site.vendor.reply_text = RICH_ANSWER
    site.vendor.chunk_delay = 0.01
    send(page, "Show me a table, code, a formula and a diagram.")
    answer = last_assistant(page)
    answer.get_by_text("All done.").wait_for()
    wait_idle(page)
    answer = last_assistant(page)
    content = answer.get_by_test_id("message-content")

    assert content.locator("table td").first.inner_text() == "Earth"
    assert content.locator("pre code").first.inner_text().strip() == "print('hello')"
    content.locator(".md-code pre code.hljs").first.wait_for()
    content.locator(".katex").first.wait_for()
    assert content.locator(".katex-display").count() == 1
    content.locator(".md-mermaid svg").wait_for()
    assert content.locator(".md-mermaid svg").count() == 1
    assert content.locator(".katex-error").count() == 0
    assert page.get_by_test_id("conversation-item").count() >= 1

    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
    content.locator(".md-copy").first.click()
    content.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("() => navigator.clipboard.readText()") == "print('hello')\n"
    assert re.search(r"/chat/\d+$", page.url)

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "chat.png"))


def test_stop_keeps_partial_answer(site: LiveSite, watched: PageWatch) -> None:
    page = watched.page
    site.vendor.reply_text = LONG_ANSWER
    site.vendor.chunk_delay = 0.05
    send(page, "Count slowly.")
    last_assistant(page).get_by_text("word5", exact=False).wait_for()
    page.get_by_test_id("stop-button").click()
    wait_idle(page)
    text = last_assistant(page).get_by_test_id("message-content").inner_text()
    assert "word5" in text
    assert "THE-END" not in text


def test_regenerate_replaces_answer(site: LiveSite, watched: PageWatch) -> None:
    page = watched.page
    site.vendor.reply_text = "A regenerated answer."
    site.vendor.chunk_delay = 0.0
    answer = last_assistant(page)
    answer.hover()
    answer.get_by_test_id("message-menu").click()
    page.get_by_role("menuitem", name="Regenerate").click()
    last_assistant(page).get_by_text("A regenerated answer.").wait_for()
    wait_idle(page)
    assert "A regenerated answer." in last_assistant(page).inner_text()

    answer = last_assistant(page)
    answer.hover()
    answer.get_by_test_id("message-menu").click()
    page.get_by_role("menuitem", name="Earlier answers").click()
    page.get_by_test_id("alternatives").get_by_text("word5", exact=False).wait_for()
    page.keyboard.press("Escape")


def test_reload_mid_answer_finishes(site: LiveSite, watched: PageWatch) -> None:
    page = watched.page
    site.vendor.reply_text = LONG_ANSWER
    site.vendor.chunk_delay = 0.03
    send(page, "Count again.")
    last_assistant(page).get_by_text("word3", exact=False).wait_for()
    page.wait_for_url(re.compile(r"/chat/\d+$"))
    page.reload()
    last_assistant(page).get_by_text("THE-END", exact=False).wait_for(timeout=30_000)
    wait_idle(page)
    text = last_assistant(page).get_by_test_id("message-content").inner_text()
    assert text.count("word0") == 1
    assert "word149 THE-END" in text


def test_upload_docx_and_ask(site: LiveSite, watched: PageWatch, tmp_path: Any) -> None:
    import docx

    page = watched.page
    path = tmp_path / "notes.docx"
    document = docx.Document()
    document.add_paragraph("The secret fruit is PINEAPPLE.")
    document.save(str(path))

    site.vendor.reply_text = "The file mentions a fruit."
    site.vendor.chunk_delay = 0.0
    page.get_by_test_id("file-input").set_input_files(str(path))
    chip = page.get_by_test_id("attachment-chip")
    chip.wait_for()
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=attachment-chip]').textContent.includes('%')", timeout=30_000
    )
    chip.get_by_text("notes.docx").click()
    try:
        page.get_by_test_id("file-preview").get_by_text("PINEAPPLE", exact=False).wait_for(timeout=30_000)
    except Exception:
        page.screenshot(path=str(tmp_path / "upload-failure.png"))
        raise
    page.keyboard.press("Escape")

    send(page, "What fruit does the file mention?")
    last_assistant(page).get_by_text("The file mentions a fruit.").wait_for()
    wait_idle(page)
    upstream = site.vendor.requests[-1].body.decode()
    assert "PINEAPPLE" in upstream


def test_image_attachment_reaches_vendor(site: LiveSite, watched: PageWatch) -> None:
    import base64

    page = watched.page
    png = base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    )
    site.vendor.reply_text = "A tiny image."
    page.get_by_test_id("file-input").set_input_files(files=[{"name": "dot.png", "mimeType": "image/png", "buffer": png}])
    page.get_by_test_id("attachment-chip").locator("img").wait_for()
    send(page, "What is in this image?")
    last_assistant(page).get_by_text("A tiny image.").wait_for()
    wait_idle(page)
    assert "data:image/png;base64," in site.vendor.requests[-1].body.decode()


def test_edit_and_answer_again(site: LiveSite, watched: PageWatch) -> None:
    page = watched.page
    site.vendor.reply_text = "An answer to the edited question."
    question = page.locator('[data-testid="message"][data-role="user"]').last
    question.hover()
    question.get_by_test_id("message-menu").click()
    page.get_by_role("menuitem", name="Edit").click()
    page.get_by_test_id("edit-box").fill("What is in this edited image?")
    page.get_by_role("button", name="Save and answer again").click()
    last_assistant(page).get_by_text("An answer to the edited question.").wait_for()
    wait_idle(page)
    assert "edited image" in page.locator('[data-testid="message"][data-role="user"]').last.inner_text()


def test_share_two_messages_logged_out(site: LiveSite, watched: PageWatch, browser: Any) -> None:
    page = watched.page
    page.get_by_test_id("share-button").click()
    boxes = page.locator('[data-testid="message"] input[type="checkbox"]')
    count = boxes.count()
    assert count >= 2
    for index in range(2, count):
        boxes.nth(index).uncheck()
    page.get_by_test_id("share-create").click()
    link_box = page.get_by_test_id("share-link")
    link_box.wait_for()
    page.wait_for_function("() => document.querySelector('[data-testid=share-link]').value.includes('/share/')")
    link = link_box.input_value()
    with page.expect_download() as download_info:
        page.get_by_role("button", name="Save as image").click()
    download = download_info.value
    assert download.suggested_filename == "conversation.png"
    assert download.path().read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page.keyboard.press("Escape")

    anonymous = browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        viewer = anonymous.new_page()
        watch = PageWatch(viewer)
        viewer.goto(link)
        viewer.get_by_test_id("message").first.wait_for()
        assert viewer.get_by_test_id("message").count() == 2
        viewer.get_by_test_id("continue-share").wait_for()
        viewer.locator(".md-mermaid svg").wait_for()
        viewer.screenshot(path=str(SCREENSHOTS / "share.png"))
        assert viewer.evaluate("() => localStorage.getItem('token')") is None
        assert watch.page_errors == []
    finally:
        anonymous.close()


def test_chinese_chat_page_has_no_english(site: LiveSite, watched: PageWatch) -> None:
    page = watched.page
    page.get_by_test_id("language-select").select_option("zh-CN")
    page.get_by_test_id("composer").wait_for()
    chrome = page.evaluate(
        """() => {
            const clone = document.body.cloneNode(true);
            const skip = '[data-testid="message"], [data-testid="conversation-item"], [data-testid="user-menu"], [data-testid="chat-title"],'
              + ' [data-testid="model-picker"], select option, script, style';
            clone.querySelectorAll(skip).forEach((node) => node.remove());
            const labels = [...document.querySelectorAll('[aria-label], [placeholder], [title]')]
              .filter((node) => !node.closest('[data-testid="message"], [data-testid="conversation-item"]'))
              .flatMap((node) => [node.getAttribute('aria-label'), node.getAttribute('placeholder'), node.getAttribute('title')]);
            return clone.innerText + '\\n' + labels.filter(Boolean).join('\\n');
        }"""
    )
    allowed = {"Chat", "Nio", "Enter", "Shift", "Ctrl", "English", "Markdown", "API", "Top", "tokens"}
    english = sorted({word for word in re.findall(r"[A-Za-z]{3,}", chrome) if word not in allowed})
    assert english == []
    assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
    page.screenshot(path=str(SCREENSHOTS / "chat-zh-CN.png"))
    page.get_by_test_id("language-select").select_option("en")


def test_dark_theme(site: LiveSite, watched: PageWatch) -> None:
    page = watched.page
    page.get_by_test_id("theme-dark").first.click()
    assert page.evaluate("() => document.documentElement.classList.contains('dark')")
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(11, 17, 32)"
    page.reload()
    page.get_by_test_id("composer").wait_for()
    assert page.evaluate("() => document.documentElement.classList.contains('dark')")
    page.locator(".md-mermaid svg").first.wait_for()
    page.screenshot(path=str(SCREENSHOTS / "chat-dark.png"))
    page.get_by_test_id("theme-light").first.click()
    assert re.search(r"/chat/\d+$", page.url)


def test_mobile_layout_uses_drawer(site: LiveSite, browser: Any, watched: PageWatch) -> None:
    state = watched.page.context.storage_state()
    context = browser.new_context(viewport={"width": 375, "height": 812}, storage_state=state, is_mobile=True,
                                  has_touch=True)
    try:
        page = context.new_page()
        watch = PageWatch(page)
        page.goto(watched.page.url)
        page.get_by_test_id("composer").wait_for()
        page.get_by_test_id("message").first.wait_for()
        assert page.get_by_test_id("conversation-item").first.is_hidden()
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 375
        page.screenshot(path=str(SCREENSHOTS / "mobile.png"))
        page.get_by_test_id("menu-button").click()
        drawer = page.get_by_test_id("sidebar-drawer")
        drawer.get_by_test_id("conversation-item").first.wait_for()
        page.screenshot(path=str(SCREENSHOTS / "mobile-drawer.png"))
        drawer.get_by_test_id("conversation-item").first.locator("a").click()
        drawer.wait_for(state="detached")
        assert watch.page_errors == []
    finally:
        context.close()


def test_long_conversation_is_virtualised(site: LiveSite, watched: PageWatch, username: str) -> None:
    page = watched.page
    conversation_id = site.seed_conversation(username, 500)
    page.goto(f"{site.url}/chat/{conversation_id}")
    page.get_by_text("Message number 499", exact=True).wait_for()
    assert page.get_by_test_id("message").count() < 60
    page.get_by_test_id("message-list").evaluate("(node) => { node.scrollTop = 0; }")
    page.get_by_test_id("load-earlier").click()
    page.get_by_test_id("message-list").evaluate("(node) => { node.scrollTop = 0; }")
    page.get_by_text("Message number 300", exact=True).wait_for()
    assert page.get_by_test_id("message").count() < 60
    composer = page.get_by_test_id("composer")
    composer.press_sequentially("typing stays responsive", delay=5)
    assert composer.input_value() == "typing stays responsive"
    composer.fill("")


def test_api_key_shown_once(site: LiveSite, watched: PageWatch) -> None:
    page = watched.page
    page.goto(f"{site.url}/account/keys")
    page.get_by_label("Key name").fill("laptop")
    page.get_by_test_id("create-key").click()
    key = page.get_by_test_id("new-key").input_value()
    assert re.fullmatch(r"sk-[A-Za-z0-9_-]{48}", key)
    page.keyboard.press("Escape")
    page.get_by_text("laptop").wait_for()
    assert key not in page.content()
    assert key[-4:] in page.get_by_text(re.compile(r"sk-.*" + re.escape(key[-4:]))).first.inner_text()


def test_account_pages_render(site: LiveSite, watched: PageWatch) -> None:
    page = watched.page
    page.goto(f"{site.url}/account/wallet")
    page.get_by_test_id("balance").get_by_text("points").wait_for()
    page.get_by_label("Redeem code").fill("NO-SUCH-CODE")
    page.get_by_label("Redeem code").press("Enter")
    page.locator("p.text-destructive").first.wait_for()

    page.goto(f"{site.url}/account/subscription")
    page.get_by_role("heading", name="Subscription").wait_for()
    page.goto(f"{site.url}/account/shares")
    page.get_by_role("heading", name="My shares").wait_for()
    page.locator("a[href^='/share/']").first.wait_for()

    page.goto(f"{site.url}/market")
    page.get_by_text("E2E model").wait_for()
    page.get_by_role("button", name="Pin to the model picker").first.click()
    page.get_by_role("button", name="Unpin from the model picker").first.wait_for()

    page.goto(f"{site.url}/presets")
    page.get_by_role("button", name="New preset").click()
    page.locator("#preset-name").fill("Pirate")
    page.locator("#preset-system").fill("Talk like a pirate.")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Pirate", exact=True).wait_for()

    page.goto(f"{site.url}/settings")
    page.locator("#temperature").fill("1.2")
    assert page.evaluate("() => JSON.parse(localStorage.getItem('preferences')).temperature") == 1.2
    page.get_by_role("button", name="Reset to defaults").click()
    assert page.evaluate("() => JSON.parse(localStorage.getItem('preferences')).temperature") == 0.6
    page.get_by_test_id("language-select").first.select_option("zh-CN")
    page.get_by_role("heading", name="设置").wait_for()
    page.get_by_test_id("language-select").first.select_option("en")


def test_buy_subscription_with_points(site: LiveSite, watched: PageWatch) -> None:
    import httpx

    page = watched.page
    admin = {"Authorization": f"Bearer {site.admin_token}"}
    plans = {"enabled": True, "plans": [
        {"level": 1, "price": "10", "items": [{"id": "chat", "name": "Chat", "models": ["gpt-e2e"], "monthly_quota": 50}]},
    ]}
    httpx.put(f"{site.url}/api/admin/subscription", headers=admin, json=plans).raise_for_status()
    me = page.evaluate(
        "async () => (await fetch('/api/auth/me', { headers: { Authorization: `Bearer ${localStorage.getItem('token')}` } })).json()"
    )
    httpx.post(f"{site.url}/api/admin/users/{me['id']}/points", headers=admin,
               json={"delta": "500", "reason": "e2e"}).raise_for_status()

    page.goto(f"{site.url}/account/subscription")
    page.get_by_text("10 CNY per month").wait_for()
    page.get_by_role("button", name="Subscribe").click()
    page.get_by_text("Your subscription was updated.").wait_for()
    page.get_by_text("Basic").first.wait_for()
    page.get_by_text("0 of 50 used this month").wait_for()

    page.goto(f"{site.url}/account/wallet")
    page.get_by_test_id("balance").get_by_text("400").wait_for()
    page.get_by_role("cell", name="Subscription").first.wait_for()


def test_root_default_password_banner(site: LiveSite, browser: Any) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{site.url}/login")
        page.locator("#username").fill("root")
        page.locator("#password").fill("chatnio123456")
        page.get_by_test_id("login-submit").click()
        banner = page.get_by_test_id("default-password-banner")
        banner.wait_for()
        assert "default password" in banner.inner_text()
        banner.get_by_role("link").click()
        page.locator("#old").fill("chatnio123456")
        page.locator("#new").fill("a new root password")
        page.locator("#confirm").fill("a new root password")
        page.get_by_role("button", name="Change password").click()
        page.get_by_text("Your password was changed.").wait_for()
        banner.wait_for(state="detached")
        page.reload()
        page.get_by_role("heading", name="Settings").wait_for()
        assert page.get_by_test_id("user-menu").first.inner_text() == "root"
    finally:
        context.close()


def test_announcement_shown_once_per_change(site: LiveSite, browser: Any, watched: PageWatch) -> None:
    import httpx

    def announce(content: str) -> None:
        response = httpx.post(
            f"{site.url}/api/admin/announcements",
            headers={"Authorization": f"Bearer {site.admin_token}"},
            json={"title": "News", "content": content},
        )
        response.raise_for_status()

    announce("First **news**.")
    context = browser.new_context(storage_state=watched.page.context.storage_state())
    try:
        page = context.new_page()
        page.goto(site.url)
        dialog = page.get_by_role("dialog")
        dialog.get_by_text("First").wait_for()
        assert dialog.locator("strong").inner_text() == "news"
        dialog.get_by_role("button", name="OK").click()
        page.reload()
        page.get_by_test_id("composer").wait_for()
        page.wait_for_timeout(500)
        assert page.get_by_role("dialog").count() == 0

        announce("Second news.")
        page.reload()
        page.get_by_role("dialog").get_by_text("Second news.").wait_for()
    finally:
        context.close()


def open_message_menu(page: Any, message: Any, item: str) -> None:
    message.hover()
    message.get_by_test_id("message-menu").click()
    page.get_by_role("menuitem", name=item).click()


def test_continue_fork_and_delete(site: LiveSite, watched: PageWatch) -> None:
    page = watched.page
    page.goto(site.url)
    page.get_by_test_id("composer").wait_for()
    page.wait_for_timeout(500)
    if page.get_by_role("dialog").count():
        page.get_by_role("dialog").get_by_role("button", name="OK").click()  # the announcement posted earlier
    site.vendor.reply_text = "First part."
    site.vendor.chunk_delay = 0.0
    send(page, "Start something.")
    last_assistant(page).get_by_text("First part.").wait_for()
    wait_idle(page)
    page.wait_for_url(re.compile(r"/chat/\d+$"))
    original_url = page.url

    site.vendor.reply_text = "Second part."
    open_message_menu(page, last_assistant(page), "Continue")
    last_assistant(page).get_by_text("Second part.").wait_for()
    wait_idle(page)
    assert page.locator('[data-testid="message"][data-role="assistant"]').count() == 2

    first_answer = page.locator('[data-testid="message"][data-role="assistant"]').first
    open_message_menu(page, first_answer, "Fork from here")
    page.wait_for_url(lambda url: url != original_url and re.search(r"/chat/\d+$", url) is not None)
    page.get_by_text("First part.").wait_for()
    assert page.get_by_text("Second part.").count() == 0

    page.goto(original_url)
    page.get_by_text("Second part.").wait_for()
    open_message_menu(page, last_assistant(page), "Delete")
    page.get_by_text("Second part.").wait_for(state="detached")
    page.reload()
    page.get_by_text("First part.").wait_for()
    assert page.get_by_text("Second part.").count() == 0


def test_no_page_errors(watched: PageWatch) -> None:
    assert watched.page_errors == []
    assert watched.console_errors == []
