// Server errors in the user's language. The host returns {"error": {"message", "type", "param", "code"}}.
// A known `code` (optionally narrowed by `param`) maps to a translation, and any other keeps the server's message.
import i18n from "@/i18n";

/** Translation keys by "code:param" (checked first) or "code". */
const ERROR_KEYS: Record<string, string> = {
  not_signed_in: "errors.notSignedIn",
  invalid_token: "errors.sessionExpired",
  invalid_credentials: "errors.invalidCredentials",
  "invalid_credentials:old_password": "errors.wrongCurrentPassword",
  account_banned: "errors.accountBanned",
  registration_closed: "errors.registrationClosed",
  email_domain_not_allowed: "errors.emailDomainNotAllowed",
  mail_not_configured: "errors.mailNotConfigured",
  invalid_code: "errors.invalidCode",
  code_not_found: "errors.codeNotFound",
  code_used: "errors.codeUsed",
  "conflict:username": "errors.usernameTaken",
  "conflict:email": "errors.emailTaken",
  login_required: "errors.loginRequired",
  insufficient_quota: "errors.insufficientQuota",
  model_not_priced: "errors.modelNotPriced",
  model_not_allowed: "errors.modelNotAllowed",
  rate_limit_exceeded: "errors.rateLimitExceeded",
  relay_closed: "errors.relayClosed",
  no_channel: "errors.noChannel",
  upstream_error: "errors.upstreamError",
  upstream_timeout: "errors.upstreamTimeout",
  payload_too_large: "errors.payloadTooLarge",
  unsupported_media_type: "errors.unsupportedMediaType",
  empty_file: "errors.emptyFile",
  file_encrypted: "errors.fileEncrypted",
  file_unreadable: "errors.fileUnreadable",
  parse_timeout: "errors.parseTimeout",
  archive_too_large: "errors.archiveTooLarge",
  archive_too_many_entries: "errors.archiveTooLarge",
  subscription_disabled: "errors.subscriptionDisabled",
  permission_denied: "errors.permissionDenied",
  admin_required: "errors.permissionDenied",
  empty_response: "errors.emptyResponse",
  internal_error: "errors.internalError",
};

/** Return the translation of an error `code`, or `serverMessage` for an unknown or missing code. */
export function localizeError(code: string | null | undefined, param: string | null | undefined, serverMessage: string): string {
  if (!code) return serverMessage;
  const key = (param && ERROR_KEYS[`${code}:${param}`]) || ERROR_KEYS[code];
  if (!key) return serverMessage;
  // `detail` is the server's own message, which some translations quote (an upstream error's text).
  return i18n.t(key, { detail: serverMessage });
}

/** Return a message for anything a request threw: API errors are already translated. */
export function describeError(error: unknown): string {
  // fetch rejects with a TypeError when the server cannot be reached at all.
  if (error instanceof TypeError) return i18n.t("errors.network");
  return error instanceof Error ? error.message : String(error);
}
