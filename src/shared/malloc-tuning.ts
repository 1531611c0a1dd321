/**
 * Keeps glibc's malloc from handing freed heap back to the kernel after every socket read.
 *
 * Node reads each socket into a fresh 64 KiB malloc'd buffer and frees it once written on. glibc
 * returns the top of the heap to the kernel whenever more than M_TRIM_THRESHOLD (128 KiB) is free there,
 * so a stream of reads grows and shrinks the heap without end, and every new page is a page fault:
 * measured through `lb serve --mode tcp`, 125 000 faults per 256 MiB carried (one per 4 KiB, each way),
 * half the throughput of the same proxy with the threshold raised (~0 faults). Whether a process falls
 * into this depends on how its heap was laid out at start (loading some packages is enough).
 *
 * glibc raises the threshold itself, to twice the size, the first time a block it had to mmap (above
 * M_MMAP_THRESHOLD) is freed: the documented dynamic threshold of mallopt(3). One such block, dropped at
 * start, does it; the garbage collector frees it within the startup's first collections. Elsewhere (musl,
 * macOS) this is one short-lived allocation and nothing more. GLIBC_TUNABLES set by the operator win:
 * glibc ignores the dynamic rule once a threshold is set explicitly.
 */
const MMAP_BLOCK_BYTES = 30 * 1024 * 1024;

let done = false;

/** Once per process, before the traffic ports open (the `lb serve` command and each worker call it). */
export function raiseMallocTrimThreshold(): void {
  if (done) return;
  done = true;
  // Outside the pool (allocUnsafeSlow), so it is one malloc of its own, large enough to be mmapped.
  Buffer.allocUnsafeSlow(MMAP_BLOCK_BYTES);
}
