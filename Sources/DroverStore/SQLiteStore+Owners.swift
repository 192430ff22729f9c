import DroverCore

#if canImport(Glibc)
  import Glibc
#endif

/// Owners, leases, rescue, leadership and change notification.
///
/// One supervisor per file: `openSession` takes an exclusive `flock` on `PATH.lock`, held until
/// `closeSession`, the store object's end or the process's death (the kernel releases it, so a
/// SIGKILLed supervisor never blocks its successor).
extension SQLiteStore {
  /// Registers this supervisor as the file's owner and returns its id (see `JobStore`).
  ///
  /// Takes the file lock first, then, in one transaction, ends every other owner's lease (the
  /// lock proves they are dead: a restart rescues their jobs at once) and inserts this one.
  ///
  /// - Throws: `.conflict` naming the holder's pid when another supervisor holds the lock, or
  ///   when this object already holds a session; `.unavailable` when the lock file cannot be
  ///   opened; `.readOnly` on a read-only store.
  public func openSession(_ p: SessionParams) throws(StoreError) -> OwnerID {
    try requireWritable()
    if let session {
      throw .conflict("this store object already holds session \(session) on \(path)")
    }
    let fd = try lockFile()
    do {
      let id = try write { () throws(StoreError) in
        try db.run("UPDATE owners SET lease_until = 0 WHERE lease_until <> 0")
        try db.run(
          """
          INSERT INTO owners (name, pid, started_at, heartbeat_at, lease_until)
          VALUES (?1, ?2, ?3, ?3, ?4)
          """, p.name, p.pid, p.now, p.now.adding(p.lease))
        return db.lastInsertID
      }
      lockFD = fd
      session = id
      return id
    } catch {
      close(fd)
      throw error
    }
  }

