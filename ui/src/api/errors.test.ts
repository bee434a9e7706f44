import { afterAll, describe, expect, it } from "vitest";
import i18n from "@/i18n";
import { ApiError, errorFromResponse } from "./client";
import { describeError, localizeError } from "./errors";

function errorResponse(status: number, error: Record<string, unknown>): Response {
  return new Response(JSON.stringify({ error }), { status, headers: { "Content-Type": "application/json" } });
}

describe("server errors", () => {
  afterAll(() => i18n.changeLanguage("en"));

  it("translates a known code in both languages", async () => {
    await i18n.changeLanguage("en");
    expect(localizeError("insufficient_quota", null, "Not enough points.")).toBe(
      "You do not have enough points. Top up your wallet or choose a free model.",
    );
    await i18n.changeLanguage("zh-CN");
    expect(localizeError("insufficient_quota", null, "Not enough points.")).toBe("点数不足，请充值或选择免费模型。");
  });

  it("narrows a code by its param", async () => {
    await i18n.changeLanguage("en");
    expect(localizeError("invalid_credentials", null, "x")).toBe("Incorrect username or password.");
    expect(localizeError("invalid_credentials", "old_password", "x")).toBe("The current password is incorrect.");
    expect(localizeError("conflict", "username", "x")).toBe("This username is taken. Choose another.");
  });

  it("keeps the server message for unknown codes", () => {
    expect(localizeError("some_new_code", null, "Server says so.")).toBe("Server says so.");
    expect(localizeError(null, null, "No code at all.")).toBe("No code at all.");
    expect(localizeError("conflict", "title", "A conflict.")).toBe("A conflict.");
  });

  it("quotes the upstream message", async () => {
    await i18n.changeLanguage("en");
    expect(localizeError("upstream_error", null, "The prompt is not allowed.")).toBe(
      "The model provider returned an error: The prompt is not allowed.",
    );
  });

  it("builds a translated ApiError from a response", async () => {
    await i18n.changeLanguage("zh-CN");
    const error = await errorFromResponse(
      errorResponse(429, { message: "Too many requests.", type: "rate_limit_error", param: null, code: "rate_limit_exceeded" }),
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error.message).toBe("请求过于频繁，请稍后再试。");
    expect(error.serverMessage).toBe("Too many requests.");
    expect(error.code).toBe("rate_limit_exceeded");
  });

  it("describes a failed fetch as a network error", async () => {
    await i18n.changeLanguage("en");
    expect(describeError(new TypeError("Failed to fetch"))).toBe(
      "The server could not be reached. Check your connection and try again.",
    );
  });
});
