import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
import Synchronization
import Testing

/// Fan-in across supervisors on PostgreSQL: the last two parents of a child completed at the
/// same moment by two connections must release it exactly once, never leave it waiting.
@Suite struct PostgresDependencyTests {
  @Test func twoConnectionsCompletingTheLastParentsAtOnceReleaseTheChildOnce() throws {
    let cluster = try PostgresCluster.shared()
    let url = try cluster.database()
    let store = try PostgresStore(url: url)
    let now = Timestamp.now()
    let ids = try store.enqueue([
      EnqueueParams(type: "p", now: now), EnqueueParams(type: "p", now: now),
      EnqueueParams(type: "c", now: now, parents: [.batch(0), .batch(1)]),
    ]).map(\.id)
    let claimed = try store.apply(StoreBatch(claims: [ClaimParams(types: ["p"], limit: 2)]))
    #expect(claimed.claimed[0].count == 2)
    // A third connection holds the child's row: both commits reach their settle of the child
    // and wait there, each with its own parent completed but not yet committed.
    let gate = try PostgresStore(url: url)
    try gate.execForTests("BEGIN; SELECT id FROM drover_jobs WHERE id = \(ids[2]) FOR UPDATE")
    let released = Atomic(0)
    let group = DispatchGroup()
    let failures = Mutex<[String]>([])
    for parent in ids[0..<2] {
      DispatchQueue.global().async(group: group) {
        do {
          let s = try PostgresStore(url: url)
          let r = try s.apply(
            StoreBatch(
              finishes: [FinishParams(id: parent, settlement: .outcome(.completed))],
              promoteDue: false))
          released.add(r.released.count, ordering: .relaxed)
        } catch {
          failures.withLock { $0.append(String(describing: error)) }
        }
      }
    }
    let deadline = ContinuousClock.now + .seconds(60)
    while try cluster.psql(url, "SELECT count(*) FROM pg_locks WHERE NOT granted") != "2" {
      guard ContinuousClock.now < deadline else {
        throw StoreError.busy("the commits never waited")
      }
      Thread.sleep(forTimeInterval: 0.02)
    }
    try gate.execForTests("COMMIT")
    #expect(group.wait(timeout: .now() + 60) == .success)
    #expect(failures.withLock { $0 } == [])
    #expect(released.load(ordering: .relaxed) == 1)
    #expect(try store.job(ids[2])?.state == .queued)
    #expect(try store.counts() == store.countByScan())
  }
}
