/** configure / write / read regexes of a user in the client's vhost ('' grants nothing). */
export interface VhostPermissions {
  configure: string;
  write: string;
  read: string;
}

/** Routing-key regexes of a user on one topic exchange. */
export interface TopicPermissions {
  exchange: string;
  write: string;
  read: string;
}

/** A queue policy the broker merges with any user policy, the stricter value winning (an operator policy). */
export interface OperatorPolicy {
  name: string;
  pattern: string;
  definition: Record<string, number>;
}

export interface BrokerConnection {
  name: string;
  user: string;
}

/** What `GET /api/overview` answers that we look at; the rest is left as it comes. */
export interface BrokerOverview {
  rabbitmq_version?: string;
  management_version?: string;
  cluster_name?: string;
  [key: string]: unknown;
}

export class ManagementApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    /** The HTTP status; 0 when no answer came (refused, timed out). */
    readonly status: number,
    readonly body: string,
    options?: { cause?: unknown },
  ) {
    super(status === 0 ? `${method} ${path}: no answer from the management API (${body})` : `${method} ${path}: HTTP ${status} ${body}`, options);
    this.name = 'ManagementApiError';
  }
}

export interface ManagementClientOptions {
  /** The vhost every vhost-scoped call is about. */
  vhost?: string;
  timeoutMs?: number;
}

/**
 * A small client of RabbitMQ's management HTTP API, just what host broker users need.
 * The base URL carries the credentials (http://user:pass@host:15672); fetch refuses
 * URLs with credentials, so they travel as a Basic authorization header instead.
 */
export class RabbitMqManagementClient {
  private readonly base: string;
  private readonly authorization: string;
  private readonly vhost: string;
  private readonly timeoutMs: number;

