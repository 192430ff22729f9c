import DroverCore

#if canImport(Glibc)
  import Glibc
#endif

extension SQLiteStore {
  /// Moves WAL checkpoints off the caller's thread: this connection stops checkpointing on
  /// commit, and a background thread with its own connection runs a PASSIVE checkpoint every
  /// `period`.
  ///
  /// Why: an automatic checkpoint runs inside whichever commit crosses 1000 WAL pages, copying
  /// ~4 MB and syncing the file, a stall of milliseconds in the supervisor's loop (its
  /// pick-up latency). PASSIVE never blocks writers or readers; durability is unchanged (the
  /// WAL is the durable copy until checkpointed). The thread lives as long as the process.
  public func startBackgroundCheckpoints(period: Duration = .milliseconds(250)) throws(StoreError) {
    let checkpointer = try SQLiteConnection(path: path, create: false)
    checkpointer.setBusyTimeout(.milliseconds(100))
    try db.execute("PRAGMA wal_autocheckpoint = 0")
    let box = Unmanaged.passRetained(CheckpointThread(connection: checkpointer, period: period))
    var tid = pthread_t()
    let rc = pthread_create(
      &tid, nil,
      { arg in
        let t = Unmanaged<CheckpointThread>.fromOpaque(arg!).takeRetainedValue()
        t.run()
        return nil
      }, box.toOpaque())
    guard rc == 0 else {
      box.release()
      try db.execute("PRAGMA wal_autocheckpoint = 1000")
      throw .cannotOpen(path: path, reason: "cannot start the checkpoint thread (\(rc))")
    }
    pthread_detach(tid)
  }
}

/// The checkpoint loop. Owns its connection; shares nothing with the store's thread.
private final class CheckpointThread {
  let connection: SQLiteConnection
  let period: Duration

  init(connection: SQLiteConnection, period: Duration) {
    self.connection = connection
    self.period = period
  }

  func run() {
    let ns = max(1_000_000, period.microseconds * 1000)
    while true {
      var ts = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
      nanosleep(&ts, nil)
      // BUSY (another checkpoint, or a writer holding the lock briefly) just means "later".
      try? connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
    }
  }
}
