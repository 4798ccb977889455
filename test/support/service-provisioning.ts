/** A broker or database for the tests, and how to let go of it. */
export interface Provisioned {
  url: string;
  stop?: () => Promise<void>;
}

/** What the choice looks at, injected so that the order can be tested without Docker or ports. */
export interface ProvisionProbes {
  /** Whether something accepts TCP connections at host:port. */
  reachable(host: string, port: number): Promise<boolean>;
  /** Whether `docker info` answers. */
  dockerRuns(): boolean;
}

/** One service the tests need. */
export interface ServiceNeed {
  /** "RabbitMQ", "PostgreSQL". */
  name: string;
  /** The variable that names it: AMQP_URL, DATABASE_URL. */
  variable: string;
  /** Its value, when it names this kind of service. */
  fromEnv: string | undefined;
  defaultPort: number;
  /** The URL of one running on this machine at its usual port. */
  localUrl: string;
  /** Starts one with Testcontainers. */
  startContainer(): Promise<Provisioned>;
  /** How to get one, for the message when there is none. */
  remedy: string;
}

/**
 * The order a user expects: the variable when set (it must answer); otherwise what answers
 * on 127.0.0.1 at the usual port (a broker or database the user runs, e.g. with
 * `docker compose up -d`); otherwise a container started with Testcontainers where Docker
 * runs. Where none can be had, the error says why and what to do: nothing is skipped.
 */
export async function provisionService(need: ServiceNeed, probes: ProvisionProbes): Promise<Provisioned> {
  if (need.fromEnv) {
    const parsed = new URL(need.fromEnv);
    const port = parsed.port === '' ? need.defaultPort : Number(parsed.port);
    if (!(await probes.reachable(parsed.hostname, port))) throw new Error(`${need.variable} is set, but nothing answers at ${parsed.hostname}:${port}`);
    return { url: need.fromEnv };
  }
  if (await probes.reachable('127.0.0.1', need.defaultPort)) return { url: need.localUrl };
  const missing = `no ${need.name}: ${need.variable} is not set, nothing answers on 127.0.0.1:${need.defaultPort}, and`;
  if (!probes.dockerRuns()) throw new Error(`${missing} Docker is not running (so Testcontainers cannot start one). ${need.remedy}`);
  try {
    return await need.startContainer();
  } catch (err) {
    // An engine without a default bridge network answers `docker info` but runs no container.
    throw new Error(`${missing} Docker answers but Testcontainers could not start one there (${err instanceof Error ? err.message : String(err)}). ${need.remedy}`);
  }
}
