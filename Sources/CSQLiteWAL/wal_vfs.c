// The "drover-wal" VFS (see include/drover_wal_vfs.h).
//
// SQLite appends a commit's frames to the WAL as header (24 bytes) then page, each its own
// xWrite: 2 pwrite(2) per page, 6 for a one-row insert. Here an append run (a frame header at
// the end of the previous frame, then its page right after it) is copied into a buffer and
// written as one xWrite of the default VFS when the run's commit frame is complete. Anything
// else first writes the buffer, then goes through unchanged, so the file's contents after each
// call that is not a buffered append are what they would have been without this layer.
//
// Why the buffer is always empty when SQLite publishes frames (sqlite3WalFrames, 3.x): it
// writes every new frame, the commit frame last, before it appends to the wal-index and writes
// its header; the commit frame is always appended (never an overwrite), so it either ends a
// buffered run (flushed in its page's write, whose error fails the commit) or is written
// straight through (which writes the buffer first). Checksum rewrites after the commit frame
// are headers not at the run's end, so they go straight through, as do the WAL header, page
// overwrites of a spilled frame, and everything on the database and journal files.

#include "drover_wal_vfs.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

// The unix VFS writes at most 128 KiB - 1 bytes per call (it masks larger sizes with 0x1ffff),
// so the buffer goes out in pieces of `maxWrite`.
enum { frameHeader = 24, walHeader = 32, maxBuffer = 4 << 20, maxWrite = 64 << 10 };

typedef struct {
  sqlite3_file base;  // pMethods = &walMethods
  sqlite3_file *real; // the default VFS's file, in the memory right after this struct
  unsigned char *buf;
  size_t cap, len;
  sqlite3_int64 start;   // file offset of buf[0]
  sqlite3_int64 nextEnd; // where the next frame header must start to be buffered (-1: none)
  sqlite3_int64 headerEnd; // the end of a frame header just written through (-1: none)
  int headerBuffered;    // the buffer ends with a frame header whose page comes next
  int commitHeader;      // ... and that header marks a commit frame
  drover_wal_vfs_counts counts;
} WalFile;

static sqlite3_vfs *base;
static sqlite3_vfs vfs;
static sqlite3_io_methods walMethods;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int registerResult = SQLITE_ERROR;

static sqlite3_file *realOf(sqlite3_file *f) { return ((WalFile *)f)->real; }

/// Writes what is buffered (one xWrite of the default VFS per `maxWrite` bytes) and empties
/// the buffer.
static int flush(WalFile *w) {
  int rc = SQLITE_OK;
  for (size_t done = 0; done < w->len && rc == SQLITE_OK; done += maxWrite) {
    size_t n = w->len - done < maxWrite ? w->len - done : maxWrite;
    rc = w->real->pMethods->xWrite(w->real, w->buf + done, (int)n, w->start + (sqlite3_int64)done);
    w->counts.flushes += 1;
  }
  w->len = 0;
  w->headerBuffered = 0;
  w->commitHeader = 0;
  if (rc != SQLITE_OK) w->nextEnd = -1;
  return rc;
}

static int append(WalFile *w, const void *data, int amt, sqlite3_int64 off) {
  if (w->len > 0 && (w->len + (size_t)amt > maxBuffer || off != w->start + (sqlite3_int64)w->len)) {
    int rc = flush(w);
    if (rc != SQLITE_OK) return rc;
  }
  if (w->len + (size_t)amt > w->cap) {
    size_t cap = w->cap ? w->cap : 64 << 10;
    while (cap < w->len + (size_t)amt) cap *= 2;
    unsigned char *buf = realloc(w->buf, cap);
    if (!buf) {
      // No memory for the buffer: write what is gathered and this write as they are.
      int rc = flush(w);
      if (rc != SQLITE_OK) return rc;
      w->nextEnd = -1;
      return w->real->pMethods->xWrite(w->real, data, amt, off);
    }
    w->buf = buf;
    w->cap = cap;
  }
  if (w->len == 0) w->start = off;
  memcpy(w->buf + w->len, data, (size_t)amt);
  w->len += (size_t)amt;
  w->counts.gathered += 1;
  return SQLITE_OK;
}

static int isPageSize(int amt) { return amt >= 512 && amt <= 65536 && (amt & (amt - 1)) == 0; }

