import { setFlagsFromString } from 'node:v8';

/**
 * Tunes V8's garbage collector for a process that moves a stream of bytes: call first
 * thing in main, before the service starts.
 *
 * Every read from a socket is a new buffer held outside V8's heap (64 KiB from a plain
 * socket, 16 KiB from TLS), so a busy tunnel allocates hundreds of MiB a second outside
 * the heap and almost nothing inside it. By default V8 starts a full mark-compact each
 * time that outside memory has grown by 64 MiB, whatever the heap holds: a dozen a second
 * at 800 MiB/s, about a tenth of each process's CPU in the bulk benchmark. With the
 * outside memory counted in the heap's global limit instead, the young generation's
 * scavenges free those buffers and full collections become rare. (The flag is read when
 * each limit is computed, so setting it at run time takes effect.)
 */
export function tuneHeapForStreaming(): void {
  setFlagsFromString('--external-memory-accounted-in-global-limit');
}
