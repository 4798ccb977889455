import { setFlagsFromString } from 'node:v8';

/*
 * Imported first by nodelet's entry points. nodelet runs on every node and spends its life
 * waiting for phase scripts: its JavaScript never needs machine code, whose compilers
 * (Sparkplug, Maglev, TurboFan) would cost it about 8 MB of its 60 MB memory budget; the
 * interpreter is plenty. V8 reads these flags when it decides to compile, so they take
 * effect for everything loaded after this module.
 */
for (const flag of ['--no-sparkplug', '--no-maglev', '--no-turbofan']) setFlagsFromString(flag);
