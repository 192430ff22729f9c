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
  /// Runs the checkpoints (never writes).
  private let db: SQLiteConnection
  /// Makes the restarting writes; its WAL hook records the WAL's size after each.
  private let restarter: SQLiteConnection
  private let restarterFrames = Atomic<Int32>(0)
  /// A checkpoint is asked for once the WAL holds this many frames.
  let threshold: Int32
  /// Past this many frames the restart no longer waits for a gap between commits.
  let cap: Int32
  private let countsLock = Mutex(Counts())

  /// What the thread did, for tests and `bench`.
  package struct Counts: Sendable, Equatable {
    package var checkpoints = 0
    /// Checkpoints that copied every frame, after which this thread restarted the WAL.
    package var restarts = 0
    /// Checkpoints that could not copy every frame (a reader holds an old snapshot).
    package var partial = 0
    package var failures = 0
    /// Restarts that had to hold the write lock (the WAL had reached `cap`).
    package var forced = 0
    /// Complete checkpoints after which the WAL could not restart: the writer had added frames
    /// while they ran.
    package var missed = 0
    package init() {}
  }

  package var counts: Counts { countsLock.withLock { $0 } }

  init(path: String, busyTimeout: Duration, noFollow: Bool, threshold: Int32 = 1000)
    throws(StoreError)
  {
    db = try SQLiteConnection(path: path, create: false, noFollow: noFollow)
    db.setBusyTimeout(busyTimeout)
    // A connection learns the file is in WAL mode only when it first reads it; until then a
    // checkpoint on it answers "not in WAL mode" (-1 frames) and does nothing.
    _ = try db.int64("SELECT count(*) FROM sqlite_master")
    restarter = try SQLiteConnection(path: path, create: false, noFollow: noFollow)
    restarter.setBusyTimeout(busyTimeout)
    // The restart that cuts a WAL grown by a burst back to `journal_size_limit` is this one's.
    try restarter.execute("PRAGMA journal_size_limit = \(64 << 20)")
    self.threshold = threshold
    self.cap = threshold * 8
    let me = Unmanaged.passUnretained(self).toOpaque()
    sqlite3_wal_hook(
      restarter.handle,
      { context, _, _, frames in
        let c = Unmanaged<SQLiteCheckpointer>.fromOpaque(context!).takeUnretainedValue()
        c.restarterFrames.store(frames, ordering: .relaxed)
        return SQLITE_OK
      }, me)
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
  /// WAL was restarted (or had nothing to copy); false when a reader pinned frames.
  private func checkpoint() -> Bool {
    guard let (log, copied) = passive() else { return true }
    guard log > 0, copied == log else {
      countsLock.withLock {
        $0.checkpoints += 1
        if log > 0 { $0.partial += 1 }
      }
      return log == 0
    }
    // Every frame is copied, but the writer may have added more since: then the WAL cannot
    // restart. It would grow for as long as commits keep coming, so past `cap` frames the
    // restart holds the write lock while it copies the last frames (the writer waits for
    // that, rarely: once per `cap` frames of a sustained burst).
    let forced = log >= cap
    let restarted = restart(forced: forced)
    countsLock.withLock {
      $0.checkpoints += 1
      if restarted {
        $0.restarts += 1
        if forced { $0.forced += 1 }
      } else {
        $0.missed += 1
      }
    }
    return true
  }

  /// A PASSIVE checkpoint on `db`: the WAL's frames and how many are copied back; nil (counted
  /// as a failure) when it failed or the connection sees no WAL.
  private func passive() -> (log: Int32, copied: Int32)? {
    var log: Int32 = 0
    var copied: Int32 = 0
    let rc = sqlite3_wal_checkpoint_v2(db.handle, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &copied)
    guard rc == SQLITE_OK, log >= 0 else {
      // -1 frames: the connection does not see a WAL (the file left WAL mode).
      countsLock.withLock { $0.failures += 1 }
      return nil
    }
    return (log, copied)
  }

  /// The restarting write on `restarter`: it rewrites `user_version` with its own value (page
  /// 1, the smallest write there is; under the write lock nobody changes it in between). When
  /// every frame is copied back as it begins, this write starts the WAL over, and syncs its
  /// header, here rather than in a commit of the writer. `forced`: first copy what the writer
  /// added since, under this transaction's write lock. True when the WAL did restart.
  private func restart(forced: Bool) -> Bool {
    do throws(StoreError) {
      try restarter.transaction(write: true) { () throws(StoreError) in
        if forced { _ = passive() }
        let version = try restarter.int64("PRAGMA user_version") ?? 0
        try restarter.execute("PRAGMA user_version = \(version)")
      }
    } catch {
      countsLock.withLock { $0.failures += 1 }
      return false
    }
    // A restarted WAL holds only this write's frames.
    return restarterFrames.load(ordering: .relaxed) <= 2
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
