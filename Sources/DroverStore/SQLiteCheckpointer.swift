import CSQLite
import DroverCore
import DroverSystem
import Synchronization

/// Takes WAL checkpoints off the writer's thread (the supervisor's loop).
///
/// With `synchronous = NORMAL` a commit writes the WAL and syncs nothing; the fsyncs happen at
/// checkpoints, which SQLite by default runs inside the commit that crosses 1,000 frames (on
/// the loop: measured 5 ms on average, 20 % of a drain's loop time). Here the writer's
/// connection only reports its WAL size after each commit (`sqlite3_wal_hook`, which also
/// turns its auto-checkpoint off), and this thread, on a connection of its own, copies the
/// frames back (PASSIVE: never holding the write lock, so commits go on meanwhile).
///
/// The second half matters as much: once every frame is copied, the next write *restarts* the
/// WAL from its beginning, and that write syncs the new WAL header. Left to the writer, that
/// sync lands in a commit (an earlier attempt saw 100-200 ms stalls from it, beside the
/// checkpoint's own fsyncs). So right after a complete checkpoint this thread makes the
/// restarting write itself: a transaction that rewrites `user_version` with its own value.
/// The writer restarts the WAL only if it commits in the microseconds between the two.
package final class SQLiteCheckpointer: @unchecked Sendable {
  // @unchecked: `db` and `counts` are used by the checkpointer thread only, and by `stop()`
  // after that thread has ended; the flags live under `monitor`; `wanted` is atomic.
  private let monitor = Monitor()
  private var stopping = false
  private var ended = false
  private let wanted = Atomic<Bool>(false)
  private let db: SQLiteConnection
  /// A checkpoint is asked for once the WAL holds this many frames.
  let threshold: Int32
  private let countsLock = Mutex(Counts())

  /// What the thread did, for tests and `bench`.
  package struct Counts: Sendable, Equatable {
    package var checkpoints = 0
    /// Checkpoints that copied every frame, after which this thread restarted the WAL.
    package var restarts = 0
    /// Checkpoints that could not copy every frame (a reader holds an old snapshot).
    package var partial = 0
    package var failures = 0
    package init() {}
  }

  package var counts: Counts { countsLock.withLock { $0 } }

  init(path: String, busyTimeout: Duration, noFollow: Bool, threshold: Int32 = 1000)
    throws(StoreError)
  {
    db = try SQLiteConnection(path: path, create: false, noFollow: noFollow)
    db.setBusyTimeout(busyTimeout)
    // When the WAL restarts after a burst grew it, its file is cut back to this size.
    try db.execute("PRAGMA journal_size_limit = \(64 << 20)")
    self.threshold = threshold
  }

  /// Hooks `writer` (its auto-checkpoint ends here) and starts the thread.
  func start(watching writer: SQLiteConnection) {
    let me = Unmanaged.passUnretained(self).toOpaque()
    sqlite3_wal_hook(
      writer.handle,
      { context, _, _, frames in
        let c = Unmanaged<SQLiteCheckpointer>.fromOpaque(context!).takeUnretainedValue()
        c.walHas(frames: frames)
        return SQLITE_OK
      }, me)
    startThread { [self] in run() }
  }

  /// After each commit of the writer, on its thread: the WAL's size in frames.
  private func walHas(frames: Int32) {
    guard frames >= threshold, !wanted.load(ordering: .relaxed) else { return }
    wanted.store(true, ordering: .relaxed)
    monitor.locked { monitor.broadcast() }
  }

  /// Ends the thread and waits for it (before the writer's connection closes: the hook points
  /// here). `writer` gets SQLite's own auto-checkpoint back.
  func stop(unhooking writer: SQLiteConnection) {
    sqlite3_wal_autocheckpoint(writer.handle, 1000)
    monitor.locked {
      stopping = true
      monitor.broadcast()
      while !ended { monitor.wait() }
    }
  }

  private func run() {
    while true {
      let stop = monitor.locked { () -> Bool in
        while !stopping && !wanted.load(ordering: .relaxed) { monitor.wait() }
        return stopping
      }
      if stop { break }
      // Cleared before the checkpoint, so a commit during it asks for the next one (else a
      // burst that ends while this one runs would leave its frames for a commit that may not
      // come).
      wanted.store(false, ordering: .relaxed)
      let complete = checkpoint()
      if !complete {
        // A reader pins frames: let it finish before trying again, not at every commit.
        monitor.locked {
          if !stopping { monitor.wait(untilNS: Monotonic.nanoseconds() + 100_000_000) }
        }
      }
    }
    monitor.locked {
      ended = true
      monitor.broadcast()
    }
  }

  /// One PASSIVE checkpoint, then the WAL restart when it copied every frame. True when the
  /// WAL was restarted (or had nothing to copy).
  private func checkpoint() -> Bool {
    var log: Int32 = 0
    var copied: Int32 = 0
    let rc = sqlite3_wal_checkpoint_v2(db.handle, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &copied)
    guard rc == SQLITE_OK else {
      countsLock.withLock { $0.failures += 1 }
      return false
    }
    guard log > 0, copied == log else {
      countsLock.withLock {
        $0.checkpoints += 1
        if log > 0 { $0.partial += 1 }
      }
      return log <= 0
    }
    var restarted = false
    do throws(StoreError) {
      try db.transaction(write: true) { () throws(StoreError) in
        // Rewriting page 1 with the same value: the smallest write there is, and under the
        // write lock nobody can change the value in between.
        let version = try db.int64("PRAGMA user_version") ?? 0
        try db.execute("PRAGMA user_version = \(version)")
      }
      restarted = true
    } catch {
      countsLock.withLock { $0.failures += 1 }
    }
    countsLock.withLock {
      $0.checkpoints += 1
      if restarted { $0.restarts += 1 }
    }
    return restarted
  }
}

extension SQLiteStore {
  /// Starts the checkpoint thread (once; not on a read-only store). If its connection cannot
  /// be opened, checkpoints stay where SQLite puts them, in the commits.
  public func checkpointInBackground() {
    guard checkpointer == nil, !isReadOnly else { return }
    do throws(StoreError) {
      let c = try SQLiteCheckpointer(
        path: path, busyTimeout: .seconds(10), noFollow: !StoreFiles.isSymlink(path))
      c.start(watching: db)
      checkpointer = c
    } catch {
      // Not fatal: the writer keeps SQLite's auto-checkpoint.
    }
  }

  /// What the checkpoint thread did so far; nil when none runs.
  package var checkpointCounts: SQLiteCheckpointer.Counts? { checkpointer?.counts }
}
