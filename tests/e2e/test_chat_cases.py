"""Chat cases in Chromium: IME send keys, streamed Markdown rules, and inert model output."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_site import LiveSite

from chatnio_host.testing_vendors.openai import chat_chunk
from chatnio_host.testing_vendors.server import Reply

PASSWORD = "e2e cases password"

R1 = "Plan A costs $5 and Plan B costs $10. Upgrade for $5-$10 per month. Only $59 (save $100). 价格是 $100 到 $200。"
R2 = ("Euler: $e^{i\\pi}+1=0$, also $1 + 1 = 2$ and $2$. 在表达式$\\lambda . 1$中，$1$是封闭的。\n\n"
      "$$\\frac{a}{b}$$\n\nInline \\( x^2 \\) and display:\n\n\\[ \\int_0^1 x\\,dx \\]\n\nEscaped: \\$5.")
R3 = ("```python\nimport re\npat = re.compile(r\"\\(\\d+\\)\\s*\\[x\\]\")\nprint(f\"cost: ${5}\")\n```\n\n"
      "```js\nconst re = /[.*+?^${}()|[\\]\\\\]/g;\n```\n\nInline code `export PATH=$HOME/bin:$PATH` stays.")
R4 = "$$\\log p(x_n \\mid x_{<n}) = \\sum_i a_i \\\\[4pt] b$$"
R5 = ["Here:\n\n```python\nprint(1)\n", "<img src=x onerror=\"window.__xss=1\">\n", "```\n\nDone $x", "^2$."]
R6 = "```mermaid\ngraph TD\nA-->\n```\n\nAfter diagram.\n\n```mermaid\ngraph TD\nA-->B\n```"

PAYLOADS = [
    "<img src=x onerror=\"window.__xss='p1'\">",
    "<svg onload=\"window.__xss='p2'\"><circle r=\"4\"/></svg>",
    ("[a](javascript:window.__xss='p3') [b](JaVaScRiPt:window.__xss='p3b') "
     "[c](&#106;avascript:window.__xss='p3c') [d]( javascript:window.__xss='p3d')"),
    "<a href=\"javascript:window.__xss='p4'\">x</a> <a href=\"data:text/html,<script>alert(1)</script>\">y</a>",
    "<iframe srcdoc=\"<script>parent.__xss='p5'</script>\"></iframe><object data=\"javascript:window.__xss='p5b'\"></object>",
    "<style>body{display:none}</style><form action=\"https://evil.test\"><input name=pw></form>",
    ("```mermaid\ngraph TD\nA[\"<img src=x onerror=window.__xss='p7'>\"]-->B\n"
     "click B \"javascript:window.__xss='p7b'\"\n```"),
    "$\\href{javascript:window.__xss='p8'}{x}$ and $\\htmlId{x}{y}$",
    "![i](javascript:window.__xss='p9')",
]

SNAPSHOT_SCRIPT = """() => {
    window.__snaps = [];
    const record = () => {
        const all = document.querySelectorAll('[data-testid="message"][data-role="assistant"] [data-testid="message-content"]');
        const last = all[all.length - 1];
        if (!last) return;
        window.__snaps.push({
            text: last.textContent,
            pre: Boolean(last.querySelector('pre > code')),
            img: last.querySelectorAll('img').length,
            katexErrors: document.querySelectorAll('.katex-error').length,
            bodyLeaks: [...document.body.children].filter((node) =>
                node.tagName === 'svg' || /^d?mermaid|^dmmd|^mmd/.test(node.id)).length,
        });
    };
    new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true });
}"""

INERT_CHECK = """() => {
    const problems = [];
    for (const root of document.querySelectorAll('[data-testid="message"], [data-testid="conversation-item"], [data-testid="chat-title"]')) {
        if (root.querySelector('script, iframe, object, embed, style, form, input:not([type="checkbox"])')) problems.push('element');
        for (const node of root.querySelectorAll('*')) {
            for (const attribute of node.attributes) if (attribute.name.startsWith('on')) problems.push('attribute ' + attribute.name);
        }
        for (const link of root.querySelectorAll('a[href]')) {
            const href = link.getAttribute('href');
            if (!/^(https?:|mailto:|\\/)/.test(href)) problems.push('href ' + href);
            if (/^https?:/.test(href) && !(link.rel.includes('noopener') && link.rel.includes('noreferrer'))) problems.push('rel ' + href);
        }
    }
    return { xss: window.__xss === undefined ? null : String(window.__xss), problems };
}"""


def stream_reply(pieces: list[str], gap: float) -> Reply:
    """An OpenAI stream whose content arrives in exactly these pieces, ``gap`` seconds apart."""
    events: list[Any] = [chat_chunk({"role": "assistant", "content": ""})]
    for piece in pieces:
        events.extend([gap, chat_chunk({"content": piece})])
    events.extend([chat_chunk({}, finish_reason="stop"), b"data: [DONE]\n\n"])
    return Reply.sse(events)


@pytest.fixture(scope="module")
def page(site: LiveSite, browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-US")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("dialog", lambda dialog: page.errors.append("dialog " + dialog.message))
    page.goto(f"{site.url}/register")
    page.locator("#username").fill(f"ime{secrets.token_hex(3)}")
    page.locator("#password").fill(PASSWORD)
    page.locator("#confirm").fill(PASSWORD)
    page.get_by_test_id("register-submit").click()
    page.get_by_test_id("composer").wait_for()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def sends(page: Any) -> Iterator[list[str]]:
    """Bodies of the message sends the page makes during one test."""
    bodies: list[str] = []

    def on_request(request: Any) -> None:
        if request.method == "POST" and re.search(r"/api/conversations/[^/]+/messages$", request.url):
            bodies.append(request.post_data or "")

    page.on("request", on_request)
    yield bodies
    page.remove_listener("request", on_request)


def wait_idle(page: Any) -> None:
    page.locator('[data-streaming="true"]').wait_for(state="detached", timeout=30_000)
    page.get_by_test_id("send-button").wait_for()


def last_content(page: Any) -> Any:
    return page.locator('[data-testid="message"][data-role="assistant"] [data-testid="message-content"]').last


def new_chat(page: Any) -> None:
    page.get_by_test_id("new-chat").first.click()
    page.get_by_test_id("composer").wait_for()


# Event sequences that real browsers produce for a CJK IME; `target` is the composer selector.
IME_SCRIPT = """async ({ target, steps }) => {
    const element = document.querySelector(target);
    element.focus();
    const setValue = (value, composing) => {
        const proto = element instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
        Object.getOwnPropertyDescriptor(proto, 'value').set.call(element, value);
        element.dispatchEvent(new InputEvent('input', { bubbles: true, isComposing: composing, data: value }));
    };
    const key = (type, name, keyCode, isComposing, extra = {}) => element.dispatchEvent(new KeyboardEvent(type, {
        key: name, code: name, keyCode, which: keyCode, isComposing, bubbles: true, cancelable: true, ...extra }));
    for (const step of steps) {
        if (step === 'S1') {
            element.dispatchEvent(new CompositionEvent('compositionstart', { bubbles: true, data: '' }));
            for (const partial of ['n', 'ni', 'nih', 'niha', 'nihao']) setValue(partial, true);
            key('keydown', 'Enter', 229, true);
            element.dispatchEvent(new CompositionEvent('compositionend', { bubbles: true, data: '你好' }));
            setValue('你好', false);
            key('keyup', 'Enter', 13, false);
        } else if (step === 'S2') {
            element.dispatchEvent(new CompositionEvent('compositionstart', { bubbles: true, data: '' }));
            for (const partial of ['n', 'ni', 'nih', 'niha', 'nihao']) setValue(partial, true);
            setValue('你好', false);
            element.dispatchEvent(new CompositionEvent('compositionend', { bubbles: true, data: '你好' }));
            key('keydown', 'Enter', 229, false);
        } else if (step === 'wait') {
            await new Promise((resolve) => setTimeout(resolve, 300));
        } else if (step === 'enter13') {
            key('keydown', 'Enter', 13, false);
        } else if (step === 'enter229') {
            key('keydown', 'Enter', 229, false);
        } else if (step === 'alt') {
            key('keydown', 'Alt', 18, false, { altKey: true });
            key('keyup', 'Alt', 18, false);
        }
    }
    return element.value;
}"""


def ime(page: Any, steps: list[str], target: str = '[data-testid="composer"]') -> str:
    return page.evaluate(IME_SCRIPT, {"target": target, "steps": steps})


@pytest.mark.parametrize("sequence", ["S1", "S2"])
def test_ime_commit_enter_does_not_send(page: Any, sends: list[str], sequence: str) -> None:
    page.get_by_test_id("composer").fill("")
    value = ime(page, [sequence])
    page.wait_for_timeout(300)
    assert sends == []
    assert value == "你好"
    assert page.get_by_test_id("composer").input_value() == "你好"


@pytest.mark.parametrize(("sequence", "enter"), [("S1", "enter13"), ("S2", "enter13"), ("S2", "enter229")])
def test_ime_later_enter_sends(site: LiveSite, page: Any, sends: list[str], sequence: str, enter: str) -> None:
    site.vendor.reply_text = "ok"
    page.get_by_test_id("composer").fill("")
    ime(page, [sequence, "wait", enter])
    page.wait_for_timeout(300)
    wait_idle(page)
    assert len(sends) == 1
    assert json.loads(sends[0])["text"] == "你好"
    assert page.get_by_test_id("composer").input_value() == ""
    page.wait_for_timeout(300)
    assert page.get_by_test_id("composer").input_value() == ""


def test_ime_shift_enter_and_alt(page: Any, sends: list[str]) -> None:
    composer = page.get_by_test_id("composer")
    composer.fill("第一行")
    composer.press("Shift+Enter")
    assert composer.input_value() == "第一行\n"
    composer.fill("")
    ime(page, ["S1", "alt", "alt", "alt"])
    page.wait_for_timeout(300)
    assert sends == []


def test_ctrl_enter_send_key(page: Any, sends: list[str]) -> None:
    page.evaluate("""() => {
        const prefs = JSON.parse(localStorage.getItem('preferences') || '{}');
        localStorage.setItem('preferences', JSON.stringify({ ...prefs, sendKey: 'ctrl-enter' }));
    }""")
    page.reload()
    composer = page.get_by_test_id("composer")
    composer.fill("abc")
    composer.press("Enter")
    page.wait_for_timeout(300)
    assert sends == []
    assert composer.input_value() == "abc\n"
    page.evaluate("""() => {
        const prefs = JSON.parse(localStorage.getItem('preferences') || '{}');
        localStorage.setItem('preferences', JSON.stringify({ ...prefs, sendKey: 'enter' }));
    }""")
    page.reload()
    page.get_by_test_id("composer").fill("")


def test_ime_in_rename_box(page: Any) -> None:
    item = page.get_by_test_id("conversation-item").first
    item.hover()
    item.get_by_role("button").click()
    page.get_by_role("menuitem", name="Rename").click()
    page.get_by_test_id("rename-input").fill("")
    ime(page, ["S1"], target='[data-testid="rename-input"]')
    page.wait_for_timeout(200)
    assert page.get_by_test_id("rename-input").input_value() == "你好"
    ime(page, ["S2"], target='[data-testid="rename-input"]')
    assert page.get_by_test_id("rename-input").is_visible()
    ime(page, ["wait", "enter13"], target='[data-testid="rename-input"]')
    page.get_by_test_id("rename-input").wait_for(state="detached")
    assert page.get_by_test_id("conversation-item").first.inner_text().strip() == "你好"


@pytest.mark.parametrize("name", ["R1", "R2", "R3", "R4"])
def test_markdown_fixture(site: LiveSite, page: Any, name: str) -> None:
    source = {"R1": R1, "R2": R2, "R3": R3, "R4": R4}[name]
    new_chat(page)
    site.vendor.enqueue(stream_reply(re.findall(r"\s*\S+", source), 0.005), path="/chat/completions")
    page.get_by_test_id("composer").fill(f"fixture {name}")
    page.get_by_test_id("send-button").click()
    wait_idle(page)
    content = last_content(page)
    if name == "R1":
        page.wait_for_timeout(300)
        assert content.locator(".katex").count() == 0
        assert content.evaluate("(node) => node.textContent.trim()") == R1
    elif name == "R2":
        content.locator(".katex").nth(7).wait_for()
        assert content.locator(".katex").count() == 8
        assert content.locator(".katex-display").count() == 2
        assert content.locator(".katex-error").count() == 0
        assert "Escaped: $5." in content.inner_text()
    elif name == "R3":
        blocks = content.locator("pre code").all_inner_texts()
        assert blocks[0].rstrip("\n") == 'import re\npat = re.compile(r"\\(\\d+\\)\\s*\\[x\\]")\nprint(f"cost: ${5}")'
        assert blocks[1].rstrip("\n") == "const re = /[.*+?^${}()|[\\]\\\\]/g;"
        assert content.locator("p code").inner_text() == "export PATH=$HOME/bin:$PATH"
        assert content.locator(".katex").count() == 0
    else:
        content.locator(".katex-display").wait_for()
        assert content.locator(".katex-display").count() == 1
        assert content.locator(".katex-error").count() == 0
        annotation = content.locator('annotation[encoding="application/x-tex"]').text_content()
        assert "x_{<n}" in annotation
        assert "\\\\[4pt]" in annotation


def test_streamed_open_fence_and_html(site: LiveSite, page: Any) -> None:
    new_chat(page)
    page.evaluate(SNAPSHOT_SCRIPT)
    site.vendor.enqueue(stream_reply(R5, 0.6), path="/chat/completions")
    page.get_by_test_id("composer").fill("fixture R5")
    page.get_by_test_id("send-button").click()
    wait_idle(page)
    snaps = page.evaluate("() => window.__snaps")
    early = [snap for snap in snaps if "print(1)" in snap["text"] and "Done" not in snap["text"]]
    assert early
    assert all(snap["pre"] for snap in early)
    assert all(snap["img"] == 0 for snap in snaps)
    assert all(snap["katexErrors"] == 0 for snap in snaps)
    content = last_content(page)
    content.locator(".katex").wait_for()
    assert content.locator(".katex").count() == 1
    assert "Done" in content.inner_text()
    assert '<img src=x onerror="window.__xss=1">' in content.locator("pre code").inner_text()
    assert page.evaluate("() => window.__xss") is None


def test_mermaid_errors_stay_in_message(site: LiveSite, page: Any) -> None:
    new_chat(page)
    body_before = page.evaluate("() => [...document.body.children].map((node) => node.tagName + '#' + node.id)")
    page.evaluate(SNAPSHOT_SCRIPT)
    pieces = [R6[index:index + 12] for index in range(0, len(R6), 12)]
    site.vendor.enqueue(stream_reply(pieces, 0.05), path="/chat/completions")
    page.get_by_test_id("composer").fill("fixture R6")
    page.get_by_test_id("send-button").click()
    wait_idle(page)

    def check() -> None:
        content = last_content(page)
        content.locator(".md-mermaid svg").wait_for()
        # Both diagrams render asynchronously; the invalid one's error may land after the valid SVG.
        content.locator(".md-mermaid-error").wait_for()
        assert content.locator(".md-mermaid-error").count() == 1
        assert content.locator(".md-mermaid svg").count() == 1
        assert "After diagram." in content.inner_text()
        assert "A-->" in content.locator(".md-mermaid").first.inner_text()
        assert page.evaluate("() => [...document.body.children].map((node) => node.tagName + '#' + node.id)") == body_before

    check()
    snaps = page.evaluate("() => window.__snaps")
    assert all(snap["bodyLeaks"] == 0 and snap["katexErrors"] == 0 for snap in snaps)
    site.vendor.reply_text = "Follow-up answer."
    page.get_by_test_id("composer").fill("follow up")
    page.get_by_test_id("send-button").click()
    last_content(page).get_by_text("Follow-up answer.").wait_for()
    wait_idle(page)
    page.reload()
    page.locator('[data-testid="message"][data-role="assistant"] .md-mermaid svg').first.wait_for()
    mermaid_message = page.locator('[data-testid="message"][data-role="assistant"]').nth(0)
    mermaid_message.locator(".md-mermaid-error").wait_for()
    assert mermaid_message.locator(".md-mermaid-error").count() == 1
    assert mermaid_message.locator(".md-mermaid svg").count() == 1
    assert page.errors == []


def test_payloads_stay_inert(site: LiveSite, page: Any, browser: Any) -> None:
    new_chat(page)
    site.vendor.reply_text = None  # the fake vendor echoes the user's text as the answer
    for payload in PAYLOADS:
        page.get_by_test_id("composer").fill(payload)
        page.get_by_test_id("send-button").click()
        wait_idle(page)
    evil_name = "\"><img src=x onerror=window.__xss='p10'>.txt"
    evil_svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"window.__xss='p11'\"/>"
    page.get_by_test_id("file-input").set_input_files(files=[
        {"name": evil_name, "mimeType": "text/plain", "buffer": b"plain notes"},
        {"name": "evil.svg", "mimeType": "image/svg+xml", "buffer": evil_svg},
    ])
    chips = page.get_by_test_id("attachment-chip")
    chips.nth(1).wait_for()
    page.wait_for_function("() => ![...document.querySelectorAll('[data-testid=attachment-chip]')].some((chip) => chip.textContent.includes('%'))")
    assert evil_name in chips.first.inner_text()
    assert page.locator('[data-testid="attachment-chip"] img[onerror]').count() == 0
    if page.get_by_test_id("send-button").is_enabled():
        page.get_by_test_id("composer").fill("files with odd names")
        page.get_by_test_id("send-button").click()
        wait_idle(page)
    page.wait_for_timeout(1000)
    result = page.evaluate(INERT_CHECK)
    assert result == {"xss": None, "problems": []}
    assert "onerror" in page.get_by_test_id("conversation-item").first.inner_text()

    page.reload()
    page.get_by_test_id("message").first.wait_for()
    page.wait_for_timeout(1000)
    assert page.evaluate(INERT_CHECK) == {"xss": None, "problems": []}

    page.get_by_test_id("share-button").click()
    page.get_by_test_id("share-create").click()
    page.wait_for_function("() => document.querySelector('[data-testid=share-link]')?.value.includes('/share/')")
    link = page.get_by_test_id("share-link").input_value()
    page.keyboard.press("Escape")
    anonymous = browser.new_context()
    try:
        viewer = anonymous.new_page()
        errors: list[str] = []
        viewer.on("pageerror", lambda error: errors.append(str(error)))
        viewer.on("dialog", lambda dialog: errors.append("dialog"))
        viewer.goto(link)
        viewer.get_by_test_id("message").first.wait_for()
        viewer.wait_for_timeout(1000)
        assert viewer.evaluate(INERT_CHECK) == {"xss": None, "problems": []}
        for anchor in viewer.locator('[data-testid="message"] a[href^="/"]').all():
            anchor.click()
        assert viewer.evaluate("() => window.__xss") is None
        assert errors == []
    finally:
        anonymous.close()
    assert page.errors == []


def test_ime_in_edit_box(site: LiveSite, page: Any) -> None:
    question = page.locator('[data-testid="message"][data-role="user"]').last
    question.hover()
    question.get_by_test_id("message-menu").click()
    page.get_by_role("menuitem", name="Edit").click()
    page.get_by_test_id("edit-box").fill("")
    ime(page, ["S1"], target='[data-testid="edit-box"]')
    ime(page, ["S2"], target='[data-testid="edit-box"]')
    page.wait_for_timeout(200)
    assert page.get_by_test_id("edit-box").input_value() == "你好"
    ime(page, ["wait", "enter13"], target='[data-testid="edit-box"]')
    page.get_by_test_id("edit-box").wait_for(state="detached")
    page.locator('[data-testid="message"][data-role="user"]').last.get_by_text("你好", exact=True).wait_for()


def test_deep_link_prefills_without_sending(site: LiveSite, page: Any, sends: list[str]) -> None:
    page.goto(f"{site.url}/?q=delete%20everything&send=1")
    composer = page.get_by_test_id("composer")
    composer.wait_for()
    page.wait_for_timeout(500)
    assert composer.input_value() == "delete everything"
    assert sends == []
    composer.fill("")


def test_sidebar_search_filters(site: LiveSite, page: Any) -> None:
    items = page.get_by_test_id("conversation-item")
    items.first.wait_for()
    assert items.count() >= 2
    page.get_by_placeholder("Search conversations").fill("你好")
    page.wait_for_function("() => document.querySelectorAll('[data-testid=conversation-item]').length === 1")
    assert items.first.inner_text().strip() == "你好"
    page.get_by_placeholder("Search conversations").fill("")


def test_pwa_and_security_headers(site: LiveSite, page: Any) -> None:
    import httpx

    index = httpx.get(f"{site.url}/")
    policy = index.headers["content-security-policy"]
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src
    assert "*" not in script_src
    share_page = httpx.get(f"{site.url}/share/anything")
    assert "script-src 'self'" in share_page.headers["content-security-policy"]

    manifest = httpx.get(f"{site.url}/manifest.webmanifest").json()
    assert manifest["display"] == "standalone"
    assert manifest["icons"]
    page.goto(site.url)
    page.wait_for_function("async () => Boolean(await navigator.serviceWorker.getRegistration())", timeout=15_000)


def test_upstream_error_shows_as_error(site: LiveSite, page: Any) -> None:
    new_chat(page)
    # A request error (400) is passed through without retries, so exactly one reply is used.
    site.vendor.enqueue(Reply.error(400, "The prompt is not allowed."), path="/chat/completions")
    try:
        page.get_by_test_id("composer").fill("this will fail")
        page.get_by_test_id("send-button").click()
        error = page.get_by_test_id("message-error").last
        error.wait_for()
        wait_idle(page)
        page.get_by_test_id("message-error").last.wait_for()
        assert page.get_by_test_id("composer").input_value() == ""
        assert page.errors == []
    finally:
        site.vendor.reset()
