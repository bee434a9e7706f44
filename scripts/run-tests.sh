#!/usr/bin/env bash
# Run every test suite: the host's, each plugin's, and the web app's.
# pytest exits 5 when it collected no tests; that counts as a failure here.
set -u
cd "$(dirname "$0")/.."
BIN=.venv/bin
status=0
failed=()

run_pytest() {
    local name=$1
    shift
    "$@"
    local code=$?
    if [ "$code" -ne 0 ]; then
        if [ "$code" -eq 5 ]; then
            echo "error: $name collected no tests" >&2
        fi
        failed+=("$name")
        status=1
    fi
}

# The browser tests drive Chromium through Playwright's synchronous API, whose event loop must not
# share a process with the asyncio tests, so they run in a pytest process of their own.
run_pytest host "$BIN/python" -m pytest tests -q -p no:cacheprovider --ignore=tests/e2e

for dir in plugins/*/; do
    if [ -d "$dir/tests" ]; then
        run_pytest "$(basename "$dir")" bash -c "cd '$dir' && ../../$BIN/python -m pytest tests -q -p no:cacheprovider"
    fi
done

if [ -f ui/package.json ] && grep -q '"test"' ui/package.json; then
    (cd ui && npm test) || { failed+=(ui); status=1; }
fi

if [ -d tests/e2e ]; then
    run_pytest browser "$BIN/python" -m pytest tests/e2e -q -p no:cacheprovider
fi

if [ "$status" -ne 0 ]; then
    echo "failed suites: ${failed[*]}" >&2
fi
exit "$status"
