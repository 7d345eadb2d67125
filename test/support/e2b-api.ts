/** What a raw E2B control-plane call answered. */
export interface E2bApiAnswer {
  status: number;
  headers: Headers;
  json: Record<string, unknown> | undefined;
}

/**
 * Raw E2B control-plane calls against `baseUrl()`, as the Python SDK or curl would send them:
 * the key in `X-API-Key` (`null` sends none), a JSON body when given.
 */
export function e2bApi(baseUrl: () => string, defaultKey: string) {
  return async (
    method: string,
    path: string,
    body?: unknown,
    key: string | null = defaultKey,
  ): Promise<E2bApiAnswer> => {
    const headers: Record<string, string> = {};
    if (key !== null) headers['x-api-key'] = key;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${baseUrl()}${path}`, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined,
    };
  };
}
