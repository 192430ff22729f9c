import DroverCore
import DroverTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

extension SupervisorTests {
  /// Slow and many control clients must not stall dispatch or grow the supervisor.
  @Suite("control client limits")
  struct ClientLimits {
    static let noop = poolTable("noop", #"handler = "noop""#, "min = 2", "max = 2")

    /// The supervisor's resident memory in bytes.
    static func rss(_ pid: Int32) -> Int {
      guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8),
        let pages = text.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
      else { return 0 }
      return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// A client that pipelines status requests as fast as it can and never reads its
    /// replies: the supervisor stops reading it (backpressure), stays small, and jobs and
    /// other clients go on. Before: every reply was buffered (hundreds of MB) and dispatch
    /// slowed to a crawl.
    @Test func aClientThatNeverReadsIsThrottledNotBuffered() throws {
      let h = try SupervisorHarness(pools: Self.noop)
      let serve = try h.start()
      let before = Self.rss(serve.pid)
      let hog = try ControlSocket(path: h.socketPath)
      let line = Array((#"{"cmd":"status"}"# + "\n").utf8)
      let chunk = [UInt8]((0..<2000).flatMap { _ in line })
      var sent = 0
      let end = ContinuousClock.now + .seconds(5)
      while ContinuousClock.now < end {
        let n = chunk.withUnsafeBytes {
          send(hog.fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
        }
        if n > 0 { sent += n } else { usleep(1000) }
      }
      // Meanwhile the hog's requests stopped being read: far fewer went in than 5 s allow.
      var text = ""
      for n in 0..<2000 { text += #"{"type":"noop","payload":{"n":\#(n)}}"# + "\n" }
      let r = try h.drover(["enqueue", "--batch", try h.write("b.ndjson", text)])
      #expect(r.exitCode == 0, "enqueue: \(r.stderrText)")
      try h.waitUntil("2000 jobs completed", timeout: .seconds(60), every: .milliseconds(100)) {
        try h.jobCounts()["completed"] == 2000
      }
      let grown = Self.rss(serve.pid) - before
      // Throttled: about 2 MiB (kernel buffers, 1 MiB of input, 1 MiB of replies); unthrottled
      // it grew by about 40 MiB in these 5 s.
      #expect(grown < 16 << 20, "the supervisor grew by \(grown >> 20) MiB")
      // The hog can still read what it was sent, in order, and the supervisor is fine.
      let first = try JSONValue.parse(try #require(try hog.readLine()))
      #expect(first["ok"]?.boolValue == true)
      #expect(try h.state() == "running")
      _ = sent
    }

    /// A client that takes none of its replies for the stall limit (60 s; 1.5 s here) is
    /// dropped, and the supervisor goes on serving others.
    @Test func aClientThatTakesNoRepliesIsDroppedAfterTheStallLimit() throws {
      let h = try SupervisorHarness(pools: Self.noop)
      try h.start(flags: SupervisorHarness.fastFlags + ["--client-stall-ms", "1500"])
      let hog = try ControlSocket(path: h.socketPath)
      let line = Array((#"{"cmd":"status"}"# + "\n").utf8)
      let chunk = [UInt8]((0..<2000).flatMap { _ in line })
      // Enough requests that the replies fill the socket's buffers and stay pending.
      let end = ContinuousClock.now + .seconds(2)
      while ContinuousClock.now < end {
        let n = chunk.withUnsafeBytes {
          send(hog.fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
        }
        if n <= 0 { usleep(1000) }
      }
      try h.waitUntil("the client is dropped", timeout: .seconds(30)) {
        h.log().contains("dropping a control client that took no reply")
      }
      // The connection ends: end of file after what the kernel had buffered, or a reset (the
      // supervisor closed it with the client's unread requests in its buffer).
      var ended = false
      for _ in 0..<1_000_000 {
        do {
          guard try hog.readLine() != nil else {
            ended = true
            break
          }
        } catch {
          ended = "\(error)".contains("read failed")
          break
        }
      }
      #expect(ended, "the dropped client's connection ended")
      #expect(try h.state() == "running")
      _ = try h.enqueueViaSocket("noop")
    }

    /// Past the connection cap a new client is told so and closed; the others keep working,
    /// and once some close, new ones are accepted again.
    @Test func connectionsPastTheCapAreRefusedWithAReason() throws {
      let h = try SupervisorHarness(pools: Self.noop)
      try h.start()
      var open: [ControlSocket] = []
      for _ in 0..<256 { open.append(try ControlSocket(path: h.socketPath)) }
      // Let the supervisor accept them all.
      try h.waitUntil("256 connections accepted") {
        let extra = try ControlSocket(path: h.socketPath)
        guard let line = try extra.readLine(timeout: .seconds(5)) else { return false }
        return line.contains("too many control connections")
      }
      let still = open[0]
      try still.send(#"{"cmd":"status"}"# + "\n")
      #expect(try JSONValue.parse(try #require(try still.readLine()))["ok"]?.boolValue == true)
      open.removeAll()
      try h.waitUntil("new connections are accepted again") {
        try h.status()["ok"]?.boolValue == true
      }
    }
  }
}
