import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
import Testing

/// WAL checkpoints on a thread of their own (`checkpointInBackground`), as the supervisor runs
/// them: the WAL is copied back and restarted by that thread, nothing is lost,
/// and a reader holding an old snapshot only delays the restart.
@Suite struct SQLiteCheckpointTests {
  static let payload = #"{"pad":""# + String(repeating: "x", count: 2000) + #""}"#

  static func waitFor(
    _ what: String, seconds: Double = 60, _ condition: () throws -> Bool,
    sourceLocation: SourceLocation = #_sourceLocation
  ) rethrows {
    let deadline = Date().addingTimeInterval(seconds)
    while try !condition() {
      if Date() > deadline {
        Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
        return
      }
      usleep(20_000)
    }
  }

  @Test func theThreadCopiesAndRestartsTheWALAndLosesNothing() throws {
    let dir = try TempDirectory()
    let path = dir.file("ckpt.db")
    let store = try SQLiteStore(path: path)
    store.checkpointInBackground()
    #expect(store.checkpointCounts == SQLiteCheckpointer.Counts())
    // One job per transaction, each a frame or more: several thousand frames in all, past the
    // 1,000-frame threshold a few times over.
    for i in 0..<4000 {
      _ = try store.enqueue([EnqueueParams(type: "t", payload: Self.payload)])
      // A pause now and then, as between a supervisor's turns.
      if i % 100 == 99 { usleep(2_000) }
    }
    Self.waitFor("a restart by the checkpoint thread") {
      (store.checkpointCounts?.restarts ?? 0) >= 1
    }
    let counts = try #require(store.checkpointCounts)
    #expect(counts.failures == 0, "\(counts)")
    // Another connection sees every job, so the copies back were whole.
    let reader = try SQLiteStore(readOnlyPath: path)
    #expect(try reader.counts()["t"]?[.queued] == 4000)
  }

  @Test func aReaderOnAnOldSnapshotDelaysTheRestartOnly() throws {
    let dir = try TempDirectory()
    let path = dir.file("pinned.db")
    let store = try SQLiteStore(path: path)
    store.checkpointInBackground()
    _ = try store.enqueue([EnqueueParams(type: "t", payload: Self.payload)])
    // A read transaction held open on a second connection pins the frames written after it.
    let pin = try SQLiteConnection(path: path, create: false)
    try pin.execute("BEGIN")
    #expect(try pin.strings("SELECT count(*) FROM jobs") == ["1"])
    for _ in 0..<3000 {
      _ = try store.enqueue([EnqueueParams(type: "t", payload: Self.payload)])
    }
    Self.waitFor("a partial checkpoint") { (store.checkpointCounts?.partial ?? 0) >= 1 }
    let whilePinned = try #require(store.checkpointCounts).restarts
    // Still its old snapshot, untouched by the checkpoints.
    #expect(try pin.strings("SELECT count(*) FROM jobs") == ["1"])
    try pin.execute("COMMIT")
    // Released: more commits ask again, and the WAL is copied whole and restarted.
    for _ in 0..<1500 {
      _ = try store.enqueue([EnqueueParams(type: "t", payload: Self.payload)])
    }
    Self.waitFor("a restart after the reader let go") {
      (store.checkpointCounts?.restarts ?? 0) > whilePinned
    }
    #expect(try pin.strings("SELECT count(*) FROM jobs") == ["4501"])
  }

  @Test func closingTheStoreStopsTheThreadAndTheFileReopens() throws {
    let dir = try TempDirectory()
    let path = dir.file("close.db")
    for round in 1...3 {
      let store = try SQLiteStore(path: path)
      store.checkpointInBackground()
      for _ in 0..<1500 {
        _ = try store.enqueue([EnqueueParams(type: "t", payload: Self.payload)])
      }
      #expect(try store.counts()["t"]?[.queued] == 1500 * round)
    }
    let store = try SQLiteStore(path: path)
    #expect(try store.counts()["t"]?[.queued] == 4500)
  }
}
