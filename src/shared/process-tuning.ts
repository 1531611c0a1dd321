/**
 * Process-wide settings for a process whose work is carrying bytes between sockets: two for memory, one
 * for the JIT. Each was found by measuring lb against a bare Node proxy doing the same work (memory:
 * bench/tcp-bulk.sh; JIT: ../shared/bench/proxy-bench.sh), and none is about lb's own code.
 *
 * The two V8 flags ride on bin/lb.js's #! line, the only place that sets them before V8 starts; the
 * functions here set them again at run time for `node bin/lb.js` (and the JIT budget for workers), which
 * is as good for the JIT budget (V8 reads it whenever it refills a function's budget) but not always for
 * the old-space size (see below). An operator's own flag (command line or NODE_OPTIONS) wins.
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
 * room: 0 to 3, and the transfer rate of the bare proxy. Set at run time it took in most starts but not
 * all (0, 2 and 28 full collections seen in three). In HTTP mode it only defers full collections.
 */
export function raiseInitialOldSpace(): void {
  setUnlessGiven('initial-old-space-size', 64);
}

/**
 * Lets V8 optimise a hot function after 16 KiB of its bytecode has run instead of the default 66 KiB,
 * as `node --interrupt-budget=16384` would.
 *
 * A fresh lb runs its request path in V8's interpreter and baseline code until the optimising compiler
 * has had its turn, and lb has more code on that path than a bare proxy, so it warmed up later: in the
 * shared benchmark's 2 s warm-up it served 700-1 700 req/s (steady: 5 000-6 000) against the undici
 * reference's 1 000-1 300, and its slow first second fell into the measured window as p99. With the
 * lower budget: 1 600-3 100 req/s in the same warm-up, and steady throughput no lower.
 */
export function optimiseSooner(): void {
  setUnlessGiven('interrupt-budget', 16384);
}

/** What bin/lb.js does for `lb serve`, before anything else is loaded. */
export function tuneForServing(): void {
  raiseInitialOldSpace();
  optimiseSooner();
  raiseMallocTrimThreshold();
}

/** V8 accepts a flag spelled with dashes or underscores; the operator's spelling wins either way. */
function setUnlessGiven(flag: string, value: number): void {
  const given = [...process.execArgv, ...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/)].map((arg) => arg.replaceAll('_', '-'));
  if (given.some((arg) => arg === `--${flag}` || arg.startsWith(`--${flag}=`))) return;
  setFlagsFromString(`--${flag}=${value}`);
}
