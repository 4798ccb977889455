import { Injectable } from '@nestjs/common';

/** The time, for the services that read it: a fake in unit tests moves only when told. */
@Injectable()
export class Clock {
  now(): number {
    return Date.now();
  }
}