  /// Opens `STORE.lock` (never through a symbolic link; created 0600 when missing) and takes
  /// its exclusive lock without waiting, writing this process's pid (for the next one's error
  /// message) and the store's highest job id into it; returns the descriptor.
  private func lockFile() throws(StoreError) -> Int32 {
    let storePath = path
    let path = StoreFiles.lockPath(storePath)
    let fd = StoreFiles.openLockFile(path).fd
    guard fd >= 0 else {
      let why = errno == ELOOP ? "it is a symbolic link" : String(cString: strerror(errno))
      throw .unavailable("cannot open lock file \(path): \(why)")
    }
    // The holder may be this very process: a lock this process just released still lives in
    // a child another thread is spawning (posix_spawn's child shares the descriptor until its
    // exec closes it). That passes within milliseconds; another process's lock does not.
    var tries = 0
    while flock(fd, LOCK_EX | LOCK_NB) != 0, errno == EWOULDBLOCK, tries < 50,
      StoreFiles.holderPID(inLock: StoreFiles.readLock(storePath: storePath) ?? "")
        == String(getpid())
    {
      tries += 1
      usleep(10_000)
    }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      let cause = errno
      let text = StoreFiles.readLock(storePath: storePath) ?? ""
      close(fd)
      guard cause == EWOULDBLOCK else {
        throw .unavailable("cannot lock \(path): \(String(cString: strerror(cause)))")
      }
      let holder = StoreFiles.holderPID(inLock: text)
      throw .conflict(
        "another supervisor (pid \(holder.isEmpty ? "?" : holder)) is running on \(storePath); "
          + "only one may own a store")
    }
    let highest = try? db.int64("SELECT max(id) FROM jobs")
    StoreFiles.writeLock(
      fd, StoreFiles.lockText(storePath: storePath, pid: getpid(), highestID: highest ?? nil))
    return fd
  }

  /// Extends `p.owner`'s lease to `p.now + p.lease` and records the heartbeat.
  ///
  /// - Throws: `.conflict` when the owner row is gone (its lease ran out and a rescue forgot
  ///   it, or it was closed).
  public func renewLease(_ p: LeaseParams) throws(StoreError) {
    try write { () throws(StoreError) in
      let changed = try db.run(
        "UPDATE owners SET lease_until = ?2, heartbeat_at = ?3 WHERE id = ?1", p.owner,
        p.now.adding(p.lease), p.now)
      guard changed == 1 else {
        throw .conflict(
          "owner \(p.owner) is no longer registered on \(path): its lease ran out and its jobs "
            + "were rescued")
      }
    }
  }

  /// Forgets `owner` (its jobs become rescuable at once) and, when it is this object's
  /// session, releases the file lock, even if the delete fails. Harmless for an unknown owner
  /// and when called twice.
  public func closeSession(_ owner: OwnerID) throws(StoreError) {
    defer {
      if owner == session {
        if lockFD >= 0 { close(lockFD) }
        lockFD = -1
        session = nil
      }
    }
    try write { () throws(StoreError) in
      _ = try db.run("DELETE FROM owners WHERE id = ?1", owner)
      // Its leaderships go with it: the next supervisor need not wait out their leases.
      _ = try db.run("DELETE FROM leaders WHERE owner = ?1", owner)
    }
  }

  /// Running jobs without a live lease at `?1`: no owner, an unknown one, or one whose lease
  /// ended. The running set is small and read through its own index.
  static let expiredSQL: SQLText = """
    SELECT id, type, attempts, cancel_requested, worker_pid FROM jobs INDEXED BY jobs_running
    WHERE state = 2 AND (owner IS NULL OR NOT EXISTS (
      SELECT 1 FROM owners WHERE owners.id = jobs.owner AND owners.lease_until >= ?1))
    ORDER BY id
    """

  /// Returns running jobs whose lease ended (see `JobStore.rescueExpired`) to `queued`, in
  /// their old place in the claim order and without spending an attempt, or to `cancelled`
  /// when a cancel was requested; records `p.message` (with the job's worker pid) as the
  /// interrupted attempt's error, then forgets expired owners.
  ///
  /// - Returns: the jobs taken back, ascending by id.
  public func rescueExpired(_ p: RescueParams) throws(StoreError) -> [RescuedJob] {
    try write { () throws(StoreError) in
      var found: [(job: RescuedJob, cancel: Bool, pid: Int64?)] = []
      do {
        let st = try db.prepare(Self.expiredSQL)
        defer { st.reset() }
        try st.bind(p.now)
        while try st.step() {
          let cancel = st.int64(3) != 0
          let job = RescuedJob(
            id: st.int64(0), type: st.text(1), state: cancel ? .cancelled : .queued,
            attempt: st.int(2) + 1)
          found.append((job, cancel, st.optionalInt64(4)))
        }
      }
      for (job, cancel, pid) in found {
        try db.run(Self.errorInsertSQL, job.id, job.attempt, p.message, p.now, pid)
        if cancel {
          try db.run(
            "UPDATE jobs SET state = 4, finished_at = ?2, owner = NULL WHERE id = ?1", job.id,
            p.now)
        } else {
          // Back where it was in the claim order: the attempt never counted.
          try db.run("UPDATE jobs SET state = 1, owner = NULL WHERE id = ?1", job.id)
        }
        move(job.type, from: .running, to: job.state)
      }
      let cancelled = found.filter(\.cancel).map(\.job.id)
      if !cancelled.isEmpty { _ = try resolveChildren(of: cancelled, now: p.now) }
      try db.run(
        "DELETE FROM leaders WHERE owner IN (SELECT id FROM owners WHERE lease_until < ?1)", p.now)
      try db.run("DELETE FROM owners WHERE lease_until < ?1", p.now)
      return found.map(\.job)
    }
  }

  static let leadershipSQL: SQLText = """
    INSERT INTO leaders (name, owner, lease_until) VALUES (?1, ?2, ?3)
    ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
    WHERE leaders.owner = excluded.owner OR leaders.lease_until < ?4
      OR EXISTS (SELECT 1 FROM owners WHERE id = leaders.owner AND lease_until < ?4)
    """

  /// Takes or keeps leadership `p.name` for `p.owner` until `p.now + p.lease` when it is free,
  /// expired (its lease ended before `p.now`), held by an owner whose own lease ended (a dead
  /// supervisor: a restart takes over at once instead of a leadership lease later), or already
  /// `p.owner`'s; true when `p.owner` holds it after the call.
  public func acquireLeadership(_ p: LeadershipParams) throws(StoreError) -> Bool {
    try write { () throws(StoreError) in
      try db.run(Self.leadershipSQL, p.name, p.owner, p.now.adding(p.lease), p.now)
      return try db.int64("SELECT owner FROM leaders WHERE name = ?1", p.name) == p.owner
    }
  }

  /// True when another connection committed since the previous call; the first call answers
  /// true. `PRAGMA data_version` changes only for other connections' commits, never for this
  /// one's, which is exactly the question; it costs a few microseconds and no I/O when nothing
  /// changed.
  public func othersWrote() throws(StoreError) -> Bool {
    let version = try db.int64("PRAGMA data_version") ?? 0
    defer { lastDataVersion = version }
    return version != lastDataVersion
  }
}
