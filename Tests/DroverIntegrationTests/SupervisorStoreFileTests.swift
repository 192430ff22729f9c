import DroverCore
import DroverTestSupport
import DroverWire
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension SupervisorTests {
  @Suite("the store's files")
  struct StoreFiles {
    static let noopPool = poolTable("noop", #"handler = "noop""#, "min = 1", "max = 1")

    /// A store deleted under a running supervisor: enqueues are refused, it exits non-zero,
    /// and a CLI does not create a fresh store that would reuse ids.
    @Test func aDeletedStoreStopsTheSupervisor() throws {
      let h = try SupervisorHarness(pools: Self.noopPool)
      try h.start()
      _ = try h.enqueue("noop")
      for suffix in ["", "-wal", "-shm"] { unlink(h.storePath + suffix) }
      let out = try h.waitForExit(timeout: .seconds(30))
      #expect(out.exitCode != 0)
      #expect(h.log().contains("deleted or replaced"), "\(h.logTail())")
      let cli = try h.drover(["enqueue", "noop", "{}"])
      #expect(cli.exitCode != 0)
      #expect(cli.stderrText.contains(".lock"), "\(cli.stderrText)")
    }

    /// The store replaced under a running supervisor by another file (a restore from backup,
    /// a `mv`): it notices at the tick and exits non-zero rather than write into a file no
    /// one will read, and the replacement is left as it was.
    @Test func aReplacedStoreStopsTheSupervisor() throws {
      let h = try SupervisorHarness(pools: Self.noopPool)
      let other = h.dir.file("other.db")
      let cli = try h.drover(["enqueue", "noop", "{}"])
      #expect(cli.exitCode == 0, "\(cli.stderrText)")
      // A copy of the store, made before the supervisor runs (the lock file stays the same).
      let copy = try ChildProcess.run("/bin/cp", [h.storePath, other])
      #expect(copy.exitCode == 0)
      try h.start()
      _ = try h.enqueue("noop")
      #expect(rename(other, h.storePath) == 0)
      let out = try h.waitForExit(timeout: .seconds(30))
      #expect(out.exitCode != 0)
      #expect(h.log().contains("deleted or replaced"), "\(h.logTail())")
    }

    /// Pages overwritten with garbage: serve refuses to start, naming the file, never READY.
    @Test func anOverwrittenStoreIsRefusedAtStart() throws {
      let h = try SupervisorHarness(pools: Self.noopPool)
      for _ in 0..<20 {
        _ = try h.enqueue("noop", #"{"pad":"\#(String(repeating: "x", count: 500))"}"#)
      }
      var st = stat()
      #expect(stat(h.storePath, &st) == 0)
      let fd = open(h.storePath, O_WRONLY)
      let garbage = [UInt8](repeating: 0x5A, count: 8192)
      _ = pwrite(fd, garbage, garbage.count, off_t(st.st_size / 2))
      close(fd)
      try h.start(waitUntilRunning: false)
      let out = try h.waitForExit(timeout: .seconds(30))
      #expect(out.exitCode != 0)
      let log = h.log()
      #expect(log.contains(h.storePath) && log.contains("damaged"), "\(h.logTail())")
      #expect(!log.contains("supervisor ready"))
    }
  }
}
