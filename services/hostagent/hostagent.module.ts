import { Controller, Get, Header, Module, Res, type DynamicModule, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Response } from 'express';
import { HostagentRuntime } from './hostagent.runtime';

/** The agent's local endpoints (127.0.0.1 only): Prometheus metrics and a health check. */
@Controller()
class AgentOpsController {
  constructor(private readonly runtime: HostagentRuntime) {}

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  scrape(): Promise<string> {
    return this.runtime.metrics.registry.metrics();
  }

  @Get('healthz')
  health(@Res({ passthrough: true }) res: Response): { hostId: string; broker: string; generation: number; heartbeatsSent: number } {
    const broker = this.runtime.connection.isConnected();
    res.status(broker ? 200 : 503);
    return { hostId: this.runtime.hostId, broker: broker ? 'connected' : 'disconnected', generation: this.runtime.engine.generation, heartbeatsSent: this.runtime.heartbeats.count };
  }
}

class RuntimeLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(private readonly runtime: HostagentRuntime) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.runtime.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.runtime.stop();
  }
}

@Module({})
export class HostagentModule {
  static forRoot(runtime: HostagentRuntime): DynamicModule {
    return {
      module: HostagentModule,
      controllers: [AgentOpsController],
      providers: [
        { provide: HostagentRuntime, useValue: runtime },
        { provide: RuntimeLifecycle, useFactory: () => new RuntimeLifecycle(runtime) },
      ],
    };
  }
}
