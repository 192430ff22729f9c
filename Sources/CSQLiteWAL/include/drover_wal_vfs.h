#ifndef DROVER_WAL_VFS_H
#define DROVER_WAL_VFS_H

#include <stdint.h>

/// The name of the VFS `drover_wal_vfs_register` adds: pass it to `sqlite3_open_v2`.
#define DROVER_WAL_VFS_NAME "drover-wal"

/// Registers (once, thread-safe) the "drover-wal" VFS: the platform's default VFS, except that
/// on a `-wal` file the frames one commit appends are gathered and handed to the default VFS
/// as one write when the commit frame is complete, instead of two writes per page (a frame's
/// 24-byte header, then its page). Every other file and call goes straight through. Returns an
/// SQLite result code (`SQLITE_OK` when registered, now or before).
///
/// What a commit publishes is unchanged: SQLite marks new frames visible (the wal-index header)
/// only after writing its commit frame, and the gathered frames reach the file within that
/// frame's own write call, whose failure (`SQLITE_FULL` on a full disk) fails the commit as it
/// would without the gathering. Any other call on the file (read, sync, truncate, size, a write
/// that is not the next frame) first writes what is gathered.
int drover_wal_vfs_register(void);

/// What the gathering did on one `-wal` file: frame writes SQLite made that were gathered
/// (`gathered`), and writes handed to the default VFS for them (`flushes`).
typedef struct {
  uint64_t gathered;
  uint64_t flushes;
} drover_wal_vfs_counts;

/// The counts of the `-wal` file the connection `db` (`sqlite3 *`, passed as `void *` so
/// that this header needs no SQLite types) has open for its main database. Returns 0 and fills
/// `out`, or -1 when that connection has no WAL open through "drover-wal".
int drover_wal_vfs_file_counts(void *db, drover_wal_vfs_counts *out);

#endif
