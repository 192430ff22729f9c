import Foundation
import Testing

@testable import DroverSystem

/// The per-process figures the supervisor samples and the worker reports.
@Suite struct ResourceUsageTests {
  @Test func statParsesCPUWithReapedChildrenAndRSS() throws {
    let hz = Int64(sysconf(Int32(_SC_CLK_TCK)))
    let page = UInt64(sysconf(Int32(_SC_PAGESIZE)))
    // A comm with a space and a parenthesis; utime 100, stime 50, cutime 30, cstime 20 ticks,
    // rss 256 pages.
    let line =
      "4121 (drover (x) w) S 1 4121 4121 0 -1 4194560 100 0 0 0 100 50 30 20 20 0 3 0 123 "
      + "99999 256 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
    func parse(_ text: String) -> ProcessSample? {
      Array(text.utf8).withUnsafeBufferPointer { ResourceUsage.parseStat($0) }
    }
    let s = try #require(parse(line))
    #expect(s.cpu == .microseconds(200 * 1_000_000 / hz))
    #expect(s.rss == 256 * page)
    #expect(parse("4121 (short) S 1 2 3") == nil)
    #expect(parse("no parenthesis") == nil)
  }

  @Test func sampleOfSelfAndOfNoProcess() throws {
    let s = try #require(ResourceUsage.sample(of: getpid()))
    #expect(s.rss > 1 << 20)
    #expect(ResourceUsage.sample(of: Int32.max) == nil)
  }

  @Test func selfPeakRSSFollowsAnAllocationAndResets() throws {
    let before = try #require(ResourceUsage.selfPeakRSS())
    let size = 64 << 20
    let block = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
    for i in stride(from: 0, to: size, by: 4096) {
      block.storeBytes(of: 1, toByteOffset: i, as: UInt8.self)
    }
    let peak = try #require(ResourceUsage.selfPeakRSS())
    #expect(peak >= before + UInt64(size) / 2, "before \(before), peak \(peak)")
    block.deallocate()
    #expect(ResourceUsage.resetSelfPeakRSS())
    let after = try #require(ResourceUsage.selfPeakRSS())
    #expect(after < peak, "peak \(peak), after the reset \(after)")
    #expect(ResourceUsage.selfCPU() > .zero)
  }

  @Test func aReapedChildsUsageComesBack() throws {
    let process = try Child.sh("i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done")
    var usage: ChildUsage?
    let status = try #require(
      try ProcessReaper.waitForExit(process.pid, timeout: .seconds(30), usage: &usage))
    process.reaped(status)
    #expect(status == .exited(0))
    let u = try #require(usage)
    #expect(u.cpu > .zero)
    #expect(u.peakRSS > 0)
  }
}
