import DroverCore
import DroverStore
import DroverTestSupport
import Foundation
import Testing

@Suite("CLI durability")
struct CLIDurabilityTests {
  /// A CLI process SIGKILLed in the middle of a large batch leaves a store that opens and holds
  /// either none or all of the batch, never a part.
  ///
  /// Parsing comes first and writes nothing; the kill lands once the batch's transaction has
  /// written `walGrowth` bytes to the WAL (pages spilled before the commit, or the commit
  /// itself), or when the process already ended.
  @Test(arguments: [1, 4_000_000])
  func aBatchKilledMidwayIsAllOrNothing(walGrowth: Int) throws {
    let f = try CLIFixture()
    _ = try f.stats()  // an existing store, so the WAL's growth is the batch's
    let count = 200_000
    var text = ""
    text.reserveCapacity(count * 60)
    for n in 0..<count {
      text += #"{"type": "email", "payload": {"n": \#(n)}, "priority": \#(n % 7)}"#
      text += "\n"
    }
    let path = try f.write("big.ndjson", text)
    let wal = f.storePath + "-wal"
    func walSize() -> Int {
      var st = stat()
      return stat(wal, &st) == 0 ? Int(st.st_size) : 0
    }
    let walBefore = walSize()

    let child = try f.start(["enqueue", "--batch", path])
    let deadline = ContinuousClock.now + .seconds(120)
    while walSize() < walBefore + walGrowth, child.poll() == nil, ContinuousClock.now < deadline {
      usleep(500)
    }
    child.kill(SIGKILL)
    let result = try child.waitForExit(timeout: .seconds(30))

    let stats = try f.drover(["jobs", "stats", "--json"])
    #expect(stats.exitCode == 0, "the store must open: \(stats.stderrText)")
    let queued = try JSONValue.parse(stats.stdoutText)["queued"]?.intValue
    if result.status == .signaled(SIGKILL) {
      #expect(queued == 0 || queued == Int64(count), "queued: \(String(describing: queued))")
    } else {
      #expect(result.exitCode == 0)
      #expect(queued == Int64(count))
    }
    // The store is intact, and the CLI can still write to it.
    let store = try f.openStore()
    #expect(try store.stats()[.queued] == Int(queued ?? -1))
    let id = try f.enqueue(["email"])
    #expect(id > 0)
  }
}
