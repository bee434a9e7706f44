// File upload with progress (fetch has no upload progress, so this uses XMLHttpRequest).
import { ApiError, authHeaders } from "@/api/client";
import { localizeError } from "@/api/errors";
import type { UploadedFile } from "@/api/types";

export function uploadFile(file: File, onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<UploadedFile> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/files");
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    };
    xhr.onload = () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // Not JSON: handled below.
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        resolve(body as unknown as UploadedFile);
        return;
      }
      const error = body.error as { message?: string; type?: string; code?: string; param?: string } | undefined;
      const serverMessage = error?.message ?? `${xhr.status} ${xhr.statusText}`;
      const code = error?.code ?? null;
      const param = error?.param ?? null;
      reject(new ApiError(xhr.status, localizeError(code, param, serverMessage), error?.type ?? null, code, param, serverMessage));
    };
    xhr.onerror = () => reject(new ApiError(0, "Network error"));
    signal?.addEventListener("abort", () => xhr.abort());
    const form = new FormData();
    form.append("file", file);
    xhr.send(form);
  });
}