static int walWrite(sqlite3_file *f, const void *data, int amt, sqlite3_int64 off) {
  WalFile *w = (WalFile *)f;
  if (amt == frameHeader && off == w->nextEnd && !w->headerBuffered) {
    const unsigned char *h = data;
    int rc = append(w, data, amt, off);
    if (rc != SQLITE_OK) return rc;
    w->headerBuffered = 1;
    w->commitHeader = (h[4] | h[5] | h[6] | h[7]) != 0;
    w->nextEnd = off + frameHeader;
    return SQLITE_OK;
  }
  if (w->headerBuffered && off == w->nextEnd && isPageSize(amt)) {
    int commit = w->commitHeader;
    int rc = append(w, data, amt, off);
    w->headerBuffered = 0;
    w->commitHeader = 0;
    if (rc != SQLITE_OK) return rc;
    w->nextEnd = off + amt;
    return commit ? flush(w) : SQLITE_OK;
  }
  // Not the next frame of a run: what is buffered goes first, then this write as it is.
  int rc = flush(w);
  if (rc != SQLITE_OK) return rc;
  rc = w->real->pMethods->xWrite(w->real, data, amt, off);
  // A run may start after the WAL header (a restart) or after a whole frame written through
  // (the first frame after opening, when where the WAL ends was not yet known).
  if (rc != SQLITE_OK) {
    w->nextEnd = -1;
  } else if (off == 0 && amt == walHeader) {
    w->nextEnd = walHeader;
  } else if (off == w->headerEnd && isPageSize(amt)) {
    w->nextEnd = off + amt;
  } else {
    w->nextEnd = -1;
  }
  w->headerEnd = (rc == SQLITE_OK && amt == frameHeader) ? off + frameHeader : -1;
  return rc;
}

static int walClose(sqlite3_file *f) {
  WalFile *w = (WalFile *)f;
  // Only frames of a transaction that never committed can be left: written like SQLite would
  // have, their failure changes nothing.
  (void)flush(w);
  free(w->buf);
  w->buf = NULL;
  return w->real->pMethods->xClose(w->real);
}

static int walRead(sqlite3_file *f, void *data, int amt, sqlite3_int64 off) {
  int rc = flush((WalFile *)f);
  if (rc != SQLITE_OK) return rc;
  return realOf(f)->pMethods->xRead(realOf(f), data, amt, off);
}

static int walTruncate(sqlite3_file *f, sqlite3_int64 size) {
  WalFile *w = (WalFile *)f;
  int rc = flush(w);
  if (rc != SQLITE_OK) return rc;
  w->nextEnd = -1;
  return w->real->pMethods->xTruncate(w->real, size);
}

static int walSync(sqlite3_file *f, int flags) {
  int rc = flush((WalFile *)f);
  if (rc != SQLITE_OK) return rc;
  return realOf(f)->pMethods->xSync(realOf(f), flags);
}

static int walFileSize(sqlite3_file *f, sqlite3_int64 *size) {
  int rc = flush((WalFile *)f);
  if (rc != SQLITE_OK) return rc;
  return realOf(f)->pMethods->xFileSize(realOf(f), size);
}

static int walLock(sqlite3_file *f, int level) {
  return realOf(f)->pMethods->xLock(realOf(f), level);
}

static int walUnlock(sqlite3_file *f, int level) {
  return realOf(f)->pMethods->xUnlock(realOf(f), level);
}

static int walCheckReservedLock(sqlite3_file *f, int *out) {
  return realOf(f)->pMethods->xCheckReservedLock(realOf(f), out);
}

static int walFileControl(sqlite3_file *f, int op, void *arg) {
  int rc = flush((WalFile *)f);
  if (rc != SQLITE_OK) return rc;
  return realOf(f)->pMethods->xFileControl(realOf(f), op, arg);
}

static int walSectorSize(sqlite3_file *f) { return realOf(f)->pMethods->xSectorSize(realOf(f)); }

static int walDeviceCharacteristics(sqlite3_file *f) {
  return realOf(f)->pMethods->xDeviceCharacteristics(realOf(f));
}

static int vfsOpen(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *outFlags) {
  (void)v;
  if (!(flags & SQLITE_OPEN_WAL)) return base->xOpen(base, name, f, flags, outFlags);
  WalFile *w = (WalFile *)f;
  memset(w, 0, sizeof(*w));
  w->real = (sqlite3_file *)(w + 1);
  w->nextEnd = -1;
  w->headerEnd = -1;
  int rc = base->xOpen(base, name, w->real, flags, outFlags);
  // SQLite closes a file whose pMethods is set, even when its open failed: ours is set exactly
  // when the default VFS's is, so its xClose runs when it must.
  if (w->real->pMethods) w->base.pMethods = &walMethods;
  return rc;
}

