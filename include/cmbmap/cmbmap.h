/*
 * cmbmap public C API: version, reason codes and the statistics block.
 *
 * cmbmap is an LD_PRELOAD library that serves file mmap() from an NVMe
 * controller's Controller Memory Buffer (CMB) and falls back to an ordinary
 * file mapping whenever it cannot. Every fallback carries one reason code
 * from the enum below; the same names appear in logs, stats, `cmbmap
 * inspect` and JSON output.
 *
 * This header is C (and C++) and is the only header installed.
 */
#ifndef CMBMAP_CMBMAP_H
#define CMBMAP_CMBMAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CMBMAP_VERSION_MAJOR 0
#define CMBMAP_VERSION_MINOR 1
#define CMBMAP_VERSION_PATCH 0
#define CMBMAP_VERSION_STRING "0.1.0"

/*
 * Why a range is (or is not) served from CMB memory. CMBMAP_ELIGIBLE means
 * the range could be placed in CMB memory; every other value names why it
 * stays an ordinary file mapping. Values are stable: append only.
 */
enum cmbmap_reason {
	CMBMAP_ELIGIBLE = 0,
	/* process-wide */
	CMBMAP_DISABLED,          /* CMBMAP_DISABLE=1 */
	CMBMAP_SETUID,            /* AT_SECURE process (setuid/setgid/caps) */
	/* per mapping */
	CMBMAP_TOO_SMALL,         /* mapping shorter than CMBMAP_MIN_SIZE */
	CMBMAP_NOT_REGULAR,       /* fd is not a regular file */
	CMBMAP_WRITABLE_SHARED,   /* writable MAP_SHARED without CMBMAP_WRITABLE=1 */
	CMBMAP_WRITABLE_PRIVATE,  /* writable MAP_PRIVATE: copy-on-write pages stay host pages */
	CMBMAP_EXECUTABLE,        /* PROT_EXEC: code stays in host memory */
	/* per device */
	CMBMAP_NO_NVME,           /* file is not on an NVMe namespace */
	CMBMAP_MULTI_DEVICE,      /* md/dm/btrfs: blocks may live on several devices */
	CMBMAP_NO_CMB,            /* controller has no CMB */
	CMBMAP_CMB_NO_READ_DATA,  /* CMB without RDS/WDS: cannot hold read data */
	CMBMAP_NO_P2PDMA,         /* CMB not published as p2pmem (kernel lacks P2PDMA) */
	CMBMAP_DEVICE_NOT_ALLOWED,/* controller not in CMBMAP_DEVICES */
	/* per extent / page */
	CMBMAP_HOLE,              /* no blocks allocated */
	CMBMAP_UNWRITTEN,         /* preallocated, reads as zeros */
	CMBMAP_DELALLOC,          /* blocks not yet allocated (still after sync) */
	CMBMAP_INLINE,            /* data inline in metadata or tail-packed */
	CMBMAP_SHARED,            /* reflinked / shared extent */
	CMBMAP_ENCODED,           /* compressed or encrypted on disk */
	CMBMAP_NOT_ALIGNED,       /* extent not on a page / LBA boundary */
	CMBMAP_EOF_TAIL,          /* pages wholly past end of file */
	CMBMAP_FIEMAP_FAILED,     /* filesystem cannot report extents */
	CMBMAP_TOO_FRAGMENTED,    /* more extents than one plan can hold */
	CMBMAP_UNKNOWN_EXTENT,    /* extent flagged UNKNOWN by the filesystem */
	/* serving */
	CMBMAP_OPEN_FOR_WRITE,    /* this process opened the file for writing */
	CMBMAP_NO_PERMISSION,     /* p2pmem "allocate" not accessible to this user */
	CMBMAP_CMB_FULL,          /* the CMB has no room left */
	CMBMAP_BUDGET,            /* CMBMAP_BUDGET would be exceeded */
	CMBMAP_MAP_COUNT,         /* would push the process towards vm.max_map_count */
	CMBMAP_FILL_FAILED,       /* reading the file into CMB memory failed */
	CMBMAP_REMAPPED,          /* given back to the page cache by mremap/madvise/mprotect */
	/* the filesystem's permission, and giving ranges back */
	CMBMAP_LEASE_DENIED,      /* no file lease could be had (other openers, not the owner) */
	CMBMAP_LEASE_BROKEN,      /* another process opened the file for writing or truncated it */
	CMBMAP_FILE_CHANGED,      /* this process wrote, truncated or fallocated the file */
	CMBMAP_RECLAIMED,         /* `cmbmap reclaim` asked for the CMB back */
	/* writable shared mappings (CMBMAP_WRITABLE=1) */
	CMBMAP_WRITE_LEASE_DENIED,/* no write lease: the file is open elsewhere, or not opened here read-write */
	CMBMAP_MAPPED_TWICE,      /* the file is mapped elsewhere in this process: stores must show in both */
	/* block addresses that are not the file's bytes */
	CMBMAP_ENCRYPTED,         /* fscrypt file: its blocks hold ciphertext */
	CMBMAP_REALTIME_DEVICE,   /* XFS realtime file: its blocks are on the realtime device */
	CMBMAP_JOURNALLED_DATA,   /* ext4 data=journal mount or chattr +j file: the journal rewrites the blocks later */
	CMBMAP_FS_NOT_SUPPORTED,  /* filesystem not proven to keep blocks in place (only ext4 and xfs are) */
	CMBMAP_WRITE_APPEND,      /* writable MAP_SHARED of an O_APPEND open without RWF_NOAPPEND (kernel < 6.9) */
	CMBMAP_TAKEN_BY_PEER,     /* another process's mapping found the CMB full; this range was least recently used */
	CMBMAP_NO_FD,             /* no fd number at or above cmbmap's floor is free (RLIMIT_NOFILE) */
	CMBMAP_REASON_COUNT
};

