// bench/fileread.cc — many goroutines reading one file at random offsets, from the disk.
//
// The file (kPath, 256 MiB, made by whichever side runs first and then shared) holds its
// own word numbers: the 8-byte word i is i. Each run first drops the file's pages from the
// page cache (POSIX_FADV_DONTNEED) and marks it random-access, so the reads go to the disk
// until the cache fills again. G goroutines (64) share N reads (argv[1], default 100000) of
// 4 KiB blocks at offsets from their own generator, with plain pread(): a read the cache
// cannot serve parks the goroutine on io_uring (the preload hook), where Go blocks an M in
// the system call. Every block is checked against its offset.
// Output:
//   fileread <elapsed / N> ns/op
//   fileread_threads <OS threads at the end> threads
// bench/go/fileread is the same workload in Go (os.File.ReadAt).
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <gmp/gmp.h>

#include "bench.h"

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <iterator>

namespace {

// The Go side uses the same file, sizes and generator.
constexpr const char *kPath = "/tmp/gmp-bench-fileread";
constexpr int kWorkers = 64;
constexpr uint64_t kBytes = 256 << 20, kBlock = 4096, kBlocks = kBytes / kBlock;

// seed and next: worker w's offsets (an LCG; the high bits are the random ones).
uint64_t seed(uint64_t w) { return w * 0x9e3779b97f4a7c15u + 1; }
uint64_t next(uint64_t x) { return x * 6364136223846793005u + 1442695040888963407u; }
uint64_t blockof(uint64_t x) { return (x >> 33) % kBlocks; }

// openfile opens kPath, first making it if it is missing or of another size (under a
// temporary name, renamed when complete), and drops its pages from the page cache.
int openfile() {
    struct statfs fs;
    if (statfs("/tmp", &fs) == 0 && fs.f_type == TMPFS_MAGIC) {
        std::fprintf(stderr, "fileread: /tmp is a tmpfs: its pages cannot be dropped, so the "
                             "reads would never reach a disk\n");
        return -1;
    }
    int f = open(kPath, O_RDONLY | O_CLOEXEC);
    if (f >= 0 && lseek(f, 0, SEEK_END) != off_t(kBytes)) {
        close(f);
        f = -1;
    }
    if (f < 0) {
        const char *tmp = "/tmp/gmp-bench-fileread.tmp";
        int w = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        static uint64_t chunk[(1 << 20) / 8];
        for (uint64_t i = 0; w >= 0 && i < kBytes / sizeof chunk; i++) {
            for (uint64_t k = 0; k < std::size(chunk); k++) chunk[k] = i * std::size(chunk) + k;
            if (write(w, chunk, sizeof chunk) != ssize_t(sizeof chunk)) {
                close(w);
                w = -1;
            }
        }
        if (w < 0 || fdatasync(w) != 0 || close(w) != 0 || rename(tmp, kPath) != 0) {
            std::perror("fileread: making the file");
            return -1;
        }
        f = open(kPath, O_RDONLY | O_CLOEXEC);
    }
    if (f < 0 || posix_fadvise(f, 0, 0, POSIX_FADV_DONTNEED) != 0 ||
        posix_fadvise(f, 0, 0, POSIX_FADV_RANDOM) != 0) {
        std::perror("fileread: opening the file");
        return -1;
    }
    return f;
}

int fd;
uint64_t perworker;
std::atomic<uint64_t> reads{0}, bad{0};
gmp_waitgroup_t wg = GMP_WAITGROUP_INIT;

void worker(void *arg) {
    uint64_t x = seed(uintptr_t(arg));
    uint64_t buf[kBlock / 8];
    for (uint64_t i = 0; i < perworker; i++) {
        x = next(x);
        const uint64_t b = blockof(x);
        bool ok = pread(fd, buf, kBlock, off_t(b * kBlock)) == ssize_t(kBlock);
        for (uint64_t k = 0; ok && k < kBlock / 8; k++) ok = buf[k] == b * (kBlock / 8) + k;
        if (!ok) bad.fetch_add(1, std::memory_order_relaxed);
        reads.fetch_add(1, std::memory_order_relaxed);
    }
    gmp_waitgroup_done(&wg);
}

}  // namespace

int main(int argc, char **argv) {
    const uint64_t n = bench::arg_n(argc, argv, 100000, kWorkers);
    perworker = n / kWorkers;
    fd = openfile();
    if (fd < 0) return 1;
    const uint64_t t0 = bench::now_ns();
    gmp_waitgroup_add(&wg, kWorkers);
    for (uintptr_t w = 0; w < kWorkers; w++) {
        if (gmp_go(worker, reinterpret_cast<void *>(w)) <= 0) {
            std::fprintf(stderr, "fileread: gmp_go failed\n");
            return 1;
        }
    }
    gmp_waitgroup_wait(&wg);
    const uint64_t elapsed = bench::now_ns() - t0;
    if (bad.load() != 0 || reads.load() != perworker * kWorkers) {
        std::fprintf(stderr, "fileread: %llu of %llu reads wrong\n", (unsigned long long)bad.load(),
                     (unsigned long long)reads.load());
        return 1;
    }
    std::printf("fileread %.1f ns/op\n", double(elapsed) / double(reads.load()));
    std::printf("fileread_threads %ld threads\n", bench::status_value("Threads:"));
    close(fd);
    return 0;
}