// Everything but xOpen is the default VFS's own.
static int vfsDelete(sqlite3_vfs *v, const char *name, int syncDir) {
  (void)v;
  return base->xDelete(base, name, syncDir);
}
static int vfsAccess(sqlite3_vfs *v, const char *name, int flags, int *out) {
  (void)v;
  return base->xAccess(base, name, flags, out);
}
static int vfsFullPathname(sqlite3_vfs *v, const char *name, int n, char *out) {
  (void)v;
  return base->xFullPathname(base, name, n, out);
}
static void *vfsDlOpen(sqlite3_vfs *v, const char *name) {
  (void)v;
  return base->xDlOpen(base, name);
}
static void vfsDlError(sqlite3_vfs *v, int n, char *out) {
  (void)v;
  base->xDlError(base, n, out);
}
static void (*vfsDlSym(sqlite3_vfs *v, void *h, const char *sym))(void) {
  (void)v;
  return base->xDlSym(base, h, sym);
}
static void vfsDlClose(sqlite3_vfs *v, void *h) {
  (void)v;
  base->xDlClose(base, h);
}
static int vfsRandomness(sqlite3_vfs *v, int n, char *out) {
  (void)v;
  return base->xRandomness(base, n, out);
}
static int vfsSleep(sqlite3_vfs *v, int us) {
  (void)v;
  return base->xSleep(base, us);
}
static int vfsCurrentTime(sqlite3_vfs *v, double *out) {
  (void)v;
  return base->xCurrentTime(base, out);
}
static int vfsGetLastError(sqlite3_vfs *v, int n, char *out) {
  (void)v;
  return base->xGetLastError(base, n, out);
}
static int vfsCurrentTimeInt64(sqlite3_vfs *v, sqlite3_int64 *out) {
  (void)v;
  return base->xCurrentTimeInt64(base, out);
}
static int vfsSetSystemCall(sqlite3_vfs *v, const char *name, sqlite3_syscall_ptr p) {
  (void)v;
  return base->xSetSystemCall(base, name, p);
}
static sqlite3_syscall_ptr vfsGetSystemCall(sqlite3_vfs *v, const char *name) {
  (void)v;
  return base->xGetSystemCall(base, name);
}
static const char *vfsNextSystemCall(sqlite3_vfs *v, const char *name) {
  (void)v;
  return base->xNextSystemCall(base, name);
}

static void registerOnce(void) {
  base = sqlite3_vfs_find(NULL);
  // The layer relies on version 3 of the VFS (the one every supported SQLite has).
  if (!base || base->iVersion < 3) return;
  walMethods = (sqlite3_io_methods){
    .iVersion = 1,
    .xClose = walClose,
    .xRead = walRead,
    .xWrite = walWrite,
    .xTruncate = walTruncate,
    .xSync = walSync,
    .xFileSize = walFileSize,
    .xLock = walLock,
    .xUnlock = walUnlock,
    .xCheckReservedLock = walCheckReservedLock,
    .xFileControl = walFileControl,
    .xSectorSize = walSectorSize,
    .xDeviceCharacteristics = walDeviceCharacteristics,
  };
  vfs = (sqlite3_vfs){
    .iVersion = 3,
    .szOsFile = (int)sizeof(WalFile) + base->szOsFile,
    .mxPathname = base->mxPathname,
    .zName = DROVER_WAL_VFS_NAME,
    .xOpen = vfsOpen,
    .xDelete = vfsDelete,
    .xAccess = vfsAccess,
    .xFullPathname = vfsFullPathname,
    .xDlOpen = vfsDlOpen,
    .xDlError = vfsDlError,
    .xDlSym = vfsDlSym,
    .xDlClose = vfsDlClose,
    .xRandomness = vfsRandomness,
    .xSleep = vfsSleep,
    .xCurrentTime = vfsCurrentTime,
    .xGetLastError = vfsGetLastError,
    .xCurrentTimeInt64 = vfsCurrentTimeInt64,
    .xSetSystemCall = vfsSetSystemCall,
    .xGetSystemCall = vfsGetSystemCall,
    .xNextSystemCall = vfsNextSystemCall,
  };
  registerResult = sqlite3_vfs_register(&vfs, 0);
}

int drover_wal_vfs_register(void) {
  pthread_once(&once, registerOnce);
  return registerResult;
}

int drover_wal_vfs_file_counts(void *db, drover_wal_vfs_counts *out) {
  sqlite3_file *f = NULL;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) != SQLITE_OK) return -1;
  if (!f || f->pMethods != &walMethods) return -1;
  *out = ((WalFile *)f)->counts;
  return 0;
}