/* Stable upper-case name of a reason ("HOLE"), or "INVALID". */
const char *cmbmap_reason_name(int reason);

/* Library version string, e.g. "0.1.0". */
const char *cmbmap_version(void);

/*
 * Per-process statistics. The library keeps one block per process in a
 * small shared file under /run/cmbmap/ (read by `cmbmap stat`) and prints it
 * at exit with CMBMAP_STATS=1.
 */
#define CMBMAP_STATS_MAGIC 0x434d424d53543036ULL /* "CMBMST06" */
struct cmbmap_stats {
	uint64_t magic;
	uint64_t pid;
	uint64_t mmap_calls;          /* file mappings seen by cmbmap */
	uint64_t mmap_bytes;          /* bytes of those mappings */
	uint64_t planned_segments;    /* segments the planner produced */
	uint64_t eligible_bytes;      /* bytes that could be placed in CMB */
	uint64_t served_bytes;        /* bytes currently served from CMB */
	uint64_t served_total;        /* bytes ever served from CMB */
	uint64_t fallback_bytes;      /* bytes left ordinary */
	uint64_t fallback_by_reason[64]; /* bytes per cmbmap_reason */
	/* Fills per engine: [0] pread, [1] io_uring, [2] NVMe passthrough. */
	uint64_t fills[4];            /* fill operations (one per served run) */
	uint64_t fill_bytes[4];       /* bytes the drive wrote into CMB memory */
	uint64_t fill_ns[4];          /* time spent filling */
	uint64_t zeroed_bytes;        /* bytes past EOF zeroed in served pages */
	uint64_t freed_bytes;         /* CMB bytes given back (munmap, revoke) */
	uint64_t revoked_bytes;       /* served bytes swapped back to ordinary pages */
	uint64_t revoked_by_reason[64]; /* revoked bytes per cause (a cmbmap_reason) */
	uint64_t revocations;         /* revocations (one per file or range given back) */
	/* Leases: the filesystem's permission to serve a file. */
	uint64_t leases_taken;        /* leases granted */
	uint64_t leases_held;         /* leases held now */
	uint64_t lease_breaks;        /* breaks answered (revoke, then release) */
	uint64_t lease_break_ns;      /* total time from break signal to release */
	uint64_t evicted_bytes;       /* least recently used ranges given back for room */
	/* `cmbmap reclaim`: requests reach the watcher thread by signal. */
	uint64_t watcher_tid;         /* thread that answers breaks and requests; 0: none */
	uint64_t watcher_signal;      /* the signal it waits for */
	uint64_t reclaim_requests;    /* requests answered */
	uint64_t reclaimed_bytes;     /* bytes given back for them */
	/* CMB held now, per controller (names as in `cmbmap devices`). */
	char controller[8][16];
	uint64_t held_by_controller[8];
	/* Writable shared mappings: stores in CMB memory, written back to the file. */
	uint64_t dirty_faults;        /* first stores to clean pages (one fault each) */
	uint64_t writebacks;          /* writebacks that wrote something (per served piece) */
	uint64_t writeback_direct_bytes; /* written by NVMe command from CMB memory */
	uint64_t writeback_file_bytes;   /* written through the file (page cache) */
	uint64_t writeback_ns;        /* time spent writing back */
	uint64_t writeback_errors;    /* writes that failed (their stores are lost) */
	uint64_t commit_check_failures; /* blocks had moved: range given back */
	/* CMB memory going back to the pool is zeroed first (scrubbed). */
	uint64_t scrubbed_bytes;      /* zeroed before going back */
	uint64_t scrub_ns;            /* time spent zeroing */
	uint64_t unscrubbed_bytes;    /* went back holding its bytes (the log says why) */
	/* One CMB shared between processes: a mapping that finds it full asks
	 * the least recently active processes for their least recently used
	 * ranges (CMBMAP_SHARE, CMBMAP_SHARE_GRACE_MS). */
	uint64_t share_requests;      /* requests this process sent */
	uint64_t share_got_bytes;     /* CMB other processes gave back for its mappings */
	uint64_t share_given_bytes;   /* CMB it gave back for other processes' mappings */
	uint64_t share_given_to_pid;  /* the last process it gave CMB to (as the request's sender said) */
	uint64_t share_answers;       /* other processes' requests answered (the asker waits for it to move) */
	uint64_t last_use_ns[8];      /* per controller slot: CLOCK_MONOTONIC of the last serve or mapping call on its CMB */
};

/*
 * Copy this process's statistics into out, at most size bytes (pass
 * sizeof *out): a program built against an older or newer header gets the
 * fields both know, and zeros in those the library does not have.
 * 0 on success, -1 if out is null.
 */
int cmbmap_read_stats(struct cmbmap_stats *out, size_t size);

/*
 * The same, for programs built before cmbmap_read_stats existed: copies the
 * fields up to unscrubbed_bytes only (the layout those programs know), so
 * their smaller struct is never overrun. New code: cmbmap_read_stats.
 */
int cmbmap_get_stats(struct cmbmap_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* CMBMAP_CMBMAP_H */
