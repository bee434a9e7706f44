"""Anonymous chat, site identity, notifications, tool calls, translated errors and edits in Chromium.

Every test that changes site settings, prices, the market or notifications puts them back, because
the other e2e modules share the same live site.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from e2e_site import MODEL, LiveSite

from chatnio_host.testing_vendors.openai import chat_chunk
from chatnio_host.testing_vendors.server import Reply

PASSWORD = "e2e site features password"
PAID_MODEL = "gpt-e2e-paid"


def admin(site: LiveSite) -> dict[str, str]:
    return {"Authorization": f"Bearer {site.admin_token}"}


def last_assistant(page: Any) -> Any:
    return page.locator('[data-testid="message"][data-role="assistant"]').last


def send(page: Any, text: str) -> None:
    page.get_by_test_id("composer").fill(text)
    page.get_by_test_id("send-button").click()


def wait_idle(page: Any) -> None:
    page.get_by_test_id("send-button").wait_for(state="visible", timeout=30_000)
    page.locator('[data-streaming="true"]').wait_for(state="detached", timeout=30_000)


def new_page(browser: Any, locale: str = "en-US") -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale=locale)
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    return page


@pytest.fixture(scope="module")
def user_page(site: LiveSite, browser: Any) -> Iterator[Any]:
    """A signed-in page of a fresh user."""
    page = new_page(browser)
    page.goto(f"{site.url}/register")
    page.locator("#username").fill(f"sf{secrets.token_hex(3)}")
    page.locator("#password").fill(PASSWORD)
    page.locator("#confirm").fill(PASSWORD)
    page.get_by_test_id("register-submit").click()
    page.get_by_test_id("composer").wait_for()
    try:
        yield page
    finally:
        page.context.close()


@pytest.fixture
def anonymous_market(site: LiveSite) -> Iterator[None]:
    """Make MODEL free for guests and add a paid model to the market; restore both afterwards."""
    prices = httpx.get(f"{site.url}/api/admin/prices", headers=admin(site))
    prices.raise_for_status()
    market = httpx.get(f"{site.url}/api/admin/market", headers=admin(site))
    market.raise_for_status()
    original_prices = prices.json()
    original_market = market.json()

    # The first rule that lists a model sets its price, so these two rules win over the old ones.
    rules = [
        {"type": "none", "models": [MODEL], "anonymous": True},
        {"type": "times", "models": [PAID_MODEL], "output": "2"},
        *original_prices["rules"],
    ]
    httpx.put(f"{site.url}/api/admin/prices", headers=admin(site),
              json={**original_prices, "rules": rules}).raise_for_status()
    entries = [
        {"model": MODEL, "name": "E2E model", "description": "Fake vendor", "tags": ["test"], "default": True},
        {"model": PAID_MODEL, "name": "Paid model", "description": "Costs points", "default": True},
    ]
    httpx.put(f"{site.url}/api/admin/market", headers=admin(site), json=entries).raise_for_status()
    try:
        yield
    finally:
        httpx.put(f"{site.url}/api/admin/prices", headers=admin(site), json=original_prices).raise_for_status()
        httpx.put(f"{site.url}/api/admin/market", headers=admin(site), json=original_market).raise_for_status()


def test_anonymous_chat_on_free_model(site: LiveSite, browser: Any, anonymous_market: None) -> None:
    page = new_page(browser)
    posts: list[str] = []
    page.on("request", lambda request: request.method == "POST" and posts.append(request.url))
    try:
        page.goto(site.url)
        page.get_by_test_id("composer").wait_for()
        assert page.evaluate("() => localStorage.getItem('token')") is None
        picker = page.get_by_test_id("model-picker")
        picker.get_by_text("E2E model").wait_for()

        site.vendor.reply_text = " ".join(f"guest{index}" for index in range(40)) + " GUEST-END"
        site.vendor.chunk_delay = 0.03
        send(page, "Hello as a guest")
        page.locator('[data-streaming="true"]').get_by_text("guest3", exact=False).wait_for()
        last_assistant(page).get_by_text("GUEST-END", exact=False).wait_for(timeout=30_000)
        wait_idle(page)
        assert "guest39 GUEST-END" in last_assistant(page).get_by_test_id("message-content").inner_text()
        assert page.get_by_test_id("message-error").count() == 0
        assert not re.search(r"/chat/\d+", page.url)

        # The second turn sends the page's history along, because the host stores nothing.
        site.vendor.reply_text = "Second guest answer."
        site.vendor.chunk_delay = 0.0
        send(page, "And again")
        last_assistant(page).get_by_text("Second guest answer.").wait_for()
        wait_idle(page)
        upstream = site.vendor.requests[-1].body.decode()
        assert "Hello as a guest" in upstream
        assert "GUEST-END" in upstream
        assert [url for url in posts if "/api/chat/anonymous" in url] == [f"{site.url}/api/chat/anonymous"] * 2
        assert page.get_by_test_id("message").count() == 4

        # Attachments need an account: the prompt says so and the image stays in the composer.
        png = base64.b64decode(
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
        )
        page.get_by_test_id("file-input").set_input_files(files=[{"name": "dot.png", "mimeType": "image/png", "buffer": png}])
        page.get_by_test_id("attachment-chip").locator("img").wait_for()
        posts_before = len(posts)
        send(page, "What is in this image?")
        notice = page.get_by_test_id("sign-in-required")
        notice.get_by_text("Sign in to attach files or images.", exact=False).wait_for()
        assert page.get_by_test_id("attachment-chip").count() == 1
        assert len(posts) == posts_before
        notice.get_by_role("button", name="Close").click()
        notice.wait_for(state="detached")

        # A paid model shows a sign-in prompt and sends nothing.
        picker.click()
        paid = page.get_by_role("menuitem").filter(has_text="Paid model")
        assert paid.get_by_test_id("sign-in-badge").count() == 1
        paid.click()
        picker.get_by_text("Paid model").wait_for()
        requests_before = len(site.vendor.requests)
        posts_before = len(posts)
        send(page, "Use the paid model")
        notice = page.get_by_test_id("sign-in-required")
        notice.wait_for()
        assert "Paid model" in notice.inner_text()
        assert notice.get_by_role("link", name="Sign in").get_attribute("href").startswith("/login")
        assert page.get_by_test_id("composer").input_value() == "Use the paid model"
        assert len(posts) == posts_before
        assert len(site.vendor.requests) == requests_before
        assert page.errors == []
    finally:
        site.vendor.reply_text = None
        page.context.close()


def test_anonymous_chat_refused_for_paid_model(site: LiveSite, anonymous_market: None) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "model": PAID_MODEL}
    response = httpx.post(f"{site.url}/api/chat/anonymous", json=body)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "login_required"


def test_site_name_from_settings(site: LiveSite, browser: Any, user_page: Any) -> None:
    settings = httpx.get(f"{site.url}/api/admin/settings", headers=admin(site))
    settings.raise_for_status()
    general = settings.json()["general"]
    original = {key: general[key] for key in ("site_name", "logo_url", "footer", "contact", "docs_url", "buy_link")}
    change = {"site_name": "Acme Chat", "logo_url": "/icon.svg", "footer": "Made by **Acme**.",
              "contact": "Mail acme@example.com", "docs_url": "https://docs.example.com",
              "buy_link": "https://shop.example.com/buy"}
    httpx.put(f"{site.url}/api/admin/settings", headers=admin(site), json={"general": change}).raise_for_status()
    page = new_page(browser)
    try:
        page.goto(site.url)
        page.get_by_test_id("composer").wait_for()
        sidebar = page.locator("aside")
        sidebar.get_by_test_id("site-name").get_by_text("Acme Chat").wait_for()
        page.wait_for_function("() => document.title === 'Acme Chat'")
        assert sidebar.get_by_test_id("site-name").locator("img").get_attribute("src") == "/icon.svg"
        footer = sidebar.get_by_test_id("site-footer")
        assert footer.locator("strong").inner_text() == "Acme"
        assert footer.get_by_role("link", name="Docs").get_attribute("href") == "https://docs.example.com"
        footer.get_by_role("button", name="Contact").click()
        page.get_by_role("dialog").get_by_text("acme@example.com").wait_for()
        page.keyboard.press("Escape")

        page.goto(f"{site.url}/login")
        page.get_by_test_id("site-name").get_by_text("Acme Chat").wait_for()
        assert page.title() == "Acme Chat"
        assert page.errors == []

        username = user_page.get_by_test_id("user-menu").first.inner_text()
        user_page.goto(f"{site.url}/account/wallet")
        buy = user_page.get_by_role("link", name="Buy points")
        buy.wait_for()
        assert buy.get_attribute("href") == f"https://shop.example.com/buy?username={username}"
    finally:
        page.context.close()
        httpx.put(f"{site.url}/api/admin/settings", headers=admin(site), json={"general": original}).raise_for_status()


def test_notification_toast_once_per_id(site: LiveSite, browser: Any) -> None:
    posted: list[int] = []

    def notify(content: str) -> None:
        response = httpx.post(f"{site.url}/api/admin/announcements", headers=admin(site),
                              json={"title": "Heads up", "content": content, "kind": "notification"})
        response.raise_for_status()
        posted.append(response.json()["id"])

    page = new_page(browser)
    try:
        notify("Maintenance at **noon**.")
        page.goto(site.url)
        toast = page.get_by_test_id("notification-toast")
        toast.get_by_text("Maintenance at").wait_for()
        assert toast.locator("strong").inner_text() == "noon"
        assert toast.get_by_text("Heads up").count() == 1
        toast.get_by_role("button", name="Close").click()
        toast.wait_for(state="detached")

        page.reload()
        page.get_by_test_id("composer").wait_for()
        page.wait_for_timeout(1000)
        assert page.get_by_test_id("notification-toast").count() == 0

        notify("Maintenance is over.")
        page.reload()
        page.get_by_test_id("notification-toast").get_by_text("Maintenance is over.").wait_for()
        assert page.get_by_test_id("notification-toast").count() == 1
        assert page.errors == []
    finally:
        page.context.close()
        for notification_id in posted:
            httpx.delete(f"{site.url}/api/admin/announcements/{notification_id}", headers=admin(site))


def tool_call_reply() -> Reply:
    first = {"index": 0, "id": "call_weather", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
    return Reply.sse([
        chat_chunk({"role": "assistant", "content": "Checking the weather."}),
        chat_chunk({"tool_calls": [first]}),
        chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
        chat_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        chat_chunk({}, finish_reason="tool_calls"),
        b"data: [DONE]\n\n",
    ])


def test_tool_calls_shown_under_answer(site: LiveSite, user_page: Any) -> None:
    page = user_page
    page.get_by_test_id("new-chat").first.click()
    site.vendor.enqueue(tool_call_reply(), path="/chat/completions")
    try:
        send(page, "What is the weather in Paris?")
        last_assistant(page).get_by_text("Checking the weather.").wait_for()
        wait_idle(page)
    finally:
        site.vendor.reset()
    page.wait_for_url(re.compile(r"/chat/\d+$"))

    for attempt in ("live", "reloaded"):
        block = last_assistant(page).get_by_test_id("tool-calls")
        block.wait_for()
        assert "get_weather" in block.locator("summary").inner_text(), attempt
        assert not block.get_by_test_id("tool-call").is_visible(), attempt
        block.locator("summary").click()
        arguments = block.get_by_test_id("tool-call").locator("pre").inner_text()
        assert json.loads(arguments) == {"city": "Paris"}, attempt
        page.reload()
        page.get_by_test_id("composer").wait_for()
    assert page.errors == []


def test_errors_in_users_language(site: LiveSite, browser: Any, user_page: Any) -> None:
    page = new_page(browser, locale="zh-CN")
    try:
        page.goto(f"{site.url}/login")
        page.locator("#username").fill("nobody-here")
        page.locator("#password").fill("not the password")
        page.get_by_test_id("login-submit").click()
        page.get_by_role("alert").get_by_text("用户名或密码错误。").wait_for()
    finally:
        page.context.close()

    page = user_page
    page.goto(f"{site.url}/account/wallet")
    page.get_by_label("Redeem code").fill("nio-DoesNotExist1")
    page.get_by_label("Redeem code").press("Enter")
    page.get_by_text("This code does not exist. Check it for typos.").wait_for()
    page.get_by_label("Redeem code").fill("not a code")
    page.get_by_label("Redeem code").press("Enter")
    page.get_by_text("This code is not valid.", exact=False).wait_for()
    page.get_by_test_id("language-select").first.select_option("zh-CN")
    page.get_by_label("兑换码").fill("nio-DoesNotExist2")
    page.get_by_label("兑换码").press("Enter")
    page.get_by_text("该兑换码不存在，请检查是否输错。").wait_for()
    page.get_by_test_id("language-select").first.select_option("en")


def test_edit_and_answer_again_hides_later_turns(site: LiveSite, user_page: Any) -> None:
    page = user_page
    page.goto(site.url)
    page.get_by_test_id("composer").wait_for()
    site.vendor.chunk_delay = 0.0
    site.vendor.reply_text = "Answer one."
    send(page, "First question")
    last_assistant(page).get_by_text("Answer one.").wait_for()
    wait_idle(page)
    site.vendor.reply_text = "Answer two."
    send(page, "Second question")
    last_assistant(page).get_by_text("Answer two.").wait_for()
    wait_idle(page)
    assert page.get_by_test_id("message").count() == 4

    site.vendor.reply_text = "Answer to the edited question."
    first = page.locator('[data-testid="message"][data-role="user"]').first
    first.hover()
    first.get_by_test_id("message-menu").click()
    page.get_by_role("menuitem", name="Edit").click()
    page.get_by_test_id("edit-box").fill("Edited first question")
    page.get_by_role("button", name="Save and answer again").click()
    last_assistant(page).get_by_text("Answer to the edited question.").wait_for()
    wait_idle(page)
    site.vendor.reply_text = None

    for attempt in ("after the answer", "after a reload"):
        messages = page.get_by_test_id("message")
        assert messages.count() == 2, attempt
        assert messages.nth(0).inner_text().strip() == "Edited first question", attempt
        assert "Answer to the edited question." in messages.nth(1).inner_text(), attempt
        assert page.get_by_text("Second question").count() == 0, attempt
        assert page.get_by_text("Answer two.").count() == 0, attempt
        page.reload()
        page.get_by_test_id("composer").wait_for()
        last_assistant(page).get_by_text("Answer to the edited question.").wait_for()
    assert page.errors == []