  constructor(baseUrl: string, options: ManagementClientOptions = {}) {
    const url = new URL(baseUrl);
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    url.username = '';
    url.password = '';
    this.base = url.toString().replace(/\/+$/, '');
    this.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    this.vhost = encodeURIComponent(options.vhost ?? '/');
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** The API's base URL, without credentials (for logs and error messages). */
  get url(): string {
    return this.base;
  }

  /** Creates the user or replaces its password; tags '' (no management access). */
  async putUser(name: string, password: string): Promise<void> {
    await this.request('PUT', `/api/users/${seg(name)}`, { password, tags: '' });
  }

  /** Deletes the user (and with it its permissions); false when there was none. */
  async deleteUser(name: string): Promise<boolean> {
    return (await this.request('DELETE', `/api/users/${seg(name)}`, undefined, { allowNotFound: true })) !== null;
  }

  /** The user's permissions in the vhost, null when it has none (it may then not even connect). */
  async getPermissions(user: string): Promise<VhostPermissions | null> {
    const body = await this.request('GET', `/api/permissions/${this.vhost}/${seg(user)}`, undefined, { allowNotFound: true });
    if (body === null) return null;
    const p = body as Partial<VhostPermissions>;
    return { configure: String(p.configure ?? ''), write: String(p.write ?? ''), read: String(p.read ?? '') };
  }

  async setPermissions(user: string, permissions: VhostPermissions): Promise<void> {
    await this.request('PUT', `/api/permissions/${this.vhost}/${seg(user)}`, permissions);
  }

  /** Removes the user's permissions in the vhost; false when it had none. */
  async clearPermissions(user: string): Promise<boolean> {
    return (await this.request('DELETE', `/api/permissions/${this.vhost}/${seg(user)}`, undefined, { allowNotFound: true })) !== null;
  }

  async getTopicPermissions(user: string): Promise<TopicPermissions[]> {
    const body = await this.request('GET', `/api/topic-permissions/${this.vhost}/${seg(user)}`, undefined, { allowNotFound: true });
    if (!Array.isArray(body)) return [];
    return body.map((entry: unknown) => {
      const p = entry as Partial<TopicPermissions>;
      return { exchange: String(p.exchange ?? ''), write: String(p.write ?? ''), read: String(p.read ?? '') };
    });
  }

  async setTopicPermissions(user: string, permissions: TopicPermissions): Promise<void> {
    await this.request('PUT', `/api/topic-permissions/${this.vhost}/${seg(user)}`, permissions);
  }

  /** Removes the user's topic permissions on one exchange, or on every exchange; false when there were none. */
  async clearTopicPermissions(user: string, exchange?: string): Promise<boolean> {
    const path = `/api/topic-permissions/${this.vhost}/${seg(user)}` + (exchange === undefined ? '' : `/${seg(exchange)}`);
    return (await this.request('DELETE', path, undefined, { allowNotFound: true })) !== null;
  }

  /**
   * The user's open connections. `/api/connections/username/{user}` reads the broker's
   * connection tracking, which knows a connection the moment it opens; the general list
   * (`/api/connections`) comes from statistics and lags by up to the stats interval
   * (5 s), so it is only the fallback for brokers without the former.
   */
  async listUserConnections(user: string): Promise<BrokerConnection[]> {
    const tracked = await this.request('GET', `/api/connections/username/${seg(user)}`, undefined, { allowNotFound: true });
    const all = tracked ?? (await this.request('GET', '/api/connections?columns=name,user'));
    if (!Array.isArray(all)) return [];
    return all
      .map((entry: unknown) => entry as Partial<BrokerConnection>)
      .filter((c): c is BrokerConnection => typeof c.name === 'string' && c.user === user)
      .map((c) => ({ name: c.name, user: c.user }));
  }

  /** Closes a connection; the client sees CONNECTION_FORCED with the reason. False when it was already gone. */
  async closeConnection(name: string, reason: string): Promise<boolean> {
    return (await this.request('DELETE', `/api/connections/${seg(name)}`, undefined, { allowNotFound: true, headers: { 'x-reason': reason } })) !== null;
  }

  /**
   * Closes every open connection of the user; resolves with how many there were.
   * `DELETE /api/connections/username/{user}` works from connection tracking too, whereas
   * `DELETE /api/connections/{name}` answers 404 for a connection the statistics have not
   * caught up with yet, so closing by name is only the fallback for older brokers.
   */
  async closeUserConnections(user: string, reason: string): Promise<number> {
    const connections = await this.listUserConnections(user);
    const headers = { 'x-reason': reason };
    const all = await this.request('DELETE', `/api/connections/username/${seg(user)}`, undefined, { allowNotFound: true, headers });
    if (all === null) {
      for (const connection of connections) await this.closeConnection(connection.name, reason);
    }
    return connections.length;
  }

  /** A per-user limit (`max-connections`, `max-channels`): how many the user may have open at once, over all its connections. */
  async setUserLimit(user: string, limit: 'max-connections' | 'max-channels', value: number): Promise<void> {
    // RabbitMQ 3.10 answers 406 to this PUT when it asks for JSON back: it sends nothing back.
    await this.request('PUT', `/api/user-limits/${seg(user)}/${limit}`, { value }, { headers: { accept: '*/*' } });
  }

  /** Creates or replaces an operator policy of the vhost, for queues only. */
  async putOperatorPolicy(policy: OperatorPolicy): Promise<void> {
    await this.request('PUT', `/api/operator-policies/${this.vhost}/${seg(policy.name)}`, { pattern: policy.pattern, definition: policy.definition, priority: 0, 'apply-to': 'queues' });
  }

  /** `GET /api/overview`: answers when the management API is up and our credentials work. */
  async overview(): Promise<BrokerOverview> {
    return (await this.request('GET', '/api/overview')) as BrokerOverview;
  }

  /** Resolves with the parsed body ({} when empty), or null for a 404 that the caller allows. */
  private async request(
    method: string,
    path: string,
    body?: unknown,
    options: { allowNotFound?: boolean; headers?: Record<string, string> } = {},
  ): Promise<unknown> {
    let response: Response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers: {
          authorization: this.authorization,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? `${err.message}: ${err.cause.message}` : String(err);
      throw new ManagementApiError(method, path, 0, `${this.base}: ${cause}`, { cause: err });
    }
    const text = await response.text();
    if (response.status === 404 && options.allowNotFound) return null;
    if (!response.ok) throw new ManagementApiError(method, path, response.status, text);
    if (text === '') return {};
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new ManagementApiError(method, path, response.status, `not JSON: ${text.slice(0, 200)}`);
    }
  }
}

function seg(value: string): string {
  return encodeURIComponent(value);
}
