public import DroverCore

#if canImport(Glibc)
  import Glibc
#endif

// INTERIM: placeholder conformance while the driver work lands on its branch; replaced whole.
nonisolated(unsafe) var interimLockFD: Int32 = -1
nonisolated(unsafe) var interimDataVersion: Int64 = -1

extension SQLiteStore {
  public func counts() throws(StoreError) -> [String: [JobState: Int]] {
    try db.transaction(write: false) { () throws(StoreError) in
      var out: [String: [JobState: Int]] = [:]
      let st = try db.prepare("SELECT type, state, count(*) FROM jobs GROUP BY type, state")
      defer { st.reset() }
      while try st.step() {
        if out[st.text(0)] == nil {
          out[st.text(0)] = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) })
        }
        if let s = JobState(rawValue: st.int(1)) { out[st.text(0)]![s] = st.int(2) }
      }
      return out
    }
  }

  public func openSession(_ p: SessionParams) throws(StoreError) -> OwnerID {
    let lockPath = path + ".lock"
    let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
    guard fd >= 0 else { throw .unavailable("cannot open \(lockPath)") }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      close(fd)
      throw .conflict("another supervisor is running on \(path); only one may own a store")
    }
    interimLockFD = fd
    return 1
  }

  public func renewLease(_ p: LeaseParams) throws(StoreError) {}

  public func closeSession(_ owner: OwnerID) throws(StoreError) {
    if interimLockFD >= 0 { close(interimLockFD) }
    interimLockFD = -1
  }

  public func rescueExpired(_ p: RescueParams) throws(StoreError) -> [RescuedJob] {
    try rescueRunning(p).map { RescuedJob(id: $0, type: "", state: .queued, attempt: 0) }
  }

  public func acquireLeadership(_ p: LeadershipParams) throws(StoreError) -> Bool { true }

  public func othersWrote() throws(StoreError) -> Bool {
    let v = try db.int64("PRAGMA data_version") ?? 0
    defer { interimDataVersion = v }
    return v != interimDataVersion
  }
}

extension SQLiteStore {
  package func seedFinished(count: Int, type: String, finishedAt: Timestamp) throws(StoreError) {
    try db.execute(
      """
      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(count))
      INSERT INTO jobs (type, state, priority, max_attempts, budget, payload, created_at, run_at,
        started_at, finished_at, attempts, progress)
      SELECT '\(type)', 3, 0, 20, 20, '{}', \(finishedAt.micros), \(finishedAt.micros),
        \(finishedAt.micros), \(finishedAt.micros), 1, 100 FROM n
      """)
  }
}
