/**
 * Two process-wide memory settings for a process whose work is carrying bytes between sockets. Both were
 * found by measuring `lb serve --mode tcp` against the bare Node proxy (bench/tcp-bulk.sh): the same pipe
 * cost lb twice the CPU per byte, and neither cause is in lb's own code.
 */
import { setFlagsFromString } from 'node:v8';

/**
 * Keeps glibc's malloc from handing freed heap back to the kernel after every socket read.
 *
 * Node reads each socket into a fresh 64 KiB malloc'd buffer and frees it once written on. glibc
 * returns the top of the heap to the kernel whenever more than M_TRIM_THRESHOLD (128 KiB) is free there,
 * so a stream of reads grows and shrinks the heap without end, and every new page is a page fault:
 * measured through `lb serve --mode tcp`, 125 000 faults per 256 MiB carried (one per 4 KiB, each way).
 * Whether a process falls into this depends on how its heap was laid out at start (loading some packages
 * is enough). The price: up to twice the block below of freed memory stays with the process.
 *
 * glibc raises the threshold itself, to twice the size, the first time a block it had to mmap (above
 * M_MMAP_THRESHOLD) is freed: the documented dynamic threshold of mallopt(3). One such block, dropped at
 * start, does it; the garbage collector frees it within the startup's first collections. Elsewhere (musl,
 * macOS) this is one short-lived allocation and nothing more. GLIBC_TUNABLES set by the operator win:
 * glibc ignores the dynamic rule once a threshold is set explicitly.
 */
const MMAP_BLOCK_BYTES = 30 * 1024 * 1024;

/** Before traffic, once per process: bin/lb.js for `lb serve`, and each worker. */
export function raiseMallocTrimThreshold(): void {
  // Outside the pool (allocUnsafeSlow), so it is one malloc of its own, large enough to be mmapped
  // (and below glibc's 32 MiB ceiling for the dynamic rule).
  Buffer.allocUnsafeSlow(MMAP_BLOCK_BYTES);
}

/**
 * Gives V8's old generation room to breathe while streams run: 64 MiB before the first full collection
 * is due, as `node --initial-old-space-size=64` would.
 *
 * After the one full collection of lb's start, V8 set the old generation's limit barely above what lb
 * keeps alive (~13 MiB); socket streams promote a little with every young collection, so the limit was
 * hit again and again: 51 full collections in three 256 MiB transfers, 60% of lb's user CPU in marking
 * and sweeping, where the bare Node proxy (a 4 MiB heap, never collected in full) had none. With the
 * room: 0 to 3, and the transfer rate of the bare proxy. Only the command line (bin/lb.js's #! line)
 * gives the room every time; set here at run time, before the CLI's modules load, it takes in most starts
 * but not all (0, 2 and 28 full collections seen in three). In HTTP mode it only defers full collections.
 * An operator's own `--initial-old-space-size` (command line or NODE_OPTIONS) wins.
 */
const INITIAL_OLD_SPACE_MIB = 64;

export function raiseInitialOldSpace(): void {
  const given = [...process.execArgv, ...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/)];
  if (given.some((arg) => arg.startsWith('--initial-old-space-size') || arg.startsWith('--initial_old_space_size'))) return;
  setFlagsFromString(`--initial-old-space-size=${INITIAL_OLD_SPACE_MIB}`);
}

/** What bin/lb.js does for `lb serve`, before anything else is loaded. */
export function tuneForServing(): void {
  raiseInitialOldSpace();
  raiseMallocTrimThreshold();
}
