/**
 * Tests speak to the REST API as an operator would (CONTRACT.md section 8): with a token in
 * the Authorization header. The plane under test made its first admin token as it started
 * (RunningRolestore.adminToken); these put it on requests to that plane and nowhere else.
 */
export interface AuthenticatedPlane {
  url: string;
  adminToken: string | null;
}

export function operatorHeaders(plane: AuthenticatedPlane, headers: RequestInit['headers'] = {}): Headers {
  if (plane.adminToken === null) throw new Error('the role store under test has no admin token (it makes one at its first start)');
  const out = new Headers(headers);
  out.set('authorization', `Bearer ${plane.adminToken}`);
  return out;
}

/** fetch() that adds the plane's admin token to requests for the plane's REST API (other URLs go as they are). */
export function planeFetch(plane: AuthenticatedPlane, url: string, init: RequestInit = {}): Promise<Response> {
  if (!url.startsWith(plane.url)) return fetch(url, init);
  return fetch(url, { ...init, headers: operatorHeaders(plane, init.headers) });
}
