import Foundation
import Testing

@testable import DroverSystem

/// The per-process figures the supervisor samples and the worker reports. Serialized: two of
/// these tests reset this process's peak RSS mark, which the others read.
@Suite(.serialized) struct ResourceUsageTests {
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
    // From a fresh mark: an earlier test's peak (the attempt test touches 256 MiB) would
    // otherwise stand above this one's 64 MiB.
    #expect(AttemptUsage().resetPeak())
    let before = try #require(ResourceUsage.selfPeakRSS())
    let size = 64 << 20
    let block = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096)
    for i in stride(from: 0, to: size, by: 4096) {
      block.storeBytes(of: 1, toByteOffset: i, as: UInt8.self)
    }
    let peak = try #require(ResourceUsage.selfPeakRSS())
    #expect(peak >= before + UInt64(size) / 2, "before \(before), peak \(peak)")
    block.deallocate()
    #expect(AttemptUsage().resetPeak())
    let after = try #require(ResourceUsage.selfPeakRSS())
    #expect(after < peak, "peak \(peak), after the reset \(after)")
    #expect(ResourceUsage.selfCPU() > .zero)
  }

  /// Maps `size` bytes, touches every page, and returns the mapping (unmap it with `munmap`).
  static func touched(_ size: Int) throws -> UnsafeMutableRawPointer {
    let p = try #require(
      mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
    try #require(p != MAP_FAILED)
    for i in stride(from: 0, to: size, by: 4096) {
      p.storeBytes(of: 1, toByteOffset: i, as: UInt8.self)
    }
    return p
  }

  /// An attempt's peak follows what it touched (256 MiB), and the next attempt's does not keep it (its
  /// mark is reset; without a fault its RSS at the start stands in for it).
  @Test func attemptUsageFollowsEachAttemptsPeak() throws {
    let meter = AttemptUsage()
    // Big next to what tests running beside this one in the process may allocate meanwhile.
    let size = 256 << 20
    let warm = try #require(meter.finish(meter.start(alone: true)))
    let a = meter.start(alone: true)
    let block = try Self.touched(size)
    let kept = try #require(meter.finish(a))
    #expect(kept.peakRSS >= warm.peakRSS + UInt64(size) / 2, "warm \(warm), kept \(kept)")
    // A peak reached and given back inside one attempt still counts for it.
    let b = meter.start(alone: true)
    munmap(block, size)
    let freedInside = try #require(meter.finish(b))
    #expect(freedInside.peakRSS >= warm.peakRSS + UInt64(size) / 2, "\(freedInside)")
    // The attempts after it report what they hold, not the earlier peak.
    for _ in 0..<3 {
      let next = try #require(meter.finish(meter.start(alone: true)))
      #expect(next.peakRSS + UInt64(size) / 2 < kept.peakRSS, "kept \(kept), next \(next)")
      #expect(next.cpu >= .zero)
    }
    // One that faults (a fresh MiB) reads the mark, which its start reset below the old peak.
    let d = meter.start(alone: true)
    let small = try Self.touched(1 << 20)
    let faulted = try #require(meter.finish(d))
    munmap(small, 1 << 20)
    #expect(faulted.peakRSS + UInt64(size) / 2 < kept.peakRSS, "kept \(kept), faulted \(faulted)")
    // A later attempt that faults is measured again.
    let c = meter.start(alone: true)
    let again = try Self.touched(size)
    let grown = try #require(meter.finish(c))
    munmap(again, size)
    #expect(grown.peakRSS >= warm.peakRSS + UInt64(size) / 2, "warm \(warm), grown \(grown)")
    // The attempts that touched memory read the high-water mark.
    #expect(meter.statusReadCount >= 3, "\(meter.statusReadCount)")
  }

  /// A burn of CPU inside an attempt shows in its CPU time.
  @Test func attemptUsageCountsTheAttemptsCPU() throws {
    let meter = AttemptUsage()
    let a = meter.start(alone: false)
    let until = ResourceUsage.selfCPU() + .milliseconds(30)
    var x = 0
    while ResourceUsage.selfCPU() < until { x &+= 1 }
    let used = try #require(meter.finish(a))
    #expect(used.cpu >= .milliseconds(30), "\(used) after \(x) turns")
    #expect(used.peakRSS > 1 << 20)
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
